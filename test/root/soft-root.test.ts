// The soft root of trust from JavaScript (key file and passphrase), and the
// composite operations every root offers (reEncrypt, decryptToAeadKey,
// generateDataKeyHandle, generateDataKey, findDomainKey), on the soft root and on a fresh
// SoftHSM2 token.
import crypto from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aead, AeadKey, KmsError } from '../../dist/index.js';
import { openPkcs11Root, openSoftRoot, type RootOfTrust, type WrappedKey } from '../../dist/root/index.js';
import { makeToken, type TestToken } from '../pkcs11/softhsm-fixture.js';
import { kmsRejection } from '../helpers/kms-rejection.js';

const AAD = Buffer.from('header||encryption context');
const AAD2 = Buffer.from('another header||context');
const SALT = Buffer.alloc(16, 7);

let dir: string;

function named(key: Omit<WrappedKey, 'id' | 'version'> & { publicKey?: unknown }, id: string, version = 1): WrappedKey {
  const { publicKey: _unused, ...rest } = key;
  return { id, version, ...rest } as WrappedKey;
}


beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-soft-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('openSoftRoot', () => {
  it('creates a 0600 key file, and a reopened root reads the same key', async () => {
    const keyFile = path.join(dir, 'root.key');
    const first = await openSoftRoot({ keyFile });
    expect(first.kind).toBe('soft');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile)).toHaveLength(32);
    const reference = await first.createDomainKey(1);
    const cmk = named(await first.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk');
    const iv = crypto.randomBytes(12);
    const sealed = await first.encrypt(cmk, iv, AAD, Buffer.from('across opens'));
    await first.close();

    const second = await openSoftRoot({ keyFile });
    await second.openDomainKey(1, reference);
    expect(Buffer.from(await second.decrypt(cmk, iv, AAD, sealed.ciphertext)).toString()).toBe('across opens');
    await second.close();
  });

  it('opens the same root from the same passphrase and salt; a wrong passphrase cannot open its domain keys', async () => {
    const first = await openSoftRoot({ passphrase: 'correct horse', salt: SALT, threads: 1 });
    const reference = await first.createDomainKey(3);
    await first.close();

    const again = await openSoftRoot({ passphrase: Buffer.from('correct horse'), salt: SALT });
    await again.openDomainKey(3, reference);
    await again.close();

    const wrong = await openSoftRoot({ passphrase: 'wrong horse', salt: SALT });
    expect((await kmsRejection(wrong.openDomainKey(3, reference))).code).toBe('InvalidCiphertextException');
    await wrong.close();
  });

  it('leaves the caller passphrase bytes alone', async () => {
    const passphrase = Buffer.from('mine to wipe');
    const root = await openSoftRoot({ passphrase, salt: SALT });
    expect(passphrase.toString()).toBe('mine to wipe');
    await root.close();
  });

  it('refuses a key file that group or others can read', async () => {
    const keyFile = path.join(dir, 'shared.key');
    writeFileSync(keyFile, crypto.randomBytes(32), { mode: 0o600 });
    chmodSync(keyFile, 0o640);
    expect((await kmsRejection(openSoftRoot({ keyFile }))).code).toBe('KMSInvalidStateException');
  });

  it('refuses a key file in a missing directory', async () => {
    const error = await kmsRejection(openSoftRoot({ keyFile: path.join(dir, 'no', 'such', 'root.key') }));
    expect(error.code).toBe('NotFoundException');
  });

  it('checks its options synchronously', () => {
    expect(() => openSoftRoot(undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => openSoftRoot({})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ keyFile: 'a', passphrase: 'b', salt: SALT })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ passphrase: 'b' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => openSoftRoot({ passphrase: 'b', salt: Buffer.alloc(15) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ passphrase: '', salt: SALT })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ keyFile: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ keyFile: path.join(dir, 'x.key'), salt: SALT })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => openSoftRoot({ keyFile: path.join(dir, 'x.key'), threads: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

interface RootCase {
  kind: 'soft' | 'pkcs11';
  open(): Promise<RootOfTrust>;
  cleanup(): void;
}

let token: TestToken | undefined;
const cases: RootCase[] = [
  {
    kind: 'soft',
    open: () => openSoftRoot({ keyFile: path.join(dir, 'ops.key') }),
    cleanup: () => {},
  },
  {
    kind: 'pkcs11',
    open: () => {
      token = makeToken('hsmkms-soft-test');
      return openPkcs11Root({ module: token.module, tokenLabel: token.label, pin: token.pin });
    },
    cleanup: () => token?.remove(),
  },
];

describe.each(cases)('composite operations on the $kind root', (c) => {
  let root: RootOfTrust;
  let reference: Uint8Array;
  let source: WrappedKey;
  let destination: WrappedKey;

  beforeAll(async () => {
    root = await c.open();
    reference = await root.createDomainKey(1);
    source = named(await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk-source');
    destination = named(await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk-destination');
  });

  afterAll(async () => {
    await root?.close();
    c.cleanup();
  });

  it('findDomainKey finds the token domain key, and returns null on soft', async () => {
    const found = await root.findDomainKey(1);
    if (c.kind === 'pkcs11') {
      expect(found).not.toBeNull();
      expect(Buffer.from(found!)).toEqual(Buffer.from(reference));
    } else {
      expect(found).toBeNull();
    }
    expect(await root.findDomainKey(99)).toBeNull();
  });

  it('reEncrypt: the result opens with the destination key', async () => {
    const iv = crypto.randomBytes(12);
    const plaintext = crypto.randomBytes(100);
    const sealed = await root.encrypt(source, iv, AAD, plaintext);
    const iv2 = crypto.randomBytes(12);
    const out = await root.reEncrypt(source, sealed.iv, AAD, sealed.ciphertext, destination, iv2, AAD2);
    expect(out).toHaveLength(plaintext.length + 16);
    expect(Buffer.from(await root.decrypt(destination, iv2, AAD2, out))).toEqual(plaintext);
    // Not the source key, nor the source AAD.
    expect((await kmsRejection(root.decrypt(source, iv2, AAD2, out))).code).toBe('InvalidCiphertextException');
    expect((await kmsRejection(root.decrypt(destination, iv2, AAD, out))).code).toBe('InvalidCiphertextException');
  });

  it('encrypt writes into a given output (a view into a larger message), and refuses a wrong-sized one', async () => {
    const iv = crypto.randomBytes(12);
    const plaintext = crypto.randomBytes(40);
    const message = Buffer.alloc(8 + 56 + 8, 0xee);
    const sealed = await root.encrypt(source, iv, AAD, plaintext, message.subarray(8, 64));
    expect(sealed.ciphertext.buffer).toBe(message.buffer);
    expect(message.subarray(0, 8)).toEqual(Buffer.alloc(8, 0xee));
    expect(message.subarray(64)).toEqual(Buffer.alloc(8, 0xee));
    expect(Buffer.from(await root.decrypt(source, iv, AAD, message.subarray(8, 64)))).toEqual(plaintext);
    for (const size of [55, 57]) {
      expect(() => root.encrypt(source, iv, AAD, plaintext, Buffer.alloc(size))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
  });

  it('generateMac / verifyMac: digest-sized MACs compared in the root; the arguments are checked at once', async () => {
    for (const [spec, algorithm, length] of [['HMAC_224', 'HMAC_SHA_224', 28], ['HMAC_512', 'HMAC_SHA_512', 64]] as const) {
      const key = named(await root.generateKey(spec, 'GENERATE_VERIFY_MAC', 1), `cmk-${spec}`);
      for (const message of [Buffer.alloc(0), crypto.randomBytes(4096)]) {
        const mac = await root.generateMac(key, algorithm, message);
        expect(mac).toHaveLength(length);
        expect(await root.verifyMac(key, algorithm, message, mac)).toBe(true);
        const wrong = Buffer.from(mac);
        wrong[length - 1]! ^= 1;
        expect(await root.verifyMac(key, algorithm, message, wrong)).toBe(false);
        expect(await root.verifyMac(key, algorithm, message, mac.subarray(1))).toBe(false);
      }
    }
    const key = named(await root.generateKey('HMAC_256', 'GENERATE_VERIFY_MAC', 1), 'cmk-hmac-args');
    expect((await kmsRejection(root.generateMac(key, 'HMAC_SHA_384', Buffer.from('m')))).code).toBe('InvalidKeyUsageException');
    expect((await kmsRejection(root.generateMac(source, 'HMAC_SHA_256', Buffer.from('m')))).code).toBe('InvalidKeyUsageException');
    expect((await kmsRejection(root.generateKey('HMAC_256', 'ENCRYPT_DECRYPT', 1))).code).toBe('InvalidKeyUsageException');
    expect(() => root.generateMac(key, 'HMAC_MD5' as never, Buffer.from('m'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => root.generateMac(key, 'HMAC_SHA_256', 'm' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => root.verifyMac(key, 'HMAC_SHA_256', Buffer.from('m'), null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('reEncrypt fails as decrypt does for a bad source, writing nothing', async () => {
    const iv = crypto.randomBytes(12);
    const sealed = await root.encrypt(source, iv, AAD, Buffer.from('x'.repeat(40)));
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[0]! ^= 1;
    const error = await kmsRejection(root.reEncrypt(source, iv, AAD, tampered, destination, crypto.randomBytes(12), AAD2));
    expect(error.code).toBe('InvalidCiphertextException');
    expect(() => root.reEncrypt(source, iv, AAD, sealed.ciphertext, destination, Buffer.alloc(11), AAD2)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => root.reEncrypt(source, iv, AAD, sealed.ciphertext, destination, iv, Buffer.alloc(0))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  it('decryptToAeadKey gives a key that interoperates with aead.*', async () => {
    const bytes = crypto.randomBytes(32);
    const iv = crypto.randomBytes(12);
    const sealed = await root.encrypt(source, iv, AAD, bytes);
    const key = await root.decryptToAeadKey(source, iv, AAD, sealed.ciphertext);
    expect(key).toBeInstanceOf(AeadKey);
    const same = aead.importKey(bytes);
    const message = Buffer.from('data under the data key');
    expect(Buffer.from(await aead.decrypt(same, await aead.encrypt(key, message, { aad: AAD }), { aad: AAD }))).toEqual(message);
    expect(Buffer.from(await aead.decrypt(key, await aead.encrypt(same, message)))).toEqual(message);
    key.destroy();
    same.destroy();
  });

  it('decryptToAeadKey refuses a plaintext that is not 32 bytes, and a bad tag', async () => {
    const iv = crypto.randomBytes(12);
    const sealed = await root.encrypt(source, iv, AAD, crypto.randomBytes(16));
    expect((await kmsRejection(root.decryptToAeadKey(source, iv, AAD, sealed.ciphertext))).code).toBe('ValidationException');
    const good = await root.encrypt(source, iv, AAD, crypto.randomBytes(32));
    expect((await kmsRejection(root.decryptToAeadKey(source, iv, AAD2, good.ciphertext))).code).toBe('InvalidCiphertextException');
  });

  it('generateDataKeyHandle: the ciphertext decrypts to the handle key', async () => {
    const iv = crypto.randomBytes(12);
    const made = await root.generateDataKeyHandle(source, iv, AAD, 32);
    expect(made.dataKey).toBeInstanceOf(AeadKey);
    expect(Buffer.from(made.iv)).toEqual(iv);
    expect(made.ciphertext).toHaveLength(48);
    const bytes = await root.decrypt(source, made.iv, AAD, made.ciphertext);
    expect(bytes).toHaveLength(32);
    const imported = aead.importKey(bytes);
    const message = Buffer.from('sealed with the handle');
    expect(Buffer.from(await aead.decrypt(imported, await aead.encrypt(made.dataKey, message, { aad: AAD2 }), { aad: AAD2 }))).toEqual(message);
    expect(Buffer.from(await aead.decrypt(made.dataKey, await aead.encrypt(imported, message)))).toEqual(message);
    // decryptToAeadKey of the same ciphertext gives the same key.
    const reopened = await root.decryptToAeadKey(source, made.iv, AAD, made.ciphertext);
    expect(Buffer.from(await aead.decrypt(reopened, await aead.encrypt(made.dataKey, message)))).toEqual(message);
    // Two handles, two keys.
    const other = await root.generateDataKeyHandle(source, crypto.randomBytes(12), AAD, 32);
    await expect(aead.decrypt(other.dataKey, await aead.encrypt(made.dataKey, message))).rejects.toThrow();
    for (const key of [made.dataKey, imported, reopened, other.dataKey]) key.destroy();
  });

  it('generateDataKey: random bytes and their encryption in one call, written where asked', async () => {
    for (const length of [1, 16, 32, 1024, 4096]) {
      const iv = crypto.randomBytes(12);
      const ivCopy = Buffer.from(iv);
      const made = await root.generateDataKey(source, iv, AAD, length);
      expect(made.plaintext).toHaveLength(length);
      expect(made.ciphertext).toHaveLength(length + 16);
      expect(Buffer.from(made.iv)).toEqual(ivCopy);
      expect(iv).toEqual(ivCopy); // the caller's IV is not written
      expect(Buffer.from(await root.decrypt(source, made.iv, AAD, made.ciphertext))).toEqual(Buffer.from(made.plaintext));
    }
    const a = await root.generateDataKey(source, crypto.randomBytes(12), AAD, 32);
    const b = await root.generateDataKey(source, crypto.randomBytes(12), AAD, 32);
    expect(Buffer.from(a.plaintext).equals(Buffer.from(b.plaintext))).toBe(false);
    // `output`: ciphertext || tag land inside a larger buffer, untouched around it.
    const frame = Buffer.alloc(10 + 48 + 10, 0xee);
    const placed = await root.generateDataKey(source, crypto.randomBytes(12), AAD, 32, frame.subarray(10, 58));
    expect(Buffer.from(placed.ciphertext)).toEqual(frame.subarray(10, 58));
    expect(frame.subarray(0, 10).every((x) => x === 0xee) && frame.subarray(58).every((x) => x === 0xee)).toBe(true);
    expect(Buffer.from(await root.decrypt(source, placed.iv, AAD, placed.ciphertext))).toEqual(Buffer.from(placed.plaintext));
  });

  it('generateDataKey refuses sizes out of range and an output of the wrong size', () => {
    for (const length of [0, 4097, 1.5]) {
      expect(() => root.generateDataKey(source, crypto.randomBytes(12), AAD, length)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    }
    expect(() => root.generateDataKey(source, crypto.randomBytes(12), AAD, 32, Buffer.alloc(47))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('encryptMany / decryptMany: each item as encrypt and decrypt make it, in order, across the threads', async () => {
    // 40 items: more than one slice per thread; sizes 0..117 bytes.
    const items = Array.from({ length: 40 }, (_, i) => ({ iv: crypto.randomBytes(12), aad: Buffer.from(`header ${i}`), input: crypto.randomBytes(i * 3) }));
    const sealed = await root.encryptMany(source, items);
    expect(sealed).toHaveLength(items.length);
    for (const [i, item] of items.entries()) {
      expect(sealed[i]!.error).toBeUndefined();
      // GCM is deterministic for a key, IV, AAD and plaintext: the single call gives the same bytes.
      expect(Buffer.from(sealed[i]!.output!)).toEqual(Buffer.from((await root.encrypt(source, item.iv, item.aad, item.input)).ciphertext));
    }
    const opened = await root.decryptMany(source, items.map((item, i) => ({ iv: item.iv, aad: item.aad, input: sealed[i]!.output! })));
    expect(opened.map((r) => Buffer.from(r.output!))).toEqual(items.map((item) => Buffer.from(item.input)));
  });

  it('encryptMany writes each item where its output says (views into one larger buffer), and checks their sizes', async () => {
    const message = Buffer.alloc(3 * 60, 0xee);
    const items = [0, 1, 2].map((i) => ({ iv: crypto.randomBytes(12), aad: AAD, input: crypto.randomBytes(40), output: message.subarray(i * 60 + 4, i * 60 + 60) }));
    const sealed = await root.encryptMany(source, items);
    for (const [i, item] of items.entries()) {
      expect(sealed[i]!.output).toBe(item.output);
      expect(message.subarray(i * 60, i * 60 + 4)).toEqual(Buffer.alloc(4, 0xee));
      expect(Buffer.from(await root.decrypt(source, item.iv, AAD, item.output))).toEqual(item.input);
    }
    expect(() => root.encryptMany(source, [{ ...items[0]!, output: Buffer.alloc(55) }])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => root.decryptMany(source, [{ iv: items[0]!.iv, aad: AAD, input: Buffer.from(sealed[0]!.output!), output: Buffer.alloc(40) }])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('decryptMany fails only the items that do not open, each with InvalidCiphertextException', async () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ iv: crypto.randomBytes(12), aad: AAD, input: crypto.randomBytes(20 + i) }));
    const sealed = await root.encryptMany(source, items);
    const inputs = items.map((item, i) => ({ iv: item.iv, aad: item.aad, input: Buffer.from(sealed[i]!.output!) }));
    inputs[2]!.input[5]! ^= 1; // a flipped ciphertext bit
    inputs[5]!.aad = AAD2; // another AAD
    inputs[9]!.input[inputs[9]!.input.length - 1]! ^= 0x80; // a flipped tag bit
    const opened = await root.decryptMany(source, inputs);
    for (const [i, result] of opened.entries()) {
      if ([2, 5, 9].includes(i)) {
        expect(result.output).toBeUndefined();
        expect(result.error).toBeInstanceOf(KmsError);
        expect((result.error as KmsError).code).toBe('InvalidCiphertextException');
      } else {
        expect(Buffer.from(result.output!)).toEqual(Buffer.from(items[i]!.input));
      }
    }
    // The destination key opens none of them.
    const other = await root.decryptMany(destination, inputs.slice(0, 3));
    expect(other.every((r) => (r.error as KmsError | undefined)?.code === 'InvalidCiphertextException')).toBe(true);
  });

  it('encryptMany / decryptMany check their items at once', () => {
    const good = { iv: crypto.randomBytes(12), aad: AAD, input: Buffer.alloc(16) };
    const bad = [[], [{ ...good, iv: crypto.randomBytes(11) }], [good, { ...good, aad: Buffer.alloc(0) }], [{ ...good, input: 'text' }]];
    for (const items of bad) {
      expect(() => root.encryptMany(source, items as never)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_INVALID_ARG_(VALUE|TYPE)$/) }));
    }
    // A ciphertext shorter than its tag.
    expect(() => root.decryptMany(source, [{ ...good, input: Buffer.alloc(15) }])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => root.encryptMany({ ...source, keySpec: 'RSA_2048' } as WrappedKey, [good])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('generateDataKeyHandle takes only 32-byte keys', () => {
    expect(() => root.generateDataKeyHandle(source, crypto.randomBytes(12), AAD, 16)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

// Every root-of-trust operation from JavaScript against a fresh SoftHSM2
// token, with the attributes of the key objects read back independently
// through pkcs11js (in this process: the only way to see our session
// objects), and the extraction attempts the domain key must refuse.
import crypto from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsError, Pkcs11Error } from '../../dist/index.js';
import { openPkcs11Root, type RootOfTrust, type WrappedKey } from '../../dist/root/index.js';
import { makeToken, TokenView, type TestToken } from './softhsm-fixture.js';
import { kmsRejection } from '../helpers/kms-rejection.js';

const CKM_AES_KEY_WRAP_PAD = 0x210a;
const AAD = Buffer.from('header||encryption context');

let token: TestToken;
let root: RootOfTrust;
let view: TokenView;
let reference: Uint8Array;
let aesKey: WrappedKey;

function named(key: Omit<WrappedKey, 'id' | 'version'> & { publicKey?: unknown }, id: string, version = 1): WrappedKey {
  const { publicKey: _unused, ...rest } = key;
  return { id, version, ...rest } as WrappedKey;
}


function domainKeyObject(version: number): Buffer {
  const found = view.find([
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: `hsmkms:domain:${version}` },
  ]);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The session objects (unwrapped keys) of a class that this process sees. */
function sessionKeys(cls: number): Buffer[] {
  return view.find([
    { type: pkcs11js.CKA_CLASS, value: cls },
    { type: pkcs11js.CKA_TOKEN, value: false },
  ]);
}

function expectPkcs11Throw(fn: () => unknown, ckr: RegExp): void {
  expect(fn).toThrow(ckr);
}

beforeAll(async () => {
  token = makeToken();
  root = await openPkcs11Root({ module: token.module, tokenLabel: token.label, pin: token.pin });
  reference = await root.createDomainKey(1);
  aesKey = named(await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk-aes');
  view = new TokenView(token.module, token.label, token.pin);
});

afterAll(async () => {
  view?.close();
  await root?.close();
  token?.remove();
});

describe('random', () => {
  it('comes from the token, in the lengths asked', async () => {
    for (const n of [1, 12, 32, 1024, 65536]) {
      const a = await root.generateRandom(n);
      const b = await root.generateRandom(n);
      expect(a).toHaveLength(n);
      if (n >= 12) expect(Buffer.compare(a, b)).not.toBe(0);
    }
  });
});

describe('domain keys', () => {
  it('are created once per version and opened by their reference', async () => {
    expect(root.kind).toBe('pkcs11');
    expect(reference).toHaveLength(16);
    expect((await kmsRejection(root.createDomainKey(1))).code).toBe('AlreadyExistsException');
    await root.openDomainKey(1, reference);
    const wrong = Uint8Array.from(reference);
    wrong[0]! ^= 1;
    expect((await kmsRejection(root.openDomainKey(1, wrong))).code).toBe('NotFoundException');
    expect((await kmsRejection(root.openDomainKey(99, reference))).code).toBe('NotFoundException');
  });

  it('are sensitive, non-extractable, wrap/unwrap-only token objects (read through pkcs11js)', () => {
    const dk = domainKeyObject(1);
    const a = view.bools(dk, [
      pkcs11js.CKA_TOKEN, pkcs11js.CKA_PRIVATE, pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_ALWAYS_SENSITIVE,
      pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_NEVER_EXTRACTABLE, pkcs11js.CKA_MODIFIABLE, pkcs11js.CKA_COPYABLE,
      pkcs11js.CKA_DESTROYABLE, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT,
      pkcs11js.CKA_SIGN,
    ]);
    expect(a[pkcs11js.CKA_TOKEN]).toBe(true);
    expect(a[pkcs11js.CKA_PRIVATE]).toBe(true);
    expect(a[pkcs11js.CKA_SENSITIVE]).toBe(true);
    expect(a[pkcs11js.CKA_ALWAYS_SENSITIVE]).toBe(true);
    expect(a[pkcs11js.CKA_EXTRACTABLE]).toBe(false);
    expect(a[pkcs11js.CKA_NEVER_EXTRACTABLE]).toBe(true);
    expect(a[pkcs11js.CKA_MODIFIABLE]).toBe(false);
    expect(a[pkcs11js.CKA_COPYABLE]).toBe(false);
    expect(a[pkcs11js.CKA_DESTROYABLE]).toBe(false);
    expect(a[pkcs11js.CKA_WRAP]).toBe(true);
    expect(a[pkcs11js.CKA_UNWRAP]).toBe(true);
    expect(a[pkcs11js.CKA_ENCRYPT]).toBe(false);
    expect(a[pkcs11js.CKA_DECRYPT]).toBe(false);
    expect(a[pkcs11js.CKA_SIGN]).toBe(false);
    const [id] = view.p11.C_GetAttributeValue(view.session, dk, [{ type: pkcs11js.CKA_ID }]);
    expect(Buffer.compare(id!.value as Buffer, reference)).toBe(0);
    expectPkcs11Throw(() => view.p11.C_GetAttributeValue(view.session, dk, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
    // Nobody holding the PIN can add DECRYPT (wrap-then-decrypt) or copy it.
    expectPkcs11Throw(() => view.p11.C_SetAttributeValue(view.session, dk, [{ type: pkcs11js.CKA_DECRYPT, value: true }]), /CKR_/);
    expectPkcs11Throw(() => view.p11.C_CopyObject(view.session, dk, []), /CKR_/);
  });

  it('unwrap CMK material only as sensitive, non-extractable session objects (pkcs11js attempts)', () => {
    const dk = domainKeyObject(1);
    const unwrap = (token: boolean, extractable: boolean, sensitive = true) =>
      view.p11.C_UnwrapKey(view.session, { mechanism: CKM_AES_KEY_WRAP_PAD }, dk, Buffer.from(aesKey.blob), [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_TOKEN, value: token },
        { type: pkcs11js.CKA_SENSITIVE, value: sensitive },
        { type: pkcs11js.CKA_EXTRACTABLE, value: extractable },
        { type: pkcs11js.CKA_COPYABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
      ]);
    expectPkcs11Throw(() => unwrap(false, true), /CKR_TEMPLATE_INCONSISTENT/); // extractable
    expectPkcs11Throw(() => unwrap(true, false), /CKR_TEMPLATE_INCONSISTENT/); // a token object
    expectPkcs11Throw(() => unwrap(false, false, false), /CKR_TEMPLATE_INCONSISTENT/); // not sensitive
    // What the domain key allows (the control): works, and is destroyed again.
    const handle = unwrap(false, false);
    view.p11.C_DestroyObject(view.session, handle);
  });
});

describe('AES-256-GCM with a CMK unwrapped in the HSM', () => {
  it('round-trips 0 B, 32 B and 4 KiB; the IV comes back; the caller buffers stay unchanged', async () => {
    for (const size of [0, 32, 4096]) {
      const plaintext = crypto.randomBytes(size);
      const iv = await root.generateRandom(12);
      const ivBefore = Buffer.from(iv);
      const sealed = await root.encrypt(aesKey, iv, AAD, plaintext);
      expect(sealed.ciphertext).toHaveLength(size + 16);
      expect(Buffer.compare(sealed.iv, ivBefore)).toBe(0); // SoftHSM uses the caller's IV
      expect(Buffer.compare(iv, ivBefore)).toBe(0);
      const opened = await root.decrypt(aesKey, sealed.iv, AAD, sealed.ciphertext);
      expect(Buffer.compare(opened, plaintext)).toBe(0);
    }
  });

  it('tampered ciphertext, tag, AAD, IV or key: InvalidCiphertextException, not retried', async () => {
    const plaintext = Buffer.from('a 32-byte data key, in the HSM!!');
    const iv = await root.generateRandom(12);
    const { ciphertext } = await root.encrypt(aesKey, iv, AAD, plaintext);
    const before = await root.stats();
    const flip = (bytes: Uint8Array, i: number) => {
      const copy = Buffer.from(bytes);
      copy[i]! ^= 1;
      return copy;
    };
    const other = named(await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk-other');
    const attempts = [
      root.decrypt(aesKey, iv, AAD, flip(ciphertext, 0)),
      root.decrypt(aesKey, iv, AAD, flip(ciphertext, ciphertext.length - 1)),
      root.decrypt(aesKey, iv, flip(AAD, 3), ciphertext),
      root.decrypt(aesKey, flip(iv, 5), AAD, ciphertext),
      root.decrypt(other, iv, AAD, ciphertext),
      root.decrypt(aesKey, iv, AAD, ciphertext.subarray(0, 15)),
    ];
    // Every promise gets its handler now: they settle in whatever order the HSM threads finish.
    for (const error of await Promise.all(attempts.map((attempt) => kmsRejection(attempt)))) {
      expect(error.code).toBe('InvalidCiphertextException');
      expect(error.message).not.toContain(plaintext.toString());
    }
    // The HSM's own verdict keeps its PKCS#11 details.
    const error = (await kmsRejection(root.decrypt(aesKey, iv, AAD, flip(ciphertext, 1)))) as Pkcs11Error;
    expect(error).toBeInstanceOf(Pkcs11Error);
    expect(error.ckr).toBe('CKR_GENERAL_ERROR'); // SoftHSM 2.6.1's word for a bad tag
    expect(error.rv).toBe(0x05);
    expect(error.fn).toBe('C_Decrypt');
    expect((await root.stats()).retries).toBe(before.retries);
  });

  it('unwrapped CMKs are sensitive, non-extractable, non-copyable session objects (read through pkcs11js)', async () => {
    await root.encrypt(aesKey, await root.generateRandom(12), AAD, Buffer.alloc(1));
    const keys = sessionKeys(pkcs11js.CKO_SECRET_KEY);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      const a = view.bools(key, [
        pkcs11js.CKA_TOKEN, pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_COPYABLE,
        pkcs11js.CKA_MODIFIABLE, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP,
      ]);
      expect(a[pkcs11js.CKA_TOKEN]).toBe(false);
      expect(a[pkcs11js.CKA_SENSITIVE]).toBe(true);
      expect(a[pkcs11js.CKA_EXTRACTABLE]).toBe(false);
      expect(a[pkcs11js.CKA_COPYABLE]).toBe(false);
      expect(a[pkcs11js.CKA_MODIFIABLE]).toBe(false);
      expect(a[pkcs11js.CKA_ENCRYPT]).toBe(true);
      expect(a[pkcs11js.CKA_DECRYPT]).toBe(true);
      expect(a[pkcs11js.CKA_WRAP]).toBe(false);
      expect(a[pkcs11js.CKA_UNWRAP]).toBe(false);
      expectPkcs11Throw(() => view.p11.C_GetAttributeValue(view.session, key, [{ type: pkcs11js.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      // It cannot leave the HSM: not wrappable, not copyable to the token, not made extractable.
      expectPkcs11Throw(
        () => view.p11.C_WrapKey(view.session, { mechanism: CKM_AES_KEY_WRAP_PAD }, domainKeyObject(1), key, Buffer.alloc(64)),
        /CKR_/,
      );
      expectPkcs11Throw(() => view.p11.C_CopyObject(view.session, key, [{ type: pkcs11js.CKA_TOKEN, value: true }]), /CKR_/);
      expectPkcs11Throw(() => view.p11.C_SetAttributeValue(view.session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]), /CKR_/);
    }
  });

  it('a tampered wrapped key does not unwrap: InvalidCiphertextException', async () => {
    const blob = Buffer.from(aesKey.blob);
    blob[20]! ^= 1;
    const bad: WrappedKey = { ...aesKey, id: 'cmk-tampered', blob };
    const error = await kmsRejection(root.encrypt(bad, Buffer.alloc(12), AAD, Buffer.alloc(4)));
    expect(error.code).toBe('InvalidCiphertextException');
    expect((error as Pkcs11Error).fn).toBe('C_UnwrapKey');
    const short: WrappedKey = { ...aesKey, id: 'cmk-short', blob: blob.subarray(0, 20) };
    expect((await kmsRejection(root.encrypt(short, Buffer.alloc(12), AAD, Buffer.alloc(4)))).code).toBe('InvalidCiphertextException');
  });
});

describe('asymmetric CMKs', () => {
  it('RSA-2048 OAEP: host encryption (ours and node:crypto) and decryption in the HSM, SHA-1 and SHA-256', async () => {
    const generated = await root.generateKey('RSA_2048', 'ENCRYPT_DECRYPT', 1);
    expect(generated.publicKey).not.toBeNull();
    const rsa = named(generated, 'cmk-rsa');
    const publicKey = crypto.createPublicKey({ key: Buffer.from(generated.publicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const secret = crypto.randomBytes(32);
    for (const hash of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const) {
      const ours = await root.encryptOaep(generated.publicKey!, hash, secret);
      expect(ours).toHaveLength(256);
      expect(Buffer.compare(await root.rsaDecrypt(rsa, hash, ours), secret)).toBe(0);
      const theirs = crypto.publicEncrypt(
        { key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256' },
        secret,
      );
      expect(Buffer.compare(await root.rsaDecrypt(rsa, hash, theirs), secret)).toBe(0);
      const tampered = Buffer.from(theirs);
      tampered[100]! ^= 1;
      expect((await kmsRejection(root.rsaDecrypt(rsa, hash, tampered))).code).toBe('InvalidCiphertextException');
    }
    expect((await kmsRejection(root.encryptOaep(generated.publicKey!, 'RSAES_OAEP_SHA_256', Buffer.alloc(200)))).code).toBe('ValidationException');
    // The unwrapped private key: sensitive, not extractable.
    for (const key of sessionKeys(pkcs11js.CKO_PRIVATE_KEY)) {
      const a = view.bools(key, [pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_TOKEN]);
      expect(a).toEqual({ [pkcs11js.CKA_SENSITIVE]: true, [pkcs11js.CKA_EXTRACTABLE]: false, [pkcs11js.CKA_TOKEN]: false });
    }
  });

  it('RSA-2048 PSS and PKCS#1 v1.5 signatures verify here and in node:crypto', async () => {
    const generated = await root.generateKey('RSA_2048', 'SIGN_VERIFY', 1);
    const rsa = named(generated, 'cmk-rsa-sign');
    const publicKey = crypto.createPublicKey({ key: Buffer.from(generated.publicKey!), format: 'der', type: 'spki' });
    const message = Buffer.from('message to sign');
    for (const algorithm of ['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384'] as const) {
      const signature = await root.sign(rsa, algorithm, 'RAW', message);
      expect(signature).toHaveLength(256);
      expect(await root.verify(generated.publicKey!, algorithm, 'RAW', message, signature)).toBe(true);
      expect(await root.verify(generated.publicKey!, algorithm, 'RAW', Buffer.from('other message'), signature)).toBe(false);
      const pss = algorithm.includes('PSS');
      const md = pss ? 'sha256' : 'sha384';
      expect(
        crypto.verify(md, message, { key: publicKey, padding: pss ? crypto.constants.RSA_PKCS1_PSS_PADDING : crypto.constants.RSA_PKCS1_PADDING, saltLength: 32 }, signature),
      ).toBe(true);
      const digest = crypto.createHash(md).update(message).digest();
      const fromDigest = await root.sign(rsa, algorithm, 'DIGEST', digest);
      expect(await root.verify(generated.publicKey!, algorithm, 'RAW', message, fromDigest)).toBe(true);
    }
    expect((await kmsRejection(root.sign(rsa, 'ECDSA_SHA_256', 'RAW', message))).code).toBe('InvalidKeyUsageException');
    expect((await kmsRejection(root.sign(rsa, 'RSASSA_PSS_SHA_256', 'DIGEST', Buffer.alloc(31)))).code).toBe('ValidationException');
  });

  it('ECDSA P-256 and P-384: DER signatures that node:crypto accepts', async () => {
    for (const [spec, algorithm, md] of [
      ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
      ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384'],
    ] as const) {
      const generated = await root.generateKey(spec, 'SIGN_VERIFY', 1);
      const ec = named(generated, `cmk-${spec}`);
      const message = crypto.randomBytes(100);
      const signature = await root.sign(ec, algorithm, 'RAW', message);
      expect(await root.verify(generated.publicKey!, algorithm, 'RAW', message, signature)).toBe(true);
      const publicKey = crypto.createPublicKey({ key: Buffer.from(generated.publicKey!), format: 'der', type: 'spki' });
      expect(crypto.verify(md, message, { key: publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    }
    expect((await kmsRejection(root.generateKey('ECC_NIST_P256', 'ENCRYPT_DECRYPT', 1))).code).toBe('InvalidKeyUsageException');
  });
});

describe('re-wrapping, eviction and stats', () => {
  it('re-wraps under the same domain key version; refuses another version (KMSInvalidStateException)', async () => {
    const same = await root.rewrapKey(aesKey, 1);
    expect(same).toEqual({ ...aesKey, blob: same.blob });
    expect(Buffer.compare(same.blob, aesKey.blob)).toBe(0);
    await root.createDomainKey(2);
    const error = await kmsRejection(root.rewrapKey(aesKey, 2));
    expect(error.code).toBe('KMSInvalidStateException');
    expect(error).not.toBeInstanceOf(Pkcs11Error);
    expect(error.message).toMatch(/non-extractable/);
    // The key still works under its own domain key version.
    const iv = await root.generateRandom(12);
    const { ciphertext } = await root.encrypt(aesKey, iv, AAD, Buffer.from('still here'));
    expect(Buffer.from(await root.decrypt(aesKey, iv, AAD, ciphertext)).toString()).toBe('still here');
  });

  it('evicting a CMK destroys its session object; stats count keys, unwraps and objects', async () => {
    const key = named(await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1), 'cmk-evict');
    const before = await root.stats();
    await root.encrypt(key, Buffer.alloc(12, 1), AAD, Buffer.alloc(8));
    const loaded = await root.stats();
    expect(loaded.kind).toBe('pkcs11');
    expect(loaded.cachedKeys).toBe(before.cachedKeys + 1);
    expect(loaded.unwraps).toBe(before.unwraps + 1);
    expect(loaded.objects).toBe(before.objects! + 1);
    expect(loaded.generation).toBe(1);
    expect(loaded.workerSessions).toBeGreaterThanOrEqual(1);
    expect(view.find().length).toBe(loaded.objects! + 0);
    await root.encrypt(key, Buffer.alloc(12, 2), AAD, Buffer.alloc(8));
    expect((await root.stats()).unwraps).toBe(loaded.unwraps); // cached
    await root.evictKey('cmk-evict', 1);
    const after = await root.stats();
    expect(after.cachedKeys).toBe(before.cachedKeys);
    expect(after.objects).toBe(before.objects);
    await root.evictKey('never-loaded', 7); // nothing to do
  });
});

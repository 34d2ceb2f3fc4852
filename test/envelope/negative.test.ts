// Messages that must be rejected: every bit flip of a small message,
// truncation at every frame boundary (and everywhere in the header),
// trailing bytes, swapped frames, a flipped commitment key, a bad signature,
// too many data keys, a wrong context, v1 without opt-in; and bad options.
import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { envelope, MultiKeyring, RawAesKeyring } from '../../dist/index.js';

const keyring = new RawAesKeyring({ keyName: 'neg', keyNamespace: 'hsmkms-test', unencryptedMasterKey: crypto.randomBytes(32), utf8Sorting: true });
const context = { purpose: 'negative tests' };
const REGULAR_OVERHEAD = 32;

async function rejectsAsInvalid(message: Uint8Array, options: Partial<Parameters<typeof envelope.decrypt>[1]> = {}): Promise<void> {
  await expect(envelope.decrypt(message, { keyring, ...options })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
}

describe.each([0x0478, 0x0578])('negative, suite 0x%s', (suite) => {
  const plaintext = Buffer.from('0123456789abcdefghij'); // 20 bytes: two frames of 8, final of 4
  const frameLength = 8;
  let message: Buffer;
  let headerLength: number;

  beforeAll(async () => {
    const made = await envelope.encrypt(plaintext, { keyring, encryptionContext: context, frameLength, algorithmSuite: suite });
    message = made.result;
    headerLength = made.header.headerLength;
    expect((await envelope.decrypt(message, { keyring })).plaintext).toEqual(plaintext);
  });

  it('rejects every single bit flip', async () => {
    for (let bit = 0; bit < message.length * 8; bit++) {
      const copy = Buffer.from(message);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      await expect(envelope.decrypt(copy, { keyring }), `bit ${bit}`).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
    }
  });

  it('rejects truncation anywhere in the header and at every frame boundary', async () => {
    const cuts = new Set<number>();
    for (let i = 0; i < headerLength; i++) cuts.add(i);
    for (let i = 0; i <= 2; i++) cuts.add(headerLength + i * (frameLength + REGULAR_OVERHEAD));
    cuts.add(message.length - 1);
    for (const cut of cuts) await rejectsAsInvalid(message.subarray(0, cut));
  });

  it('rejects trailing bytes', async () => {
    await rejectsAsInvalid(Buffer.concat([message, Buffer.of(0)]));
  });

  it('rejects swapped frames and a missing final frame', async () => {
    const first = headerLength;
    const stride = frameLength + REGULAR_OVERHEAD;
    const swapped = Buffer.from(message);
    message.copy(swapped, first, first + stride, first + 2 * stride);
    message.copy(swapped, first + stride, first, first + stride);
    await rejectsAsInvalid(swapped);
    const noFinal = message.subarray(0, first + 2 * stride);
    await rejectsAsInvalid(noFinal);
    const dropped = Buffer.concat([message.subarray(0, first), message.subarray(first + stride)]);
    await rejectsAsInvalid(dropped);
  });

  it('rejects a flipped commitment key before the header tag', async () => {
    const copy = Buffer.from(message);
    copy[headerLength - 16 - 1]! ^= 0x80; // last byte of the commit key
    await expect(envelope.decrypt(copy, { keyring })).rejects.toThrow(/commitment/);
  });

  it('rejects too many data keys as soon as the count is read', async () => {
    await expect(envelope.decrypt(message, { keyring, maxEncryptedDataKeys: 1 })).resolves.toBeDefined();
    const two = await envelope.encrypt(plaintext, { keyring: new MultiKeyring({ generator: keyring, children: [keyring] }), algorithmSuite: suite });
    await expect(envelope.decrypt(two.result, { keyring, maxEncryptedDataKeys: 1 })).rejects.toMatchObject({ code: 'LimitExceededException' });
    // Cut right after the count: the limit still fires, not "truncated".
    const countEnd = 1 + 2 + 32 + 2 + two.result.readUInt16BE(35) + 2;
    await expect(envelope.decrypt(two.result.subarray(0, countEnd), { keyring, maxEncryptedDataKeys: 1 })).rejects.toMatchObject({ code: 'LimitExceededException' });
    await expect(envelope.encrypt(plaintext, { keyring: new MultiKeyring({ generator: keyring, children: [keyring] }), maxEncryptedDataKeys: 1 })).rejects.toMatchObject({ code: 'LimitExceededException' });
  });

  it('rejects a wrong or extra context pair', async () => {
    await expect(envelope.decrypt(message, { keyring, encryptionContext: context })).resolves.toBeDefined();
    await rejectsAsInvalid(message, { encryptionContext: { purpose: 'other' } });
    await rejectsAsInvalid(message, { encryptionContext: { ...context, extra: 'pair' } });
  });

  it('rejects a keyring that holds another key', async () => {
    const other = new RawAesKeyring({ keyName: 'neg', keyNamespace: 'hsmkms-test', unencryptedMasterKey: crypto.randomBytes(32) });
    await expect(envelope.decrypt(message, { keyring: other })).rejects.toThrow(/no keyring could decrypt/);
  });
});

describe('signed messages', () => {
  it('never releases plaintext when the signature does not verify', async () => {
    const { result } = await envelope.encrypt(crypto.randomBytes(300_000), { keyring, algorithmSuite: 0x0578, frameLength: 4096 });
    const copy = Buffer.from(result);
    copy[copy.length - 5]! ^= 1; // inside the DER signature
    await expect(envelope.decrypt(copy, { keyring })).rejects.toThrow(/signature/);
    // A valid signature from another message's key is no better.
    const other = await envelope.encrypt(crypto.randomBytes(10), { keyring, algorithmSuite: 0x0578 });
    await expect(envelope.decrypt(Buffer.concat([other.result.subarray(0, 10), result.subarray(10)]), { keyring })).rejects.toBeInstanceOf(Error);
  });
});

describe('policy and options', () => {
  it('refuses v1 messages unless allowV1 with a policy that allows them', async () => {
    const { fromDafnyCases } = await import('./helpers/vectors.js');
    const v1 = fromDafnyCases().find((c) => c.keyring !== undefined && c.message[0] === 1)!;
    await expect(envelope.decrypt(v1.message, { keyring: v1.keyring! })).rejects.toMatchObject({ code: 'UnsupportedOperationException' });
    await expect(envelope.decrypt(v1.message, { keyring: v1.keyring!, allowV1: true, commitmentPolicy: 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' })).rejects.toMatchObject({
      code: 'UnsupportedOperationException',
    });
    await expect(envelope.decrypt(v1.message, { keyring: v1.keyring!, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' })).rejects.toMatchObject({ code: 'UnsupportedOperationException' });
    await expect(envelope.decrypt(v1.message, { keyring: v1.keyring!, allowV1: true, encryptionContext: v1.encryptionContext })).resolves.toBeDefined();
  });

  it('rejects bad options before any work', async () => {
    const p = Buffer.from('x');
    await expect(envelope.encrypt(p, { keyring, frameLength: 0 })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.encrypt(p, { keyring, frameLength: 2 ** 32 })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.encrypt(p, { keyring, algorithmSuite: 0x0178 })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.encrypt(p, { keyring, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.encrypt(p, { keyring, encryptionContext: { 'aws-crypto-public-key': 'x' } })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.encrypt(p, { keyring: {} as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(envelope.encrypt('text' as never, { keyring })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(envelope.decrypt(p, { keyring, maxEncryptedDataKeys: 0 })).rejects.toMatchObject({ code: 'ValidationException' });
    await expect(envelope.decrypt(p, { keyring, commitmentPolicy: 'NOPE' as never })).rejects.toMatchObject({ code: 'ValidationException' });
    expect(() => new RawAesKeyring({ keyName: 'k', keyNamespace: 'aws-kms', unencryptedMasterKey: Buffer.alloc(32) })).toThrow(TypeError);
    expect(() => new RawAesKeyring({ keyName: 'k', keyNamespace: 'n', unencryptedMasterKey: Buffer.alloc(31) })).toThrow(TypeError);
  });
});

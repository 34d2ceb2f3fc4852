// The data-key cache (CachingKeyring) in front of a KmsKeyring on a real Kms
// (soft root): single flight, the Encryption SDK's limits, LRU capacity,
// decrypt-side caching, what is never cached, and keys in use surviving
// eviction. The KMS calls are counted by a thin counting wrapper around the
// real Kms (it forwards every call; it changes nothing).
import crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachingKeyring, DataKeyCache, envelope, KmsKeyring, type Kms, type KeyringKms } from '../../dist/index.js';
import { makeHarness } from '../kms/kms-harness.js';

const harness = makeHarness('soft');
let kms: Kms;
let keyId: string;

beforeAll(async () => {
  ({ kms } = await harness.open());
  keyId = (await kms.createKey()).keyMetadata.keyId;
});
afterAll(() => harness.cleanup());

/** The real Kms behind a counter of the calls that reach it. */
function countingKms(): { kms: KeyringKms; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const counted = new Proxy(kms, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(property)] = (calls[String(property)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kms: counted, calls };
}

function cachingKeyring(options: Partial<ConstructorParameters<typeof CachingKeyring>[0]> = {}) {
  const counter = countingKms();
  const keyring = new CachingKeyring({ keyring: new KmsKeyring({ kms: counter.kms, keyId }), maxAge: 60_000, ...options });
  return { keyring, calls: counter.calls };
}

const decrypts = async (message: Uint8Array, expected: Uint8Array, context?: Record<string, string>) => {
  const { plaintext } = await envelope.decrypt(message, { keyring: new KmsKeyring({ kms, keyId }), ...(context && { encryptionContext: context }) });
  expect(Buffer.from(plaintext).equals(Buffer.from(expected))).toBe(true);
};

describe('CachingKeyring', () => {
  it('100 concurrent misses for one entry make one generateDataKey call, and every message decrypts', async () => {
    const { keyring, calls } = cachingKeyring();
    const plaintexts = Array.from({ length: 100 }, (_, i) => Buffer.from(`message ${i}`));
    const results = await Promise.all(plaintexts.map((p) => envelope.encrypt(p, { keyring, encryptionContext: { tenant: 'a' } })));
    expect(calls.generateDataKeyHandle).toBe(1);
    const edks = new Set(results.map((r) => Buffer.from(r.header.encryptedDataKeys[0]!.encryptedDataKey).toString('base64')));
    expect(edks.size).toBe(1); // one data key (wrapped once) for all of them
    expect(new Set(results.map((r) => Buffer.from(r.header.messageId).toString('hex'))).size).toBe(100);
    for (let i = 0; i < 100; i += 17) await decrypts(results[i]!.result, plaintexts[i]!, { tenant: 'a' });
  });

  it('maxMessagesEncrypted: a data key serves that many messages, then a new one is made', async () => {
    const { keyring, calls } = cachingKeyring({ maxMessagesEncrypted: 3 });
    for (let i = 0; i < 7; i++) await envelope.encrypt(Buffer.from('x'), { keyring });
    expect(calls.generateDataKeyHandle).toBe(3);
  });

  it('maxBytesEncrypted: bytes are counted per data key; a message larger than the limit bypasses the cache', async () => {
    const { keyring, calls } = cachingKeyring({ maxBytesEncrypted: 1000 });
    for (let i = 0; i < 5; i++) await envelope.encrypt(Buffer.alloc(400), { keyring });
    expect(calls.generateDataKeyHandle).toBe(3); // 400 + 400, 400 + 400, 400
    const big = Buffer.alloc(2000, 7);
    const { result } = await envelope.encrypt(big, { keyring });
    await envelope.encrypt(big, { keyring });
    expect(calls.generateDataKeyHandle).toBe(5);
    await decrypts(result, big);
  });

  it('maxAge: an entry older than maxAge is not used', async () => {
    const { keyring, calls } = cachingKeyring({ maxAge: 40 });
    await envelope.encrypt(Buffer.from('a'), { keyring });
    await envelope.encrypt(Buffer.from('b'), { keyring });
    expect(calls.generateDataKeyHandle).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await envelope.encrypt(Buffer.from('c'), { keyring });
    expect(calls.generateDataKeyHandle).toBe(2);
  });

  it('entries are per encryption context, and capacity evicts the least recently used', async () => {
    const { keyring, calls } = cachingKeyring({ capacity: 2 });
    const run = (tenant: string) => envelope.encrypt(Buffer.from(tenant), { keyring, encryptionContext: { tenant } });
    await run('a');
    await run('b');
    await run('a'); // hit; b is now the least recently used
    expect(calls.generateDataKeyHandle).toBe(2);
    await run('c'); // evicts b
    expect(keyring.cache.size).toBe(2);
    await run('a'); // still cached
    expect(calls.generateDataKeyHandle).toBe(3);
    const { result } = await run('b'); // evicted: made again
    expect(calls.generateDataKeyHandle).toBe(4);
    await decrypts(result, Buffer.from('b'), { tenant: 'b' });
  });

  it('repeated hits on the newest entry keep the least-recently-used order', async () => {
    const { keyring, calls } = cachingKeyring({ capacity: 2 });
    const run = (tenant: string) => envelope.encrypt(Buffer.from(tenant), { keyring, encryptionContext: { tenant } });
    await run('a');
    await run('b');
    await run('b'); // hits on the newest
    await run('b');
    await run('a'); // a becomes the newest; b the least recently used
    await run('c'); // evicts b
    await run('a');
    expect(calls.generateDataKeyHandle).toBe(3);
    await run('b');
    expect(calls.generateDataKeyHandle).toBe(4);
  });

  it('a caller changing a returned header\'s data key bytes does not confuse the decrypt cache', async () => {
    // Two data keys (two caches) under one context, then one caching keyring decrypting both.
    const a = await envelope.encrypt(Buffer.from('a'), { keyring: cachingKeyring().keyring });
    const b = await envelope.encrypt(Buffer.from('b'), { keyring: cachingKeyring().keyring });
    const { keyring, calls } = cachingKeyring();
    const opened = await envelope.decrypt(a.result, { keyring });
    const edkB = b.header.encryptedDataKeys[0]!.encryptedDataKey;
    expect(opened.header.encryptedDataKeys[0]!.encryptedDataKey.length).toBe(edkB.length);
    opened.header.encryptedDataKeys[0]!.encryptedDataKey.set(edkB); // now equal to b's
    expect((await envelope.decrypt(b.result, { keyring })).plaintext.toString()).toBe('b');
    expect((await envelope.decrypt(a.result, { keyring })).plaintext.toString()).toBe('a');
    expect(calls.decryptDataKey ?? calls.decrypt).toBe(2);
  });

  it('keyrings sharing one DataKeyCache keep to their partitions', async () => {
    const cache = new DataKeyCache({ capacity: 10 });
    const one = cachingKeyring({ cache });
    const two = cachingKeyring({ cache });
    await envelope.encrypt(Buffer.from('1'), { keyring: one.keyring });
    await envelope.encrypt(Buffer.from('2'), { keyring: two.keyring });
    expect([one.calls.generateDataKeyHandle, two.calls.generateDataKeyHandle]).toEqual([1, 1]);
    expect(cache.size).toBe(2);
  });

  it('decrypt: a data key opened once serves every message with the same encrypted data keys, until maxAge', async () => {
    const { keyring: encryptor } = cachingKeyring();
    const messages = [];
    for (let i = 0; i < 10; i++) messages.push((await envelope.encrypt(Buffer.from(`m${i}`), { keyring: encryptor, encryptionContext: { app: 'x' } })).result);
    const { keyring, calls } = cachingKeyring({ maxAge: 60 });
    await Promise.all(messages.map(async (m, i) => {
      const { plaintext } = await envelope.decrypt(m, { keyring, encryptionContext: { app: 'x' } });
      expect(Buffer.from(plaintext).toString()).toBe(`m${i}`);
    }));
    expect(calls.decryptDataKey).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await envelope.decrypt(messages[0]!, { keyring });
    expect(calls.decryptDataKey).toBe(2);
    // A tampered message is still refused (the header tag, not the cache, decides).
    const tampered = Buffer.from(messages[1]!);
    tampered[tampered.length - 3]! ^= 1;
    await expect(envelope.decrypt(tampered, { keyring })).rejects.toMatchObject({ code: 'InvalidCiphertextException' });
  });

  it('never cached: signed suites on encrypt, and streams without plaintextLength; with it, streams are', async () => {
    const { keyring, calls } = cachingKeyring();
    for (let i = 0; i < 3; i++) await envelope.encrypt(Buffer.from('s'), { keyring, algorithmSuite: 0x0578 });
    expect(calls.generateDataKeyHandle).toBe(3);
    const stream = async (options: object) => {
      const parts: Buffer[] = [];
      await pipeline(Readable.from([Buffer.alloc(1000, 1)]), envelope.encryptStream({ keyring, ...options }), new Writable({ write(c, _e, cb) { parts.push(c); cb(); } }));
      return Buffer.concat(parts);
    };
    await stream({});
    await stream({});
    expect(calls.generateDataKeyHandle).toBe(5);
    await stream({ plaintextLength: 1000 });
    const last = await stream({ plaintextLength: 1000 });
    expect(calls.generateDataKeyHandle).toBe(6);
    await decrypts(last, Buffer.alloc(1000, 1));
  });

  it('a key evicted while messages use it is wiped only after them: concurrent messages over a tiny cache all decrypt', async () => {
    const { keyring } = cachingKeyring({ capacity: 1, maxMessagesEncrypted: 2 });
    const plaintexts = Array.from({ length: 40 }, () => crypto.randomBytes(50_000));
    const results = await Promise.all(plaintexts.map((p, i) => envelope.encrypt(p, { keyring, encryptionContext: { n: String(i % 3) } })));
    await Promise.all(results.map((r, i) => decrypts(r.result, plaintexts[i]!, { n: String(i % 3) })));
    keyring.cache.clear();
    expect(keyring.cache.size).toBe(0);
  });

  it('stats: hits, misses (one keyring call per entry, whatever waited for it), bypassed calls and limit evictions', async () => {
    const { keyring, calls } = cachingKeyring({ maxMessagesEncrypted: 10 });
    expect(keyring.stats).toEqual({ encrypt: { hits: 0, misses: 0, bypassed: 0 }, decrypt: { hits: 0, misses: 0, bypassed: 0 }, keyringCalls: 0, limitEvictions: 0 });
    // 5 at once: all miss, one keyring call (single flight); then 5 hits fill the entry's 10 messages.
    await Promise.all(Array.from({ length: 5 }, () => envelope.encrypt(Buffer.from('x'), { keyring })));
    const sealed = [];
    for (let i = 0; i < 5; i++) sealed.push((await envelope.encrypt(Buffer.from('y'), { keyring })).result);
    expect(keyring.stats.encrypt).toEqual({ hits: 5, misses: 5, bypassed: 0 });
    expect(keyring.stats.keyringCalls).toBe(1);
    // The 11th message retires the entry at its limit and makes a new one.
    await envelope.encrypt(Buffer.from('z'), { keyring });
    expect(keyring.stats).toMatchObject({ encrypt: { hits: 5, misses: 6 }, keyringCalls: 2, limitEvictions: 1 });
    // A signed suite is never cached: bypassed, straight to the keyring.
    await envelope.encrypt(Buffer.from('s'), { keyring, algorithmSuite: 0x0578 });
    expect(keyring.stats).toMatchObject({ encrypt: { bypassed: 1 }, keyringCalls: 3 });
    // Decrypt: the first message opens the data key (a miss), the others with the same encrypted data key hit.
    for (const message of sealed) await envelope.decrypt(message, { keyring });
    expect(keyring.stats.decrypt).toEqual({ hits: 4, misses: 1, bypassed: 0 });
    expect(keyring.stats.keyringCalls).toBe(4);
    // Two entries made, and the signed message's own data key.
    expect(calls.generateDataKeyHandle).toBe(3);
    // A snapshot: changing it changes nothing.
    keyring.stats.encrypt.hits = 99;
    expect(keyring.stats.encrypt.hits).toBe(5);
  });

  it('options are checked: maxAge is required, limits are positive integers, the keyring is a keyring', () => {
    const inner = new KmsKeyring({ kms, keyId });
    expect(() => new CachingKeyring({ keyring: inner } as never)).toThrow(expect.objectContaining({ code: 'ValidationException' }));
    expect(() => new CachingKeyring({ keyring: inner, maxAge: 0 })).toThrow(expect.objectContaining({ code: 'ValidationException' }));
    expect(() => new CachingKeyring({ keyring: inner, maxAge: 1000, maxMessagesEncrypted: 2 ** 33 })).toThrow(expect.objectContaining({ code: 'ValidationException' }));
    expect(() => new CachingKeyring({ keyring: inner, maxAge: 1000, capacity: 0 })).toThrow(expect.objectContaining({ code: 'ValidationException' }));
    expect(() => new CachingKeyring({ keyring: {} as never, maxAge: 1000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

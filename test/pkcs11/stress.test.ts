// Stress from JavaScript: 8 concurrent callers x 20,000 operations (random,
// AES-GCM encrypt, decrypt) over a handful of CMKs, with a key cache smaller
// than the set of keys so that unwrapping and destroying churn too: no
// error, and the token's object count the same afterwards as before (no
// leaked session objects).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPkcs11Root, type RootOfTrust, type WrappedKey } from '../../dist/root/index.js';
import { makeToken, TokenView, type TestToken } from './softhsm-fixture.js';

const CALLERS = 8;
const OPERATIONS = 20_000;
const KEYS = 5;

let token: TestToken;
let root: RootOfTrust;
let keys: WrappedKey[];

beforeAll(async () => {
  token = makeToken();
  // 3 cached keys for 5 CMKs: many operations unwrap, and evictions destroy.
  root = await openPkcs11Root({ module: token.module, tokenLabel: token.label, pin: token.pin, threads: 2, keyCacheCapacity: 3 });
  await root.createDomainKey(1);
  keys = [];
  for (let i = 0; i < KEYS; i++) {
    const generated = await root.generateKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 1);
    keys.push({ id: `cmk-${i}`, version: 1, domainVersion: 1, keySpec: generated.keySpec, keyUsage: generated.keyUsage, algorithm: generated.algorithm, blob: generated.blob });
  }
});

afterAll(async () => {
  await root?.close();
  token?.remove();
});

describe('stress', () => {
  it(`${CALLERS} concurrent callers x ${OPERATIONS} mixed operations: no error, no leaked object`, async () => {
    const before = await root.stats();
    const view = new TokenView(token.module, token.label, token.pin);
    const objectsBefore = view.find().length;
    expect(objectsBefore).toBe(before.objects);

    let failures = 0;
    let mismatches = 0;
    const start = performance.now();
    const caller = async (c: number) => {
      const aad = Buffer.from(`caller ${c}`);
      let last: { key: WrappedKey; iv: Uint8Array; ciphertext: Uint8Array; plaintext: Buffer } | undefined;
      for (let i = 0; i < OPERATIONS; i++) {
        try {
          const pick = (c * 7919 + i * 104729) % 10;
          if (pick < 3) {
            const bytes = await root.generateRandom(32);
            if (bytes.length !== 32) mismatches++;
          } else if (pick < 7 || last === undefined) {
            const key = keys[(c + i) % KEYS]!;
            const plaintext = crypto.randomBytes(32);
            const iv = Buffer.alloc(12);
            iv.writeUInt32BE(c, 0);
            iv.writeUInt32BE(i, 4);
            const { iv: used, ciphertext } = await root.encrypt(key, iv, aad, plaintext);
            last = { key, iv: used, ciphertext, plaintext };
          } else {
            const opened = await root.decrypt(last.key, last.iv, aad, last.ciphertext);
            if (Buffer.compare(opened, last.plaintext) !== 0) mismatches++;
            last = undefined;
          }
        } catch {
          failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: CALLERS }, (_, c) => caller(c)));
    const seconds = (performance.now() - start) / 1000;

    expect(failures).toBe(0);
    expect(mismatches).toBe(0);
    const after = await root.stats();
    expect(after.retries).toBe(before.retries);
    expect(after.unwraps).toBeGreaterThan(before.unwraps); // the cache churned
    expect(after.cachedKeys).toBeLessThanOrEqual(3);
    expect(after.workerSessions).toBeLessThanOrEqual(2);
    // The same objects as before, apart from the cache's content: evict it all and compare.
    for (const key of keys) await root.evictKey(key.id, key.version);
    const settled = await root.stats();
    expect(settled.cachedKeys).toBe(0);
    expect(settled.objects).toBe(objectsBefore - before.cachedKeys);
    expect(view.find().length).toBe(settled.objects);
    view.close();
    console.log(`stress: ${CALLERS * OPERATIONS} operations in ${seconds.toFixed(1)} s (${Math.round((CALLERS * OPERATIONS) / seconds)} ops/s), ${after.unwraps - before.unwraps} unwraps`);
  }, 120_000);
});

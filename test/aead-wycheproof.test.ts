// Wycheproof AES-GCM vectors (../shared/vectors, never copied into the repo)
// that fit the engine: 256-bit keys, 96-bit IVs, 128-bit tags.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aead, KmsError } from '../dist/index.js';
import { asyncCall, expectCode, rejection, syncThrow } from './helpers/gcm.js';

interface AeadVector {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadVector[];
}

const file = path.resolve(__dirname, '../../shared/vectors/wycheproof/aes_gcm_test.json');
const suite = JSON.parse(readFileSync(file, 'utf8')) as { algorithm: string; testGroups: AeadGroup[] };
const vectors = suite.testGroups
  .filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128)
  .flatMap((g) => g.tests);
// "acceptable" marks a legal-but-discouraged input. With a 96-bit IV and a
// 128-bit tag there is nothing discouraged left for GCM itself, so such a
// vector must behave as a valid one (the file in use has none today).
const valid = vectors.filter((t) => t.result === 'valid' || t.result === 'acceptable');
const invalid = vectors.filter((t) => t.result === 'invalid');

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const sealedOf = (t: AeadVector): Buffer => Buffer.concat([hex(t.iv), hex(t.ct), hex(t.tag)]);
const label = (t: AeadVector): string => `tcId ${t.tcId} [${t.flags.join(',')}] ${t.comment} (msg ${t.msg.length / 2} B, aad ${t.aad.length / 2} B)`;

const initial = aead.settings();
afterAll(() => void aead.configure(initial));

describe('wycheproof aes_gcm_test.json', () => {
  it(`uses ${vectors.length} vectors of AES-256/96-bit IV/128-bit tag (${valid.length} valid or acceptable, ${invalid.length} invalid)`, () => {
    expect(suite.algorithm).toBe('AES-GCM');
    expect(vectors.length).toBeGreaterThan(0);
    expect(valid.length).toBeGreaterThan(0);
    expect(invalid.length).toBeGreaterThan(0);
    expect(valid.length + invalid.length).toBe(vectors.length);
  });

  describe('valid: exact ct||tag with the given IV, and back', () => {
    it.each(valid.map((t) => [label(t), t] as const))('%s', async (_name, t) => {
      const key = aead.importKey(hex(t.key));
      const msg = hex(t.msg);
      const aad = hex(t.aad);
      const expected = sealedOf(t);

      aead.configure({ inlineThreshold: initial.inlineThreshold });
      expect(Buffer.from(aead.encryptSync(key, msg, { aad, iv: hex(t.iv) })).equals(expected)).toBe(true);
      expect(Buffer.from(aead.decryptSync(key, expected, { aad })).equals(msg)).toBe(true);
      expect(Buffer.from(await aead.encrypt(key, msg, { aad, iv: hex(t.iv) })).equals(expected)).toBe(true);
      expect(Buffer.from(await aead.decrypt(key, expected, { aad })).equals(msg)).toBe(true);

      // Through the worker pool: threshold 0, and a signal (which never goes
      // inline) so that even the empty message takes the pool path.
      aead.configure({ inlineThreshold: 0 });
      const signal = new AbortController().signal;
      expect(Buffer.from(await aead.encrypt(key, msg, { aad, iv: hex(t.iv), signal })).equals(expected)).toBe(true);
      expect(Buffer.from(await aead.decrypt(key, expected, { aad, signal })).equals(msg)).toBe(true);
      expect(Buffer.from(await aead.encrypt(key, msg, { aad, iv: hex(t.iv) })).equals(expected)).toBe(true);
      expect(Buffer.from(await aead.decrypt(key, expected, { aad })).equals(msg)).toBe(true);

      const [opened] = await aead.decryptBatch(key, [expected], { aad });
      expect(Buffer.from(opened!).equals(msg)).toBe(true);
      // A batch-sealed message (random IV) of the same input opens to it too.
      const [resealed] = await aead.encryptBatch(key, [msg], { aad });
      expect(Buffer.from(aead.decryptSync(key, resealed!, { aad })).equals(msg)).toBe(true);
      key.destroy();
    });
  });

  describe('invalid: rejected with InvalidCiphertextException', () => {
    it.each(invalid.map((t) => [label(t), t] as const))('%s', async (_name, t) => {
      const key = aead.importKey(hex(t.key));
      const aad = hex(t.aad);
      const sealed = sealedOf(t);

      const syncError = syncThrow(() => aead.decryptSync(key, sealed, { aad }));
      expect(syncError).toBeInstanceOf(KmsError);
      expectCode(syncError, 'InvalidCiphertextException');

      for (const inlineThreshold of [initial.inlineThreshold, 0]) {
        aead.configure({ inlineThreshold });
        expectCode(await rejection(asyncCall(() => aead.decrypt(key, sealed, { aad }))), 'InvalidCiphertextException');
        const signal = new AbortController().signal;
        expectCode(await rejection(asyncCall(() => aead.decrypt(key, sealed, { aad, signal }))), 'InvalidCiphertextException');
      }

      const alone = await rejection(aead.decryptBatch(key, [sealed], { aad }));
      expectCode(alone, 'InvalidCiphertextException');
      expect((alone as { failedIndices?: number[] }).failedIndices).toEqual([0]);

      // Among good messages under the same key and AAD, only it is reported.
      const good = aead.encryptSync(key, hex(t.msg), { aad });
      const mixed = await rejection(aead.decryptBatch(key, [good, good, sealed, good], { aad }));
      expectCode(mixed, 'InvalidCiphertextException');
      expect((mixed as { failedIndices?: number[] }).failedIndices).toEqual([2]);
      key.destroy();
    });
  });
});


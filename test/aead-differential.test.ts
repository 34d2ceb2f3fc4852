// Differential: hsmkms against node:crypto, both directions, on every path
// (sync, async inline, async on the worker pool, batch), for sizes from 0 to
// 1 MiB and AAD absent, empty or random. TEST_SEED=<n> replays a run.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { aead } from '../dist/index.js';
import { bytesFrom, nodeOpen, nodeSeal, prng, testSeed } from './helpers/gcm.js';

const seed = testSeed();
const rand = prng(seed);
const MiB = 1 << 20;

const fixedSizes = [0, 1, 15, 16, 17, 4095, 4096, 4097, 65536, MiB];
const randomSizes = [
  ...Array.from({ length: 6 }, () => Math.floor(rand() * (MiB + 1))),
  ...Array.from({ length: 6 }, () => Math.floor(rand() * 70_000)),
];
const sizes = [...fixedSizes, ...randomSizes];

type AadKind = 'none' | 'empty' | 'random';
const aadKinds: AadKind[] = ['none', 'empty', 'random'];
function makeAad(kind: AadKind): Uint8Array | undefined {
  if (kind === 'none') return undefined;
  if (kind === 'empty') return new Uint8Array(0);
  // Mostly short (as in practice), sometimes longer than a few blocks.
  const length = rand() < 0.8 ? 1 + Math.floor(rand() * 64) : 1 + Math.floor(rand() * 5000);
  return bytesFrom(rand, length);
}

interface Case {
  name: string;
  plaintext: Buffer;
  aad: Uint8Array | undefined;
}
const cases: Case[] = sizes.flatMap((size) =>
  aadKinds.map((kind) => {
    const aad = makeAad(kind);
    return { name: `${size} B, aad ${kind}${aad ? ` (${aad.length} B)` : ''}`, plaintext: bytesFrom(rand, size), aad };
  }),
);

const keyBytes = randomBytes(32);
const key = aead.importKey(keyBytes);
const initial = aead.settings();
afterAll(() => {
  aead.configure(initial);
  key.destroy();
});

function checkOursOpensWithNode(c: Case, sealed: Uint8Array): void {
  expect(sealed.length, c.name).toBe(c.plaintext.length + 28);
  expect(nodeOpen(keyBytes, sealed, c.aad).equals(c.plaintext), c.name).toBe(true);
}

function checkSame(c: Case, opened: Uint8Array): void {
  expect(opened.length, c.name).toBe(c.plaintext.length);
  expect(Buffer.from(opened.buffer, opened.byteOffset, opened.length).equals(c.plaintext), c.name).toBe(true);
}

describe(`aead vs node:crypto (seed ${seed}, sizes ${sizes.join(', ')})`, () => {
  it('covers the boundary sizes and every AAD kind', () => {
    for (const size of fixedSizes) expect(sizes).toContain(size);
    expect(cases.filter((c) => c.aad === undefined).length).toBe(sizes.length);
    expect(cases.filter((c) => c.aad?.length === 0).length).toBe(sizes.length);
  });

  it('sync: exact bytes for a given IV, both directions', () => {
    for (const c of cases) {
      const iv = randomBytes(12);
      const ours = aead.encryptSync(key, c.plaintext, { aad: c.aad, iv });
      expect(Buffer.from(ours).equals(nodeSeal(keyBytes, c.plaintext, c.aad, iv)), c.name).toBe(true);
      checkOursOpensWithNode(c, aead.encryptSync(key, c.plaintext, { aad: c.aad }));
      checkSame(c, aead.decryptSync(key, nodeSeal(keyBytes, c.plaintext, c.aad), { aad: c.aad }));
    }
  });

  it('async inline (threshold above every size)', async () => {
    aead.configure({ inlineThreshold: 2 * MiB });
    for (const c of cases) {
      checkOursOpensWithNode(c, await aead.encrypt(key, c.plaintext, { aad: c.aad }));
      checkSame(c, await aead.decrypt(key, nodeSeal(keyBytes, c.plaintext, c.aad), { aad: c.aad }));
      const iv = randomBytes(12);
      const ours = await aead.encrypt(key, c.plaintext, { aad: c.aad, iv });
      expect(Buffer.from(ours).equals(nodeSeal(keyBytes, c.plaintext, c.aad, iv)), c.name).toBe(true);
    }
  });

  it('async on the worker pool (threshold 0), all in flight at once', async () => {
    aead.configure({ inlineThreshold: 0 });
    const nodeSealed = cases.map((c) => nodeSeal(keyBytes, c.plaintext, c.aad));
    const ivs = cases.map(() => randomBytes(12));
    const [sealed, withIv, opened] = await Promise.all([
      Promise.all(cases.map((c) => aead.encrypt(key, c.plaintext, { aad: c.aad }))),
      Promise.all(cases.map((c, i) => aead.encrypt(key, c.plaintext, { aad: c.aad, iv: ivs[i] }))),
      Promise.all(cases.map((c, i) => aead.decrypt(key, nodeSealed[i]!, { aad: c.aad }))),
    ]);
    cases.forEach((c, i) => {
      checkOursOpensWithNode(c, sealed[i]!);
      expect(Buffer.from(withIv[i]!).equals(nodeSeal(keyBytes, c.plaintext, c.aad, ivs[i]!)), c.name).toBe(true);
      checkSame(c, opened[i]!);
    });
  });

  it('batch: one batch per AAD kind, both directions', async () => {
    for (const kind of aadKinds) {
      const aad = makeAad(kind);
      const batchCases = cases.map((c) => ({ ...c, name: `batch ${c.name} -> ${kind}`, aad }));
      const sealed = await aead.encryptBatch(key, batchCases.map((c) => c.plaintext), { aad });
      expect(sealed.length).toBe(batchCases.length);
      batchCases.forEach((c, i) => checkOursOpensWithNode(c, sealed[i]!));
      // IVs are random per message even within one batch.
      expect(new Set(sealed.map((s) => Buffer.from(s.subarray(0, 12)).toString('hex'))).size).toBe(sealed.length);
      const opened = await aead.decryptBatch(key, batchCases.map((c) => nodeSeal(keyBytes, c.plaintext, aad)), { aad });
      expect(opened.length).toBe(batchCases.length);
      batchCases.forEach((c, i) => checkSame(c, opened[i]!));
    }
  });

  it('empty batch', async () => {
    expect(await aead.encryptBatch(key, [])).toEqual([]);
    expect(await aead.decryptBatch(key, [])).toEqual([]);
  });
});

describe(`caller output and in place (seed ${seed})`, () => {
  const sizesHere = [0, 1, 17, 4096, 4097, 65536, 300_001];
  it.each(['sync', 'async inline', 'async pool'] as const)('%s', async (path) => {
    aead.configure({ inlineThreshold: path === 'async pool' ? 0 : 2 * MiB });
    const seal = (p: Uint8Array, o: { aad?: Uint8Array; output: Uint8Array }): Promise<Uint8Array> | Uint8Array =>
      path === 'sync' ? aead.encryptSync(key, p, o) : aead.encrypt(key, p, o);
    const open = (s: Uint8Array, o: { aad?: Uint8Array; output: Uint8Array }): Promise<Uint8Array> | Uint8Array =>
      path === 'sync' ? aead.decryptSync(key, s, o) : aead.decrypt(key, s, o);
    for (const size of sizesHere) {
      const c: Case = { name: `${path} ${size} B`, plaintext: bytesFrom(rand, size), aad: bytesFrom(rand, 13) };
      // Into a separate buffer: the very buffer comes back, filled.
      const output = new Uint8Array(size + 28);
      expect(await seal(c.plaintext, { aad: c.aad, output })).toBe(output);
      checkOursOpensWithNode(c, output);
      const plainOut = new Uint8Array(size);
      expect(await open(nodeSeal(keyBytes, c.plaintext, c.aad), { aad: c.aad, output: plainOut })).toBe(plainOut);
      checkSame(c, plainOut);
      // In place: the plaintext sits at offset 12 of the sealed buffer.
      const buffer = new Uint8Array(size + 28);
      buffer.set(c.plaintext, 12);
      await seal(buffer.subarray(12, 12 + size), { aad: c.aad, output: buffer });
      checkOursOpensWithNode(c, buffer);
      const region = buffer.subarray(12, 12 + size);
      await open(buffer, { aad: c.aad, output: region });
      checkSame(c, region);
    }
  });
});

// Concurrency on the worker pool: thousands of jobs in flight, big batches,
// resizing the pool (also mid-flight), and cancellation through AbortSignal.
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, aead, type AeadKey } from '../dist/index.js';
import { bytesFrom, expectCode, nodeOpen, nodeSeal, prng, rejection, testSeed } from './helpers/gcm.js';

const seed = testSeed();
const rand = prng(seed);
const MiB = 1 << 20;

const keys = Array.from({ length: 4 }, () => {
  const bytes = randomBytes(32);
  return { bytes, key: aead.importKey(bytes) };
});
const initial = aead.settings();

beforeAll(() => void aead.configure({ inlineThreshold: 0 }));
beforeEach(() => void aead.configure({ threads: initial.threads, inlineThreshold: 0 }));
afterAll(() => {
  aead.configure(initial);
  for (const { key } of keys) key.destroy();
});

/** Mostly small messages, some around the inline threshold, a few large. */
function mixedSize(): number {
  const r = rand();
  if (r < 0.7) return Math.floor(rand() * 257);
  if (r < 0.9) return 257 + Math.floor(rand() * 4000);
  if (r < 0.99) return 4097 + Math.floor(rand() * 60_000);
  return 65_536 + Math.floor(rand() * 200_000);
}

/** For the big batches: mostly small, as batches are meant for. */
function batchSize(): number {
  return rand() < 0.9 ? Math.floor(rand() * 1025) : 1025 + Math.floor(rand() * 16_000);
}

interface Msg {
  k: (typeof keys)[number];
  plaintext: Buffer;
  aad: Uint8Array | undefined;
}
function messages(count: number): Msg[] {
  return Array.from({ length: count }, () => ({
    k: keys[Math.floor(rand() * keys.length)]!,
    plaintext: bytesFrom(rand, mixedSize()),
    aad: rand() < 0.5 ? undefined : bytesFrom(rand, Math.floor(rand() * 40)),
  }));
}

/** Encrypts and decrypts every message concurrently; checks every result. */
async function roundTripAll(msgs: Msg[]): Promise<Uint8Array[]> {
  const nodeSealed = msgs.map((m) => nodeSeal(m.k.bytes, m.plaintext, m.aad));
  const [sealed, opened] = await Promise.all([
    Promise.all(msgs.map((m) => aead.encrypt(m.k.key, m.plaintext, { aad: m.aad }))),
    Promise.all(msgs.map((m, i) => aead.decrypt(m.k.key, nodeSealed[i]!, { aad: m.aad }))),
  ]);
  let wrong = 0;
  msgs.forEach((m, i) => {
    if (!nodeOpen(m.k.bytes, sealed[i]!, m.aad).equals(m.plaintext)) wrong++;
    if (!Buffer.from(opened[i]!).equals(m.plaintext)) wrong++;
  });
  expect(wrong).toBe(0);
  return sealed;
}

const ivOf = (sealed: Uint8Array): string => Buffer.from(sealed.subarray(0, 12)).toString('hex');

async function batchRoundTrip(key: AeadKey, keyBytes: Buffer, plaintexts: Buffer[], aad?: Uint8Array): Promise<Uint8Array[]> {
  const sealed = await aead.encryptBatch(key, plaintexts, { aad });
  expect(sealed.length).toBe(plaintexts.length);
  let wrong = 0;
  sealed.forEach((s, i) => {
    if (!nodeOpen(keyBytes, s, aad).equals(plaintexts[i]!)) wrong++;
  });
  const opened = await aead.decryptBatch(key, plaintexts.map((p) => nodeSeal(keyBytes, p, aad)), { aad });
  opened.forEach((p, i) => {
    if (!Buffer.from(p).equals(plaintexts[i]!)) wrong++;
  });
  expect(wrong).toBe(0);
  return sealed;
}

describe('abort', () => {
  const { key, bytes } = keys[2]!;
  const big = randomBytes(MiB);
  const quarter = big.subarray(0, MiB / 4);
  const blocker = randomBytes(16 * MiB);

  /**
   * Gives every pool thread two 16 MiB jobs, so that what is submitted next
   * stays queued for a good while (the submissions that follow are cheap:
   * no large allocations before the abort).
   */
  function saturate(): () => Promise<void> {
    const running = Array.from({ length: 2 * aead.settings().threads }, () => aead.encrypt(key, blocker));
    return async () => {
      for (const sealed of await Promise.all(running)) expect(nodeOpen(bytes, sealed, undefined).equals(blocker)).toBe(true);
    };
  }

  function expectAbortError(error: unknown, reason?: unknown): void {
    expect(error).toBeInstanceOf(AbortError);
    expectCode(error, 'ABORT_ERR', 'AbortError');
    if (reason !== undefined) expect((error as Error).cause).toBe(reason);
  }

  it('an already-aborted signal rejects every async function with AbortError (and runs nothing)', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    const { signal } = controller;
    const sealedSmall = aead.encryptSync(key, Buffer.from('x'));
    for (const inlineThreshold of [0, initial.inlineThreshold]) {
      aead.configure({ inlineThreshold });
      expectAbortError(await rejection(aead.encrypt(key, Buffer.from('x'), { signal })), reason);
      expectAbortError(await rejection(aead.encrypt(key, big, { signal })), reason);
      expectAbortError(await rejection(aead.decrypt(key, sealedSmall, { signal })), reason);
      expectAbortError(await rejection(aead.encryptBatch(key, [big, big], { signal })), reason);
      expectAbortError(await rejection(aead.decryptBatch(key, [sealedSmall], { signal })), reason);
    }
  });

  it('aborting while the pool is saturated with queued large jobs cancels some; the rest are correct', async () => {
    const jobs = 32;
    const controllers = Array.from({ length: jobs }, () => new AbortController());
    const sealedQuarter = nodeSeal(bytes, quarter);
    const blockers = saturate();
    const settled = controllers.map((c, i) =>
      (i % 2 === 0 ? aead.encrypt(key, quarter, { signal: c.signal }) : aead.decrypt(key, sealedQuarter, { signal: c.signal })).then(
        (value) => ({ i, value }),
        (error: unknown) => ({ i, error }),
      ),
    );
    // Every job is submitted; at most a few have started. Abort them all.
    for (const c of controllers) c.abort();
    const results = await Promise.all(settled);
    const aborted = results.filter((r) => 'error' in r);
    for (const r of aborted) expectAbortError(r.error);
    expect(aborted.length).toBeGreaterThanOrEqual(1);
    for (const r of results) {
      if (!('value' in r)) continue;
      if (r.i % 2 === 0) expect(nodeOpen(bytes, r.value, undefined).equals(quarter)).toBe(true);
      else expect(Buffer.from(r.value).equals(quarter)).toBe(true);
    }
    await blockers();
  });

  it('aborting half of the queued jobs: the other half all complete correctly', async () => {
    const controllers = Array.from({ length: 40 }, () => new AbortController());
    const blockers = saturate();
    const settled = controllers.map((c, i) =>
      aead.encrypt(key, quarter, { signal: c.signal, aad: Buffer.from([i]) }).then(
        (value) => ({ i, value }),
        (error: unknown) => ({ i, error }),
      ),
    );
    controllers.forEach((c, i) => i % 2 === 1 && c.abort());
    const results = await Promise.all(settled);
    let cancelled = 0;
    for (const r of results) {
      if (r.i % 2 === 0) {
        expect('value' in r, `job ${r.i} was not aborted`).toBe(true);
        if ('value' in r) expect(nodeOpen(bytes, r.value, Buffer.from([r.i])).equals(quarter)).toBe(true);
      } else if ('error' in r) {
        expectAbortError(r.error);
        cancelled++;
      } else {
        expect(nodeOpen(bytes, r.value, Buffer.from([r.i])).equals(quarter)).toBe(true);
      }
    }
    expect(cancelled).toBeGreaterThanOrEqual(1);
    await blockers();
  });

  it('a batch queued behind saturating jobs is cancelled as a whole', async () => {
    const controller = new AbortController();
    const plaintexts = Array.from({ length: 64 }, () => randomBytes(16 * 1024));
    const sealed = plaintexts.map((p) => nodeSeal(bytes, p));
    const blockers = saturate();
    const batch = aead.encryptBatch(key, plaintexts, { signal: controller.signal });
    const openBatch = aead.decryptBatch(key, sealed, { signal: controller.signal });
    controller.abort();
    expectAbortError(await rejection(batch));
    expectAbortError(await rejection(openBatch));
    await blockers();
  });

  it('aborting after completion is harmless, and the pool still works after all of the above', async () => {
    const controller = new AbortController();
    const sealed = await aead.encrypt(key, big, { signal: controller.signal });
    controller.abort();
    expect(nodeOpen(bytes, sealed, undefined).equals(big)).toBe(true);
    await roundTripAll(messages(500));
  });
});

describe(`concurrency (seed ${seed})`, () => {
  it('10,000 concurrent encrypts plus 10,000 concurrent decrypts on the pool, mixed sizes and keys', async () => {
    expect(aead.settings().inlineThreshold).toBe(0);
    const sealed = await roundTripAll(messages(10_000));
    // Random IVs, drawn on many threads at once, never repeat.
    expect(new Set(sealed.map(ivOf)).size).toBe(sealed.length);
  });

  it('a batch of 10,000 messages, and several batches in flight with single jobs', async () => {
    const { key, bytes } = keys[0]!;
    const plaintexts = Array.from({ length: 10_000 }, () => bytesFrom(rand, batchSize()));
    const sealed = await batchRoundTrip(key, bytes, plaintexts, Buffer.from('batch'));
    const syncSealed = plaintexts.slice(0, 2000).map((p) => aead.encryptSync(key, p));
    expect(new Set([...sealed, ...syncSealed].map(ivOf)).size).toBe(sealed.length + syncSealed.length);
    await Promise.all([
      ...keys.map(({ key: k, bytes: b }) => batchRoundTrip(k, b, plaintexts.slice(0, 2500))),
      roundTripAll(messages(1000)),
    ]);
  });

  it('threads default to the available cores; configure(1), more, and back, still correct', async () => {
    const expectedDefault = process.env.HSMKMS_THREADS ? Number(process.env.HSMKMS_THREADS) : availableParallelism();
    expect(initial.threads).toBe(expectedDefault);
    for (const threads of [1, 2 * expectedDefault + 1, initial.threads]) {
      expect(aead.configure({ threads })).toEqual({ threads, inlineThreshold: 0 });
      expect(aead.settings().threads).toBe(threads);
      await roundTripAll(messages(500));
      await batchRoundTrip(keys[1]!.key, keys[1]!.bytes, Array.from({ length: 300 }, () => bytesFrom(rand, mixedSize())));
    }
    expect(aead.settings()).toEqual({ ...initial, inlineThreshold: 0 });
  });

  it('resizing the pool while thousands of jobs are in flight loses none', async () => {
    const msgs = messages(3000);
    const running = roundTripAll(msgs);
    aead.configure({ threads: 1 });
    const more = roundTripAll(messages(500));
    aead.configure({ threads: 3 });
    aead.configure({ threads: initial.threads });
    await Promise.all([running, more]);
  });
});

// Lifecycle: destroy with work pending, garbage collection in flight and of
// keys, worker_threads (and terminating one mid-flight), process exit with
// work pending. Child processes run the scripts in test/fixtures/.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { aead, KmsError } from '../dist/index.js';
import { asyncCall, expectCode, nodeOpen, rejection, syncThrow } from './helpers/gcm.js';

const dist = path.resolve(__dirname, '../dist/index.js');
const fixture = (name: string): string => path.resolve(__dirname, 'fixtures', name);
const MiB = 1 << 20;
const initial = aead.settings();
afterAll(() => void aead.configure(initial));

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runChild(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function lastJson(result: ChildResult): Record<string, unknown> {
  expect(result.stderr).toBe('');
  expect(result.signal).toBeNull();
  expect(result.code).toBe(0);
  const line = result.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Record<string, unknown>;
}

// First in the file: nothing else has made keys in this process yet, so the
// live-block count moves only with what this test does.
describe('destroy while work is pending', () => {
  it('pending work rejects with KeyUnavailableException or completes correctly; later calls reject; memory returns', async () => {
    aead.configure({ inlineThreshold: 0 });
    const blockerKey = aead.generateKey();
    const before = aead.secureMemoryStats().liveBlocks;
    const keyBytes = randomBytes(32);
    const key = aead.importKey(keyBytes);
    expect(aead.secureMemoryStats().liveBlocks).toBe(before + 1);
    expect(key.destroyed).toBe(false);

    const plaintext = randomBytes(256 * 1024);
    const sealed = aead.encryptSync(key, plaintext);
    // A large job on the key (most likely running when destroy() comes: it
    // must then finish correctly), then every thread occupied by another
    // key's work, so that the jobs after it are still queued.
    const running = aead.encrypt(key, Buffer.alloc(8 * MiB, 3));
    const blockers = Array.from({ length: initial.threads }, () => aead.encrypt(blockerKey, Buffer.alloc(16 * MiB)));
    const pending = [
      running,
      ...Array.from({ length: 20 }, (_, i) => (i % 2 ? aead.encrypt(key, plaintext) : aead.decrypt(key, sealed))),
      aead.encryptBatch(key, [plaintext, plaintext]),
      aead.decryptBatch(key, [sealed, sealed]),
    ];
    key.destroy();
    expect(key.destroyed).toBe(true);
    key.destroy(); // idempotent
    expect(key.destroyed).toBe(true);

    const settled = await Promise.allSettled(pending);
    let unavailable = 0;
    settled.forEach((r, i) => {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(KmsError);
        expectCode(r.reason, 'KeyUnavailableException');
        unavailable++;
        return;
      }
      // Completed: it must be right.
      const value = r.value as Uint8Array | Uint8Array[];
      if (i === 0) expect(nodeOpen(keyBytes, value as Uint8Array).equals(Buffer.alloc(8 * MiB, 3))).toBe(true);
      else if (i <= 20 && i % 2 === 0) expect(nodeOpen(keyBytes, value as Uint8Array).equals(plaintext)).toBe(true);
      else if (i <= 20) expect(Buffer.from(value as Uint8Array).equals(plaintext)).toBe(true);
      else if (i === 21) for (const s of value as Uint8Array[]) expect(nodeOpen(keyBytes, s).equals(plaintext)).toBe(true);
      else for (const p of value as Uint8Array[]) expect(Buffer.from(p).equals(plaintext)).toBe(true);
    });
    expect(unavailable).toBeGreaterThanOrEqual(1);
    await Promise.all(blockers);

    // Later calls, on every path.
    expectCode(syncThrow(() => aead.encryptSync(key, plaintext)), 'KeyUnavailableException');
    expectCode(syncThrow(() => aead.decryptSync(key, sealed)), 'KeyUnavailableException');
    for (const inlineThreshold of [0, 1 * MiB]) {
      aead.configure({ inlineThreshold });
      expectCode(await rejection(asyncCall(() => aead.encrypt(key, plaintext))), 'KeyUnavailableException');
      expectCode(await rejection(asyncCall(() => aead.decrypt(key, sealed))), 'KeyUnavailableException');
      expectCode(await rejection(asyncCall(() => aead.encryptBatch(key, [plaintext]))), 'KeyUnavailableException');
      expectCode(await rejection(asyncCall(() => aead.decryptBatch(key, [sealed]))), 'KeyUnavailableException');
    }
    expect(aead.secureMemoryStats().liveBlocks).toBe(before);
    blockerKey.destroy();
    expect(aead.secureMemoryStats().liveBlocks).toBe(before - 1);
  });
});

describe('garbage collection (child processes with --expose-gc)', () => {
  it('while work is in flight on keys and buffers nothing references: all results correct', async () => {
    // One pool thread keeps work queued while the collections run.
    const out = lastJson(await runChild(['--expose-gc', fixture('gc-in-flight.cjs'), dist], { HSMKMS_THREADS: '1' }));
    expect(out.jobs).toBe(620);
    expect(out.wrong).toBe(0);
    expect(out.maxPendingAtGc as number).toBeGreaterThan(0);
    expect(out.after).toBe(out.before);
  });

  it('a key dropped without destroy() is wiped when collected (liveBlocks falls back)', async () => {
    const out = lastJson(await runChild(['--expose-gc', fixture('gc-wipes-key.cjs'), dist]));
    expect(out.peak).toBe((out.before as number) + (out.count as number));
    expect(out.afterIdle).toBe(out.before);
    expect(out.peakInFlight).toBe((out.before as number) + (out.count as number));
    expect(out.afterInFlight).toBe(out.before);
    expect(out.keptWorks).toBe(true);
    expect(out.keptDestroyed).toBe(false);
  });
});

describe('worker_threads', () => {
  it('several workers encrypt concurrently (with the main thread); results check out in the main thread', async () => {
    const workers = 4;
    const keyBytes = randomBytes(32);
    const plaintexts = Array.from({ length: 40 }, (_, i) => randomBytes(i * 3000));
    const mainKey = aead.importKey(keyBytes);
    aead.configure({ inlineThreshold: 0 });
    const mainWork = Promise.all(plaintexts.map((p) => aead.encrypt(mainKey, p)));
    type Reply = { id: number; pooled: Uint8Array[]; sync: Uint8Array[]; batch: Uint8Array[]; roundTrip: boolean; error?: string };
    const replies = await Promise.all(
      Array.from({ length: workers }, (_, id) => {
        const worker = new Worker(fixture('worker-encrypt.cjs'), { workerData: { id, dist, keyBytes, plaintexts } });
        return new Promise<Reply>((resolve, reject) => {
          let replied = false;
          worker.once('message', (m: Reply) => {
            replied = true;
            void worker.terminate().then(() => resolve(m));
          });
          worker.once('error', reject);
          worker.once('exit', (code) => replied || reject(new Error(`worker ${id} exited (${code}) before replying`)));
        });
      }),
    );
    for (const reply of replies) {
      expect(reply.error).toBeUndefined();
      expect(reply.roundTrip).toBe(true);
      const aad = Buffer.from(`worker ${reply.id}`);
      for (const kind of ['pooled', 'sync', 'batch'] as const) {
        expect(reply[kind].length).toBe(plaintexts.length);
        reply[kind].forEach((s, i) => {
          expect(nodeOpen(keyBytes, s, aad).equals(plaintexts[i]!)).toBe(true);
          expect(Buffer.from(aead.decryptSync(mainKey, s, { aad })).equals(plaintexts[i]!)).toBe(true);
        });
      }
    }
    (await mainWork).forEach((s, i) => expect(nodeOpen(keyBytes, s).equals(plaintexts[i]!)).toBe(true));
    mainKey.destroy();
  });

  it('terminating workers with work in flight does not crash the process; the pool keeps working', async () => {
    aead.configure({ inlineThreshold: 0 });
    const keyBytes = randomBytes(32);
    const key = aead.importKey(keyBytes);
    const plaintext = randomBytes(MiB);
    const baseline = aead.secureMemoryStats().liveBlocks;
    // Ten rounds: a termination landing mid-call is a matter of timing (one
    // such crash showed in about a third of four-round runs).
    for (let round = 0; round < 10; round++) {
      // Main-thread work in flight alongside the doomed workers.
      const mine = Array.from({ length: 8 }, () => aead.encrypt(key, plaintext));
      const started = await Promise.all(
        Array.from({ length: 3 }, () => {
          const worker = new Worker(fixture('worker-flood.cjs'), { workerData: { dist } });
          return new Promise<Worker>((resolve, reject) => {
            worker.once('message', () => resolve(worker));
            worker.once('error', reject);
          });
        }),
      );
      // Terminate at once (round 0) or after letting completions flow.
      if (round > 0) await new Promise((r) => setTimeout(r, round * 5));
      const codes = await Promise.all(started.map((w) => w.terminate()));
      expect(codes).toEqual([1, 1, 1]);
      for (const sealed of await Promise.all(mine)) expect(nodeOpen(keyBytes, sealed).equals(plaintext)).toBe(true);
    }
    const after = await Promise.all(Array.from({ length: 50 }, (_, i) => aead.encrypt(key, plaintext.subarray(0, i * 1000))));
    after.forEach((s, i) => expect(nodeOpen(keyBytes, s).equals(plaintext.subarray(0, i * 1000))).toBe(true));
    // The terminated workers' keys were wiped with their environments.
    expect(aead.secureMemoryStats().liveBlocks).toBe(baseline);
    key.destroy();
  });

  it('a worker that calls process.exit() with work in flight ends cleanly', async () => {
    const baseline = aead.secureMemoryStats().liveBlocks;
    const source = `
      const { aead } = require(${JSON.stringify(dist)});
      aead.configure({ inlineThreshold: 0 });
      const key = aead.generateKey();
      for (let i = 0; i < 16; i++) aead.encrypt(key, Buffer.alloc(1 << 20));
      aead.encryptBatch(key, Array.from({ length: 16 }, () => Buffer.alloc(65536)));
      process.exit(7);`;
    for (let i = 0; i < 5; i++) {
      const worker = new Worker(source, { eval: true });
      const code = await new Promise<number>((resolve, reject) => {
        worker.once('exit', resolve);
        worker.once('error', reject);
      });
      expect(code).toBe(7);
    }
    expect(aead.secureMemoryStats().liveBlocks).toBe(baseline);
    const key = aead.generateKey();
    expect(Buffer.from(aead.decryptSync(key, await aead.encrypt(key, Buffer.alloc(100_000, 1)))).equals(Buffer.alloc(100_000, 1))).toBe(true);
    key.destroy();
  });
});

describe('process exit with work pending (child processes)', () => {
  it.each(['now', 'later'])('process.exit(0) with large jobs running (%s): exit code 0, no signal', async (mode) => {
    const result = await runChild([fixture('exit-pending.cjs'), mode, dist]);
    expect(result.stderr).toBe('');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('submitted 28');
    if (mode === 'later') expect(result.stdout).toContain('first done');
  });

  it('without process.exit: pending work keeps the process alive until done, then nothing does', async () => {
    const result = await runChild([fixture('exit-pending.cjs'), 'natural', dist]);
    expect(result.stderr).toBe('');
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('completed 28 correct');
  });
});

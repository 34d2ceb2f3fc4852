/**
 * The README's main job: an end-to-end demo of the AES-256-GCM engine.
 * Encrypts a generated stream in 64 KiB pieces on the native worker pool,
 * decrypts and verifies it, and prints throughput and event-loop delay.
 *
 * Usage: node dist/demo.js [--size MiB] [--piece KiB]
 */
import { createHash, randomFillSync } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { aead, type AeadKey } from './aead.js';

interface DemoOptions {
  totalBytes: number;
  pieceBytes: number;
  inFlight: number;
}

function parseArgs(argv: string[]): DemoOptions {
  const value = (flag: string, fallback: number): number => {
    const i = argv.indexOf(flag);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  return {
    totalBytes: Math.round(value('--size', 256) * 1024 * 1024),
    pieceBytes: Math.round(value('--piece', 64) * 1024),
    inFlight: 32,
  };
}

/** Runs `work(i)` for i in [0, count) with at most `window` promises pending, in order. */
async function pipeline<T>(count: number, window: number, work: (i: number) => Promise<T>, sink: (i: number, v: T) => void): Promise<void> {
  const pending: Promise<T>[] = [];
  let next = 0;
  for (let done = 0; done < count; done++) {
    while (next < count && pending.length < window) pending.push(work(next++));
    sink(done, await pending.shift()!);
  }
}

async function run(options: DemoOptions): Promise<void> {
  const { totalBytes, pieceBytes, inFlight } = options;
  const pieces = Math.ceil(totalBytes / pieceBytes);
  const source = randomFillSync(Buffer.allocUnsafe(pieceBytes));
  const pieceOf = (i: number): Uint8Array => {
    const length = Math.min(pieceBytes, totalBytes - i * pieceBytes);
    const piece = Buffer.from(source.subarray(0, length));
    piece.writeUInt32BE(i, 0); // every piece differs
    return piece;
  };
  const key: AeadKey = aead.generateKey();
  aead.configure({ inlineThreshold: Math.min(aead.settings().inlineThreshold, pieceBytes - 1) });
  const loop = monitorEventLoopDelay({ resolution: 1 });

  console.log(`hsmkms demo: AES-256-GCM (OpenSSL ${aead.opensslVersion}), ${aead.settings().threads} worker threads`);
  console.log(`  ${(totalBytes / 2 ** 20).toFixed(0)} MiB in ${pieces} pieces of ${pieceBytes / 1024} KiB, ${inFlight} in flight`);

  const inputHash = createHash('sha256');
  const sealed: Uint8Array[] = new Array(pieces);
  loop.enable();
  let start = process.hrtime.bigint();
  await pipeline(pieces, inFlight, (i) => {
    const piece = pieceOf(i);
    inputHash.update(piece);
    return aead.encrypt(key, piece, { aad: Buffer.from(`piece ${i}`) });
  }, (i, s) => (sealed[i] = s));
  const encryptSeconds = Number(process.hrtime.bigint() - start) / 1e9;

  const outputHash = createHash('sha256');
  start = process.hrtime.bigint();
  await pipeline(pieces, inFlight, (i) => aead.decrypt(key, sealed[i]!, { aad: Buffer.from(`piece ${i}`) }), (_i, p) => outputHash.update(p));
  const decryptSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  loop.disable();
  key.destroy();

  const ok = inputHash.digest('hex') === outputHash.digest('hex');
  const mibps = (s: number): string => (totalBytes / 2 ** 20 / s).toFixed(0);
  console.log(`  encrypt: ${mibps(encryptSeconds)} MiB/s   decrypt: ${mibps(decryptSeconds)} MiB/s`);
  console.log(`  event-loop delay while working: p99 ${(loop.percentile(99) / 1e6).toFixed(2)} ms, max ${(loop.max / 1e6).toFixed(2)} ms`);
  console.log(`  verified: ${ok ? 'every byte decrypted back to the original (SHA-256 match)' : 'MISMATCH'}`);
  if (!ok) process.exitCode = 1;
}

run(parseArgs(process.argv.slice(2))).catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`hsmkms demo failed: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
  process.exitCode = 1;
});

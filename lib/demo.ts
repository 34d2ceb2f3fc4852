/**
 * The README's main job: an end-to-end demo of the AES-256-GCM engine.
 * Streams a generated payload in 64 KiB pieces through the native worker
 * pool: each piece is encrypted and decrypted again, into buffers the
 * pipeline recycles (the zero-allocation path), and compared with the
 * original. Verification stays cheap so the event loop stays free.
 * Prints throughput, event-loop delay and memory.
 *
 * Usage: node dist/demo.js [--size MiB] [--piece KiB]
 */
import { randomFillSync } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { aead, SEAL_OVERHEAD } from './aead.js';

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

/** One slot of the pipeline: its plaintext, sealed and opened buffers are reused for every piece it carries. */
interface Slot {
  plain: Buffer;
  sealed: Buffer;
  opened: Buffer;
}

async function run({ totalBytes, pieceBytes, inFlight }: DemoOptions): Promise<void> {
  const pieces = Math.ceil(totalBytes / pieceBytes);
  const pattern = randomFillSync(Buffer.allocUnsafe(pieceBytes));
  const slots: Slot[] = Array.from({ length: inFlight }, () => ({
    plain: Buffer.allocUnsafe(pieceBytes),
    sealed: Buffer.allocUnsafe(pieceBytes + SEAL_OVERHEAD),
    opened: Buffer.allocUnsafe(pieceBytes),
  }));
  const key = aead.generateKey();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let mismatches = 0;
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;

  console.log(`hsmkms demo: AES-256-GCM through ${aead.opensslVersion}, ${aead.settings().threads} worker threads`);
  console.log(`  ${(totalBytes / 2 ** 20).toFixed(0)} MiB in ${pieces} pieces of ${pieceBytes / 1024} KiB, ${inFlight} in flight, buffers recycled`);

  // Piece i: fill its slot, encrypt, decrypt, all on the pool; hashes are fed in order.
  const roundTrip = async (i: number, slot: Slot): Promise<Slot> => {
    const length = Math.min(pieceBytes, totalBytes - i * pieceBytes);
    const plain = slot.plain.subarray(0, length);
    pattern.copy(plain, 0, 0, length);
    plain.writeUInt32BE(i >>> 0, 0); // every piece differs
    const aad = Buffer.from(`piece ${i}`);
    const sealed = slot.sealed.subarray(0, length + SEAL_OVERHEAD);
    await aead.encrypt(key, plain, { aad, output: sealed });
    await aead.decrypt(key, sealed, { aad, output: slot.opened.subarray(0, length) });
    return slot;
  };

  loop.enable();
  const start = process.hrtime.bigint();
  const pending: Promise<Slot>[] = [];
  let next = 0;
  for (let done = 0; done < pieces; done++) {
    while (next < pieces && pending.length < inFlight) pending.push(roundTrip(next, slots[next++ % inFlight]!));
    const slot = await pending.shift()!;
    const length = Math.min(pieceBytes, totalBytes - done * pieceBytes);
    if (!slot.plain.subarray(0, length).equals(slot.opened.subarray(0, length))) mismatches++;
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  loop.disable();
  key.destroy();

  const ok = mismatches === 0;
  const mib = totalBytes / 2 ** 20;
  console.log(`  encrypted and decrypted ${mib.toFixed(0)} MiB in ${seconds.toFixed(2)} s: ${((2 * mib) / seconds).toFixed(0)} MiB/s of AES-GCM`);
  console.log(`  event-loop delay meanwhile: p99 ${(loop.percentile(99) / 1e6).toFixed(2)} ms, max ${(loop.max / 1e6).toFixed(2)} ms`);
  console.log(`  memory: RSS grew ${((rssPeak - rssBefore) / 2 ** 20).toFixed(1)} MiB (${((3 * inFlight * pieceBytes) / 2 ** 20).toFixed(1)} MiB of buffers in flight)`);
  console.log(`  verified: ${ok ? 'every piece decrypted back to its original bytes' : `${mismatches} pieces differ`}`);
  if (!ok) process.exitCode = 1;
}

run(parseArgs(process.argv.slice(2))).catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  console.error(`hsmkms demo failed: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
  process.exitCode = 1;
});

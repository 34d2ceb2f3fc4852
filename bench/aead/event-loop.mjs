// Event-loop responsiveness while 256 MiB is encrypted in 64 KiB pieces:
// perf_hooks.monitorEventLoopDelay (1 ms resolution) p99 and max, with a
// 1 ms setInterval heartbeat running (its largest gap is reported too).
//   idle         nothing to do: the floor of the measurement on this machine
//   node-loop    node:crypto one-shot, a plain loop over the pieces
//   node-yield   the same, yielding to the loop (setImmediate) after each piece
//   hsmkms-W     hsmkms encrypt (async, pool), a sliding window of W pieces
//   hsmkms-W-tN  the same with N = cores - 1 workers (for comparison)
//   hsmkms-W-recycled  the same writing into recycled outputs (for comparison)
import crypto from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { KiB, MiB, cores, emit, loadHsmkms, log, median, parseSuiteArgs, sleep } from '../lib/common.mjs';

const args = parseSuiteArgs();
const { aead } = loadHsmkms();
const gc = globalThis.gc ?? (() => {});

const TOTAL = args.quick ? 64 * MiB : 256 * MiB;
const PIECE = 64 * KiB;
const PIECES = TOTAL / PIECE;
const REPEATS = args.quick ? 1 : 3;
const WINDOWS = [16, 64];

const DEFAULT_THREADS = aead.settings().threads;
const nodeKey = crypto.randomBytes(32);
const key = aead.generateKey();
// 64 distinct random pieces (4 MiB), cycled: the data source is not what we time.
const sources = Array.from({ length: 64 }, () => crypto.randomBytes(PIECE));

function nodeOneShot(input) {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', nodeKey, iv);
  const ct = cipher.update(input);
  cipher.final();
  return [iv, ct, cipher.getAuthTag()];
}

const CASES = [
  {
    // The floor: what the histogram reports with nothing to do on this
    // machine, at this moment (timer granularity and scheduling noise).
    id: 'idle',
    label: 'idle (no work, 250 ms), the floor of this measurement',
    run: () => sleep(250),
  },
  {
    id: 'node-loop',
    label: 'node:crypto one-shot, plain loop',
    run: async () => {
      for (let i = 0; i < PIECES; i++) nodeOneShot(sources[i % sources.length]);
    },
  },
  {
    id: 'node-yield',
    label: 'node:crypto one-shot, setImmediate after each piece',
    run: async () => {
      for (let i = 0; i < PIECES; i++) {
        nodeOneShot(sources[i % sources.length]);
        await yieldToLoop();
      }
    },
  },
  ...WINDOWS.map((w) => hsmkmsCase(w, DEFAULT_THREADS)),
  // For comparison, not goals: one core left to the event loop; outputs
  // recycled (options.output), so that no garbage is made per piece.
  ...(DEFAULT_THREADS > 1 ? [hsmkmsCase(WINDOWS[0], DEFAULT_THREADS - 1)] : []),
  hsmkmsCase(WINDOWS[0], DEFAULT_THREADS, true),
];

function hsmkmsCase(window, threads, recycle = false) {
  const byDefault = threads === DEFAULT_THREADS && !recycle;
  const suffix = `${threads === DEFAULT_THREADS ? '' : `-t${threads}`}${recycle ? '-recycled' : ''}`;
  return {
    id: `hsmkms-${window}${suffix}`,
    label: `hsmkms encrypt (async), ${window} pieces in flight, ${threads} workers` +
      `${recycle ? ', recycled outputs' : ''}${byDefault ? '' : ' (not a goal)'}`,
    hsmkms: true,
    goal: byDefault,
    run: async () => {
      aead.configure({ threads });
      const free = recycle ? Array.from({ length: window }, () => Buffer.allocUnsafeSlow(PIECE + 28)) : null;
      try {
        let next = 0;
        const lane = async () => {
          while (next < PIECES) {
            const i = next++;
            if (free) {
              const output = free.pop();
              await aead.encrypt(key, sources[i % sources.length], { output });
              free.push(output);
            } else {
              await aead.encrypt(key, sources[i % sources.length]);
            }
          }
        };
        await Promise.all(Array.from({ length: window }, lane));
      } finally {
        aead.configure({ threads: DEFAULT_THREADS });
      }
    },
  };
}

async function measure(c) {
  gc();
  await sleep(50);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let beats = 0;
  let maxGap = 0;
  let last = performance.now();
  const heartbeat = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    beats++;
  }, 1);
  histogram.enable();
  // The histogram's first tick only sets its reference point: let it tick
  // before the work starts, or a case that blocks from the start goes unseen.
  await sleep(10);
  const t0 = performance.now();
  last = t0;
  await c.run();
  const elapsedMs = performance.now() - t0;
  // Let a last blocked timer fire so a blocking case records its delay.
  await sleep(5);
  histogram.disable();
  clearInterval(heartbeat);
  return {
    p99Ms: histogram.percentile(99) / 1e6,
    maxMs: histogram.max / 1e6,
    meanMs: histogram.mean / 1e6,
    samples: histogram.count,
    heartbeatMaxGapMs: maxGap,
    heartbeats: beats,
    elapsedMs,
    mbPerSec: TOTAL / 1e6 / (elapsedMs / 1000),
  };
}

const results = new Map(CASES.map((c) => [c.id, []]));
const t0 = Date.now();
for (let r = 0; r < REPEATS; r++) {
  const order = r % 2 ? [...CASES].reverse() : CASES;
  for (const c of order) {
    results.get(c.id).push(await measure(c));
  }
  log(`event-loop: repeat ${r + 1}/${REPEATS} done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

const rows = CASES.map((c) => {
  const runs = results.get(c.id);
  const pick = (f) => median(runs.map((x) => x[f]));
  return {
    suite: 'event-loop',
    id: c.id,
    case: c.label,
    hsmkms: Boolean(c.hsmkms),
    goal: Boolean(c.goal),
    totalBytes: TOTAL,
    pieceBytes: PIECE,
    p99Ms: pick('p99Ms'),
    worstP99Ms: Math.max(...runs.map((x) => x.p99Ms)),
    maxMs: Math.max(...runs.map((x) => x.maxMs)),
    heartbeatMaxGapMs: Math.max(...runs.map((x) => x.heartbeatMaxGapMs)),
    mbPerSec: c.id === 'idle' ? null : pick('mbPerSec'),
    runs,
  };
});

emit(args, {
  suite: 'event-loop',
  config: {
    totalBytes: TOTAL, pieceBytes: PIECE, repeats: REPEATS, threads: aead.settings().threads, cores: cores(),
    inlineThreshold: aead.settings().inlineThreshold,
    histogram: 'monitorEventLoopDelay resolution 1 ms (values include the 1 ms sampling interval)',
    heartbeat: 'setInterval 1 ms',
    reported: 'p99: median over repeats; max, heartbeat gap: worst over repeats',
  },
  durationSec: (Date.now() - t0) / 1000,
  rows,
});

// One timed case with per-call latency and the event-loop delay: a sliding
// window of `inFlight` lanes (each starts its next call when its previous one
// settles), or a synchronous loop on the JS thread.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { log, median, sleep, spreadPct } from './common.mjs';

export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Runs `start(lane)` for `ms`: with `sync`, in a plain loop (lane 0) that
 * yields every ~5 ms so the timer ticks (the histogram still records the
 * blocking); otherwise awaited, `inFlight` lanes at once. Returns ops/s,
 * p50/p99 per-call latency (µs) and the event-loop delay p99/max (ms,
 * monitorEventLoopDelay at 1 ms resolution).
 */
export async function runLatencyCase({ start, inFlight = 1, sync = false, ms }) {
  const latencies = [];
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(5);
  const t0 = performance.now();
  const deadline = t0 + ms;
  let calls = 0;
  if (sync) {
    while (performance.now() < deadline) {
      const sliceEnd = Math.min(deadline, performance.now() + 5);
      while (performance.now() < sliceEnd) {
        const a = performance.now();
        start(0);
        latencies.push(performance.now() - a);
        calls++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    const lane = async (i) => {
      while (performance.now() < deadline) {
        const a = performance.now();
        await start(i);
        latencies.push(performance.now() - a);
        calls++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, i) => lane(i)));
  }
  const elapsedMs = performance.now() - t0;
  await sleep(5);
  histogram.disable();
  latencies.sort((a, b) => a - b);
  return {
    opsPerSec: (calls / elapsedMs) * 1000,
    p50Us: percentile(latencies, 0.5) * 1000,
    p99Us: percentile(latencies, 0.99) * 1000,
    eventLoopP99Ms: histogram.percentile(99) / 1e6,
    eventLoopMaxMs: histogram.max / 1e6,
    calls,
  };
}

/**
 * Runs every case (`{ id, run(ms) }`) once per round after a warm-up of its
 * own, in interleaved order, reversed on odd rounds, collecting garbage
 * between cases (outside the timed part). Returns Map id → results per round.
 */
export async function runInRounds({ name, cases, rounds, warmupMs, windowMs }) {
  const gc = globalThis.gc ?? (() => {});
  const results = new Map(cases.map((c) => [c.id, []]));
  const t0 = Date.now();
  log(`${name}: ${cases.length} cases x ${rounds} round(s), ${windowMs} ms each`);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...cases].reverse() : cases;
    for (const c of order) {
      gc();
      await c.run(warmupMs);
      results.get(c.id).push(await c.run(windowMs));
    }
    log(`${name}: round ${r + 1}/${rounds} done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return results;
}

/** A case's values over rounds: medians, the per-round ops/s, and the worst event-loop rounds. */
export function summarizeRounds(runs) {
  const pick = (f) => median(runs.map((x) => x[f]));
  return {
    opsPerSec: pick('opsPerSec'),
    rounds: runs.map((x) => x.opsPerSec),
    spreadPct: spreadPct(runs.map((x) => x.opsPerSec)),
    p50Us: pick('p50Us'),
    p99Us: pick('p99Us'),
    eventLoopP99Ms: pick('eventLoopP99Ms'),
    eventLoopWorstP99Ms: Math.max(...runs.map((x) => x.eventLoopP99Ms)),
    eventLoopMaxMs: Math.max(...runs.map((x) => x.eventLoopMaxMs)),
  };
}

// Helpers shared by the benchmark suites: argument parsing, loading the built
// package, the sliding-window driver for promise-based cases, a tinybench
// wrapper for synchronous cases, and small statistics.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT_DIR = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The built package (CommonJS), as an application would load it. */
export function loadHsmkms() {
  const require = createRequire(import.meta.url);
  return require(path.join(ROOT_DIR, 'dist', 'index.js'));
}

/** `--quick`, `--out FILE` and `--name value` flags of a suite process. */
export function parseSuiteArgs(argv = process.argv.slice(2)) {
  const args = { quick: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--out') args.out = argv[++i];
    else if (a.startsWith('--')) args[a.slice(2)] = argv[++i];
  }
  return args;
}

/** Number of cores this process may run on. */
export function cores() {
  return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
}

/** Progress goes to stderr; stdout of the whole run is the markdown. */
export function log(...parts) {
  process.stderr.write(`${parts.join(' ')}\n`);
}

/**
 * CPU time of this process and its waited-for children (openssl, memory
 * children), in clock ticks, from /proc/self/stat; null off Linux.
 */
export function ownCpuTicks() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return f[11] + f[12] + f[13] + f[14]; // utime stime cutime cstime
  } catch {
    return null;
  }
}

/** Machine-wide busy and total clock ticks from /proc/stat; null off Linux. */
export function machineTicks() {
  try {
    const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = v.map(Number);
    const idle = n[3] + n[4];
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Writes a suite's result where run.mjs asked for it (or prints it). */
export function emit(args, result) {
  result.ownCpuTicks = ownCpuTicks();
  const json = JSON.stringify(result, null, 2);
  if (args.out) writeFileSync(args.out, json);
  else process.stdout.write(`${json}\n`);
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Relative spread of per-round values: (max - min) / median, in percent. */
export function spreadPct(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2) return 0;
  return ((Math.max(...v) - Math.min(...v)) / median(v)) * 100;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Throughput of an asynchronous operation under a sliding window: `inFlight`
 * lanes each start the next operation as soon as their previous one settles,
 * until `durationMs` has passed; the clock stops when the last one settles.
 * `start()` returns a promise for one call; `opsPerCall` counts messages per
 * call (batches). A warm-up window of `warmupMs` runs first, untimed.
 */
export async function measureWindow({ start, inFlight, durationMs, warmupMs = durationMs / 4, opsPerCall = 1 }) {
  if (warmupMs > 0) await runWindow(start, inFlight, warmupMs);
  const r = await runWindow(start, inFlight, durationMs);
  const ops = r.calls * opsPerCall;
  return { ops, elapsedMs: r.elapsedMs, opsPerSec: (ops / r.elapsedMs) * 1000 };
}

async function runWindow(start, inFlight, durationMs) {
  let calls = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const lane = async () => {
    while (performance.now() < deadline) {
      await start();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { calls, elapsedMs: performance.now() - t0 };
}

/**
 * Runs synchronous cases with tinybench. Each task iteration runs `inner`
 * calls back to back and reports the mean per call (overriddenDuration), so
 * the timer's resolution and overhead do not swamp 1 µs operations. Returns
 * ops/s per case as calls / time (1000 / mean latency), GC pauses included.
 */
export async function measureSync(cases, { timeMs, inner }) {
  const bench = new Bench({
    time: timeMs,
    warmupTime: Math.max(20, timeMs / 4),
    iterations: 8,
    warmupIterations: 4,
    throws: true,
  });
  for (const c of cases) {
    const fn = c.fn;
    bench.add(c.id, () => {
      const t0 = bench.now();
      for (let i = 0; i < inner; i++) fn();
      const elapsed = bench.now() - t0;
      return { overriddenDuration: elapsed / inner, overriddenIterationCost: elapsed };
    });
  }
  await bench.run();
  const out = {};
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`tinybench task ${task.name}: ${r.state} ${r.error ?? ''}`);
    out[task.name] = {
      opsPerSec: 1000 / r.latency.mean,
      rmePct: r.latency.rme,
      samples: r.latency.samplesCount,
      p50Us: r.latency.p50 * 1000,
    };
  }
  return out;
}

/** Returns `n` random bytes quickly enough for benchmark inputs. */
export function inputOf(crypto, size) {
  const buf = Buffer.allocUnsafe(size);
  crypto.randomFillSync(buf);
  return buf;
}

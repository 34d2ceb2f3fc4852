// The soak's verdicts, from its samples alone (pure: the soak test feeds it
// made-up series to prove each check can fail). Slopes are least-squares
// fits over the second half of the samples, after warm-up (JIT, allocator
// arenas, the key cache and SQLite's page cache filling up).

/** Thresholds, stated in the output next to what was measured. */
export const THRESHOLDS = Object.freeze({
  // 4 MiB per million operations = under 4.2 bytes kept per operation.
  rssMiBPerMillionOps: 4,
  // Every object the process holds: keys come and go (created, purged), so
  // the count moves by a few around its level; a 10-minute run sees ~2.5M ops.
  hsmObjectsPerMillionOps: 5,
  // Objects the process holds beyond its key cache: anything else is a leak.
  leakedObjectsPerMillionOps: 1,
  leakedObjectsSpread: 2,
  fdsPerMillionOps: 1,
  fdsSpread: 4,
});

/** Least-squares slope and intercept of y against x; NaN with fewer than 2 distinct x. */
export function leastSquares(xs, ys) {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (sxx === 0) return { slope: NaN, intercept: NaN };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

const MiB = 1024 * 1024;

/** The samples after warm-up: the second half (by time), at least two. */
export function secondHalf(samples) {
  if (samples.length < 4) return samples.slice(-2);
  const mid = samples[0].tSec + (samples.at(-1).tSec - samples[0].tSec) / 2;
  return samples.filter((s) => s.tSec >= mid);
}

/**
 * Slopes over the second half: per million operations (x = ops done) and,
 * for RSS, per hour (x = time). Each series: { slope, first, last, min, max }.
 */
export function slopes(samples) {
  const half = secondHalf(samples);
  const ops = half.map((s) => s.ops / 1e6);
  const hours = half.map((s) => s.tSec / 3600);
  const series = (pick, scale = 1) => {
    const ys = half.map((s) => pick(s) / scale);
    return { perMillionOps: leastSquares(ops, ys).slope, perHour: leastSquares(hours, ys).slope, first: ys[0], last: ys.at(-1), min: Math.min(...ys), max: Math.max(...ys) };
  };
  return {
    window: { samples: half.length, fromSec: half[0]?.tSec, toSec: half.at(-1)?.tSec, fromOps: half[0]?.ops, toOps: half.at(-1)?.ops },
    rssMiB: series((s) => s.rss, MiB),
    heapUsedMiB: series((s) => s.heapUsed, MiB),
    externalMiB: series((s) => s.external, MiB),
    fds: series((s) => s.fds),
    hsmObjects: series((s) => s.hsmObjects),
    cachedKeys: series((s) => s.cachedKeys),
    leakedObjects: series((s) => s.hsmObjects - s.cachedKeys - s.tokenObjects),
    secureBlocks: series((s) => s.secureBlocks),
  };
}

/**
 * PASS/FAIL per check. `run` = { ops, seconds, errors, minOps, minSeconds,
 * control, cacheCapacity }; `s` = slopes(samples).
 */
export function verdicts(run, s) {
  const checks = [];
  const add = (check, target, measured, pass, unit = '') => checks.push({ check, target, measured, unit, result: pass ? 'PASS' : 'FAIL' });
  const t = THRESHOLDS;
  add('operations done', `≥ ${run.minOps.toLocaleString('en-US')}`, run.ops, run.ops >= run.minOps);
  add('duration', `≥ ${run.minSeconds} s`, run.seconds, run.seconds >= run.minSeconds, ' s');
  add('failed operations', '0', run.errors, run.errors === 0);
  add('HSM object counter sees a session object this process creates (positive control)', '+1 then back', run.control.delta, run.control.ok);
  add('RSS slope (second half)', `≤ ${t.rssMiBPerMillionOps} MiB per million ops`, s.rssMiB.perMillionOps, s.rssMiB.perMillionOps <= t.rssMiBPerMillionOps, ' MiB/M ops');
  add('HSM objects (token + session): slope', `|slope| ≤ ${t.hsmObjectsPerMillionOps} per million ops`, s.hsmObjects.perMillionOps,
    Math.abs(s.hsmObjects.perMillionOps) <= t.hsmObjectsPerMillionOps || s.hsmObjects.max === s.hsmObjects.min, '/M ops');
  add('HSM objects beyond the key cache: slope', `|slope| ≤ ${t.leakedObjectsPerMillionOps} per million ops`, s.leakedObjects.perMillionOps,
    Math.abs(s.leakedObjects.perMillionOps) <= t.leakedObjectsPerMillionOps || s.leakedObjects.max === s.leakedObjects.min, '/M ops');
  add('HSM objects beyond the key cache: spread', `≤ ${t.leakedObjectsSpread}`, s.leakedObjects.max - s.leakedObjects.min, s.leakedObjects.max - s.leakedObjects.min <= t.leakedObjectsSpread);
  add('cached CMK versions within the cache capacity', `≤ ${run.cacheCapacity}`, s.cachedKeys.max, s.cachedKeys.max <= run.cacheCapacity);
  add('open file descriptors: slope', `≤ ${t.fdsPerMillionOps} per million ops`, s.fds.perMillionOps,
    s.fds.perMillionOps <= t.fdsPerMillionOps || s.fds.max === s.fds.min, '/M ops');
  add('open file descriptors: spread', `≤ ${t.fdsSpread}`, s.fds.max - s.fds.min, s.fds.max - s.fds.min <= t.fdsSpread);
  return { checks, pass: checks.every((c) => c.result === 'PASS') };
}


// The soak script itself (bench/soak, `npm run soak`): its verdicts fail on
// made-up leaks and pass on flat series, and a quick run (12 s, no op
// target, key lifecycle events every 2,000 operations) goes end to end on a fresh SoftHSM2 token and writes its results.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const SOAK = path.join(ROOT, 'bench/soak/run.mjs');
const MiB = 2 ** 20;

interface Sample {
  tSec: number;
  ops: number;
  rss: number;
  heapUsed: number;
  external: number;
  fds: number;
  hsmObjects: number;
  tokenObjects: number;
  cachedKeys: number;
  addonObjects: number;
  secureBlocks: number;
}
interface Check {
  check: string;
  result: 'PASS' | 'FAIL';
  measured: number;
}
type Verdicts = (run: object, slopes: object) => { checks: Check[]; pass: boolean };

const analysis = import(path.join(ROOT, 'bench/soak/analysis.mjs')) as Promise<{
  slopes: (samples: Sample[]) => object;
  verdicts: Verdicts;
  leastSquares: (xs: number[], ys: number[]) => { slope: number };
}>;

/**
 * 60 samples over 10 min and 1.2M ops, a key cache going up and down as keys
 * are made and purged; `leak` adds growth per sample (`cache`: the key cache
 * only grows, its objects counted in).
 */
function series(leak: Partial<Record<'rss' | 'fds' | 'hsmObjects' | 'cache', number>> = {}): Sample[] {
  return Array.from({ length: 60 }, (_, i) => {
    const cachedKeys = 8 + (i % 5) + (leak.cache ?? 0) * i;
    return {
      tSec: i * 10,
      ops: i * 20_000,
      rss: 140 * MiB + ((i * 7919) % 13) * 64 * 1024 + (leak.rss ?? 0) * i, // ±1 MiB of noise
      heapUsed: 20 * MiB,
      external: 8 * MiB,
      fds: 28 + (leak.fds ?? 0) * i,
      hsmObjects: 1 + cachedKeys + (leak.hsmObjects ?? 0) * i,
      tokenObjects: 1,
      cachedKeys,
      addonObjects: 1 + cachedKeys,
      secureBlocks: 3,
    };
  });
}

const RUN = { ops: 1_200_000, seconds: 600, errors: 0, minOps: 1_000_000, minSeconds: 600, control: { ok: true, delta: 1 }, cacheCapacity: 1024 };
const failed = (v: { checks: Check[] }): string[] => v.checks.filter((c) => c.result === 'FAIL').map((c) => c.check);

describe('soak verdicts', () => {
  it('least squares recovers a known slope', async () => {
    const { leastSquares } = await analysis;
    expect(leastSquares([0, 1, 2, 3], [1, 3, 5, 7]).slope).toBeCloseTo(2, 12);
  });

  it('flat series pass', async () => {
    const { slopes, verdicts } = await analysis;
    const v = verdicts(RUN, slopes(series()));
    expect(failed(v)).toEqual([]);
    expect(v.pass).toBe(true);
  });

  it.each([
    ['RSS', { rss: 256 * 1024 }, /^RSS slope/],
    ['fds', { fds: 1 }, /^open file descriptors/],
    ['HSM objects', { hsmObjects: 1 }, /^HSM objects/],
    ['cached keys (never purged)', { cache: 1 }, /^HSM objects \(token \+ session\)/],
  ] as const)('a leak of %s fails', async (_name, leak, check) => {
    const { slopes, verdicts } = await analysis;
    const v = verdicts(RUN, slopes(series(leak)));
    expect(v.pass).toBe(false);
    expect(failed(v).length).toBeGreaterThan(0);
    expect(failed(v).every((c) => check.test(c))).toBe(true);
  });

  it('too few operations, a failed operation or a failed control fail', async () => {
    const { slopes, verdicts } = await analysis;
    const s = slopes(series());
    expect(failed(verdicts({ ...RUN, ops: 999_999 }, s))).toEqual(['operations done']);
    expect(failed(verdicts({ ...RUN, errors: 1 }, s))).toEqual(['failed operations']);
    expect(failed(verdicts({ ...RUN, control: { ok: false, delta: 0 } }, s)).length).toBe(1);
  });
});

describe('npm run soak, quick mode', () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-soak-test-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('runs mixed operations on SoftHSM2 for the time asked and writes soak.json and soak.md', async () => {
    const child = spawn(process.execPath, [SOAK, '--seconds', '12', '--ops', '0', '--sample-seconds', '2', '--lifecycle-every', '2000', '--out-dir', outDir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    // Exit 1 is a FAIL verdict (12 s is all warm-up, below); crashes are other codes.
    expect([0, 1], stderr).toContain(code);
    expect(existsSync(path.join(outDir, 'soak.md'))).toBe(true);
    const doc = JSON.parse(readFileSync(path.join(outDir, 'soak.json'), 'utf8')) as {
      run: { ops: number; seconds: number; errors: number; control: { ok: boolean; delta: number }; counts: Record<string, number>; lifecycle: Record<string, number> };
      samples: Sample[];
      verdict: { checks: Check[] };
      meta: { quick: boolean };
    };
    expect(doc.meta.quick).toBe(true);
    expect(doc.run.seconds).toBeGreaterThanOrEqual(12);
    expect(doc.run.ops).toBeGreaterThan(1000);
    expect(doc.run.errors, stderr).toBe(0);
    expect(doc.run.control).toEqual({ ok: true, delta: 1 });
    for (const [kind, n] of Object.entries(doc.run.counts)) expect(n, kind).toBeGreaterThan(0);
    // Keys replaced are purged (the Kms's clock moved past their window).
    expect(doc.run.lifecycle.purged).toBeGreaterThan(0);
    expect(doc.samples.length).toBeGreaterThanOrEqual(6);
    for (const s of doc.samples) {
      expect(s.rss).toBeGreaterThan(10 * MiB);
      expect(s.fds).toBeGreaterThan(3);
      // The two counts are taken a moment apart while keys are made and evicted.
      expect(Math.abs(s.hsmObjects - s.tokenObjects - s.cachedKeys)).toBeLessThanOrEqual(2);
    }
    expect(doc.samples.at(-1)!.ops).toBe(doc.run.ops);
    // 12 s is warm-up: the RSS and raw object-count slopes are not meaningful
    // yet (a key cache of a dozen moves them); every other check must hold.
    const meaningful = doc.verdict.checks.filter((c) => !/^(RSS|HSM objects \(token)/.test(c.check));
    expect(meaningful.length).toBeGreaterThanOrEqual(8);
    expect(meaningful.filter((c) => c.result === 'FAIL').map((c) => c.check)).toEqual([]);
    expect(readFileSync(path.join(outDir, 'soak.md'), 'utf8')).toMatch(/## Verdicts[\s\S]*RSS slope/);
  });
});

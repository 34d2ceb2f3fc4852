/**
 * Every fuzz target, native and JavaScript, fuzzed for a few seconds from a
 * fresh corpus plus the seeds (ours, made now, and the public vectors): one
 * test per target, failing on any crash, sanitizer report, property
 * violation or untyped error. The native targets are built by the test
 * command (scripts/fuzz-build.sh); `npm run fuzz` runs the same targets longer.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZERS, ROOT, listTargets, runTarget, seedDirs } from './fuzz-runner.mjs';

const SECONDS = Number(process.env.HSMKMS_FUZZ_TEST_SECONDS ?? 3);
const targets = listTargets();
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkms-fuzz-'));
  execFileSync(process.execPath, [path.join(ROOT, 'test/fuzz/make-seeds.cjs'), path.join(work, 'seeds')], { stdio: 'pipe' });
}, 120_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('bounded fuzzing', () => {
  it('has the native targets built and a JavaScript target per parser', () => {
    for (const t of targets.filter((t) => t.kind === 'native')) {
      expect(fs.existsSync(t.file), `${t.file} (bash scripts/fuzz-build.sh)`).toBe(true);
    }
    expect(fs.existsSync(path.join(FUZZERS, 'libfuzzer_bridge.node'))).toBe(true);
    const js = targets.filter((t) => t.kind === 'js').map((t) => t.name);
    expect(js).toEqual(expect.arrayContaining(['ciphertext-blob', 'envelope-header', 'frame', 'message', 'encryption-context', 'sigv4']));
  });

  for (const target of targets) {
    it(`${target.kind} ${target.name}: ${SECONDS} s without a finding`, async () => {
      const result = await runTarget(target, {
        seconds: SECONDS,
        corpusDir: path.join(work, 'corpus', target.name),
        seeds: seedDirs(target, path.join(work, 'seeds')),
        artifactDir: path.join(work, 'crashes'),
      });
      const ok = result.exitCode === 0 && result.crashes.length === 0 && result.executions > 0;
      if (!ok) {
        // The whole run, for whoever looks into the failure (test-results/ is ignored).
        fs.mkdirSync(path.join(ROOT, 'test-results'), { recursive: true });
        fs.writeFileSync(path.join(ROOT, 'test-results', `fuzz-${target.name}.log`), result.output);
      }
      const tail = result.output.split('\n').slice(-40).join('\n');
      expect(result.crashes, tail).toEqual([]);
      expect(result.exitCode, tail).toBe(0);
      expect(result.executions, tail).toBeGreaterThan(0);
    }, (SECONDS + 150) * 1000);
  }
});

// scripts/sanitizer-report.mjs decides whether a sanitizer run failed. First
// on written reports (what counts as ours, what a suppression covers), then
// for real: a test-only probe addon (sanitizer_probe_shim.c, built here with
// the sanitized addon's flags) leaks, overflows and shifts out of range in
// child processes run in the sanitizer environment, and the script must fail
// on each, and pass on a child that commits none.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- plain ESM script without types
import { isOurs, parseReport, summarize } from '../../scripts/sanitizer-report.mjs';
// @ts-expect-error -- plain ESM script without types
import { sanitizerEnv } from '../../scripts/sanitizer-env.mjs';

const ROOT = path.resolve(__dirname, '../..');
const REPORT = path.join(ROOT, 'scripts/sanitizer-report.mjs');
const frame = (n: number, fn: string, module: string) => `    #${n} 0x7f0000001000 in ${fn} file.cc:1 (${module}+0x1000)`;

function leak(frames: string[]): string {
  return ['==1==ERROR: LeakSanitizer: detected memory leaks', '', 'Direct leak of 8 byte(s) in 1 object(s) allocated from:', ...frames, ''].join('\n');
}

describe('classifying written reports', () => {
  it('an ASan error and a UBSan runtime error are errors; the leak header alone is not', () => {
    const findings = parseReport(
      [
        '==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010',
        frame(0, 'f', 'hsmkms.node'),
        '',
        'native/core/x.cc:3:5: runtime error: signed integer overflow',
        frame(0, 'g', 'hsmkms.node'),
        leak([frame(0, 'malloc', 'libasan.so'), frame(1, 'h', 'node')]),
      ].join('\n'),
    );
    expect(findings.map((f: { kind: string }) => f.kind)).toEqual(['error', 'error', 'leak']);
  });

  it('a leak is ours when our addon allocated it, directly or through OpenSSL', () => {
    expect(isOurs([frame(0, 'malloc', 'libasan.so'), frame(1, 'hsmkms::core::X()', 'hsmkms.node')])).toBe(true);
    expect(isOurs([frame(0, 'malloc', 'libasan.so'), frame(1, 'CRYPTO_zalloc', 'node'), frame(2, 'EVP_CIPHER_CTX_new', 'node'), frame(3, 'hsmkms::core::Y()', 'hsmkms.node')])).toBe(true);
  });

  it("a leak is not ours when the JavaScript engine allocated it for our call, or we are not on the stack", () => {
    expect(isOurs([frame(0, 'operator new', 'libasan.so'), frame(1, 'v8::internal::Page::Page()', 'node'), frame(2, 'napi_create_function', 'node'), frame(3, 'hsmkms::binding::Init()', 'hsmkms.node')])).toBe(false);
    expect(isOurs([frame(0, 'malloc', 'libasan.so'), frame(1, 'uv_loop_init', 'node')])).toBe(false);
  });

  it('a suppression covers only the stacks it names; the verdict follows', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-sanreport-'));
    try {
      const drbg = [frame(0, 'malloc', 'libasan.so'), frame(1, 'rand_new_drbg', 'node'), frame(2, 'RAND_get0_public', 'node'), frame(3, 'RAND_bytes', 'node'), frame(4, 'hsmkms::core::RandomBytes(unsigned char*, unsigned long)', 'hsmkms.node')];
      writeFileSync(path.join(dir, 'asan.1'), leak(drbg) + leak([frame(0, 'malloc', 'libasan.so'), frame(1, 'uv_loop_init', 'node')]));
      const clean = summarize(dir);
      expect([clean.errors.length, clean.ours.length, clean.foreign, clean.suppressed.get('openssl-thread-drbg')]).toEqual([0, 0, 1, 1]);
      expect(spawnSync(process.execPath, [REPORT, dir]).status).toBe(0);

      // The same DRBG allocation reached from other code of ours is not covered.
      writeFileSync(path.join(dir, 'asan.2'), leak([...drbg.slice(0, 4), frame(4, 'hsmkms::core::Other()', 'hsmkms.node')]));
      expect(summarize(dir).ours).toHaveLength(1);
      const run = spawnSync(process.execPath, [REPORT, dir], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/1 leaks in our addon; 1 suppressed \(openssl-thread-drbg x1\); 1 foreign leaks ignored/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('real faults in a probe addon, in the sanitizer environment', () => {
  let dir: string;
  let probe: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hsmkms-sanprobe-'));
    // Named like our addon, so its frames count as ours; flags as the
    // sanitized addon's (scripts/build-sanitize-addon.sh).
    probe = path.join(dir, 'hsmkms-sanitizer-probe.node');
    execFileSync('gcc', [
      '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-fno-omit-frame-pointer',
      '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-static-libubsan', '-Wl,--exclude-libs,ALL',
      '-DNODE_GYP_MODULE_NAME=probe', '-DNAPI_VERSION=8', '-I', path.join(ROOT, 'node_modules/node-api-headers/include'),
      path.join(__dirname, 'sanitizer_probe_shim.c'), '-o', probe,
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `call` on the probe in a child under the sanitizer environment; then the report script on its logs. */
  function run(name: string, call: string) {
    const logs = path.join(dir, name);
    mkdirSync(logs);
    const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(probe)}).${call}`], {
      env: { ...process.env, ...sanitizerEnv(logs) },
      encoding: 'utf8',
    });
    const report = spawnSync(process.execPath, [REPORT, logs], { encoding: 'utf8' });
    return { child, report };
  }

  it('a leak: the child exits 0, the report fails with one leak of ours', () => {
    const { child, report } = run('leak', 'leak(64)');
    expect([child.status, child.signal]).toEqual([0, null]);
    expect(report.status).toBe(1);
    expect(report.stdout).toMatch(/LEAK in our addon .*Direct leak of 64 byte/);
    expect(report.stdout).toMatch(/0 errors; 1 leaks in our addon; 0 suppressed; \d+ foreign leaks ignored/);
  });

  it('a heap overflow: the child aborts, the report fails with the ASan error', () => {
    const { child, report } = run('overflow', 'overflow()');
    expect(child.signal).toBe('SIGABRT');
    expect(report.status).toBe(1);
    expect(report.stdout).toMatch(/ERROR .*AddressSanitizer: heap-buffer-overflow/);
  });

  it('undefined behaviour: the child aborts, the report (not stderr) has the UBSan error', () => {
    const { child, report } = run('shift', 'shift(40)');
    expect(child.signal).toBe('SIGABRT');
    expect(child.stderr).not.toMatch(/runtime error/);
    expect(report.status).toBe(1);
    expect(report.stdout).toMatch(/ERROR .*runtime error: shift exponent 40/);
  });

  it('no fault: Node still leaks at exit, and the report passes', () => {
    const { child, report } = run('clean', 'shift(3)');
    expect(child.status).toBe(0);
    expect(report.status).toBe(0);
    expect(report.stdout).toMatch(/0 errors; 0 leaks in our addon; 0 suppressed; \d+ foreign leaks ignored/);
  });
});

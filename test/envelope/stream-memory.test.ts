// A 1 GiB stream (generated on the fly, never held whole) through
// encryptStream -> decryptStream -> a verifying sink, in a child process
// whose peak RSS (VmHWM) must stay under 150 MiB; and 256 MiB of the signed
// suite. Each run takes a few seconds on a 2-core machine. The child measures
// what ships, also in a sanitizer run (ASan's shadow memory and quarantine
// would be measured instead).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withoutSanitizer } from '../helpers/without-sanitizer.js';

const CHILD = path.join(__dirname, 'fixtures', 'stream-gib-child.cjs');

function run(total: number, suite: number, frameLength: number): { ok: boolean; bytes: number; seconds: number; vmHwmKiB: number } {
  return JSON.parse(execFileSync(process.execPath, [CHILD, String(total), String(suite), String(frameLength)], { encoding: 'utf8', timeout: 120_000, env: withoutSanitizer() }));
}

describe('stream memory stays flat', () => {
  it('1 GiB, suite 0x0478, 64 KiB frames: round trip with peak RSS < 150 MiB', () => {
    const r = run(1024 ** 3, 0x0478, 65536);
    console.log(`1 GiB 0x0478 encrypt->decrypt: ${r.seconds.toFixed(1)} s, peak RSS ${(r.vmHwmKiB / 1024).toFixed(0)} MiB`);
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(1024 ** 3);
    expect(r.vmHwmKiB).toBeLessThan(150 * 1024);
  });

  it('256 MiB, suite 0x0578 (signed), 64 KiB frames: round trip with peak RSS < 150 MiB', () => {
    const r = run(256 * 1024 ** 2, 0x0578, 65536);
    console.log(`256 MiB 0x0578 encrypt->decrypt: ${r.seconds.toFixed(1)} s, peak RSS ${(r.vmHwmKiB / 1024).toFixed(0)} MiB`);
    expect(r.ok).toBe(true);
    expect(r.vmHwmKiB).toBeLessThan(150 * 1024);
  });

  it('64 MiB with 4 KiB frames (the inline path): peak RSS < 150 MiB', () => {
    const r = run(64 * 1024 ** 2, 0x0478, 4096);
    expect(r.ok).toBe(true);
    expect(r.vmHwmKiB).toBeLessThan(150 * 1024);
  });
});

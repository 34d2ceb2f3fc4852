// Runs the fuzz targets: the native libFuzzer binaries (build-fuzz/fuzzers,
// built by scripts/fuzz-build.sh) and the JavaScript targets under
// Jazzer.js (test/fuzz/js/targets, over dist/, with our libFuzzer bridge).
// Used by scripts/fuzz.mjs (`npm run fuzz`) and test/fuzz/bounded-fuzz.test.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.join(ROOT, 'build-fuzz');
export const FUZZERS = path.join(BUILD, 'fuzzers');
const JS_DIR = path.join(ROOT, 'test/fuzz/js');
const VECTORS = process.env.HSMKMS_VECTORS_DIR ?? path.resolve(ROOT, '../shared/vectors');

/** One input running longer than this is a finding (a hang). */
const UNIT_TIMEOUT_SECONDS = 30;
/** JavaScript targets that return promises (Jazzer.js's async mode). */
const ASYNC_TARGETS = new Set(['message']);
/** Public vectors that seed a target, read where they are (never copied). */
const VECTOR_SEEDS = {
  message: ['esdk/from-dafny/ciphertexts'],
  'envelope-header': ['esdk/from-dafny/ciphertexts'],
};

/** Every target: { name, kind: 'native' | 'js', file }. Native ones only once built. */
export function listTargets() {
  const js = fs.readdirSync(path.join(JS_DIR, 'targets'))
    .filter((f) => f.endsWith('.cjs'))
    .map((f) => ({ name: f.replace(/\.cjs$/, ''), kind: 'js', file: path.join(JS_DIR, 'targets', f) }));
  const sources = fs.readdirSync(path.join(ROOT, 'test/fuzz/native')).filter((f) => /^fuzz_.*\.cc$/.test(f));
  const native = sources.map((f) => {
    const name = f.replace(/\.cc$/, '');
    return { name, kind: 'native', file: path.join(FUZZERS, name) };
  });
  return [...native, ...js];
}

/** Seed directories for a target: our generated seeds, hand-made ones (test/fuzz/seeds/<target>, none yet), public vectors. */
export function seedDirs(target, generatedRoot) {
  const dirs = [path.join(generatedRoot, target.name), path.join(ROOT, 'test/fuzz/seeds', target.name)];
  for (const rel of VECTOR_SEEDS[target.name] ?? []) dirs.push(path.join(VECTORS, rel));
  return dirs.filter((dir) => fs.existsSync(dir));
}

function command(target, libFuzzerArgs) {
  if (target.kind === 'native') return { file: target.file, args: libFuzzerArgs, env: {} };
  const cli = path.join(ROOT, 'node_modules/@jazzer.js/core/dist/cli.js');
  // --timeout: Jazzer.js's own (5 s) would override libFuzzer's -timeout; a
  // loaded CI machine must not turn a slow input into a finding.
  const jazzer = [cli, target.file, '--includes', `${path.join(ROOT, 'dist')}${path.sep}`, '--excludes', 'node_modules',
    '--timeout', String(UNIT_TIMEOUT_SECONDS * 1000)];
  if (!ASYNC_TARGETS.has(target.name)) jazzer.push('--sync');
  const bridge = path.join(JS_DIR, 'use-bridge.cjs');
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --require ${bridge}`.trim();
  return { file: process.execPath, args: [...jazzer, '--', ...libFuzzerArgs], env: { NODE_OPTIONS: nodeOptions, NODE_NO_WARNINGS: '1' } };
}

const stat = (output, name) => {
  const m = new RegExp(`stat::${name}:\\s*(\\d+)`).exec(output);
  return m === null ? undefined : Number(m[1]);
};

/**
 * Fuzzes one target for `seconds` from its corpus and seeds. Resolves to
 * { exitCode, executions, execPerSec, newUnits, corpusFiles, crashes, output }
 * (crashes: the artifact files it wrote).
 */
export function runTarget(target, { seconds, corpusDir, seeds, artifactDir, extraArgs = [] }) {
  fs.mkdirSync(corpusDir, { recursive: true });
  fs.mkdirSync(artifactDir, { recursive: true });
  const prefix = path.join(artifactDir, `${target.name}-`);
  const before = new Set(fs.readdirSync(artifactDir));
  const args = [corpusDir, ...seeds, `-max_total_time=${seconds}`, '-print_final_stats=1',
    `-artifact_prefix=${prefix}`, '-rss_limit_mb=2048', `-timeout=${UNIT_TIMEOUT_SECONDS}`, ...extraArgs];
  const { file, args: argv, env } = command(target, args);
  // Output to a file, not a pipe: in a JS target libFuzzer writes through C
  // stdio to fds that Node made non-blocking, and a full pipe dropped its
  // last lines (the recommended dictionary was cut short and the final
  // stats never arrived, so a clean run read as 0 executions).
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `hsmkms-fuzz-${target.name}-`));
  const logFile = path.join(logDir, 'output.log');
  const logFd = fs.openSync(logFile, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    // A hard stop well past the fuzzing time (start-up, seeds, final stats).
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 120) * 1000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const full = fs.readFileSync(logFile, 'utf8');
      fs.rmSync(logDir, { recursive: true, force: true });
      const output = full.length > 4_000_000 ? full.slice(-2_000_000) : full;
      const crashes = fs.readdirSync(artifactDir).filter((f) => !before.has(f) && f.startsWith(`${target.name}-`));
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        executions: stat(output, 'number_of_executed_units') ?? 0,
        execPerSec: stat(output, 'average_exec_per_sec') ?? 0,
        newUnits: stat(output, 'new_units_added') ?? 0,
        corpusFiles: fs.readdirSync(corpusDir).length,
        crashes: crashes.map((f) => path.join(artifactDir, f)),
        output,
      });
    });
  });
}

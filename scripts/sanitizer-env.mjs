// The environment of a sanitizer run, in one place: the shell runner
// (scripts/test-sanitize.sh) and the leak-detection test use it.
//
//   node scripts/sanitizer-env.mjs LOG_DIR    prints NAME=value lines
//
// Every process started under it (vitest's forks, the node fixtures and
// the CLI they spawn, softhsm2-util, openssl...) inherits it: each one runs
// with the ASan runtime preloaded and writes its reports to LOG_DIR, where
// scripts/sanitizer-report.mjs reads them all after the run.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The ASan runtime the compiler links against (libubsan comes in as the addon's own dependency). */
export function asanRuntime() {
  const file = execFileSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  if (!path.isAbsolute(file)) throw new Error('sanitizer-env: g++ has no libasan.so (install g++)');
  return file;
}

/** NAME -> value for a sanitizer run writing its reports under `logDir`. */
export function sanitizerEnv(logDir) {
  // Frames as "in function file:line (module+offset)": the report script
  // tells our addon's frames from Node's by the module.
  const frames = 'stack_trace_format="    #%n %p %F %L %M"';
  const common = [`log_path=${path.join(logDir, 'asan')}`, frames];
  return {
    LD_PRELOAD: asanRuntime(),
    HSMKMS_ADDON_FLAVOUR: 'sanitize',
    ASAN_OPTIONS: [
      ...common,
      'detect_leaks=1',
      // A leak must not change a process's exit code: Node, bash and the
      // tools the tests run leak at exit by design, and the tests check exit
      // codes. The report script decides which leaks count (ours) instead.
      'exitcode=0',
      // ...while a memory error still ends the process at once and loudly.
      'abort_on_error=1',
    ].join(':'),
    UBSAN_OPTIONS: [...common, 'print_stacktrace=1', 'halt_on_error=1', 'abort_on_error=1'].join(':'),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const logDir = process.argv[2];
  if (!logDir) {
    console.error('usage: node scripts/sanitizer-env.mjs LOG_DIR');
    process.exit(2);
  }
  for (const [name, value] of Object.entries(sanitizerEnv(path.resolve(logDir)))) console.log(`${name}=${value}`);
}

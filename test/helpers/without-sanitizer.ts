// PostgreSQL never runs under the sanitizer preload (scripts/test-sanitize.sh
// sets it for every process of the run): tests that start or restart a
// server give it this environment.
const SANITIZER_VARIABLES = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'];

/** `env` without the sanitizer runtime's variables. */
export function withoutSanitizer(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SANITIZER_VARIABLES) delete copy[name];
  return copy;
}

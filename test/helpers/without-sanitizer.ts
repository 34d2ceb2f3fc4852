// What a sanitizer run (scripts/test-sanitize.sh) sets for every process:
// the preloaded runtime, its options and the sanitized addon flavour. Child
// processes that must not run under it get this environment: PostgreSQL
// servers, and tests of what ships (its build, its memory use).
const SANITIZER_VARIABLES = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'HSMKMS_ADDON_FLAVOUR'];

/** `env` without a sanitizer run's variables. */
export function withoutSanitizer(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SANITIZER_VARIABLES) delete copy[name];
  return copy;
}

#!/usr/bin/env bash
# The JavaScript suite against the ASan+UBSan build of the addon, with the
# sanitizer runtime preloaded into every process (scripts/sanitizer-env.mjs),
# then every sanitizer report judged by scripts/sanitizer-report.mjs.
#
#   bash scripts/test-sanitize.sh            every vitest file, then the native
#                                            ctest suite under ASan (test-native.sh)
#   bash scripts/test-sanitize.sh --short    only scripts/sanitize-short.list
#   ... --counts FILE                        writes "<passed> <failed>" there
#                                            (scripts/test.sh adds them up)
#
# Ends with "N passed, N failed" (with --counts: "sanitize: N passed, N
# failed"); exits non-zero on any failed test and on any sanitizer finding
# (the report counts as one more failure).
set -uo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

short=0
counts_file=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --counts) counts_file=$2; shift ;;
    *) echo "usage: test-sanitize.sh [--short] [--counts FILE]" >&2; exit 2 ;;
  esac
  shift
done

fail() {
  echo "test-sanitize: $*" >&2
  [ -n "$counts_file" ] && echo "0 1" >"$counts_file"
  exit 1
}

bash scripts/build-sanitize-addon.sh || fail "the sanitized addon build failed"

results=$(mktemp -d)
logs=$results/sanitizer-logs
mkdir -p "$logs"

# PostgreSQL never runs under the preload: started here, before it is set.
if [ -z "${HSMKMS_TEST_POSTGRES_URL:-}" ]; then
  pg_env=$(bash scripts/start-postgres.sh) || fail "PostgreSQL did not start"
  while IFS='=' read -r name value; do export "$name=$value"; done <<<"$pg_env"
  trap 'bash scripts/start-postgres.sh stop "$HSMKMS_TEST_POSTGRES_DIR"' EXIT
fi

files=()
if [ "$short" -eq 1 ]; then
  while read -r file; do files+=("$file"); done < <(grep -v '^\s*\(#\|$\)' scripts/sanitize-short.list)
fi

sanitizer_env=$(node scripts/sanitizer-env.mjs "$logs") || fail "no sanitizer runtime (g++ -print-file-name=libasan.so)"
(
  while IFS='=' read -r name value; do export "$name=$value"; done <<<"$sanitizer_env"
  # The run is worthless unless the package really loads the sanitized addon.
  node -e '
    require("./dist/index.js");
    const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
    if (!maps.includes("/build-sanitize/build/Release/hsmkms.node") || !maps.includes("libasan")) {
      console.error("test-sanitize: the package did not load the sanitized addon");
      process.exit(1);
    }' || exit 1
  npx vitest run --config test/sanitize/vitest.sanitize.config.mts --reporter=default --reporter=json --outputFile.json="$results/vitest.json" "${files[@]}"
)
vitest_status=$?
read -r js_passed js_failed < <(node scripts/count-vitest.mjs "$results/vitest.json")

native_passed=0
native_failed=0
if [ "$short" -eq 0 ]; then
  bash scripts/test-native.sh "$results/ctest.xml"
  if [ -f "$results/ctest.xml" ]; then
    read -r native_passed native_failed < <(node scripts/count-junit.mjs "$results/ctest.xml")
  else
    native_failed=1
  fi
fi

report_failed=0
node scripts/sanitizer-report.mjs "$logs" || report_failed=1
if [ "$report_failed" -eq 1 ]; then
  kept=$(mktemp -d "${TMPDIR:-/tmp}/hsmkms-sanitizer-logs-XXXXXX")
  cp -r "$logs/." "$kept/"
  echo "test-sanitize: the reports are kept in $kept" >&2
fi
rm -rf "$results"

passed=$((js_passed + native_passed))
failed=$((js_failed + native_failed + report_failed))
[ "$vitest_status" -ne 0 ] && [ "$js_failed" -eq 0 ] && failed=$((failed + 1))  # vitest failed without a failed test
[ -n "$counts_file" ] && echo "$passed $failed" >"$counts_file"
if [ "$short" -eq 0 ]; then
  echo "js under sanitizers (vitest): $js_passed passed, $js_failed failed; native (ctest, asan): $native_passed passed, $native_failed failed"
fi
if [ -n "$counts_file" ]; then
  echo "sanitize: $passed passed, $failed failed"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]

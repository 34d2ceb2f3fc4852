#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need,
# builds with warnings as errors, runs the native ctest suite under
# ASan+UBSan, then every vitest suite, then a short vitest run against the
# ASan+UBSan addon (scripts/test-sanitize.sh), and prints "N passed, N failed".
# The PostgreSQL suites get a private server (scripts/start-postgres.sh),
# stopped on exit, unless HSMKMS_TEST_POSTGRES_URL already names one.
set -uo pipefail
cd "$(dirname "$0")/.."
export HSMKMS_WERROR=1

bash scripts/ensure-system-packages.sh || exit 1
npm run --silent compile || exit 1

results=$(mktemp -d)
native_passed=0
native_failed=0
# The fuzz targets, run for a few seconds each by test/fuzz/bounded-fuzz.test.ts.
bash scripts/fuzz-build.sh || exit 1
if bash scripts/test-native.sh "$results/ctest.xml"; then :; fi
if [ -f "$results/ctest.xml" ]; then
  read -r native_passed native_failed < <(node scripts/count-junit.mjs "$results/ctest.xml")
else
  native_failed=1
fi

if [ -z "${HSMKMS_TEST_POSTGRES_URL:-}" ]; then
  pg_env=$(bash scripts/start-postgres.sh) || exit 1
  while IFS='=' read -r name value; do export "$name=$value"; done <<<"$pg_env"
  trap 'bash scripts/start-postgres.sh stop "$HSMKMS_TEST_POSTGRES_DIR"' EXIT
fi

npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json"
vitest_status=$?
read -r js_passed js_failed < <(node scripts/count-vitest.mjs "$results/vitest.json")

# Sanitizers, short run: the files of scripts/sanitize-short.list once more,
# against the ASan+UBSan addon (scripts/test-sanitize.sh; all: npm run test:sanitize).
san_passed=0
san_failed=1
bash scripts/test-sanitize.sh --short --counts "$results/sanitize.counts"
[ -f "$results/sanitize.counts" ] && read -r san_passed san_failed <"$results/sanitize.counts"

passed=$((native_passed + js_passed + san_passed))
failed=$((native_failed + js_failed + san_failed))
echo "native (ctest): $native_passed passed, $native_failed failed; js (vitest): $js_passed passed, $js_failed failed; sanitize (vitest, short): $san_passed passed, $san_failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$vitest_status" -eq 0 ]

#!/usr/bin/env bash
# The native ctest suite under AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer: configures and builds the `asan` preset in
# build-asan/ (output shown only on failure), then runs ctest.
#
#   bash scripts/test-native.sh [junit.xml]
#
# Works from any directory; a relative JUnit path is taken from the caller's.
# Exits non-zero when the build or any test fails (a leak or UB included).
set -euo pipefail

junit=""
if [ $# -gt 0 ] && [ -n "$1" ]; then
  junit=$(realpath -m -- "$1")
  mkdir -p -- "$(dirname -- "$junit")"
  rm -f -- "$junit"  # never leave a stale report behind a failed build
fi

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
command -v cmake >/dev/null || { echo "test-native: cmake not found (bash scripts/ensure-system-packages.sh)" >&2; exit 1; }

bash scripts/build-cmake-preset.sh asan test-native
jobs=$(nproc 2>/dev/null || echo 2)

# detect_leaks: LeakSanitizer fails the test process on any leak (exit 23).
# halt_on_error: the first UB report ends the process (the build also passes
# -fno-sanitize-recover=all).
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

args=(--preset asan --output-on-failure --parallel "$jobs")
[ -n "$junit" ] && args+=(--output-junit "$junit")
ctest "${args[@]}"

#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 + libFuzzer (the `fuzz` CMake preset,
# in build-fuzz/): the native fuzz_* binaries and the libFuzzer bridge the
# JavaScript targets run on. Output is shown only on failure.
#
#   bash scripts/fuzz-build.sh
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
command -v clang++-14 >/dev/null || { echo "fuzz-build: clang++-14 not found (bash scripts/ensure-system-packages.sh)" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f -- "$log"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
if ! { cmake --preset fuzz && cmake --build --preset fuzz --parallel "$jobs"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "fuzz-build: the fuzz build failed" >&2
  exit 1
fi

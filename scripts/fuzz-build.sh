#!/usr/bin/env bash
# Builds the fuzz targets with clang-14 + libFuzzer (the `fuzz` CMake preset,
# in build-fuzz/): the native fuzz_* binaries and the libFuzzer bridge the
# JavaScript targets run on. Output is shown only on failure.
#
#   bash scripts/fuzz-build.sh
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
command -v clang++-14 >/dev/null || { echo "fuzz-build: clang++-14 not found (bash scripts/ensure-system-packages.sh)" >&2; exit 1; }
bash scripts/build-cmake-preset.sh fuzz fuzz-build

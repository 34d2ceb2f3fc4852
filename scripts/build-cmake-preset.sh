#!/usr/bin/env bash
# Configures and builds one CMake preset with every core, showing the build's
# output only when it fails (then exits 1). Run by the scripts
# that need a preset built (test-native.sh, fuzz-build.sh).
#
#   bash scripts/build-cmake-preset.sh PRESET WHO    (WHO names the caller in the failure message)
set -euo pipefail
preset=$1
who=$2
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
log=$(mktemp)
trap 'rm -f -- "$log"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
if ! { cmake --preset "$preset" && cmake --build --preset "$preset" --parallel "$jobs"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "$who: the $preset build failed" >&2
  exit 1
fi

#!/usr/bin/env bash
# Builds the addon once more under AddressSanitizer + UndefinedBehaviorSanitizer
# into build-sanitize/build/Release/hsmkms.node, for the sanitizer runs only
# (scripts/test-sanitize.sh), and next to it the test-only LeakSanitizer
# check shim (test/sanitize/lsan_check_shim.c). What ships (build/,
# prebuilds/) is untouched.
#
# node-gyp always writes ./build, so it runs in build-sanitize/, a staging
# directory whose binding.gyp, native/ and scripts/ are symlinks to the real
# ones: the same sources and flags as the shipped build, plus the sanitizer
# flags below (gyp's Makefile appends $CXXFLAGS/$LDFLAGS after its own).
# Skipped when nothing it depends on changed since the last build.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
root=$PWD
stage=$root/build-sanitize
out=$stage/build/Release/hsmkms.node

# -O1 -g1: stacks with file:line at a tolerable cost (-g1, line tables
# only, compiles about 20% faster than -g). -U_FORTIFY_SOURCE: glibc's
# __*_chk functions are not intercepted by ASan, so fortified calls would be
# checked by glibc instead of by ASan (the ASan FAQ's advice).
# -static-libubsan: the UBSan runtime inside the addon, kept private by the
# shipped -Wl,--exclude-libs,ALL. A shared libubsan's call to set its log
# file binds to the preloaded libasan's copy, so its reports went to stderr,
# not to log_path where scripts/sanitizer-report.mjs reads them.
export CXXFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g1 -U_FORTIFY_SOURCE"
export LDFLAGS="-fsanitize=address,undefined -static-libubsan"
export HSMKMS_WERROR=1

log=$(mktemp)
trap 'rm -f -- "$log"' EXIT
mkdir -p "$stage"
# The shim is one small C file: always rebuilt (a fraction of a second).
if ! gcc -shared -fPIC -Wall -Wextra -Werror -fsanitize=address -O1 \
    -DNODE_GYP_MODULE_NAME=lsan_check -DNAPI_VERSION=8 -I node_modules/node-api-headers/include \
    test/sanitize/lsan_check_shim.c -o "$stage/lsan-check-shim.node" 2>"$log"; then
  cat "$log" >&2
  echo "build-sanitize-addon: the LeakSanitizer check shim build failed" >&2
  exit 1
fi

# The stamp: every input of the build, hashed (sources, headers, gyp file,
# flags, compiler and Node versions).
stamp=$( {
  echo "$CXXFLAGS|$LDFLAGS|$(node -v)|$(g++ --version | head -1)"
  find native binding.gyp scripts/werror-flag.js -type f \( -name '*.cc' -o -name '*.h' -o -name '*.gyp' -o -name '*.js' \) -print0 \
    | sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ "$(cat "$stage/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

for link in binding.gyp native scripts; do ln -sfn "../$link" "$stage/$link"; done
rm -f "$stage/stamp"
jobs=$(nproc 2>/dev/null || echo 2)
# Outside npm (which passes its nodedir setting on), use the headers that
# come with this Node when it has them, rather than downloading any.
args=(rebuild -j "$jobs")
node_prefix=$(dirname -- "$(dirname -- "$(readlink -f -- "$(command -v node)")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
  args+=(--nodedir "$node_prefix")
fi
if ! (cd "$stage" && node "$root/node_modules/node-gyp/bin/node-gyp.js" "${args[@]}") >"$log" 2>&1; then
  cat "$log" >&2
  echo "build-sanitize-addon: the sanitized addon build failed" >&2
  exit 1
fi
echo "$stamp" >"$stage/stamp"

#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing (as root;
# otherwise says what to install). softhsm2 and opensc give the PKCS#11 token
# and pkcs11-tool; cmake (with make) builds the native ctest suite;
# postgresql gives initdb/pg_ctl for the private test server (start-postgres.sh).
set -euo pipefail
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)  # node-gyp and the CMake presets' generator
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
[ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
# clang-14 and its libFuzzer/sanitizer runtimes build the fuzz targets (scripts/fuzz-build.sh).
command -v clang++-14 >/dev/null || need+=(clang-14)
compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a" >/dev/null || need+=(libclang-rt-14-dev)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null

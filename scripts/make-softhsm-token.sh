#!/usr/bin/env bash
# Makes a fresh SoftHSM2 token in its own directory, for one test run:
#
#   bash scripts/make-softhsm-token.sh DIR [LABEL] [SO_PIN] [PIN]
#
# Writes DIR/softhsm2.conf (tokens in DIR/tokens, file backend) and prints its
# path: export SOFTHSM2_CONF=<that path> before the process's first
# C_Initialize. Defaults: label hsmkms-test, SO PIN 12345678, PIN 1234 (test
# PINs only: softhsm2-util shows them to `ps`). Delete DIR when done.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [LABEL] [SO_PIN] [PIN]" >&2; exit 2; }
dir=$(realpath -m -- "$1")
label=${2:-hsmkms-test}
so_pin=${3:-12345678}
pin=${4:-1234}
command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found (bash scripts/ensure-system-packages.sh)" >&2; exit 1; }

mkdir -p -- "$dir/tokens"
conf="$dir/softhsm2.conf"
cat >"$conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
SOFTHSM2_CONF="$conf" softhsm2-util --init-token --free --label "$label" \
  --so-pin "$so_pin" --pin "$pin" >/dev/null
echo "$conf"

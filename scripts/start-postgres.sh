#!/usr/bin/env bash
# Starts a private PostgreSQL server for the tests: a fresh cluster in a
# temporary directory, listening on 127.0.0.1 at a free port (and on a unix
# socket in that directory), trust authentication for the user `hsmkms`.
#
#   scripts/start-postgres.sh            prints two lines:
#     HSMKMS_TEST_POSTGRES_URL=postgres://hsmkms@127.0.0.1:PORT/hsmkms
#     HSMKMS_TEST_POSTGRES_DIR=/tmp/hsmkms-pg-XXXX
#   scripts/start-postgres.sh stop DIR   stops that server and removes DIR
#
# initdb refuses to run as root: as root, the cluster belongs to the
# `postgres` OS user (created when missing) and the server runs as that user.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/"$name"; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  echo "start-postgres: $name not found (install the postgresql package)" >&2
  exit 1
}

INITDB=$(readlink -f "$(find_bin initdb)")
PG_CTL=$(readlink -f "$(find_bin pg_ctl)")

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = "stop" ]; then
  dir=${2:?usage: start-postgres.sh stop DIR}
  [ -d "$dir/data" ] && as_owner "$PG_CTL" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hsmkms-pg-XXXXXX")
# A failed start leaves nothing running and nothing behind.
trap 'as_owner "$PG_CTL" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' ERR
chmod 755 "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"

# A free port: bind port 0 and read back what the kernel chose.
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")

as_owner "$INITDB" -D "$dir/data" -U hsmkms --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
# Settings go into postgresql.conf, so a plain `pg_ctl start` (a test that
# restarts the server) comes back the same. Tests are many short connections
# from several processes, and a throw-away cluster needs no durability.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
as_owner "$PG_CTL" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null || {
  cat "$dir/server.log" >&2
  exit 1
}
"$(dirname "$INITDB")/createdb" -h 127.0.0.1 -p "$port" -U hsmkms hsmkms
trap - ERR
echo "HSMKMS_TEST_POSTGRES_URL=postgres://hsmkms@127.0.0.1:$port/hsmkms"
echo "HSMKMS_TEST_POSTGRES_DIR=$dir"

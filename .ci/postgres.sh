#!/usr/bin/env bash
# Start a throw-away PostgreSQL 15 server on loopback for the API tests and print the URL they read.
# Usage: eval "$(.ci/postgres.sh)"   (exports OPENNSG_TEST_POSTGRES_URL; the server outlives this script)
set -euo pipefail

PORT="${OPENNSG_PG_PORT:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q postgresql >&2 || true
    BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "postgres.sh: no PostgreSQL server binaries found; PostgreSQL tests will be skipped" >&2
  exit 0
fi

DIR="$(mktemp -d /tmp/opennsg-pg.XXXXXX)"
chown postgres "$DIR"
runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" -w start >&2
runuser -u postgres -- "$BIN/createdb" -h 127.0.0.1 -p "$PORT" opennsg_test
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/opennsg_test"
echo "export OPENNSG_TEST_POSTGRES_URL=$URL"

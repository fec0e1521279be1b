#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the API tests and export OPENNSG_TEST_POSTGRES_URL.
# Works both sourced (`source .ci/postgres.sh`, as .ci/run does) and executed (`eval "$(.ci/postgres.sh)"`).
# The server outlives the script. Without server binaries it says so and exports nothing (.ci/run then fails).

_opennsg_start_postgres() {
  local port bin dir url
  # a free loopback port unless one is given (a server left running elsewhere must not break the run)
  port="${OPENNSG_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ] && command -v initdb >/dev/null 2>&1; then
    bin="$(dirname "$(command -v initdb)")"
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: no PostgreSQL server binaries; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  dir="$(mktemp -d /tmp/opennsg-pg.XXXXXX)" || return 1
  # PostgreSQL refuses to run as root: as root, run it as the postgres user; otherwise as ourselves.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir" || return 1
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null || return 1
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2 || return 1
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres opennsg_test || return 1
  url="postgresql+psycopg://postgres@127.0.0.1:$port/opennsg_test"
  export OPENNSG_TEST_POSTGRES_URL="$url"
  echo "export OPENNSG_TEST_POSTGRES_URL=$url"
}

_opennsg_start_postgres

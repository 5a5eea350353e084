#!/usr/bin/env bash
# CI: a throwaway PostgreSQL server for the sweep tests (tests/test_sweep_shared.py).
#   eval "$(.ci/postgres.sh start)"   installs PostgreSQL from the Debian packages if needed, starts a tiny
#                                     cluster in a temporary folder as a non-root user on 127.0.0.1 (free
#                                     port), and prints the export lines: CNNLAB_TEST_POSTGRES_URL (tests
#                                     use it), CNNLAB_REQUIRE_POSTGRES=1 (the tests fail instead of skipping)
#                                     and CNNLAB_PG_DIR (for stop)
#   .ci/postgres.sh stop              stops it and removes the folder (CNNLAB_PG_DIR)
# Everything but the export lines goes to stderr.
set -euo pipefail
cmd=${1:-start}

if [ "$cmd" = stop ]; then
  dir=${CNNLAB_PG_DIR:?CNNLAB_PG_DIR is not set}
  bin=$(cat "$dir/bin")
  runuser -u "$(cat "$dir/user")" -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop" >&2; exit 2; }

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")

# PostgreSQL refuses to run as root: use the package's postgres user (or nobody).
user=postgres
id "$user" >/dev/null 2>&1 || user=nobody
if [ "$(id -u)" -ne 0 ]; then user=$(id -un); fi
as_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

dir=$(mktemp -d /tmp/cnnlab-ci-pg.XXXXXX)
password=$(python3 -c "import secrets; print(secrets.token_hex(12))")
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
printf '%s\n' "$password" > "$dir/pw"
echo "$bin" > "$dir/bin"
echo "$user" > "$dir/user"
chown -R "$user" "$dir"
chmod 700 "$dir"
as_user "$bin/initdb" -D "$dir/data" -U cnnlab --auth-host=scram-sha-256 --auth-local=trust --pwfile="$dir/pw" \
  -E UTF8 --no-instructions >&2
rm -f "$dir/pw"
as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c shared_buffers=16MB -c max_connections=60" start >&2
as_user "$bin/psql" -h "$dir" -p "$port" -U cnnlab -d postgres -qc "CREATE DATABASE cnnlab_test" >&2
echo "ci: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir" >&2
echo "export CNNLAB_TEST_POSTGRES_URL=postgresql://cnnlab:$password@127.0.0.1:$port/cnnlab_test"
echo "export CNNLAB_REQUIRE_POSTGRES=1"
echo "export CNNLAB_PG_DIR=$dir"

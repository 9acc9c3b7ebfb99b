#!/usr/bin/env bash
# A private PostgreSQL server for Podium's tests and development; prints its URL on stdout.
#
#   scripts/postgres.sh [start]   start it if needed (installing Debian's postgresql if missing)
#   scripts/postgres.sh stop      stop it
#   scripts/postgres.sh status    say whether it runs, and its URL
#
# The cluster lives in build/pg (PODIUM_PG_DIR), listens on a unix socket only (no TCP) on port
# 54329 (PODIUM_PG_PORT), trusts local connections (the socket's folder is private to the
# server's owner, and root), and holds a database named podium (PODIUM_PG_DB). Run as root,
# the server runs as the `postgres` user: initdb and postgres refuse to run as root.
# Everything but the URL goes to stderr, so `URL=$(scripts/postgres.sh)` works.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${PODIUM_PG_PORT:-54329}
DB=${PODIUM_PG_DB:-podium}
BASE=${PODIUM_PG_DIR:-$ROOT/build/pg}
SUPERUSER=postgres

say() { echo "postgres.sh: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

find_bindir() {
    local dir
    dir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
    fi
}

install_postgres() {
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed: run 'sudo apt-get install -y postgresql', or point PODIUM_TEST_POSTGRES_URL at a server"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available: install it, or point PODIUM_TEST_POSTGRES_URL at a server"
    say "installing Debian's postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # Debian's package would also create and start a cluster on port 5432: only ours is wanted.
    apt-get install -y -qq --no-install-recommends postgresql-common >&2
    sed -ri 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
    apt-get install -y -qq --no-install-recommends postgresql >&2
}

BIN=$(find_bindir)
if [ -z "$BIN" ]; then
    if [ "${1:-start}" != start ]; then
        die "PostgreSQL is not installed"
    fi
    install_postgres
    BIN=$(find_bindir)
    [ -n "$BIN" ] || die "installed postgresql but found no initdb under /usr/lib/postgresql/*/bin"
fi

# As root the server runs as the postgres user, which must be able to reach BASE; a unix
# socket path is limited to 107 bytes. Either problem moves the cluster under /tmp.
if [ "$(id -u)" = 0 ]; then
    id "$SUPERUSER" >/dev/null 2>&1 || die "no '$SUPERUSER' user to run the server as (is the postgresql package installed?)"
    AS=(runuser -u "$SUPERUSER" --)
else
    AS=()
fi
fallback="/tmp/podium-pg-$(echo "$ROOT" | cksum | cut -d' ' -f1)"
if [ ${#BASE} -gt 80 ]; then
    BASE=$fallback
fi
mkdir -p "$BASE"
if [ ${#AS[@]} -gt 0 ]; then
    chown "$SUPERUSER": "$BASE"
    if ! "${AS[@]}" test -w "$BASE"; then
        say "$SUPERUSER cannot write $BASE (a parent folder is private): using $fallback"
        BASE=$fallback
        mkdir -p "$BASE"
        chown "$SUPERUSER": "$BASE"
    fi
fi
DATA=$BASE/data
SOCK=$BASE/run
LOG=$BASE/server.log
URL="postgresql://$SUPERUSER@/$DB?host=$SOCK&port=$PORT"

running() { "$BIN/pg_isready" -q -h "$SOCK" -p "$PORT" -t 2; }

psql_admin() { "${AS[@]}" "$BIN/psql" -X -q -h "$SOCK" -p "$PORT" -U "$SUPERUSER" -d postgres "$@"; }

init_cluster() {
    local version
    version=$("$BIN/pg_ctl" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
    if [ -f "$DATA/PG_VERSION" ] && [ "$(cat "$DATA/PG_VERSION")" != "$version" ]; then
        say "$DATA was made by PostgreSQL $(cat "$DATA/PG_VERSION"), this is $version: starting over"
        rm -rf "$DATA"
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        say "creating a cluster in $DATA (PostgreSQL $version)"
        "${AS[@]}" mkdir -p "$DATA"
        "${AS[@]}" "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" -A trust -E UTF8 --no-instructions >&2
        cat <<EOF | "${AS[@]}" tee -a "$DATA/postgresql.conf" >/dev/null
# podium (scripts/postgres.sh): unix socket only, private to the server's owner
listen_addresses = ''
unix_socket_permissions = 0700
EOF
    fi
    "${AS[@]}" mkdir -p "$SOCK"
    "${AS[@]}" chmod 700 "$SOCK"
}

start() {
    if ! running; then
        init_cluster
        say "starting the server (socket $SOCK, port $PORT, log $LOG)"
        "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $PORT -k $SOCK" start >&2 9>&- || {
            tail -n 20 "$LOG" >&2 || true
            die "the server did not start (log above, from $LOG)"
        }
    fi
    if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
        "${AS[@]}" "$BIN/createdb" -h "$SOCK" -p "$PORT" -U "$SUPERUSER" "$DB"
    fi
    echo "$URL"
}

# Two test runs starting at once must not both run initdb. (The server must not inherit fd 9.)
exec 9>"$BASE/.lock"
flock -w 300 9 || die "another postgres.sh has held $BASE/.lock for 5 minutes"

case "${1:-start}" in
start) start ;;
stop)
    if [ -f "$DATA/postmaster.pid" ]; then
        "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        say "not running"
    fi
    ;;
status)
    if running; then
        say "running"
        echo "$URL"
    else
        say "not running"
        exit 3
    fi
    ;;
*) die "unknown command '$1' (start, stop or status)" ;;
esac

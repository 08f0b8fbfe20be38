#!/bin/bash
# A private PostgreSQL 15 server for tests (tools/README.md): no system service, its data in a
# temp dir, listening on a free port on 127.0.0.1 only and on a unix socket next to its data.
#
#   tools/private-postgres.sh start DIR      initdb + pg_ctl start; prints the libpq URI and
#                                             writes it to DIR/uri
#   tools/private-postgres.sh stop DIR       stops it (no process left) and removes its data
#   tools/private-postgres.sh crash DIR      pg_ctl stop -m immediate: down without a checkpoint,
#                                             data kept, as after a power cut of the database
#   tools/private-postgres.sh restart DIR    up again on the same port (pg_ctl restart -m
#                                             immediate when it is running)
#
# DIR is the caller's (it need not be readable by the server); the data lives in a directory of
# its own under ${TMPDIR:-/tmp}, named in DIR/datadir (initdb skips its final sync: only the
# running server's durability is under test). initdb refuses to run as root: as root the
# server runs as the `postgres` user and owns its data directory; as any other user it runs as
# that user. fsync and synchronous_commit stay on: the tests measure durability.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() { echo "private-postgres: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop|crash|restart DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

if [ "$(id -u)" = 0 ]; then
    db_user=postgres
    as_server() { runuser -u postgres -- "$@"; }
else
    db_user=$(id -un)
    as_server() { "$@"; }
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the server on $port with the data in $data; false when it did not come up.
pg_start() {
    local data=$1 port=$2
    as_server "$PG_BIN/pg_ctl" start -w -t 30 -D "$data/pgdata" -l "$data/server.log" -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$data' \
         -c fsync=on -c synchronous_commit=on -c max_connections=300" >/dev/null
}

postmaster_pid() { head -n1 "$1/pgdata/postmaster.pid" 2>/dev/null || true; }

case "$cmd" in
start)
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
        die "$PG_BIN/initdb and pg_ctl are missing (Debian package postgresql-15)"
    mkdir -p "$dir"
    [ ! -e "$dir/datadir" ] || die "$dir already holds a server ($(cat "$dir/datadir")); stop it first"
    data=$(mktemp -d "${TMPDIR:-/tmp}/noderepair-pg.XXXXXX")
    echo "$data" >"$dir/datadir"
    [ "$(id -u)" != 0 ] || chown postgres: "$data"
    if ! as_server "$PG_BIN/initdb" -D "$data/pgdata" -U "$db_user" -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$data/initdb.log" 2>&1; then
        cat "$data/initdb.log" >&2
        rm -rf "$data" "$dir/datadir"
        die "initdb failed"
    fi
    # Another process may take the port between the probe and the bind: try a few.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if pg_start "$data" "$port"; then
            uri="postgres://$db_user@127.0.0.1:$port/postgres"
            echo "$port" >"$dir/port"
            echo "$uri" >"$dir/uri"
            echo "$uri"
            exit 0
        fi
    done
    tail -n 20 "$data/server.log" >&2 || true
    rm -rf "$data" "$dir/datadir"
    die "the server did not start (log above)"
    ;;
stop)
    [ -e "$dir/datadir" ] || exit 0
    data=$(cat "$dir/datadir")
    pid=$(postmaster_pid "$data")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        # Immediate: the data is thrown away next, a shutdown checkpoint would only cost time.
        as_server "$PG_BIN/pg_ctl" stop -w -t 30 -m immediate -D "$data/pgdata" >/dev/null 2>&1 ||
            kill -KILL "$pid" 2>/dev/null || true
        # The postmaster exits after its children; wait for it, not for a fixed time.
        for _ in $(seq 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        ! kill -0 "$pid" 2>/dev/null || die "postmaster $pid is still running"
    fi
    rm -rf "$data"
    rm -f "$dir/datadir" "$dir/uri" "$dir/port"
    ;;
crash)
    data=$(cat "$dir/datadir") || die "no server in $dir"
    as_server "$PG_BIN/pg_ctl" stop -w -t 30 -m immediate -D "$data/pgdata" >/dev/null
    ;;
restart)
    data=$(cat "$dir/datadir") || die "no server in $dir"
    pid=$(postmaster_pid "$data")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        as_server "$PG_BIN/pg_ctl" stop -w -t 30 -m immediate -D "$data/pgdata" >/dev/null
    fi
    pg_start "$data" "$(cat "$dir/port")" || die "the server did not start again (see $data/server.log)"
    ;;
*)
    usage
    ;;
esac

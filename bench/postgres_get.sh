#!/usr/bin/env bash
# GET of one remediation on PostgreSQL, several server binaries alternated on one database
# (bench/RESULTS.md): a private PostgreSQL server, a fleet and a few remediations created by the
# first binary, then for each round and each binary: the server on that database, `wrk` GETs
# of one remediation, its rate and the CPU of the server and of PostgreSQL per GET.
#   GET_BINS="/tmp/before build/noderepair" GET_ROUNDS=2 GET_DURATION=10s bash bench/postgres_get.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
read -r -a BINS <<<"${GET_BINS:-$ROOT/build/noderepair}"
ROUNDS=${GET_ROUNDS:-2}
DURATION=${GET_DURATION:-10s}
CONNS=${GET_CONNECTIONS:-64}
source "$ROOT/bench/private_pg_work.sh"

ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# This benchmark's PostgreSQL only (other servers may run on the machine): its postmaster and
# the postmaster's children.
postgres_ticks() {
    local sum=0 pid postmaster
    postmaster=$(head -1 "$(cat "$WORK/pg/datadir")/pgdata/postmaster.pid")
    for pid in $postmaster $(pgrep -P "$postmaster"); do sum=$((sum + $(ticks_of "$pid"))); done
    echo "$sum"
}

mkdir -p "$WORK/pg"
PG_URI=$("$ROOT/tools/private-postgres.sh" start "$WORK/pg" | tail -1)
DB=${PG_URI%/*}/getbench
psql -qAt "$PG_URI" -c 'CREATE DATABASE getbench'
python3 "$ROOT/bench/gen_fleet.py" --clusters 1 --instances-per-cluster 1000 --prefix cr- \
    --out "$WORK/fleet.json" >/dev/null

start_server() {  # binary, fleet arguments...
    local bin=$1
    shift
    : >"$WORK/server.out"
    "$bin" serve --listen 127.0.0.1:0 --db "$DB" "$@" --engine-paused >"$WORK/server.out" \
        2>/dev/null &
    SERVER_PID=$!
    wait_listening
}
stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
}

start_server "${BINS[0]}" --fleet "$WORK/fleet.json"
TOKEN=$(grep -o 'nr_[0-9a-f]*' "$WORK/server.out" | head -1)
path=/v1/compute/clusters/cr-c0/instances/cr-i-0000001/remediations
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"mode":"REMEDIATION_MODE_VM_ONLY"}' "$URL$path"
id=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL$path" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["remediations"][0]["id"])')
stop_server
psql -qAt "$DB" -c 'ANALYZE'

echo "| round | binary | load (1 min) | GET/s | CPU µs per GET: server / PostgreSQL |"
echo "|---|---|---|---:|---|"
for round in $(seq 1 "$ROUNDS"); do
    for bin in "${BINS[@]}"; do
        start_server "$bin"
        server_before=$(ticks_of "$SERVER_PID")
        pg_before=$(postgres_ticks)
        load=$(cut -d' ' -f1 /proc/loadavg)
        rate=$(wrk -t2 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer $TOKEN" "$URL$path/$id" |
            awk '/Requests\/sec/ {print int($2)}')
        server_ticks=$(($(ticks_of "$SERVER_PID") - server_before))
        pg_ticks=$(($(postgres_ticks) - pg_before))
        stop_server
        python3 - "$round" "$bin" "$load" "$rate" "$server_ticks" "$pg_ticks" "${DURATION%s}" \
            "$(getconf CLK_TCK)" <<'PY'
import sys
round_, binary, load, rate, server, pg, seconds, hz = sys.argv[1:]
gets = max(int(rate) * int(seconds), 1)
per = lambda ticks: round(int(ticks) / int(hz) / gets * 1e6)
print(f"| {round_} | {binary} | {load} | {int(rate):,} | {per(server)} / {per(pg)} |")
PY
    done
done

#!/usr/bin/env bash
# Where the time of durable creates on PostgreSQL goes (bench/RESULTS.md): a private
# PostgreSQL server, the server binary on it with a fleet, `wrk` creating remediations, and
# meanwhile `perf record` of PostgreSQL's processes and of the server, then the statements one
# create costs (pg_stat_statements is not assumed: PostgreSQL's own counters of the database).
#   NODEREPAIR_BIN=/path/to/noderepair PROFILE_SECONDS=8 bash bench/postgres_profile.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${NODEREPAIR_BIN:-$ROOT/build/noderepair}
SECONDS_MEASURED=${PROFILE_SECONDS:-8}
INSTANCES=${PROFILE_INSTANCES:-40000}
PER_CLUSTER=10000
export BENCH_WRK_DIR=$ROOT/bench/wrk

source "$ROOT/bench/private_pg_work.sh"

mkdir -p "$WORK/pg"
PG_URI=$("$ROOT/tools/private-postgres.sh" start "$WORK/pg" | tail -1)
PG_BASE=${PG_URI%/*}
psql -qAt "$PG_URI" -c 'CREATE DATABASE bench'
python3 "$ROOT/bench/gen_fleet.py" --clusters $((INSTANCES / PER_CLUSTER)) \
    --instances-per-cluster "$PER_CLUSTER" --prefix cr- --out "$WORK/fleet.json" >/dev/null
"$BIN" serve --listen 127.0.0.1:0 --db "$PG_BASE/bench" --fleet "$WORK/fleet.json" \
    --engine-paused >"$WORK/server.out" 2>/dev/null &
SERVER_PID=$!
wait_listening
TOKEN=$(grep -o 'nr_[0-9a-f]*' "$WORK/server.out" | head -1)

stat_sql="SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'bench'"
before=$(psql -qAt "$PG_BASE/bench" -c "$stat_sql")
wrk -t2 -c64 -d$((SECONDS_MEASURED + 2))s --timeout 10s -H "Authorization: Bearer $TOKEN" \
    -s "$BENCH_WRK_DIR/create.lua" "$URL" -- cr- $((INSTANCES - 1)) "$PER_CLUSTER" 2 0 \
    >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
sleep 1
postmaster=$(head -1 "$(cat "$WORK/pg/datadir")/pgdata/postmaster.pid")
pids=$(pgrep -d, -P "$postmaster"),$postmaster,$SERVER_PID
perf record -q -F 499 -g -p "$pids" -o "$WORK/perf.data" -- sleep "$SECONDS_MEASURED" \
    >/dev/null 2>&1 &
PERF_PID=$!
# What the database's sessions wait on, sampled ten times a second.
for _ in $(seq 1 $((SECONDS_MEASURED * 10))); do
    psql -qAt "$PG_BASE/bench" -c "SELECT state || ':' || COALESCE(wait_event_type || '/' || wait_event, 'cpu') FROM pg_stat_activity WHERE datname = 'bench' AND pid <> pg_backend_pid()"
    sleep 0.1
done >"$WORK/waits.txt"
wait "$PERF_PID" || true
wait "$WRK_PID"
sleep 1
after=$(psql -qAt "$PG_BASE/bench" -c "$stat_sql")
creates=$(awk '/Requests\/sec/ {print int($2)}' "$WORK/wrk.txt")
echo "creates/s: $creates"
grep -o '"non2xx":[0-9]*,"socket_errors":[0-9]*,"timeouts":[0-9]*' "$WORK/wrk.txt" || true
echo "transactions and rows written (pg_stat_database, before|after): $before -> $after"
echo "--- the server's sessions, sampled: state:wait (count)"
sort "$WORK/waits.txt" | uniq -c | sort -rn | head -12
echo "--- CPU samples by process and library"
perf report -i "$WORK/perf.data" --no-children -g none --sort comm,dso --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -15
cp "$WORK/perf.data" "/tmp/pgperf-perf-$(basename "$BIN").data" 2>/dev/null || true
echo "--- top PostgreSQL functions"
perf report -i "$WORK/perf.data" --no-children -g none --comm postgres --sort sym --stdio 2>/dev/null |
    grep -v '^#' | grep '%' | head -25

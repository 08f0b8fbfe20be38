#!/usr/bin/env bash
# PostgreSQL beside SQLite, in one run (bench/README.md): a private PostgreSQL server, the
# pgbench reference (a one-row INSERT per transaction at 16 clients: what the disk and server
# give a naive committer), then noderepair's durable creates on both backends, and GET / list
# of one seeded instance on both, with the CPU share of the server and of PostgreSQL during the
# create run. Everything listens on 127.0.0.1 and is stopped on exit.
#   PG_BENCH_DURATION=10s PG_BENCH_CONNECTIONS=64 PG_BENCH_INSTANCES=200000
#   PG_BENCH_CONFIG=FILE: a serve --config for the PostgreSQL server only (e.g. a file saying
#   `storage: {writers: 2}`), to compare settings that SQLite does not have
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${NODEREPAIR_BIN:-$ROOT/build/noderepair}
DURATION=${PG_BENCH_DURATION:-10s}
CONNS=${PG_BENCH_CONNECTIONS:-64}
# SQLite creates ~15,000/s: 10 s of them need 150,000 instances that have no active remediation.
INSTANCES=${PG_BENCH_INSTANCES:-200000}
PG_CONFIG=${PG_BENCH_CONFIG:-}
PER_CLUSTER=10000
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export BENCH_WRK_DIR=$ROOT/bench/wrk

source "$ROOT/bench/private_pg_work.sh"

log() { printf '[pg-bench %s] %s\n' "$(date +%T)" "$*" >&2; }
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_ticks() {
    local sum=0 pid
    for pid in $(pgrep -x postgres); do sum=$((sum + $(ticks_of "$pid"))); done
    echo "$sum"
}
rate() { awk '/Requests\/sec/ {print int($2)}' "$1"; }

mkdir -p "$WORK/pg"
PG_URI=$("$ROOT/tools/private-postgres.sh" start "$WORK/pg" | tail -1)
PG_BASE=${PG_URI%/*}
psql() { command psql -qAt "$@"; }
log "PostgreSQL at $PG_URI"

# ---- the reference: pgbench, one-row INSERT per transaction, 16 clients
psql "$PG_URI" -c 'CREATE DATABASE pgbench_ref'
psql "$PG_BASE/pgbench_ref" -c 'CREATE TABLE t(id bigserial PRIMARY KEY, v text NOT NULL)'
echo "INSERT INTO t(v) VALUES('bench');" >"$WORK/insert.sql"
pgbench_tps=$("$PG_BIN/pgbench" -n -M prepared -c16 -j2 -T"${DURATION%s}" -f "$WORK/insert.sql" \
    "$PG_BASE/pgbench_ref" 2>/dev/null | awk '/^tps/ {print int($3)}')
log "pgbench one-row INSERT, 16 clients: $pgbench_tps tps"

python3 "$ROOT/bench/gen_fleet.py" --clusters $((INSTANCES / PER_CLUSTER)) \
    --instances-per-cluster "$PER_CLUSTER" --prefix cr- --out "$WORK/fleet.json" >/dev/null

start_server() {
    local db=$1
    shift
    : >"$WORK/server.out"
    "$BIN" serve --listen 127.0.0.1:0 --db "$db" --fleet "$WORK/fleet.json" --engine-paused "$@" \
        >"$WORK/server.out" 2>/dev/null &
    SERVER_PID=$!
    for _ in $(seq 1 3000); do  # a fleet import into a busy database can take minutes
        grep -q 'listening on' "$WORK/server.out" && break
        sleep 0.1
    done
    SERVER_URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/server.out" | head -1)
    TOKEN=$(grep -o 'nr_[0-9a-f]*' "$WORK/server.out" | head -1)
}

declare -A CREATE GET GET_MANY LIST SERVER_CPU PG_CPU
for backend in sqlite postgres; do
    if [[ $backend == sqlite ]]; then
        db="sqlite:$WORK/bench.db"
    else
        psql "$PG_URI" -c 'CREATE DATABASE bench'
        db="$PG_BASE/bench"
    fi
    if [[ $backend == postgres && -n $PG_CONFIG ]]; then
        start_server "$db" --config "$PG_CONFIG"
    else
        start_server "$db"
    fi
    log "$backend: serving at $SERVER_URL"
    server_before=$(ticks_of "$SERVER_PID")
    pg_before=$(postgres_ticks)
    t0=$(date +%s%N)
    wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 10s -H "Authorization: Bearer $TOKEN" \
        -s "$BENCH_WRK_DIR/create.lua" "$SERVER_URL" -- cr- $((INSTANCES - 1)) "$PER_CLUSTER" 2 0 \
        >"$WORK/create-$backend.txt" 2>&1
    elapsed_ticks=$(( ($(date +%s%N) - t0) * $(getconf CLK_TCK) / 1000000000 ))
    SERVER_CPU[$backend]=$(python3 -c "print(round(($(ticks_of "$SERVER_PID") - $server_before) / $elapsed_ticks, 2))")
    PG_CPU[$backend]=$(python3 -c "print(round(($(postgres_ticks) - $pg_before) / $elapsed_ticks, 2))")
    CREATE[$backend]=$(rate "$WORK/create-$backend.txt")
    # A rejected create is no durable create: past the fleet's instances create.lua wraps
    # around to instances that already have an active remediation, and their quick refusals
    # would count in the rate (bench/README.md). Such a figure is marked, not reported as one.
    read -r non2xx wrapped < <(sed -n 's/^BENCH_RESULT //p' "$WORK/create-$backend.txt" |
        python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["non2xx"], r["pool_wrapped"])')
    if ((non2xx > 0 || wrapped > 0)); then
        log "$backend: INVALID creates run: $non2xx non-2xx replies, $wrapped requests past the $INSTANCES instances (raise PG_BENCH_INSTANCES)"
        CREATE[$backend]="${CREATE[$backend]} (INVALID: $non2xx non-2xx, $wrapped past the fleet)"
    fi
    # The planner's statistics as autovacuum leaves them within a minute of a bulk load (it
    # analyzes a table once 10 % of it changed); right after the creates they still describe
    # an empty table, and the list would be planned as a scan of every row.
    [[ $backend == postgres ]] && psql "$db" -c 'ANALYZE'
    path=/v1/compute/clusters/cr-c0/instances/cr-i-0000001/remediations
    id=$(curl -s -H "Authorization: Bearer $TOKEN" "$SERVER_URL$path" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["remediations"][0]["id"])')
    wrk -t2 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer $TOKEN" -s "$BENCH_WRK_DIR/get.lua" \
        "$SERVER_URL$path/$id" >"$WORK/get-$backend.txt" 2>&1
    GET[$backend]=$(rate "$WORK/get-$backend.txt")
    # GETs of 1,000 different remediations in turn: concurrent GETs mostly ask for different
    # rows, as clients watching their own repairs do (PostgreSQL reads GETs asked together in
    # one statement; of one remediation, that statement reads one row for all of them).
    curl -s -H "Authorization: Bearer $TOKEN" "$SERVER_URL/v1/compute/clusters/cr-c0/instances/-/remediations?page_size=1000" |
        python3 -c 'import json,sys; [print("/v1/compute/clusters/%s/instances/%s/remediations/%s" % (r["cluster_id"], r["instance_id"], r["id"])) for r in json.load(sys.stdin)["remediations"]]' \
        >"$WORK/paths-$backend.txt"
    BENCH_PATHS=$WORK/paths-$backend.txt wrk -t2 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer $TOKEN" \
        -s "$BENCH_WRK_DIR/get_paths.lua" "$SERVER_URL" >"$WORK/get-many-$backend.txt" 2>&1
    GET_MANY[$backend]=$(rate "$WORK/get-many-$backend.txt")
    wrk -t2 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer $TOKEN" -s "$BENCH_WRK_DIR/get.lua" \
        "$SERVER_URL/v1/compute/clusters/cr-c0/instances/-/remediations?page_size=50" \
        >"$WORK/list-$backend.txt" 2>&1
    LIST[$backend]=$(rate "$WORK/list-$backend.txt")
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
    log "$backend: creates ${CREATE[$backend]}/s, GET ${GET[$backend]}/s (of 1,000: ${GET_MANY[$backend]}/s), list ${LIST[$backend]}/s"
done

ratio() { python3 -c "print(round($1 / max($2, 1), 2))"; }
cat <<REPORT
| measure ($DURATION, $CONNS connections, $INSTANCES instances) | SQLite | PostgreSQL | PostgreSQL / reference |
|---|---|---|---|
| durable creates/s | ${CREATE[sqlite]} | ${CREATE[postgres]} | $(ratio "${CREATE[postgres]%% *}" "$pgbench_tps") × pgbench ($pgbench_tps tps) |
| GET one remediation/s | ${GET[sqlite]} | ${GET[postgres]} | $(ratio "${GET[postgres]}" "${GET[sqlite]}") × SQLite |
| GET of 1,000 remediations in turn/s | ${GET_MANY[sqlite]} | ${GET_MANY[postgres]} | $(ratio "${GET_MANY[postgres]}" "${GET_MANY[sqlite]}") × SQLite |
| list (page of 50)/s | ${LIST[sqlite]} | ${LIST[postgres]} | $(ratio "${LIST[postgres]}" "${LIST[sqlite]}") × SQLite |
| CPU during creates: server / PostgreSQL (cores) | ${SERVER_CPU[sqlite]} / - | ${SERVER_CPU[postgres]} / ${PG_CPU[postgres]} | |
REPORT

#!/usr/bin/env bash
# The overview's stats endpoint (docs/http-api.md 11) at two history sizes: GET
# /v1/compute/clusters/{c}/stats?days=30 against a cluster with STATS_SMALL (100) and
# STATS_BIG (1,000,000) stored remediations, seeded with build/bench/seed_remediations, which
# also writes the daily aggregates the endpoint reads. Prints wrk's latency distribution per
# size; the target is p99 <= 20 ms at 1,000,000, and about the same cost at both sizes.
#   bash bench/stats.sh              (after building noderepair and seed_remediations)
# Also prints the server's CPU time per request (user + system, from /proc), which a machine
# shared with other work does not inflate the way it does wall-clock latency.
# Knobs: STATS_SMALL=100 STATS_BIG=1000000 STATS_DURATION=10s STATS_CONNECTIONS=4
#        STATS_INSTANCES=1000 STATS_OUT=bench/out/stats-<stamp> STATS_KEEP=0 (1 keeps the
#        databases, and reuses them when run again with the same STATS_OUT)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${NODEREPAIR_BIN:-$ROOT/build/noderepair}
SEED=${SEED_BIN:-$ROOT/build/bench/seed_remediations}
SMALL=${STATS_SMALL:-100}
BIG=${STATS_BIG:-1000000}
DURATION=${STATS_DURATION:-10s}
CONNS=${STATS_CONNECTIONS:-4}
INSTANCES=${STATS_INSTANCES:-1000}
OUT=${STATS_OUT:-$ROOT/bench/out/stats-$(date +%Y%m%d-%H%M%S)}
KEEP=${STATS_KEEP:-0}

log() { printf '[stats %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for tool in wrk curl python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -x $BIN && -x $SEED ]] || die "build noderepair and seed_remediations first"
mkdir -p "$OUT"

SERVER_PID=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ $KEEP == 1 ]] || rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm
}
# The CPU ticks (user + system) process $1 has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
trap cleanup EXIT

python3 "$ROOT/bench/gen_fleet.py" --clusters 1 --instances-per-cluster "$INSTANCES" \
    --out "$OUT/fleet.json" >/dev/null

for n in "$SMALL" "$BIG"; do
    db="$OUT/stats-$n.db"
    if [[ ! -f $db ]]; then
        log "seeding $n remediations"
        "$SEED" --db "sqlite:$db" --fleet "$OUT/fleet.json" --remediations "$n" >/dev/null
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$BIN" serve --listen "127.0.0.1:$port" --db "sqlite:$db" --fleet "$OUT/fleet.json" \
        --engine-paused >"$OUT/server-$n.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$OUT/server-$n.log" && break; sleep 0.1; done
    token=$("$BIN" token create --db "sqlite:$db" --name "stats-bench-$RANDOM" --role viewer)
    url="http://127.0.0.1:$port/v1/compute/clusters/c0/stats?days=30"
    curl -sf -H "Authorization: Bearer $token" "$url" >"$OUT/stats-$n.json" || die "stats failed"
    python3 - "$OUT/stats-$n.json" "$n" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
created = sum(sum(d["created"].values()) for d in body["days"])
print(f"[stats] {sys.argv[2]} stored: {created} created in the last 30 days, "
      f"stages {[(s['stage'], s['p50_s'], s['p90_s']) for s in body['stages']]}", file=sys.stderr)
PY
    before=$(cpu_ticks "$SERVER_PID")
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$url" \
        >"$OUT/wrk-$n.txt"
    after=$(cpu_ticks "$SERVER_PID")
    echo "== $n remediations: GET …/stats?days=30, wrk -t1 -c$CONNS -d$DURATION"
    grep -E "Requests/sec|^ +(50|90|99)%" "$OUT/wrk-$n.txt"
    requests=$(awk '/requests in/ {print $1}' "$OUT/wrk-$n.txt")
    awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v r="$requests" \
        'BEGIN { printf "  server CPU per request: %.0f us (%d requests)\n", t / hz / r * 1e6, r }'
    echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
done

#!/usr/bin/env bash
# The whole benchmark run, end to end (bench/README.md): fleets, seeding, nginx reference,
# servers, wrk, report. Assumes build/noderepair and build/bench/seed_remediations are built
# (`make bench` builds them first). Everything listens on 127.0.0.1; everything it starts is
# stopped on exit. Knobs (environment):
#   BENCH_DURATION=10s BENCH_WARMUP=2s BENCH_CONNECTIONS=64 BENCH_THREADS=2
#   BIG_INSTANCES=150000 BIG_REMEDIATIONS=1000000   (big=: the fleet of issue 10)
#   CREATE_INSTANCES=300000 CREATE_PER_CLUSTER=10000 CREATE_DURATION=$BENCH_DURATION
#   CREATE_BIG_DURATION=5s  (the seeded store has 148,500 instances to create on: 7 s at 20,000/s)
#   BENCH_ONLY="get list metrics import create blocked ingest"   (a subset; get, list and metrics share the
#       seeded server, and create runs there too (create_big) when one of them is wanted;
#       blocked: durable creates beside provider calls that block)
#   BLOCKED_CALLS=50 BLOCKED_CALL_MS=5000 BLOCKED_CLUSTERS=40 (x 10,000 instances to create on)
#   BLOCKED_ORDER="blocked unblocked"   (the order of the two runs; alternate it between repeats)
#   BENCH_OUT=bench/out/<stamp>     BENCH_KEEP_DATA=0 (1 keeps the databases)
#   GET_REPEATS=1 GET_BASE_BIN= (rounds of nginx/ours[/a reference binary] for the GET ratio)
#   INGEST_REPEATS=3 INGEST_BASE_BIN= (alert ingest tries, alternated with a reference binary)
#   BENCH_WAIT_QUIET=0  (seconds to wait, at most, for the machine to be idle before starting)
#   BENCH_RETRIES=2 BENCH_MAX_OTHER_CPU=0.25  (repeat a run that other processes disturbed)
#   BENCH_QUIET_CPU=0.10  (busy cores below which the machine counts as idle)
#   BENCH_PERF=0        (1: after each run, profile the server with perf during an extra pass)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${NODEREPAIR_BIN:-$ROOT/build/noderepair}
SEED=${SEED_BIN:-$ROOT/build/bench/seed_remediations}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
BIG_INSTANCES=${BIG_INSTANCES:-150000}
BIG_REMEDIATIONS=${BIG_REMEDIATIONS:-1000000}
CREATE_INSTANCES=${CREATE_INSTANCES:-300000}
CREATE_PER_CLUSTER=${CREATE_PER_CLUSTER:-10000}
CREATE_DURATION=${CREATE_DURATION:-$DURATION}
CREATE_BIG_DURATION=${CREATE_BIG_DURATION:-5s}
ONLY=${BENCH_ONLY:-get list metrics import create blocked ingest}
INGEST_REPEATS=${INGEST_REPEATS:-3}
BLOCKED_CALLS=${BLOCKED_CALLS:-50}
BLOCKED_CALL_MS=${BLOCKED_CALL_MS:-5000}
BLOCKED_CLUSTERS=${BLOCKED_CLUSTERS:-40}
OUT=${BENCH_OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)}
KEEP_DATA=${BENCH_KEEP_DATA:-0}
WRK_DIR=$ROOT/bench/wrk
export BENCH_WRK_DIR=$WRK_DIR

DATA=$OUT/data
METRICS=$OUT/metrics.jsonl
COMMANDS=$OUT/commands.txt
mkdir -p "$OUT" "$DATA"
: >"$METRICS"
: >"$COMMANDS"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk nginx-light curl)"
done
[[ -x $BIN ]] || die "$BIN missing: build first (make build)"
if wants get || wants list; then
    [[ -x $SEED ]] || die "$SEED missing: build the seed_remediations target first"
fi

# ---------------------------------------------------------------- processes and cleanup
PIDS=()
NGINX_PID=""
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}" $NGINX_PID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}" $NGINX_PID; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ $KEEP_DATA != 1 ]]; then
        rm -rf "$DATA"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one server with SIGTERM (the contract's graceful stop), SIGKILL after 10 s.
stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ignored SIGTERM for 10 s; killing"
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local keep=()
    for p in "${PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

metric() {  # metric NAME VALUE [UNIT]
    printf '{"name":"%s","value":%s,"unit":"%s"}\n' "$1" "$2" "${3:-}" >>"$METRICS"
}

now_ns() { date +%s%N; }

# Records a command as it can be pasted (shell-quoted, paths relative to the repo, no token).
record() {
    local line
    line=$(printf '%q ' "$@")
    line=${line//"$ROOT/"/}
    [[ -n ${WRK_TOKEN:-} ]] && line=${line//"$WRK_TOKEN"/'$TOKEN'}
    echo "${line% }" >>"$COMMANDS"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- machine
busy_cores() {  # busy_cores SECONDS: cores busy on the whole machine meanwhile
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    echo "$a $b" | awk -v n="$(nproc)" '{printf "%.2f", ($3-$1)/(($4-$2) > 0 ? ($4-$2) : 1)*n}'
}
# True when the machine was (nearly) idle for 10 s: below BENCH_QUIET_CPU busy cores.
idle_enough() {
    awk -v b="$(busy_cores 10)" -v q="${BENCH_QUIET_CPU:-0.10}" 'BEGIN { exit !(b < q) }'
}

quiet_wait=${BENCH_WAIT_QUIET:-0}
if (( quiet_wait > 0 )); then
    log "waiting up to ${quiet_wait}s for an idle machine (< ${BENCH_QUIET_CPU:-0.10} cores busy for 10 s)"
    deadline=$(( $(date +%s) + quiet_wait ))
    while (( $(date +%s) < deadline )); do
        idle_enough && break
    done
fi

# The binary is copied so a rebuild during the run cannot mix two versions.
cp -p "$BIN" "$DATA/noderepair"
BIN_SHA=$(sha256sum "$BIN" | cut -c1-12)
BIN=$DATA/noderepair

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "data disk: $(findmnt -n -o SOURCE,FSTYPE -T "$DATA" | tr -s ' ')"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "noderepair binary: sha256 $BIN_SHA, built $(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)"
    echo "noderepair source: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
    # Anything else running skews every figure; the report also shows "other CPU" per run.
    echo "busy before the run: $(busy_cores 1) of $(nproc) cores"
    echo "settings: duration=$DURATION warmup=$WARMUP connections=$CONNS threads=$THREADS big=${BIG_INSTANCES}x$BIG_REMEDIATIONS create_pool=$CREATE_INSTANCES"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# ---------------------------------------------------------------- server helpers
# start_server NAME DB FLEET [CONFIG]: sets SERVER_PID, SERVER_URL, SERVER_TOKEN, STARTUP_S.
start_server() {
    local name=$1 db=$2 fleet=$3 config=${4:-}
    local logf=$OUT/$name.log
    local args=(serve --listen 127.0.0.1:0 --db "sqlite:$db" --fleet "$fleet" --engine-paused)
    [[ -n $config ]] && args+=(--config "$config")
    record "$BIN" "${args[@]}"
    local t0
    t0=$(now_ns)
    "$BIN" "${args[@]}" >"$logf" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local line=""
    for _ in $(seq 12000); do  # 10 ms steps, 120 s
        line=$(grep -m1 -o 'listening on http://[0-9.:]*' "$logf" || true)
        [[ -n $line ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf" >&2; die "$name exited during start-up"; }
        sleep 0.01
    done
    [[ -n $line ]] || die "$name did not print 'listening on' within 120 s"
    STARTUP_S=$(python3 -c "print(round(($(now_ns) - $t0) / 1e9, 3))")
    SERVER_URL=${line#listening on }
    SERVER_TOKEN=$(sed -n 's/.*admin token: *\([^ ]*\).*/\1/p' "$logf" | head -1)
    if [[ -z $SERVER_TOKEN ]]; then
        SERVER_TOKEN=$("$BIN" token create --db "sqlite:$db" --name "bench-$name" --role admin) \
            || die "token create failed for $name"
    fi
    log "$name: pid $SERVER_PID at $SERVER_URL, started in ${STARTUP_S}s"
}

rss_kb() {  # rss_kb PID FIELD (VmRSS|VmHWM)
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

api() {  # api METHOD PATH [BODY] -> body on stdout, fails on non-2xx
    local method=$1 path=$2 body=${3:-}
    local args=(-sS -f -X "$method" -H "Authorization: Bearer $SERVER_TOKEN")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
    curl "${args[@]}" "$SERVER_URL$path"
}

# wrk_once NAME CMD...: runs wrk once against TARGET_PID; prints the result as JSON, with the
# CPU used meanwhile by that process, by wrk, by the kernel and by everything else
# (bench/cpustat.py).
wrk_once() {
    local name=$1
    shift
    local before after wrk_cpu result TIMEFORMAT='%U %S'
    before=$(python3 "$ROOT/bench/cpustat.py" snap "$TARGET_PID")
    { time "$@" >"$OUT/wrk-$name.txt" 2>&1 || { cat "$OUT/wrk-$name.txt" >&2; die "wrk $name failed"; } ; } 2>"$OUT/wrk-$name.time"
    after=$(python3 "$ROOT/bench/cpustat.py" snap "$TARGET_PID")
    wrk_cpu=$(tail -1 "$OUT/wrk-$name.time")
    result=$(sed -n 's/^BENCH_RESULT //p' "$OUT/wrk-$name.txt")
    [[ -n $result ]] || { cat "$OUT/wrk-$name.txt" >&2; die "wrk $name printed no result"; }
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["name"]=sys.argv[2]; r.update(json.loads(sys.argv[3])); print(json.dumps(r))' \
        "$result" "$name" \
        "$(python3 "$ROOT/bench/cpustat.py" diff "$before" "$after" "$wrk_cpu" "$(json_field "$result" requests)")"
}

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# run_wrk NAME URL SCRIPT [SCRIPT ARGS...]: one measured run; the result goes to METRICS.
# A run during which other processes used more than BENCH_MAX_OTHER_CPU cores (a build, tests)
# is repeated, after waiting up to 120 s for an idle machine, at most BENCH_RETRIES times.
# Create runs take their instances from CREATE_NEXT_OFFSET on (the script's last argument),
# so a repeat never reuses an instance.
run_wrk() {
    local name=$1 url=$2 script=$3
    shift 3
    local duration=$DURATION
    [[ $name == create_* ]] && duration=$CREATE_DURATION
    [[ $name == create_big ]] && duration=$CREATE_BIG_DURATION
    local cmd=(wrk -t"$THREADS" -c"$CONNS" -d"$duration" --timeout 10s --latency
               -H "Authorization: Bearer ${WRK_TOKEN:-none}" -s "$WRK_DIR/$script" "$url")
    [[ $# -gt 0 ]] && cmd+=(-- "$@")
    local attempt=0 result other
    while true; do
        attempt=$((attempt + 1))
        if [[ $name == create_* ]]; then cmd[${#cmd[@]}-1]=$CREATE_NEXT_OFFSET; fi
        log "wrk $name ($duration, attempt $attempt)"
        result=$(wrk_once "$name" "${cmd[@]}")
        if [[ $name == create_* ]]; then
            CREATE_NEXT_OFFSET=$(json_field "$result" next_index)
        fi
        grep -E 'Requests/sec|99%' "$OUT/wrk-$name.txt" | tr -s ' ' | sed "s/^/  $name:/" >&2
        other=$(json_field "$result" other_cpu)
        if python3 -c "import sys; sys.exit(0 if $other <= ${BENCH_MAX_OTHER_CPU:-0.25} else 1)" \
            || (( attempt > ${BENCH_RETRIES:-2} )); then
            break
        fi
        log "$name: other processes used $other cores meanwhile; waiting for an idle machine"
        for _ in $(seq 12); do idle_enough && break; done
    done
    record "${cmd[@]}"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["attempts"]=int(sys.argv[2]); print(json.dumps(r))' \
        "$result" "$attempt" >>"$METRICS"
    if [[ ${BENCH_PERF:-0} == 1 && $name != *nginx* ]]; then
        # An extra, unmeasured pass under perf to show where the server's CPU goes.
        local pcmd=("${cmd[@]}")
        pcmd[3]=-d6s
        if [[ $name == create_* ]]; then pcmd[${#pcmd[@]}-1]=$CREATE_NEXT_OFFSET; fi
        "${pcmd[@]}" >"$OUT/wrk-$name-perf.txt" 2>&1 &
        local wpid=$!
        sleep 0.5
        perf record -F 499 -g -p "$TARGET_PID" -o "$OUT/perf-$name.data" -- sleep 4 \
            >/dev/null 2>&1 || true
        wait "$wpid" || true
        if [[ $name == create_* ]]; then
            CREATE_NEXT_OFFSET=$(sed -n 's/^BENCH_RESULT //p' "$OUT/wrk-$name-perf.txt" \
                | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_index"])')
        fi
        perf report -i "$OUT/perf-$name.data" --stdio --no-children --percent-limit 1 \
            --sort symbol 2>/dev/null | sed -E 's/[[:space:]]+$//' | grep -v '^$' | head -200 \
            >"$OUT/perf-$name.txt" || true
        perf report -i "$OUT/perf-$name.data" --stdio --no-children -g none --percent-limit 0.5 \
            --sort dso,symbol 2>/dev/null | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' \
            | grep -v '^#' | grep -v '^$' | head -60 \
            >"$OUT/perf-$name-flat.txt" || true
        rm -f "$OUT/perf-$name.data"
    fi
}

warm_wrk() {  # warm_wrk URL: a short unmeasured run
    [[ $WARMUP == 0 || $WARMUP == 0s ]] && return 0
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Authorization: Bearer ${WRK_TOKEN:-none}" "$1" \
        >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- nginx (reference)
start_nginx() {  # start_nginx ROOTDIR: sets NGINX_URL
    local dir=$OUT/nginx port user_line=""
    mkdir -p "$dir/tmp"
    port=$(free_port)
    if [[ $(id -u) == 0 ]]; then user_line="user root root;"; fi
    cat >"$dir/nginx.conf" <<EOF
# Reference server for the GET benchmark: one worker, keep-alive, the same JSON bytes from a file.
$user_line
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    types { }
    default_type application/json;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $1;
    }
}
EOF
    record nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    NGINX_PID=$!
    NGINX_URL=http://127.0.0.1:$port
    for _ in $(seq 200); do
        curl -s -o /dev/null "$NGINX_URL/" && break
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start: $(cat "$dir/error.log")"
        sleep 0.05
    done
    log "nginx: pid $NGINX_PID at $NGINX_URL"
}

BENCH_START=$(now_ns)

# ---------------------------------------------------------------- seeded server: get, list, metrics
if wants get || wants list || wants metrics; then
    BIG_FLEET=$DATA/big-fleet.json
    BIG_DB=$DATA/big.db
    record python3 "$ROOT/bench/gen_fleet.py" --clusters 1 --instances-per-cluster "$BIG_INSTANCES" \
        --prefix big- --out "$BIG_FLEET"
    python3 "$ROOT/bench/gen_fleet.py" --clusters 1 --instances-per-cluster "$BIG_INSTANCES" \
        --prefix big- --out "$BIG_FLEET"
    record "$SEED" --db "sqlite:$BIG_DB" --fleet "$BIG_FLEET" --remediations "$BIG_REMEDIATIONS"
    log "seeding $BIG_REMEDIATIONS remediations over $BIG_INSTANCES instances"
    t0=$(now_ns)
    "$SEED" --db "sqlite:$BIG_DB" --fleet "$BIG_FLEET" --remediations "$BIG_REMEDIATIONS" \
        >"$OUT/seed.out" 2>"$OUT/seed.log" || { cat "$OUT/seed.log" >&2; die "seeding failed"; }
    seed_s=$(python3 -c "print(round(($(now_ns) - $t0) / 1e9, 2))")
    metric seed_s "$seed_s" s
    metric seed_rows_per_s "$(python3 -c "print(round($BIG_REMEDIATIONS / max($seed_s, 0.01)))")" "rows/s"
    metric db_size_mb "$(du -sm "$DATA" --exclude='*.json' | cut -f1)" MB
    log "seeded in ${seed_s}s ($(cat "$OUT/seed.out"))"

    start_server big "$BIG_DB" "$BIG_FLEET"
    metric startup_s "$STARTUP_S" s
    metric rss_after_start_mb "$(( $(rss_kb "$SERVER_PID" VmRSS) / 1024 ))" MB
    WRK_TOKEN=$SERVER_TOKEN
    BIG_PID=$SERVER_PID
    metric hwm_after_start_mb "$(( $(rss_kb "$SERVER_PID" VmHWM) / 1024 ))" MB
    # An idle server (engine paused, no client) should use no CPU: catches busy-wait loops.
    before=$(python3 "$ROOT/bench/cpustat.py" snap "$SERVER_PID"); sleep 3
    after=$(python3 "$ROOT/bench/cpustat.py" snap "$SERVER_PID")
    metric idle_server_cpu_cores "$(json_field "$(python3 "$ROOT/bench/cpustat.py" diff "$before" "$after" "0 0" 1)" server_cpu)" cores
    LIST_PATH="/v1/compute/clusters/big-c0/instances/-/remediations"

    if wants get; then
        # One remediation: take the newest of the cluster, fetch its exact bytes for nginx.
        first=$(api GET "$LIST_PATH?page_size=1") || die "list failed: is the token accepted?"
        get_path=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1])["remediations"][0]
print("/v1/compute/clusters/%s/instances/%s/remediations/%s" % (r["cluster_id"], r["instance_id"], r["id"]))' "$first")
        mkdir -p "$OUT/nginx/www$(dirname "$get_path")"
        api GET "$get_path" >"$OUT/nginx/www$get_path"
        metric get_body_bytes "$(stat -c %s "$OUT/nginx/www$get_path")" bytes
        start_nginx "$OUT/nginx/www"
        cmp -s <(curl -sS "$NGINX_URL$get_path") "$OUT/nginx/www$get_path" \
            || die "nginx does not serve the same bytes"
        warm_wrk "$NGINX_URL$get_path"
        TARGET_PID=$(pgrep -P "$NGINX_PID" | head -1)  # the one worker
        run_wrk get_nginx "$NGINX_URL$get_path" get.lua
        stop_pid "$NGINX_PID"; NGINX_PID=""
        warm_wrk "$SERVER_URL$get_path"
        TARGET_PID=$BIG_PID
        run_wrk get "$SERVER_URL$get_path" get.lua
        # GET_BASE_BIN: a reference binary on the same database, alternated with ours and nginx
        # GET_REPEATS times in all (the first round is the one above, without the reference).
        for r in $(seq 2 "${GET_REPEATS:-1}"); do
            if [[ -n ${GET_BASE_BIN:-} ]]; then
                stop_pid "$BIG_PID"
                BIN_SAVED=$BIN BIN=$GET_BASE_BIN
                start_server "big-base-$r" "$BIG_DB" "$BIG_FLEET"
                BIN=$BIN_SAVED
                warm_wrk "$SERVER_URL$get_path"
                TARGET_PID=$SERVER_PID
                run_wrk "get_base_r$r" "$SERVER_URL$get_path" get.lua
                stop_pid "$SERVER_PID"
                start_server "big-$r" "$BIG_DB" "$BIG_FLEET"
                BIG_PID=$SERVER_PID
                WRK_TOKEN=$SERVER_TOKEN
            fi
            start_nginx "$OUT/nginx/www"
            TARGET_PID=$(pgrep -P "$NGINX_PID" | head -1)
            run_wrk "get_nginx_r$r" "$NGINX_URL$get_path" get.lua
            stop_pid "$NGINX_PID"; NGINX_PID=""
            warm_wrk "$SERVER_URL$get_path"
            TARGET_PID=$BIG_PID
            run_wrk "get_r$r" "$SERVER_URL$get_path" get.lua
        done
    fi

    if wants list; then
        # A deep page: walk 10 pages of 1000 (10,000 rows), keep the token.
        token=""
        for _ in $(seq 10); do
            token=$(api GET "$LIST_PATH?page_size=1000${token:+&page_token=$token}" \
                | python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["next_page_token"], safe=""))') \
                || die "list walk failed"
            [[ -n $token ]] || die "list walk ended early: fewer than 10,000 rows?"
        done
        for url in "$LIST_PATH?page_size=50" "$LIST_PATH?page_size=50&page_token=$token"; do
            n=$(api GET "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["remediations"]))')
            [[ $n == 50 ]] || die "list page returned $n rows, not 50: $url"
        done
        warm_wrk "$SERVER_URL$LIST_PATH?page_size=50"
        TARGET_PID=$BIG_PID
        run_wrk list_first "$SERVER_URL$LIST_PATH?page_size=50" get.lua
        run_wrk list_deep "$SERVER_URL$LIST_PATH?page_size=50&page_token=$token" get.lua
    fi
    if wants metrics; then
        # One scraper at a time, as Prometheus scrapes: the latency is the cost of a scrape.
        # /healthz on the same connection settings is the floor (HTTP and wrk alone).
        curl -sS "$SERVER_URL/metrics" >"$OUT/metrics.txt"
        if command -v promtool >/dev/null; then
            promtool check metrics <"$OUT/metrics.txt" || die "promtool rejects /metrics"
        fi
        TARGET_PID=$BIG_PID
        THREADS_SAVED=$THREADS CONNS_SAVED=$CONNS
        THREADS=1 CONNS=1
        run_wrk healthz_1conn "$SERVER_URL/healthz" get.lua
        run_wrk metrics_1conn "$SERVER_URL/metrics" get.lua
        THREADS=$THREADS_SAVED CONNS=$CONNS_SAVED
        # The server's own time per scrape, from its request histogram.
        per_scrape=$(curl -sS "$SERVER_URL/metrics" | python3 -c '
import re, sys
text = sys.stdin.read()
def val(kind):
    m = re.search(r"noderepair_http_request_duration_seconds_%s\{[^}]*route=\"/metrics\"[^}]*\} (\S+)" % kind, text)
    return float(m.group(1))
print(round(val("sum") / val("count") * 1000, 4))')
        metric metrics_server_ms_per_scrape "$per_scrape" ms
    fi
    if wants create; then
        # Durable creates against the big store (issue 10: 150,000 instances, 1,000,000 stored),
        # on instances without an active remediation (the seeder's 10 per mille have one).
        TARGET_PID=$BIG_PID
        CREATE_NEXT_OFFSET=0
        export BENCH_CREATE_SKIP=10
        run_wrk create_big "$SERVER_URL" create.lua big- "$BIG_INSTANCES" "$BIG_INSTANCES" \
            "$THREADS" 0
        unset BENCH_CREATE_SKIP
    fi
    metric rss_after_bench_mb "$(( $(rss_kb "$BIG_PID" VmRSS) / 1024 ))" MB
    metric hwm_after_bench_mb "$(( $(rss_kb "$BIG_PID" VmHWM) / 1024 ))" MB
    t0=$(now_ns)
    stop_pid "$BIG_PID"
    metric shutdown_s "$(python3 -c "print(round(($(now_ns) - $t0) / 1e9, 3))")" s
fi

# ---------------------------------------------------------------- first import of the big fleet
# The fleet file into an empty database: the start-up a new installation sees (issue 10).
if wants import; then
    IMPORT_FLEET=$DATA/big-fleet.json
    if [[ ! -f $IMPORT_FLEET ]]; then
        record python3 "$ROOT/bench/gen_fleet.py" --clusters 1 \
            --instances-per-cluster "$BIG_INSTANCES" --prefix big- --out "$IMPORT_FLEET"
        python3 "$ROOT/bench/gen_fleet.py" --clusters 1 --instances-per-cluster "$BIG_INSTANCES" \
            --prefix big- --out "$IMPORT_FLEET"
    fi
    rm -f "$DATA/import.db" "$DATA/import.db-wal" "$DATA/import.db-shm"
    start_server import "$DATA/import.db" "$IMPORT_FLEET"
    metric startup_first_import_s "$STARTUP_S" s
    metric hwm_first_import_mb "$(( $(rss_kb "$SERVER_PID" VmHWM) / 1024 ))" MB
    metric rss_first_import_mb "$(( $(rss_kb "$SERVER_PID" VmRSS) / 1024 ))" MB
    stop_pid "$SERVER_PID"
    # The second start finds every instance stored: the import changes nothing.
    start_server import-again "$DATA/import.db" "$IMPORT_FLEET"
    metric startup_fleet_known_s "$STARTUP_S" s
    stop_pid "$SERVER_PID"
    rm -f "$DATA/import.db" "$DATA/import.db-wal" "$DATA/import.db-shm"
fi

# ---------------------------------------------------------------- durable creates
if wants create; then
    CREATE_FLEET=$DATA/create-fleet.json
    clusters=$(( (CREATE_INSTANCES + CREATE_PER_CLUSTER - 1) / CREATE_PER_CLUSTER ))
    record python3 "$ROOT/bench/gen_fleet.py" --clusters "$clusters" \
        --instances-per-cluster "$CREATE_PER_CLUSTER" --prefix cr- --out "$CREATE_FLEET"
    python3 "$ROOT/bench/gen_fleet.py" --clusters "$clusters" \
        --instances-per-cluster "$CREATE_PER_CLUSTER" --prefix cr- --out "$CREATE_FLEET"
    total=$(( clusters * CREATE_PER_CLUSTER ))
    pool=$(( total - 1 ))  # the last instance is kept for the pre-check below
    printf 'storage:\n  max_batch: 1\n' >"$DATA/fsync1.yaml"

    for variant in group fsync1; do
        config=""
        [[ $variant == fsync1 ]] && config=$DATA/fsync1.yaml
        start_server "create-$variant" "$DATA/create-$variant.db" "$CREATE_FLEET" "$config"
        metric "startup_create_${variant}_s" "$STARTUP_S" s
        WRK_TOKEN=$SERVER_TOKEN
        last=$(printf 'cr-i-%07d' $(( total - 1 )))
        api POST "/v1/compute/clusters/cr-c$(( clusters - 1 ))/instances/$last/remediations" \
            '{"mode":"REMEDIATION_MODE_VM_ONLY","reason":"pre-check"}' >/dev/null \
            || die "create pre-check failed on create-$variant"
        TARGET_PID=$SERVER_PID
        CREATE_NEXT_OFFSET=0
        run_wrk "create_$variant" "$SERVER_URL" create.lua cr- "$pool" "$CREATE_PER_CLUSTER" \
            "$THREADS" 0
        t0=$(now_ns)
        stop_pid "$SERVER_PID"
        metric "shutdown_create_${variant}_s" "$(python3 -c "print(round(($(now_ns) - $t0) / 1e9, 3))")" s
        # Every acknowledged create must be stored (best effort: the table name is the store's).
        if command -v sqlite3 >/dev/null; then
            rows=$(sqlite3 "$DATA/create-$variant.db" 'select count(*) from remediations' 2>/dev/null || echo -1)
            metric "create_${variant}_rows_stored" "$rows" rows
        fi
    done
fi

# ------------------------------------------- durable creates beside blocked provider calls
# The same create run twice on one fleet whose simulated calls block their caller for
# BLOCKED_CALL_MS (timing.blocking): once with BLOCKED_CALLS power cycles stuck in such calls
# (engine.max_parallel = BLOCKED_CALLS, so the engine takes nothing else), once with the engine
# paused. Provider calls run outside every transaction: the creates must not notice.
if wants blocked; then
    BLOCKED_FLEET=$DATA/blocked-fleet.json
    blocked_total=$(( BLOCKED_CLUSTERS * 10000 ))
    record python3 "$ROOT/bench/gen_fleet.py" --clusters "$BLOCKED_CLUSTERS" \
        --instances-per-cluster 10000 --prefix cr- --out "$BLOCKED_FLEET" \
        "(then timing: every operation BLOCKED_CALL_MS, blocking)"
    python3 "$ROOT/bench/gen_fleet.py" --clusters "$BLOCKED_CLUSTERS" --instances-per-cluster 10000 \
        --prefix cr- --out "$BLOCKED_FLEET"
    python3 -c 'import json, sys
path, ms = sys.argv[1], int(sys.argv[2])
fleet = json.load(open(path))
ops = ("cordon", "drain", "delete_vm", "provision_vm", "boot", "reboot", "power_cycle")
fleet["timing"] = {op: ms for op in ops}
fleet["timing"]["blocking"] = True
json.dump(fleet, open(path, "w"))' "$BLOCKED_FLEET" "$BLOCKED_CALL_MS"
    printf 'engine:\n  max_parallel: %d\n' "$BLOCKED_CALLS" >"$DATA/blocked.yaml"
    for variant in ${BLOCKED_ORDER:-blocked unblocked}; do
        start_server "create-$variant" "$DATA/create-$variant.db" "$BLOCKED_FLEET" "$DATA/blocked.yaml"
        WRK_TOKEN=$SERVER_TOKEN
        if [[ $variant == blocked ]]; then
            # Power cycles of the last instances, each stuck in a BLOCKED_CALL_MS call per step.
            for k in $(seq 0 $(( BLOCKED_CALLS - 1 ))); do
                api POST "/v1/compute/clusters/cr-c$(( BLOCKED_CLUSTERS - 1 ))/instances/$(printf 'cr-i-%07d' $(( blocked_total - 1 - k )))/remediations" \
                    '{"mode":"REMEDIATION_MODE_HOST_POWER_CYCLE","reason":"blocked"}' >/dev/null \
                    || die "power cycle create failed"
            done
            api POST /v1/engine:resume >/dev/null
            busy=0
            for _ in $(seq 500); do
                busy=$(sqlite3 "$DATA/create-$variant.db" "select count(*) from remediations where state in (3, 4, 5)")
                [[ $busy -ge $BLOCKED_CALLS ]] && break
                sleep 0.02
            done
            metric blocked_calls_in_flight "$busy" remediations
        fi
        TARGET_PID=$SERVER_PID
        CREATE_NEXT_OFFSET=0
        run_wrk "create_$variant" "$SERVER_URL" create.lua cr- $(( blocked_total - BLOCKED_CALLS )) \
            10000 "$THREADS" 0
        if [[ $variant == blocked ]]; then
            still=$(sqlite3 "$DATA/create-$variant.db" "select count(*) from remediations where state in (3, 4, 5)")
            metric blocked_calls_still_in_flight_after "$still" remediations
        fi
        stop_pid "$SERVER_PID"
    done
fi

# ---------------------------------------------------------------- alert ingest
# bench/ingest_profile.sh: 100,000 alerts in 100-alert webhooks, every automation rule on, its
# own server each time; INGEST_BASE_BIN adds a reference binary, alternated with ours.
if wants ingest; then
    for r in $(seq 1 "$INGEST_REPEATS"); do
        for which in ours ${INGEST_BASE_BIN:+base}; do
            bin=$BIN
            [[ $which == base ]] && bin=$INGEST_BASE_BIN
            record bash "$ROOT/bench/ingest_profile.sh" "$bin"
            rate=$(bash "$ROOT/bench/ingest_profile.sh" "$bin" | tail -1 \
                | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts_per_s"])') \
                || die "ingest run failed"
            metric "ingest_${which}_alerts_per_s_$r" "$rate" "alerts/s"
            log "ingest ($which, try $r): $rate alerts/s"
        done
    done
fi

metric total_run_s "$(python3 -c "print(round(($(now_ns) - $BENCH_START) / 1e9, 1))")" s
python3 "$ROOT/bench/report.py" "$OUT" | tee "$OUT/report.md"
log "raw output in $OUT"

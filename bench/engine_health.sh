#!/usr/bin/env bash
# Engine and health-signal benchmarks (issues 3 and 4), on the real binary, 127.0.0.1 only:
#   1. remediations carried PENDING -> SUCCEEDED per second with zero simulated latency;
#   2. 10,000 remediations in flight waiting on a 60 s provision: memory and CPU while waiting;
#   3. alert ingest in 100-alert webhook payloads, each acknowledged after commit;
#   4. a storm of 10,000 alerts over 1,000 instances: remediations created vs the blast radius.
# Usage: bench/engine_health.sh [build/noderepair]   (prints a Markdown table)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/noderepair}
work=$(mktemp -d /tmp/noderepair-bench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# shellcheck source=bench/server.sh
. "$here/server.sh"

create() {  # port token count mode
    node - "$@" <<'JS'
const [port, token, n, mode] = process.argv.slice(2);
const H = {authorization: `Bearer ${token}`, 'content-type': 'application/json'};
let next = 0;
async function worker() { while (next < Number(n)) { const i = next++;
  const id = 'i-' + String(i).padStart(7, '0');
  const r = await fetch(`http://127.0.0.1:${port}/v1/compute/clusters/c0/instances/${id}/remediations`,
    {method: 'POST', headers: H, body: JSON.stringify({mode})});
  if (r.status !== 200) { console.error(r.status, await r.text()); process.exit(1); } await r.arrayBuffer(); } }
await Promise.all(Array.from({length: 32}, worker));
JS
}

count_state() { sqlite3 "$work/$1.db" "select count(*) from remediations where state = $2"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "| benchmark | figure | target |"
echo "|---|---:|---|"

# 1. Throughput at zero latency.
python3 "$here/gen_fleet.py" --clusters 1 --instances-per-cluster 5000 --gpus-per-instance 8 \
    --out "$work/f5k.json" 2>/dev/null
printf 'engine:\n  max_parallel: 2000\n' >"$work/thr.yaml"
start_server thr "$work/f5k.json" "$work/thr.yaml"
create "$port" "$token" 5000 REMEDIATION_MODE_REBOOT_VM
t0=$(date +%s.%N)
curl -sf -XPOST -H "Authorization: Bearer $token" "127.0.0.1:$port/v1/engine:resume" >/dev/null
until [ "$(count_state thr 6)" -ge 5000 ]; do sleep 0.05; done
t1=$(date +%s.%N)
rate=$(echo "5000 / ($t1 - $t0)" | bc -l)
printf '| REBOOT_VM remediations PENDING->SUCCEEDED, zero latency, 5,000 | %.0f /s | >= 2,000 /s |\n' "$rate"
kill "$pid"; wait "$pid" 2>/dev/null || true

# 2. 10,000 in flight on a 60 s provision.
python3 "$here/gen_fleet.py" --clusters 1 --instances-per-cluster 10000 --gpus-per-instance 4 \
    --instances-per-host 1 --spare-hosts 10000 --out "$work/f10k.json" 2>/dev/null
python3 - "$work/f10k.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1])); f["timing"] = {"provision_vm": 60000}; json.dump(f, open(sys.argv[1], "w"))
PY
printf 'engine:\n  max_parallel: 10000\n' >"$work/inf.yaml"
start_server inf "$work/f10k.json" "$work/inf.yaml"
create "$port" "$token" 10000 REMEDIATION_MODE_VM_ONLY
curl -sf -XPOST -H "Authorization: Bearer $token" "127.0.0.1:$port/v1/engine:resume" >/dev/null
until [ "$(count_state inf 5)" -ge 10000 ]; do sleep 0.2; done
sleep 3  # every job has reached its provision wait
a=$(cpu_ticks "$pid"); sleep 20; b=$(cpu_ticks "$pid")
rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
printf '| 10,000 in flight, 60 s provision: resident memory | %d MB | <= 200 MB |\n' "$rss"
printf '| 10,000 in flight, 60 s provision: CPU while waiting | %.1f %% of a core | <= 10 %% |\n' \
    "$(echo "($b - $a) / 20" | bc -l)"
kill "$pid"; wait "$pid" 2>/dev/null || true

# 3 and 4. Alert ingest and the storm, on a 1,000-instance cluster with the default 10 %.
python3 "$here/gen_fleet.py" --clusters 1 --instances-per-cluster 1000 --out "$work/f1k.json" \
    2>/dev/null
printf 'automation:\n  max_active_fraction: 0.10\n' >"$work/al.yaml"
start_server storm "$work/f1k.json" "$work/al.yaml"
storm=$(node "$here/alert_load.mjs" "$port" "$token" 100 100 16 1000)
created=$(sqlite3 "$work/storm.db" "select count(*) from remediations")
printf '| storm: 10,000 alerts over 1,000 instances | %s s, %d remediations created | exactly 100 (10 %% of 1,000) |\n' \
    "$(echo "$storm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')" "$created"
kill "$pid"; wait "$pid" 2>/dev/null || true
start_server ingest "$work/f1k.json" "$work/al.yaml"
ingest=$(node "$here/alert_load.mjs" "$port" "$token" 1000 100 16 1000)
printf '| alert ingest, 100-alert payloads, 16 connections, 100,000 alerts | %s alerts/s | >= 50,000 /s |\n' \
    "$(echo "$ingest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts_per_s"])')"

#!/usr/bin/env bash
# Fleet intelligence under a storm (docs/http-api.md 11), on the real binary, 127.0.0.1 only:
#   1. 10,000 alerts over 1,000 instances in 100 racks (10 hosts each) with the host fault
#      ledger, suspect-host counting, the rack limit and incident detection on: remediations
#      created vs the limits (the rack limit of 1 binds: exactly 100, one per rack);
#   2. alert ingest (100,000 alerts in 100-alert payloads, 16 connections) with all of that on
#      and with it off, alternated in one run: the rate ratio (target >= 0.8). The ledger has no
#      knob (every counted signal is recorded); with BASE_BIN set to a binary built before it
#      (e.g. main's), that binary's rate is measured too, as the true "off".
# Usage: [BASE_BIN=…] bench/policy_storm.sh [build/noderepair] [repeats]   (a Markdown table)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/noderepair}
repeats=${2:-2}
work=$(mktemp -d /tmp/noderepair-policy-bench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# shellcheck source=bench/server.sh
. "$here/server.sh"

python3 "$here/gen_fleet.py" --clusters 1 --instances-per-cluster 1000 --out "$work/racks.json" \
    2>/dev/null
python3 - "$work/racks.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
for k, h in enumerate(sorted(f["hosts"], key=lambda h: h["host_name"])):
    h["rack"] = "r%03d" % min(k // 10, 99)  # 100 racks of 10 hosts (spare hosts in the last)
json.dump(f, open(sys.argv[1], "w"))
PY
# On: every knob counts; the thresholds sit above what the storm reaches, so the limits under
# test are the cluster's (500) and the rack's (1): exactly 100 remediations.
cat >"$work/on.yaml" <<'YAML'
automation:
  max_active_fraction: 0.50
  max_active_per_rack: 1
  suspect_host_faults: 1000000
  suspect_host_instances: 1000000
  incident_threshold: 1000000
YAML
printf 'automation:\n  max_active_fraction: 0.50\n  ladder: []\n' >"$work/off.yaml"
printf 'automation:\n  max_active_fraction: 0.50\n' >"$work/base.yaml"
modes="off on"
[ -n "${BASE_BIN:-}" ] && modes="base off on"

echo "| benchmark | figure | target |"
echo "|---|---:|---|"

start_server storm "$work/racks.json" "$work/on.yaml"
storm=$(node "$here/alert_load.mjs" "$port" "$token" 100 100 16 1000)
created=$(sqlite3 "$work/storm.db" "select count(*) from remediations")
racks=$(sqlite3 "$work/storm.db" "select count(distinct h.rack) from remediations r join instances i on i.instance_id = r.instance_id join hosts h on h.host_name = i.host_name")
ledger=$(sqlite3 "$work/storm.db" "select count(*) from host_faults")
printf '| storm, all on: 10,000 alerts over 1,000 instances in 100 racks | %s s, %d created in %d racks, %d ledger rows | exactly 100, one per rack |\n' \
    "$(echo "$storm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')" \
    "$created" "$racks" "$ledger"
kill "$pid"; wait "$pid" 2>/dev/null || true

for r in $(seq 1 "$repeats"); do
    for mode in $modes; do
        binary=$bin
        [ "$mode" = base ] && binary=$BASE_BIN
        start_server "ingest-$mode-$r" "$work/racks.json" "$work/$mode.yaml" "$binary"
        out=$(node "$here/alert_load.mjs" "$port" "$token" 1000 100 16 1000)
        rate=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["alerts_per_s"])')
        eval "rate_${mode}_$r=$rate"
        printf '| ingest %s, try %d: 100,000 alerts, 100-alert payloads, 16 connections | %s alerts/s | |\n' \
            "$mode" "$r" "$rate"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done
sum_on=0; sum_off=0; sum_base=0
for r in $(seq 1 "$repeats"); do
    eval "sum_on=\$((sum_on + rate_on_$r)); sum_off=\$((sum_off + rate_off_$r))"
    [ -n "${BASE_BIN:-}" ] && eval "sum_base=\$((sum_base + rate_base_$r))"
done
printf '| ingest rate, all on / knobs off (sums over %d tries each) | %.2f | >= 0.80 |\n' \
    "$repeats" "$(echo "$sum_on / $sum_off" | bc -l)"
if [ -n "${BASE_BIN:-}" ]; then
    printf '| ingest rate, all on / the binary before the ledger (sums over %d tries each) | %.2f | >= 0.80 |\n' \
        "$repeats" "$(echo "$sum_on / $sum_base" | bc -l)"
fi

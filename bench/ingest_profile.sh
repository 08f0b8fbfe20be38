#!/usr/bin/env bash
# Alert ingest alone (part 3 of engine_health.sh, request logs off), optionally under perf:
#   [INGEST_RULES=all|fraction] [INGEST_AGAIN=1] bench/ingest_profile.sh [build/noderepair]
#       [perf|perf-writer]
# 100,000 alerts over 1,000 instances (100 racks of 10 hosts) in 100-alert payloads on 16
# connections; prints as JSON the rate, the server's and its writer thread's CPU per alert, the
# bytes the server wrote per alert, the load average and the active remediations left (the
# blast radius: exactly 100); with "perf", records 4 s of the server into $work/perf.data and
# keeps $work (perf-writer: 6 s of the writer thread, DWARF call graphs; perf report
# --children --sort sym). INGEST_RULES=all (the
# default, issue 10's target) turns every automation rule on (the 10 % blast radius, the rack
# limit, suspect hosts, incidents, the ladder); "fraction" is the blast radius alone, as the
# runs before 2026-12-06 20:40Z measured. INGEST_AGAIN=1 sends the same storm once before the
# measured one, so every measured alert is a repeat of a known one (Alertmanager sends a group's
# every alert again with each notification).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../build/noderepair}")
work=$(mktemp -d /tmp/noderepair-ingest-XXXXXX)
python3 "$here/gen_fleet.py" --clusters 1 --instances-per-cluster 1000 --out "$work/f1k.json" \
    2>/dev/null
python3 - "$work/f1k.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
for k, h in enumerate(sorted(f["hosts"], key=lambda h: h["host_name"])):
    h["rack"] = "r%03d" % min(k // 10, 99)  # 100 racks of 10 hosts (spare hosts in the last)
json.dump(f, open(sys.argv[1], "w"))
PY
if [[ ${INGEST_RULES:-all} == all ]]; then
    # Every rule counts; the thresholds sit above what the load reaches, so the blast radius
    # (100 of 1,000) is the limit that binds, as with the blast radius alone.
    printf 'automation:\n  max_active_fraction: 0.10\n  max_active_per_rack: 10\n  suspect_host_faults: 1000000\n  suspect_host_instances: 1000000\n  incident_threshold: 1000000\nlog:\n  requests: false\n' >"$work/al.yaml"
else
    printf 'automation:\n  max_active_fraction: 0.10\nlog:\n  requests: false\n' >"$work/al.yaml"
fi
"$bin" serve --listen 127.0.0.1:0 --db "sqlite:$work/ing.db" --fleet "$work/f1k.json" \
    --config "$work/al.yaml" --engine-paused >"$work/out.txt" 2>"$work/err.txt" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/out.txt" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out.txt")
token=$(sed -n 's/.*admin token: \(.*\)/\1/p' "$work/out.txt")
if [[ ${INGEST_AGAIN:-0} == 1 ]]; then
    node "$here/alert_load.mjs" "$port" "$token" 1000 100 16 1000 >/dev/null
fi
if [[ ${2:-} == perf ]]; then
    perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep 4 >/dev/null 2>&1 &
    sleep 0.3
elif [[ ${2:-} == perf-writer ]]; then
    # The writer thread alone, with DWARF call graphs (ingest is bound by the one writer).
    tid=$(grep -l nr-store-write /proc/"$pid"/task/*/comm | cut -d/ -f5)
    perf record -F 999 --call-graph dwarf,16384 -t "$tid" -o "$work/perf.data" -- sleep 6 \
        >/dev/null 2>&1 &
    sleep 0.3
fi
# CPU seconds (user+system) of the whole server and of its writer thread, from /proc.
cpu_of() { awk '{ print $14 + $15 }' "$1" 2>/dev/null || echo 0; }
writer_stat() {
    for t in /proc/"$pid"/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == nr-store-write ]] && echo "$t/stat" && return
    done
    echo /dev/null
}
wstat=$(writer_stat)
# Bytes the server wrote (/proc/PID/io wchar): mostly WAL frames, one per page a commit dirtied.
wchar() { awk '/^wchar/ { print $2 }' "/proc/$pid/io"; }
cpu0=$(cpu_of "/proc/$pid/stat") wcpu0=$(cpu_of "$wstat") io0=$(wchar)
load=$(node "$here/alert_load.mjs" "$port" "$token" 1000 100 16 1000)
cpu1=$(cpu_of "/proc/$pid/stat") wcpu1=$(cpu_of "$wstat") io1=$(wchar)
# The rate, and the CPU per alert (less sensitive to a shared machine than the rate).
kill "$pid"
wait "$pid" 2>/dev/null || true
# active_remediations: the blast radius must hold exactly (100 of 1,000) after the storm.
python3 - "$load" "$cpu0" "$cpu1" "$wcpu0" "$wcpu1" "$(getconf CLK_TCK)" "$work/ing.db" \
    "$io0" "$io1" <<'PY'
import json, os, sqlite3, sys
r = json.loads(sys.argv[1]); hz = float(sys.argv[6])
c0, c1, w0, w1 = (float(x) / hz for x in sys.argv[2:6])
r["server_cpu_us_per_alert"] = round((c1 - c0) * 1e6 / r["alerts"], 1)
r["writer_cpu_us_per_alert"] = round((w1 - w0) * 1e6 / r["alerts"], 1)
r["server_written_bytes_per_alert"] = round((int(sys.argv[9]) - int(sys.argv[8])) / r["alerts"])
r["load_average"] = os.getloadavg()[0]
db = sqlite3.connect(sys.argv[7])
r["active_remediations"] = db.execute(
    "SELECT count(*) FROM remediations WHERE state NOT IN (6, 7, 8, 9)").fetchone()[0]
print(json.dumps(r))
PY
if [[ ${2:-} == perf* ]]; then
    wait
    echo "perf data: $work/perf.data (perf report -i $work/perf.data --no-children --sort sym)"
else
    rm -rf "$work"
fi

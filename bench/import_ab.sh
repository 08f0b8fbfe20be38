#!/usr/bin/env bash
# The first import of a fleet file into an empty database, for each binary given in turn:
# seconds from exec to "listening on", the CPU time used by then and VmHWM (issue 10).
#   bench/import_ab.sh FLEET.json BINARY... (e.g. /tmp/before build/noderepair, repeated)
# FLEET.json: python3 bench/gen_fleet.py --clusters 1 --instances-per-cluster 150000 \
#                 --prefix big- --out /tmp/big.json
set -euo pipefail
fleet=$1
shift
work=$(mktemp -d /tmp/noderepair-import-XXXXXX)
trap 'rm -rf "$work"' EXIT
for bin in "$@"; do
    rm -f "$work"/imp.db* "$work/out.txt"
    t0=$(date +%s%N)
    "$bin" serve --listen 127.0.0.1:0 --db "sqlite:$work/imp.db" --fleet "$fleet" \
        --engine-paused >"$work/out.txt" 2>&1 &
    pid=$!
    until grep -q 'listening on' "$work/out.txt"; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/out.txt" >&2; exit 1; }
        sleep 0.01
    done
    t1=$(date +%s%N)
    cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$pid/stat")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$bin first_import_s=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)" \
        "cpu_s=$cpu hwm_mb=$((hwm / 1024)) load=$(cut -d' ' -f1 /proc/loadavg)"
done

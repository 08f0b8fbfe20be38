#!/bin/bash
# Alert ingest alone (part 3 of engine_health.sh, request logs off), optionally under perf:
#   bench/ingest_profile.sh build/noderepair [perf]   (perf.data in /tmp/ing)
# usage: run.sh BIN [perf]
mkdir -p /tmp/ing && cd /tmp/ing; rm -f ing.db*
[ -f f1k.json ] || python3 /work/main/bench/gen_fleet.py --clusters 1 --instances-per-cluster 1000 --out f1k.json 2>/dev/null
printf 'automation:\n  max_active_fraction: 0.10\nlog:\n  requests: false\n' > al.yaml
$1 serve --listen 127.0.0.1:18095 --db sqlite:./ing.db --fleet f1k.json --config al.yaml --engine-paused > out.txt 2> err.txt &
PID=$!
for i in $(seq 100); do grep -q "listening" out.txt && break; sleep 0.1; done
T=$(sed -n 's/.*admin token: //p' out.txt)
if [ -n "$2" ]; then (perf record -F 999 -g -p $PID -o perf.data -- sleep 4 > /dev/null 2>&1 &); sleep 0.3; fi
node /work/main/bench/alert_load.mjs 18095 "$T" 1000 100 16 1000
kill $PID; wait $PID 2>/dev/null

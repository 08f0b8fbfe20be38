#!/bin/bash
# A power-cycle remediation's own overhead, RUNS times (default 3): the HOST_POWER_CYCLE test of
# tests/slurm.test.mjs against real slurmctld/slurmd/ipmi_sim, then power_cycle_overhead.py on
# what it wrote. Needs a build (build/noderepair) and `cd tests && npm ci`.
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd); OUT=$(mktemp -d /tmp/noderepair-pcycle-XXXXXX)
for i in $(seq 1 "${RUNS:-3}"); do
  (cd "$B/../tests" && BENCH_OUT="$OUT/run$i.json" node --test \
    --test-name-pattern="HOST_POWER_CYCLE of a node" slurm.test.mjs >"$OUT/run$i.log" 2>&1) ||
    { echo "run $i failed: $OUT/run$i.log" >&2; exit 1; }
done
python3 "$B/power_cycle_overhead.py" "$OUT"/run*.json

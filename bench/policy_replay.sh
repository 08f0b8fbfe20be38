#!/usr/bin/env bash
# Policy replay of a long signal history (docs/http-api.md 11: 1,000,000 stored signals within
# 30 s). Makes a SQLite database (the server migrates it and imports the fleet), writes the
# signal history straight into it with sqlite3 (alerts and their occurrences, spread over
# REPLAY_DAYS), then times `noderepair policy replay` on it and checks that it wrote nothing.
#
#   bash bench/policy_replay.sh
#   REPLAY_SIGNALS=100000 bash bench/policy_replay.sh     # a smaller history
#   REPLAY_ARGS="--threads 1" bash bench/policy_replay.sh  # more arguments for the replay
#
# Needs build/noderepair, python3 and sqlite3. Everything is made in a temporary directory and
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${NODEREPAIR_BIN:-build/noderepair}
SIGNALS=${REPLAY_SIGNALS:-1000000}
CLUSTERS=${REPLAY_CLUSTERS:-10}
PER_CLUSTER=${REPLAY_INSTANCES_PER_CLUSTER:-1000}
DAYS=${REPLAY_DAYS:-30}
INSTANCES=$((CLUSTERS * PER_CLUSTER))

work=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

python3 bench/gen_fleet.py --clusters "$CLUSTERS" --instances-per-cluster "$PER_CLUSTER" \
    --out "$work/fleet.json"
"$BIN" serve --listen 127.0.0.1:0 --db "sqlite:$work/replay.db" --fleet "$work/fleet.json" \
    --engine-paused >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    grep -q "listening on" "$work/serve.log" && break
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || true
pid=""

# Signal k: instance (k * 7919) mod INSTANCES, spread evenly over DAYS, resolved 10 minutes
# later. Six in ten are warnings (no mode), the rest REBOOT_VM, VM_ONLY and HOST_AWARE faults.
start=$(sqlite3 "$work/replay.db" "SELECT CAST(strftime('%s','now') AS INTEGER) * 1000000 - $DAYS * 86400000000")
step=$((DAYS * 86400000000 / SIGNALS))
gen_started=$(date +%s.%N)
sqlite3 "$work/replay.db" <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
CREATE TEMP TABLE gen AS
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < $SIGNALS)
SELECT k,
       (k * 7919) % $INSTANCES AS inst,
       $start + k * $step AS t,
       CASE k % 10 WHEN 6 THEN 'NpdKernelDeadlock' WHEN 7 THEN 'GpuEccDoubleBitError'
                   WHEN 8 THEN 'NpdReadonlyFilesystem' WHEN 9 THEN 'DmesgGpuFallenOffBus'
                   ELSE 'KubeNodeDiskPressure' END AS name,
       CASE k % 10 WHEN 6 THEN 4 WHEN 7 THEN 4 WHEN 8 THEN 1 WHEN 9 THEN 2 ELSE NULL END AS mode
FROM n;
INSERT INTO alerts(id, fingerprint, alert_name, cluster_id, instance_id, target_vm, severity,
                   labels, annotations, started_at, resolved_at, remediation_id, waiting)
SELECT 'a-' || k, 'fp-' || k, name, 'c' || (inst / $PER_CLUSTER), printf('i-%07d', inst),
       printf('gpu-%07d', inst), CASE WHEN mode IS NULL THEN 2 ELSE 3 END,
       '{"alertname":"' || name || '","instance_id":"' || printf('i-%07d', inst) || '"}', '{}',
       t, t + 600000000, NULL, 0
FROM gen;
INSERT INTO signal_occurrences(time, cluster_id, instance_id, signal, mode, alert_id, run_id)
SELECT t, 'c' || (inst / $PER_CLUSTER), printf('i-%07d', inst), name, mode, 'a-' || k, NULL
FROM gen ORDER BY k;
COMMIT;
SQL
gen_done=$(date +%s.%N)
echo "history: $SIGNALS signals over $DAYS days, $INSTANCES instances in $CLUSTERS clusters" \
    "(written in $(python3 -c "print(round($gen_done - $gen_started, 1))") s)"

cat >"$work/new.yaml" <<'YAML'
automation:
  cooldown_s: 1800
  max_active_fraction: 0.05
YAML
before=$(sqlite3 "$work/replay.db" .dump | sha256sum)
echo "command: noderepair policy replay --db sqlite:DB --config new.yaml"
${REPLAY_WRAP:-} /usr/bin/time -f "wall %e s, user %U s, sys %S s, max RSS %M KiB" \
    "$BIN" policy replay --db "sqlite:$work/replay.db" --config "$work/new.yaml" ${REPLAY_ARGS:-}
after=$(sqlite3 "$work/replay.db" .dump | sha256sum)
if [[ "$before" != "$after" ]]; then
    echo "FAIL: the database changed" >&2
    exit 1
fi
echo "database unchanged (sqlite3 .dump sha256 equal before and after)"

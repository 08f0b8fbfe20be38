#!/bin/bash
# The Slurm watcher's cost on a 1,000-node cluster (docs/http-api.md 8): a slurm.conf declaring
# 1,000 nodes, 4 of them with a slurmd (the rest never registered: DOWN, as a big cluster's
# spares), and noderepair serving a 1,000-instance fleet of them twice in the same run: first
# without a workload manager (the idle server, the baseline), then with workload.manager: slurm
# (the watcher). CPU of the server and its reaped scontrol children from /proc/PID/stat
# (utime+stime+cutime+cstime) over SECONDS_MEASURED (default 30) after a 5 s settle.
# Usage: bench/slurm_watch.sh   (POLL_S=5 by default, as workload.poll_s)
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd); BIN=${NODEREPAIR_BIN:-$B/../build/noderepair}
N=1000; SECS=${SECONDS_MEASURED:-30}; POLL=${POLL_S:-5}
D=$(mktemp -d /tmp/noderepair-watch-XXXXXX); chmod 755 "$D"
BP=$((20000 + RANDOM % 127 * 100)); PORT=$((BP + 99))  # below the ephemeral ports (32768+)
cleanup() { [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
  "$B/../lab/slurm-cluster.sh" stop "$D/slurm" >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT
EXTERNAL_NODES="$(for i in $(seq 5 $N); do printf 'node%02d ' "$i"; done)" \
  "$B/../lab/slurm-cluster.sh" start "$D/slurm" "$N" "$BP" munge >/dev/null
export SLURM_CONF=$D/slurm/slurm.conf
python3 - "$D/fleet.json" "$N" <<'PY'
import json, sys
n = int(sys.argv[2])
names = ["node%02d" % i for i in range(1, n + 1)]
json.dump({"hosts": [{"host_name": "h-" + x, "gpu_slots": 8} for x in names],
           "clusters": [{"cluster_id": "big", "instances": [
               {"instance_id": "i-" + x, "instance_name": x, "num_gpus": 8, "host": "h-" + x}
               for x in names]}]}, open(sys.argv[1], "w"))
PY
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
measure() {  # $1: workload manager; prints the server's cores over SECS
  cat > "$D/config.yaml" <<EOC
workload: {manager: $1, slurm_conf: "$SLURM_CONF", poll_s: $POLL}
EOC
  rm -f "$D"/nr.db*
  "$BIN" serve --listen "127.0.0.1:$PORT" --db "sqlite:$D/nr.db" --fleet "$D/fleet.json" \
    --config "$D/config.yaml" >"$D/serve-$1.log" 2>&1 & SRV=$!
  for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 5
  local a b ctl_a ctl_b; a=$(ticks $SRV); ctl_a=$(ticks "$(cat "$D/slurm/run/slurmctld.pid")")
  sleep "$SECS"
  b=$(ticks $SRV); ctl_b=$(ticks "$(cat "$D/slurm/run/slurmctld.pid")")
  kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=
  grep -h 'slurm_watcher' "$D/serve-$1.log" >&2 || true
  python3 -c "print(f'{($b-$a)/$hz/$SECS*100:.2f} {($ctl_b-$ctl_a)/$hz/$SECS*100:.2f}')"
}
one=$( { /usr/bin/time -f '%e s wall, %U+%S s user+sys' scontrol show node -o | wc -c; } 2>&1 | paste -sd' ')
read -r base ctl_base < <(measure none)
read -r watch ctl_watch < <(measure slurm)
echo "1,000 nodes (4 with a slurmd); one 'scontrol show node -o': $one bytes/time"
echo "idle server (workload.manager: none):            $base % of a core (slurmctld $ctl_base %)"
echo "server + watcher (slurm, poll_s $POLL), children in: $watch % of a core (slurmctld $ctl_watch %)"
python3 -c "print(f'watcher share: {$watch - $base:.2f} % of a core over ${SECS} s')"
# scontrol's own cost per listing by the slurm.conf it reads (the controller is the same): the
# cluster's (one NodeName line a node), the watcher's client copy (no NodeName/PartitionName
# lines), and the same 1,000 nodes declared as ranges, as sites write them.
grep -viE '^[[:space:]]*(NodeName|PartitionName|NodeSet|DownNodes)=' "$SLURM_CONF" > "$D/client.conf"
{ grep -viE '^[[:space:]]*NodeName=' "$SLURM_CONF"
  sed -n '/^NodeName=node01 /{s/^NodeName=node01 /NodeName=node[01-99] /;s/ Port=[0-9]*//;p}' "$SLURM_CONF"
  sed -n '/^NodeName=node01 /{s/^NodeName=node01 /NodeName=node[100-1000] /;s/ Port=[0-9]*//;p}' "$SLURM_CONF"
} > "$D/ranges.conf"
for conf in "$SLURM_CONF" "$D/client.conf" "$D/ranges.conf"; do
  n=$(SLURM_CONF=$conf scontrol show node -o | grep -c '^NodeName=')
  t=$( { /usr/bin/time -f '%U %S' bash -c "for i in \$(seq 20); do SLURM_CONF=$conf scontrol show node -o >/dev/null; done"; } 2>&1 | tail -1)
  python3 -c "u, s = map(float, '$t'.split()); print(f'20 x scontrol show node -o with {\"$(basename "$conf")\":<14} ({$n} nodes listed): {u:.2f}+{s:.2f} s CPU, {(u + s) / 20 * 1000:.1f} ms a call')"
done

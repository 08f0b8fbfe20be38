#!/bin/bash
# `make lab`: a private Slurm cluster of 4 nodes on 127.0.0.1, one ipmi_sim BMC per host whose
# "host" is that node's slurmd, a fleet file and config for them, and noderepair serving
# against it with the rule SlurmNodeUnavailable: HOST_POWER_CYCLE. Ctrl-C stops everything.
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd); BIN=${NODEREPAIR_BIN:-$B/../build/noderepair}
D=$(mktemp -d /tmp/noderepair-lab-XXXXXX); chmod 755 "$D"
PORT=${LAB_PORT:-8080}; BP=${LAB_SLURM_PORT:-17100}; NODES="node01 node02 node03 node04"
cleanup() {
  trap - INT TERM EXIT
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  for n in $NODES; do "$B/ipmi-bmc.sh" stop "$D/bmc-$n" || true; done
  "$B/slurm-cluster.sh" stop "$D/slurm" || true
  echo "lab stopped; its files are in $D"
}
trap cleanup INT TERM EXIT
GPUS=2 EXTERNAL_NODES="$NODES" SLURMD_TIMEOUT=3 "$B/slurm-cluster.sh" start "$D/slurm" 4 "$BP" munge >/dev/null
export SLURM_CONF=$D/slurm/slurm.conf
hosts=""; insts=""; k=0
for n in $NODES; do k=$((k+1)); port=$((BP+50+k))
  HOST_CMD="slurmd -D -N $n -f $SLURM_CONF" "$B/ipmi-bmc.sh" start "$D/bmc-$n" "$port" admin secret
  echo secret > "$D/bmc-$n.password"; chmod 600 "$D/bmc-$n.password"
  hosts="$hosts${hosts:+,}{\"host_name\":\"host-$n\",\"gpu_slots\":2,\"bmc\":{\"address\":\"127.0.0.1:$port\",\"username\":\"admin\",\"password_file\":\"$D/bmc-$n.password\"}}"
  insts="$insts${insts:+,}{\"instance_id\":\"i-$n\",\"instance_name\":\"$n\",\"num_gpus\":2,\"host\":\"host-$n\"}"
done
echo "{\"hosts\":[$hosts],\"clusters\":[{\"cluster_id\":\"lab\",\"workload\":{\"manager\":\"slurm\",\"slurm_conf\":\"$SLURM_CONF\"},\"instances\":[$insts]}]}" > "$D/fleet.json"
cat > "$D/config.yaml" <<EOC
power: {driver: ipmi, timeout_s: 2, poll_s: 2, boot_timeout_s: 120}
workload: {manager: slurm, slurm_conf: "$SLURM_CONF", poll_s: 2, drain_timeout_s: 600}
automation: {rules: {SlurmNodeUnavailable: HOST_POWER_CYCLE}, max_active_fraction: 1.0}
EOC
for i in $(seq 1 100); do [ "$(sinfo -h -N -t idle -o %N | wc -l)" = 4 ] && break; sleep 0.1; done
cat <<EOM
Lab in $D: Slurm nodes $(sinfo -h -N -o '%N=%t' | paste -sd' ')
  export SLURM_CONF=$SLURM_CONF
Break a node, then watch the console (http://127.0.0.1:$PORT/) or \`noderepair list\`:
  kill a slurmd:      kill \$(cat $D/bmc-node02/host.pid)    (DOWN in ~10 s -> SlurmNodeUnavailable)
  take a GPU away:    the node's gres.conf line in $D/slurm/gres.conf, then power-cycle it
  raise an Xid alert: curl -X POST -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$PORT/v1/integrations/alertmanager \\
                        -d '{"alerts":[{"status":"firing","labels":{"alertname":"DmesgXidError","node":"node03","xid":"79"}}]}'
  BMC logs:           $D/bmc-*/chassis.log; Slurm logs: $D/slurm/log/
Ctrl-C stops noderepair, the BMCs and the cluster.
EOM
"$BIN" serve --listen "127.0.0.1:$PORT" --db "sqlite:$D/noderepair.db" --fleet "$D/fleet.json" --config "$D/config.yaml" &
SERVER=$!
wait "$SERVER"

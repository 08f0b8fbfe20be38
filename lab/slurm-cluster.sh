#!/bin/bash
# Usage: slurm-cluster.sh start DIR [NODES=4] [BASEPORT=16800] [AUTH=munge|none]
#        slurm-cluster.sh stop  DIR
# A private Slurm cluster on 127.0.0.1 for the tests and `make lab`: munged (AUTH=munge),
# slurmctld and NODES slurmd (node01, ...; several slurmd on one machine), each in the
# foreground (-D) as a background child with its pid under DIR/run; prints
# "export SLURM_CONF=...". Environment:
#   GPUS=N              every node has fake gpu:N GRES (plain files under DIR/dev)
#   FEWER_GPUS="node03" those nodes' slurmd find one GPU file less than configured
#   EXTERNAL_NODES="node02"  those nodes' slurmd are left to someone else (a BMC's "host")
#   SLURMD_TIMEOUT=S    how soon a silent slurmd makes its node DOWN (default 10)
set -euo pipefail
cmd=$1; D=$(realpath -m "$2")
stop() {
  for f in "$D"/run/*.pid; do [ -e "$f" ] || continue
    p=$(cat "$f"); kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 1 30); do alive=0
    for f in "$D"/run/*.pid; do [ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1; done
  for f in "$D"/run/*.pid; do [ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
N=${3:-4}; BP=${4:-16800}; AUTH=${5:-munge}; ME=$(id -un)
mkdir -p "$D"/{run,state,log,munge,spool}; chmod 755 "$D/munge"
if [ "$AUTH" = munge ]; then
  [ -f "$D/munge/key" ] || { head -c 1024 /dev/urandom > "$D/munge/key"; chmod 400 "$D/munge/key"; }
  munged -F -S "$D/munge/sock" --key-file="$D/munge/key" --pid-file="$D/munge/munged.pid" \
    --log-file="$D/log/munged.log" --seed-file="$D/munge/seed" >"$D/log/munged.out" 2>&1 &
  echo $! > "$D/run/munged.pid"
  for i in $(seq 1 50); do [ -S "$D/munge/sock" ] && break; sleep 0.05; done
  AUTHCONF="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/sock"
else
  AUTHCONF="AuthType=auth/none
CredType=cred/none"
fi
cat > "$D/slurm.conf" <<EOF
ClusterName=test
SlurmctldHost=localhost
SlurmctldPort=$BP
SlurmUser=$ME
SlurmdUser=$ME
$AUTHCONF
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=${SLURMD_TIMEOUT:-10}
MessageTimeout=5
KillWait=2
MinJobAge=10
SlurmdParameters=config_overrides
PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
GRESOPT=""
if [ -n "${GPUS:-}" ]; then  # fake GPUs: gres.conf File= points at plain files
  echo "GresTypes=gpu" >> "$D/slurm.conf"; mkdir -p "$D/dev"; echo "AutoDetect=off" > "$D/gres.conf"
  for g in $(seq 0 $((GPUS-1))); do touch "$D/dev/nvidia$g"; done
  GRESOPT="Gres=gpu:$GPUS"
  for i in $(seq 1 "$N"); do n=$(printf 'node%02d' "$i"); last=$((GPUS-1))
    case " ${FEWER_GPUS:-} " in *" $n "*) last=$((GPUS-2));; esac
    files="$D/dev/nvidia[0-$last]"; [ "$last" -le 0 ] && files="$D/dev/nvidia0"
    echo "NodeName=$n Name=gpu File=$files" >> "$D/gres.conf"; done; fi
for i in $(seq 1 "$N"); do n=$(printf 'node%02d' "$i")
  echo "NodeName=$n NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((BP+i)) CPUs=1 RealMemory=100 $GRESOPT State=UNKNOWN" >> "$D/slurm.conf"
  mkdir -p "$D/spool/$n"; done
export SLURM_CONF="$D/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$D/log/slurmctld.out" 2>&1 & echo $! > "$D/run/slurmctld.pid"
NEXT=0
for i in $(seq 1 "$N"); do n=$(printf 'node%02d' "$i")
  case " ${EXTERNAL_NODES:-} " in *" $n "*) NEXT=$((NEXT+1)); continue;; esac  # slurmd run by e.g. a simulated BMC
  slurmd -D -N "$n" -f "$SLURM_CONF" >"$D/log/slurmd-$n.out" 2>&1 & echo $! > "$D/run/slurmd-$n.pid"; done
for i in $(seq 1 150); do
  [ "$(sinfo -h -N -t idle -o '%N %t' 2>/dev/null | grep -vc '\*$' || true)" = "$((N-NEXT))" ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.1; done
echo "cluster did not reach idle; see $D/log" >&2; stop; exit 1

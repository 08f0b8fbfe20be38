#!/bin/bash
# Usage: ipmi-bmc.sh start DIR PORT [USER=admin] [PASS=secret]
#        ipmi-bmc.sh stop  DIR
# One simulated BMC (ipmi_sim) on 127.0.0.1:PORT/udp. Chassis power is
# delegated to DIR/chassis.sh, which runs DIR/host.sh as the "host":
# power on == host.sh alive. Every transition is appended to DIR/power.log,
# every BMC request to DIR/chassis.log.
set -euo pipefail
cmd=$1; D=$(realpath -m "$2")
if [ "$cmd" = stop ]; then
  [ -f "$D/sim.pid" ] && kill -TERM -- "-$(cat "$D/sim.pid")" 2>/dev/null || true   # sim + its process group
  [ -f "$D/host.pid" ] && kill -TERM "$(cat "$D/host.pid")" 2>/dev/null || true
  rm -f "$D/sim.pid" "$D/host.pid"; exit 0
fi
PORT=$3; U=${4:-admin}; P=${5:-secret}
mkdir -p "$D/state"
{ echo '#!/bin/sh'; echo 'echo "$(date +%s.%N) POWER_ON pid=$$" >> "$1"'
  [ -n "${HOST_CMD:-}" ] && echo "exec $HOST_CMD"; } > "$D/host.sh"   # HOST_CMD: e.g. a slurmd
cat >> "$D/host.sh" <<'EOF'
sleep 1000000 & c=$!
trap 'echo "$(date +%s.%N) POWER_OFF pid=$$" >> "$1"; kill $c; exit 0' TERM INT
wait $c
EOF
cat > "$D/chassis.sh" <<'EOF'
#!/bin/sh
# called by ipmi_sim: chassis.sh DIR get power|boot ... / set power 0|1 reset 1 shutdown 1 boot X
D=$1; op=$2; shift 2
echo "$(date +%s.%N) $op $*" >> "$D/chassis.log"
alive() { [ -f "$D/host.pid" ] && kill -0 "$(cat "$D/host.pid")" 2>/dev/null; }
on()  { alive || { "$D/host.sh" "$D/power.log" </dev/null >/dev/null 2>&1 & echo $! > "$D/host.pid"; }; }
off() { alive && kill -TERM "$(cat "$D/host.pid")"; rm -f "$D/host.pid"; }
case $op in
get) for p in "$@"; do case $p in
       power) alive && echo "power:1" || echo "power:0";;
       boot)  echo "boot:default";;
       *) echo "unsupported $p"; exit 1;; esac; done;;
set) while [ $# -ge 2 ]; do case $1 in
       power) if [ "$2" = 1 ]; then on; else off; fi;;
       reset) off; on;;
       shutdown) off;;
       boot) ;;
       *) echo "unsupported $1"; exit 1;; esac; shift 2; done;;
esac
EOF
chmod +x "$D/host.sh" "$D/chassis.sh"
cat > "$D/lan.conf" <<EOF
name "bmc$PORT"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $PORT
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid $(printf '%032x' "$PORT")
  endlan
  chassis_control "$D/chassis.sh $D"
  user 2 true "$U" "$P" admin 10 none md2 md5 straight
EOF
cat > "$D/sim.emu" <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
EOF
"$D/chassis.sh" "$D" set power 1          # host starts powered on
setsid ipmi_sim -c "$D/lan.conf" -f "$D/sim.emu" -s "$D/state" -n >"$D/sim.out" 2>&1 </dev/null &
echo $! > "$D/sim.pid"                      # setsid execs in place: pid == pgid
for i in $(seq 1 100); do
  ipmitool -I lanplus -H 127.0.0.1 -p "$PORT" -U "$U" -P "$P" -C 3 -R 1 -N 1 chassis power status >/dev/null 2>&1 && exit 0
  sleep 0.05; done
echo "ipmi_sim on port $PORT not answering; see $D/sim.out" >&2; exit 1

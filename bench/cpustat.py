#!/usr/bin/env python3
"""Where the machine's CPU went during one benchmark run, from /proc (stdlib only).

  cpustat.py snap PID          -> one JSON snapshot on stdout
  cpustat.py diff BEFORE AFTER WRK_USER_SYS REQUESTS
                               -> JSON: cores used by PID (server), by wrk, by kernel threads
                                  (I/O, journaling), by interrupts, and by every other process
                                  (a build or tests running meanwhile), plus server CPU per request

"Other" is what is left of the machine's busy time, so processes that came and went during the
run (compilers, test servers) are counted too.
"""

import json
import os
import sys
import time


def ticks_of(stat_text):
    fields = stat_text[stat_text.rindex(")") + 2:].split()
    # After "pid (comm) ": state ppid ... utime is field 14 of the line, stime 15.
    return int(fields[1]), int(fields[11]) + int(fields[12])


def snap(pid):
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (cpu + [0] * 8)[:8]
    kthreads = 0
    server = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid, ticks = ticks_of(f.read())
        except (OSError, ValueError):
            continue
        if entry == str(pid):
            server = ticks
        elif entry == "2" or ppid == 2:
            kthreads += ticks
    return {
        "t": time.monotonic(),
        "total": user + nice + system + idle + iowait + irq + softirq + steal,
        "busy": user + nice + system + irq + softirq,
        "irq": irq + softirq,
        "server": server,
        "kthreads": kthreads,
    }


def diff(before, after, wrk_cpu, requests):
    b, a = json.loads(before), json.loads(after)
    tck = os.sysconf("SC_CLK_TCK")
    wall = max(a["t"] - b["t"], 1e-6)
    ncpu = os.cpu_count() or 1

    def cores(key):
        return (a[key] - b[key]) / tck / wall

    # /proc/stat's jiffies are per CPU; scale the busy share to cores.
    busy = (a["busy"] - b["busy"]) / max(a["total"] - b["total"], 1) * ncpu
    server, kthreads, irq = cores("server"), cores("kthreads"), cores("irq")
    wrk = sum(float(x) for x in wrk_cpu.split()) / wall
    other = max(busy - server - wrk - kthreads - irq, 0.0)
    return {
        "server_cpu": round(server, 2),
        "wrk_cpu": round(wrk, 2),
        "kernel_cpu": round(kthreads + irq, 2),
        "other_cpu": round(other, 2),
        "server_us_per_req": round((a["server"] - b["server"]) / tck / max(int(requests), 1)
                                   * 1e6, 1),
    }


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        print(json.dumps(snap(sys.argv[2])))
    elif len(sys.argv) == 6 and sys.argv[1] == "diff":
        print(json.dumps(diff(*sys.argv[2:])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

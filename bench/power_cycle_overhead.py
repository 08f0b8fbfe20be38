#!/usr/bin/env python3
"""A power-cycle remediation's own overhead (docs/http-api.md 8): its time from create to
SUCCEEDED less what Slurm and the BMC took, from the JSON the HOST_POWER_CYCLE test of
tests/slurm.test.mjs writes with BENCH_OUT set (its timeline, slurmctld's and slurmd's logs, the
BMC's chassis log). Usage: power_cycle_overhead.py RUN.json..."""
import json
import re
import sys
from datetime import datetime, timezone


def rfc3339(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def slurm_times(log, pattern):
    # Slurm's log stamps are local time with milliseconds; the lab runs in the machine's zone.
    out = []
    for m in re.finditer(r"^\[(\S+)\] (.*)$", log, re.M):
        if re.search(pattern, m.group(2)):
            out.append(datetime.fromisoformat(m.group(1)).astimezone(timezone.utc).timestamp())
    return out


def one(path):
    run = json.load(open(path))
    rid = run["remediation"]["id"]
    ev = run["events"]
    created = rfc3339(ev[0]["time"])
    succeeded = next(rfc3339(e["time"]) for e in ev if e.get("state") == "SUCCEEDED")
    ctl = run["slurmctld_log"]
    drain_set = slurm_times(ctl, rf"reason set to: noderepair {rid}")[0]
    job_done = slurm_times(ctl, rf"_job_complete: JobId={run['job']} done")[0]
    sets = [(float(l.split()[0]), l.split()[-1]) for l in run["bmc_log"].splitlines() if " set power " in l]
    power_off = next(t for t, v in sets if v == "0")
    power_on = next(t for t, v in sets if v == "1" and t > power_off)
    slurmd_started = [t for t in slurm_times(run["slurmd_log"], r"slurmd started") if t > power_on][0]
    resumed = [t for t in slurm_times(ctl, r"node node02 state set to IDLE") if t > power_on][0]
    responding = [t for t in slurm_times(ctl, r"Node node02 now responding") if t > power_on]
    usable = max([resumed] + responding)  # Slurm cleared a NOT_RESPONDING left by the cycle
    external = {
        "job runs, Slurm drains (drain sent -> job done)": job_done - drain_set,
        "BMC cycle (set power 0 -> set power 1)": power_on - power_off,
        "host boots (power on -> slurmd started)": slurmd_started - power_on,
        "Slurm marks it usable (resume -> responding)": usable - resumed,
    }
    ours = {
        "create -> drain sent": drain_set - created,
        "job done -> power off sent": power_off - job_done,
        "slurmd started -> resume sent (wait_ready)": resumed - slurmd_started,
        "usable -> SUCCEEDED (rejoin, uncordon)": succeeded - usable,
    }
    total = succeeded - created
    return total, external, ours, total - sum(external.values())


def main():
    overheads = []
    for path in sys.argv[1:]:
        total, external, ours, overhead = one(path)
        overheads.append(overhead)
        print(f"{path}: create -> SUCCEEDED {total * 1000:.0f} ms; overhead {overhead * 1000:.0f} ms")
        for k, v in external.items():
            print(f"  Slurm/BMC  {k}: {v * 1000:.0f} ms")
        for k, v in ours.items():
            print(f"  ours       {k}: {v * 1000:.0f} ms")
    if overheads:
        print(f"overhead: max {max(overheads) * 1000:.0f} ms, min {min(overheads) * 1000:.0f} ms over {len(overheads)} runs")


if __name__ == "__main__":
    main()

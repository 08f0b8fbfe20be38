#!/usr/bin/env python3
"""Writes a simulated fleet file (docs/http-api.md 6) of any size for the benchmarks.

Names are a pure function of the index, so the wrk scripts and the seeding tool can compute
them without reading the file:
  cluster k  -> "<prefix>c<k>"           (k = 0 .. clusters-1)
  instance n -> "<prefix>i-<n:07d>"     (n = 0 .. clusters*instances_per_cluster-1,
                                          instance n is in cluster n // instances_per_cluster)
  its name   -> "<prefix>gpu-<n:07d>"
  host h     -> "<prefix>h-<h:07d>"     (instance n is placed on host n // instances_per_host)

Example: python3 bench/gen_fleet.py --clusters 1 --instances-per-cluster 100000 --out big.json
Standard library only.
"""

import argparse
import json
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clusters", type=int, default=1)
    p.add_argument("--instances-per-cluster", type=int, default=1000)
    p.add_argument("--gpus-per-instance", type=int, default=8)
    p.add_argument("--instances-per-host", type=int, default=1,
                   help="instances placed on each host (host slots = this x gpus)")
    p.add_argument("--spare-hosts", type=int, default=-1,
                   help="empty hosts added for re-provisioning (default: 1%% of hosts, min 1)")
    p.add_argument("--prefix", default="", help="prefix of every cluster, instance and host name")
    p.add_argument("--out", default="-", help="output file (default: stdout)")
    a = p.parse_args()
    if a.clusters < 1 or a.instances_per_cluster < 1 or a.instances_per_host < 1:
        p.error("counts must be positive")

    total = a.clusters * a.instances_per_cluster
    used_hosts = (total + a.instances_per_host - 1) // a.instances_per_host
    spare = a.spare_hosts if a.spare_hosts >= 0 else max(1, used_hosts // 100)
    slots = a.instances_per_host * a.gpus_per_instance
    pre = a.prefix

    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    # Streamed by hand: a 1M-instance fleet would take seconds and gigabytes through json.dump.
    w = out.write
    w('{"clusters":[')
    n = 0
    for k in range(a.clusters):
        if k:
            w(",")
        w('{"cluster_id":%s,"cluster_name":%s,"instances":[' % (
            json.dumps(f"{pre}c{k}"), json.dumps(f"{pre}bench cluster {k}")))
        parts = []
        for _ in range(a.instances_per_cluster):
            parts.append('{"instance_id":"%si-%07d","instance_name":"%sgpu-%07d",'
                         '"num_gpus":%d,"host":"%sh-%07d"}'
                         % (pre, n, pre, n, a.gpus_per_instance, pre, n // a.instances_per_host))
            n += 1
        w(",".join(parts))
        w("]}")
    w('],"hosts":[')
    w(",".join('{"host_name":"%sh-%07d","gpu_slots":%d}' % (pre, h, slots)
               for h in range(used_hosts + spare)))
    w('],"timing":{}}\n')
    if out is not sys.stdout:
        out.close()
    print(f"gen_fleet: {a.clusters} clusters, {total} instances, {used_hosts + spare} hosts"
          f" -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

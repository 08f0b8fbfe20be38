#!/usr/bin/env python3
"""Turns one bench/run.sh output folder into a Markdown report: machine, results table,
targets met or missed, and the exact commands. Usage: bench/report.py OUT_DIR"""

import json
import pathlib
import sys

# name -> (what, reference run for the ratio)
WRK_ROWS = [
    ("get_nginx", "GET one remediation, nginx reference (1 worker, same bytes)", None),
    ("get", "GET one remediation", "get_nginx"),
    ("list_first", "List page_size=50, first page (1M in cluster)", None),
    ("list_deep", "List page_size=50, after 10,000 rows (page_token)", None),
    ("healthz_1conn", "GET /healthz, one connection (floor for a scrape)", None),
    ("metrics_1conn", "GET /metrics, one connection (100k instances, 1M remediations)",
     "healthz_1conn"),
    ("create_group", "Durable create, group commit (default)", "create_fsync1"),
    ("create_fsync1", "Durable create, storage.max_batch: 1 (fsync per request)", None),
    ("create_big", "Durable create on the seeded store (big=)", "create_fsync1"),
    ("create_blocked", "Durable create beside 50 provider calls blocked 5 s each",
     "create_unblocked"),
    ("create_unblocked", "Durable create, same fleet, engine paused (no calls)", None),
]


def load(out: pathlib.Path):
    wrk, scalars = {}, {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if "rps" in rec:
            wrk[rec["name"]] = rec
        else:
            scalars[rec["name"]] = rec
    return wrk, scalars


def targets(wrk, scalars):
    """(target, measured, met) for each target of the brief; met is None when not measured."""
    rows = []

    def rps(name):
        return wrk[name]["rps"] if name in wrk else None

    def p99(name):
        return wrk[name]["p99_ms"] if name in wrk else None

    def add(text, value, fmt, ok):
        rows.append((text, "-" if value is None else fmt.format(value),
                     None if value is None else ok(value)))

    ratio = rps("get") / rps("get_nginx") if rps("get") and rps("get_nginx") else None
    add("GET: >= 60% of nginx req/s", ratio, "{:.0%}", lambda v: v >= 0.60)
    add("GET: p99 <= 5 ms", p99("get"), "{:.2f} ms", lambda v: v <= 5)
    # Issue 10: the median over the rounds (GET_REPEATS) of ours / nginx within each round.
    ratios = sorted(wrk[o]["rps"] / wrk[n]["rps"] for o, n in
                    [("get", "get_nginx")] + [(f"get_r{k}", f"get_nginx_r{k}") for k in range(2, 20)]
                    if o in wrk and n in wrk and wrk[n]["rps"] > 0)
    if len(ratios) > 1:
        add(f"GET: >= 0.7x nginx, median of {len(ratios)} rounds", ratios[len(ratios) // 2],
            "{:.2f}x", lambda v: v >= 0.7)
    add("Create (group commit): >= 10,000/s", rps("create_group"), "{:,.0f}/s",
        lambda v: v >= 10000)
    ratio = (rps("create_group") / rps("create_fsync1")
             if rps("create_group") and rps("create_fsync1") else None)
    add("Create: >= 3x the fsync-per-request rate", ratio, "{:.1f}x", lambda v: v >= 3)
    add("Create (group commit): p99 <= 20 ms", p99("create_group"), "{:.2f} ms",
        lambda v: v <= 20)
    ratio = (rps("create_blocked") / rps("create_unblocked")
             if rps("create_blocked") and rps("create_unblocked") else None)
    add("Create on the seeded store (big=): >= 12,000/s", rps("create_big"),
        "{:,.0f}/s", lambda v: v >= 12000)
    ratio = (rps("create_big") / rps("create_fsync1")
             if rps("create_big") and rps("create_fsync1") else None)
    add("Create on the big store: >= 3x the fsync-per-request rate", ratio, "{:.1f}x",
        lambda v: v >= 3)
    add("Create beside 50 blocked provider calls: >= 0.9x creates/s without", ratio, "{:.2f}x",
        lambda v: v >= 0.9)
    ratio = (p99("create_blocked") / p99("create_unblocked")
             if p99("create_blocked") and p99("create_unblocked") else None)
    add("Create beside 50 blocked provider calls: p99 <= 2x without", ratio, "{:.2f}x",
        lambda v: v <= 2)
    for name, label in (("list_first", "first page"), ("list_deep", "deep page")):
        add(f"List {label}: >= 5,000 req/s", rps(name), "{:,.0f}/s", lambda v: v >= 5000)
        add(f"List {label}: p99 <= 20 ms", p99(name), "{:.2f} ms", lambda v: v <= 20)
    scrape = scalars.get("metrics_server_ms_per_scrape", {}).get("value")
    add("/metrics with 100k instances: < 1 ms per scrape (server time)", scrape, "{:.3f} ms",
        lambda v: v < 1)
    add("/metrics with 100k instances: < 1 ms p99 round trip", p99("metrics_1conn"),
        "{:.3f} ms", lambda v: v < 1)
    start = scalars.get("startup_s", {}).get("value")
    add("Start-up with the big fleet + 1M remediations <= 3 s", start, "{:.2f} s",
        lambda v: v <= 3)
    start = scalars.get("startup_first_import_s", {}).get("value")
    add("Start-up importing the big fleet into an empty db <= 3 s", start, "{:.2f} s",
        lambda v: v <= 3)
    hwm = scalars.get("hwm_first_import_mb", {}).get("value")
    add("Peak resident memory (VmHWM) of that first import <= 300 MB", hwm, "{} MB",
        lambda v: v <= 300)
    rates = sorted(rec["value"] for name, rec in scalars.items()
                   if name.startswith("ingest_ours_alerts_per_s_"))
    median = rates[len(rates) // 2] if rates else None
    add("Alert ingest, every automation rule on (median of the tries) >= 50,000/s", median,
        "{:,.0f}/s", lambda v: v >= 50000)
    hwm = scalars.get("hwm_after_bench_mb", {}).get("value")
    add("Peak resident memory (VmHWM) after the list benchmark <= 300 MB", hwm, "{} MB",
        lambda v: v <= 300)
    return rows


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    wrk, scalars = load(out)
    p = print
    p("## Machine\n")
    p("```")
    p((out / "machine.txt").read_text().rstrip())
    p("```\n")
    p("## Results\n")
    p("| benchmark | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | vs reference "
      "| server CPU (cores) | server CPU µs/req | wrk CPU | kernel CPU | other CPU | tries |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    problems = []
    for name, what, ref in WRK_ROWS:
        r = wrk.get(name)
        if r is None:
            continue
        vs = "-"
        if ref and ref in wrk and wrk[ref]["rps"] > 0:
            vs = f"{r['rps'] / wrk[ref]['rps']:.2f}x {ref}"
        errors = r["socket_errors"] + r["timeouts"]
        p(f"| {what} (`{name}`) | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
          f"{r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['non2xx']} | {errors} | {vs} | "
          f"{r.get('server_cpu', '-')} | {r.get('server_us_per_req', '-')} | "
          f"{r.get('wrk_cpu', '-')} | {r.get('kernel_cpu', '-')} | {r.get('other_cpu', '-')} | "
          f"{r.get('attempts', 1)} |")
        if r.get("other_cpu", 0) > 0.25:
            problems.append(f"`{name}`: other processes used {r['other_cpu']} cores during the run"
                            " (a build or tests?): its figures are perturbed")
        if r["non2xx"] or errors:
            problems.append(f"`{name}`: {r['non2xx']} non-2xx replies, {errors} socket errors or"
                            " timeouts: its figures are not valid")
        if r.get("pool_wrapped"):
            problems.append(f"`{name}`: the instance pool ran out ({r['pool_wrapped']} requests"
                            " reused an instance): raise CREATE_INSTANCES")
    named = {name for name, _, _ in WRK_ROWS}
    for name, r in wrk.items():
        if name in named:
            continue
        # The repeated rounds (GET_REPEATS, GET_BASE_BIN): get_r2, get_nginx_r2, get_base_r2...
        p(f"| repeat (`{name}`) | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
          f"{r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['non2xx']} | "
          f"{r['socket_errors'] + r['timeouts']} | - | {r.get('server_cpu', '-')} | "
          f"{r.get('server_us_per_req', '-')} | {r.get('wrk_cpu', '-')} | "
          f"{r.get('kernel_cpu', '-')} | {r.get('other_cpu', '-')} | {r.get('attempts', 1)} |")
    p("")
    p("CPU columns: cores used during the run (2 = the whole machine) by the measured server "
      "(for `get_nginx`, its one worker), by wrk, by kernel threads and interrupts (I/O, "
      "loopback), and by every other process (builds, tests). Tries: a run disturbed by other "
      "processes is repeated; the last try is shown.\n")
    if scalars:
        p("| measure | value |")
        p("|---|---:|")
        for name, rec in scalars.items():
            p(f"| {name} | {rec['value']} {rec['unit']} |")
        p("")
    for name in ("create_group", "create_fsync1", "create_blocked", "create_unblocked"):
        stored = scalars.get(f"{name}_rows_stored", {}).get("value")
        if name in wrk and stored is not None and stored >= 0:
            acked = wrk[name]["requests"] - wrk[name]["non2xx"] + 1  # + the pre-check create
            if stored < acked:
                problems.append(f"`{name}`: {acked} creates acknowledged but {stored} stored")
    idle = scalars.get("idle_server_cpu_cores", {}).get("value")
    if idle is not None and idle > 0.05:
        problems.append(f"the idle server (no client, engine paused) used {idle} cores: "
                        "a busy-wait loop?")
    p("## Targets\n")
    p("| target | measured | met |")
    p("|---|---:|---|")
    for text, value, met in targets(wrk, scalars):
        p(f"| {text} | {value} | {'-' if met is None else ('yes' if met else '**NO**')} |")
    p("")
    if problems:
        p("## Problems in this run\n")
        for line in problems:
            p(f"- {line}")
        p("")
    p("## Commands\n")
    p("```")
    p((out / "commands.txt").read_text().rstrip())
    p("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())

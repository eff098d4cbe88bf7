"""DP vs MILP on ``trajectory-assoc``, side by side in one run (markdown table on stdout).

Usage::

    python benchmarks/bench_trajectory.py [--suite paper] [--repeat 5] [--threads 1]

For every (M, NB) configuration of the suite, each instance is solved by the
exact DP (Viterbi, best of ``--repeat`` runs), by the DP restricted to
Algorithm 1's policy class (``dp-alg1``, best of ``--repeat``) and by the
Pyomo + HiGHS MILP (one run; model build included, reported separately); the
table shows median times, the MILP / DP ratio, the largest |DP - MILP| value
difference, the MILP's branch-and-bound nodes and the mean cost of Alg. 1's
rule ((DP - DP-Alg1) / |DP|). Instance generation is not timed.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import defaultdict

from mmopt.registry import get_problem, get_solver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="paper")
    ap.add_argument("--repeat", type=int, default=5, help="DP runs per instance (best kept)")
    ap.add_argument("--threads", type=int, default=1, help="HiGHS threads")
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    args = ap.parse_args()

    prob = get_problem("trajectory-assoc")
    dp, milp = get_solver("dp", prob.name), get_solver("milp", prob.name)
    dp1 = get_solver("dp-alg1", prob.name)
    count = prob.suite(args.suite).count if args.limit is None else min(args.limit, prob.suite(args.suite).count)
    rows = defaultdict(lambda: defaultdict(list))
    for i in range(count):
        inst = prob.generate(args.suite, i).readonly()
        M, NB = inst["rate"].shape
        t_dp = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            s1, st1 = dp.solve(inst)
            t_dp.append(time.perf_counter() - t0)
        t_dp1 = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            _, st1a = dp1.solve(inst)
            t_dp1.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s2, st2 = milp.solve(inst, threads=args.threads)
        t_milp = time.perf_counter() - t0
        v1, v2 = prob.objective(inst, s1), prob.objective(inst, s2)
        r = rows[(M, NB)]
        r["dp"].append(min(t_dp))
        r["dp1"].append(min(t_dp1))
        r["rule"].append((v1 - st1a["value"]) / max(abs(v1), 1e-9))
        r["milp"].append(t_milp)
        r["build"].append(st2["build_seconds"])
        r["diff"].append(abs(v1 - v2))
        r["nodes"].append(st2["nodes"] or 0)
        r["opt"].append(st2["status"] == "opt")

    print(f"`trajectory-assoc`, suite `{args.suite}`: DP vs MILP (HiGHS {args.threads} thread(s), "
          f"mip_rel_gap = 0), {platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| M | NB | instances | DP median (ms) | DP-Alg1 median (ms) | MILP median (s) | of which model build (s) "
          "| MILP / DP | max abs(DP - MILP) | MILP nodes (max) | MILP proven opt | rule gap (mean) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (M, NB), r in sorted(rows.items(), key=lambda kv: (kv[0][1] != 10, kv[0])):
        dpm, mim = statistics.median(r["dp"]), statistics.median(r["milp"])
        print(f"| {M} | {NB} | {len(r['dp'])} | {dpm * 1e3:.2f} | {statistics.median(r['dp1']) * 1e3:.2f} "
              f"| {mim:.2f} | {statistics.median(r['build']):.2f} "
              f"| {mim / dpm:,.0f}x | {max(r['diff']):.1e} | {max(r['nodes'])} | "
              f"{sum(r['opt'])}/{len(r['opt'])} | {100 * statistics.mean(r['rule']):.1f} % |")


if __name__ == "__main__":
    main()

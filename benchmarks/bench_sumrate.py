"""bnb vs exhaustive on ``sumrate-bs-beam``, side by side in one run (markdown tables on stdout).

Usage::

    python benchmarks/bench_sumrate.py [--suite paper] [--repeat 3] [--limit N]

Instance generation of the suite is timed first (all instances, or the first
``--limit``). Then every instance is solved by ``bnb`` (best of ``--repeat``
runs); where ``exhaustive`` takes the instance (at most ``--max-choices``
joint choices) it runs once on the same instance and the table shows the
median time ratio exhaustive / bnb and the largest |value difference|. Times
per number of users U: median and max of bnb, the median search nodes, and
the growth of the median per added user.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import defaultdict

import numpy as np

from mmopt.problems.sumrate_bs_beam import gain_table
from mmopt.registry import get_problem
from mmopt.problems.sumrate_bs_beam.solvers.bnb import branch_and_bound
from mmopt.problems.sumrate_bs_beam.solvers.exhaustive import exhaustive_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="paper")
    ap.add_argument("--repeat", type=int, default=3, help="bnb runs per instance (best kept)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    ap.add_argument("--max-choices", type=float, default=70_000, help="exhaustive only up to this many joint choices")
    args = ap.parse_args()

    prob = get_problem("sumrate-bs-beam")
    count = prob.suite(args.suite).count if args.limit is None else min(args.limit, prob.suite(args.suite).count)
    t0 = time.perf_counter()
    insts = [prob.generate(args.suite, i) for i in range(count)]
    t_gen = time.perf_counter() - t0
    print(f"# sumrate-bs-beam, suite {args.suite}: {count} instances generated in {t_gen:.1f} s "
          f"({1e3 * t_gen / count:.1f} ms each); {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}\n")
    rows = defaultdict(lambda: defaultdict(list))
    for inst in insts:
        G = gain_table(inst)
        U, B, C = G.shape
        best = np.inf
        for _ in range(args.repeat):
            res = branch_and_bound(G, inst["n_rf"])
            best = min(best, res["seconds"])
        assert res["status"] == "opt"
        r = rows[(U, B, C)]
        r["bnb"].append(best)
        r["nodes"].append(res["nodes"])
        if (B * C) ** U <= args.max_choices:
            t1 = time.perf_counter()
            _, _, v = exhaustive_search(G, inst["n_rf"])
            r["ex"].append(time.perf_counter() - t1)
            r["diff"].append(abs(v - res["value"]))
    print("| U | B | beams | instances | bnb median (ms) | bnb max (ms) | median nodes | growth of median vs U-1 "
          "| exhaustive / bnb (median) | max abs value diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    prev = None
    for (U, B, C), r in sorted(rows.items()):
        med = statistics.median(r["bnb"])
        growth = f"x{med / prev:.1f}" if prev else "-"
        prev = med
        ratio = (f"{statistics.median(r['ex']) / med:.0f}" if r["ex"] else "n/a (exhaustive declines)")
        diff = f"{max(r['diff']):.1e}" if r["diff"] else "-"
        print(f"| {U} | {B} | {C} | {len(r['bnb'])} | {1e3 * med:.2f} | {1e3 * max(r['bnb']):.2f} | "
              f"{statistics.median(r['nodes']):.0f} | {growth} | {ratio} | {diff} |")


if __name__ == "__main__":
    main()

"""Exhaustive vs branch-and-bound, and CRAB's cost, on ``random-beam-config`` (markdown table on stdout).

Usage::

    python benchmarks/bench_beamconfig.py [--suite small] [--limit N] [--crab-suite paper]

Every instance of ``--suite`` is solved by ``exhaustive`` and ``bnb`` in the
same run (the table shows both times, their ratio and the largest relative
value difference), then CRAB runs on ``--suite`` and ``--crab-suite``
(time, BP iterations, pruned edges, rounds, messages, payload floats);
last, for each ``--c-thr`` threshold, CRAB's mean gaps on ``--crab-suite`` to
the shipped references (configuration drawn from pi, E_pi[T], T at argmax pi).
Instance generation is not timed.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from mmopt.references import load_references
from mmopt.registry import get_problem, get_solver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="small")
    ap.add_argument("--crab-suite", default="paper")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--c-thr", default="0.15,0.05,0.02", help="comma-separated overlap thresholds")
    args = ap.parse_args()
    P = get_problem("random-beam-config")
    ex, bb, crab = (get_solver(n, P.name) for n in ("exhaustive", "bnb", "crab"))
    n = P.suites[args.suite].count if args.limit is None else min(args.limit, P.suites[args.suite].count)
    print(f"# random-beam-config: exhaustive vs bnb on `{args.suite}` ({platform.processor() or platform.machine()})\n")
    print("| instance | G | products | exhaustive s | bnb s | ratio ex/bnb | bnb nodes | max rel diff |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for i in range(n):
        inst = P.generate(args.suite, i)
        t = time.perf_counter(); _, s0 = ex.solve(inst); t0 = time.perf_counter() - t
        t = time.perf_counter(); _, s1 = bb.solve(inst); t1 = time.perf_counter() - t
        d = abs(s0["value"] - s1["value"]) / s0["value"]
        ratios.append(t0 / t1)
        print(f"| {i} | {inst['valid'].shape[0]} | {s0['evaluated']} | {t0:.3f} | {t1:.3f} | {t0 / t1:.2f} | "
              f"{s1['nodes']} | {d:.1e} |")
    print(f"\nmedian ratio exhaustive / bnb: {statistics.median(ratios):.2f}\n")
    print("| suite | instance | G | CRAB s | iterations | pruned | rounds | messages | payload floats |")
    print("|---|---|---|---|---|---|---|---|---|")
    for suite in (args.suite, args.crab_suite):
        m = P.suites[suite].count if args.limit is None else min(args.limit, P.suites[suite].count)
        for i in range(m):
            inst = P.generate(suite, i)
            t = time.perf_counter(); _, st = crab.solve(inst); dt = time.perf_counter() - t
            print(f"| {suite} | {i} | {inst['valid'].shape[0]} | {dt:.3f} | {st['iterations']} | "
                  f"{st['pruned_edges']} | {st['rounds']} | {st['messages']} | {st['payload_floats']} |")

    refs = {r["index"]: r for r in load_references(P.name, args.crab_suite).values()}
    print(f"\n| c_thr | edges | iterations mean (max) | pruned | messages | gap draw | gap E_pi[T] | gap T(argmax) |")
    print("|---|---|---|---|---|---|---|---|")
    m = P.suites[args.crab_suite].count if args.limit is None else min(args.limit, P.suites[args.crab_suite].count)
    insts = [P.generate(args.crab_suite, i) for i in range(m)]
    for c_thr in [float(x) for x in args.c_thr.split(",")]:
        rows = []
        for i, inst in enumerate(insts):
            sol, st = crab.solve(inst, c_thr=c_thr)
            ref = refs[i]["value"]
            rows.append(((ref - P.objective(inst, sol)) / ref, (ref - st["expected_rate"]) / ref,
                         (ref - st["rate_at_argmax"]) / ref, st["iterations"], st["pruned_edges"], st["edges"],
                         st["messages"]))
        a = np.array(rows)
        print(f"| {c_thr} | {a[:, 5].mean():.1f} | {a[:, 3].mean():.1f} ({a[:, 3].max():.0f}) | {a[:, 4].mean():.1f} | "
              f"{a[:, 6].mean():.0f} | {100 * a[:, 0].mean():.1f} % | {100 * a[:, 1].mean():.1f} % | "
              f"{100 * a[:, 2].mean():.1f} % |")


if __name__ == "__main__":
    main()

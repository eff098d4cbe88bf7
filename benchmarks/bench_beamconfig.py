"""Exhaustive vs branch-and-bound, and CRAB's cost, on ``random-beam-config`` (markdown table on stdout).

Usage::

    python benchmarks/bench_beamconfig.py [--suite small] [--limit N] [--crab-suite paper]

Every instance of ``--suite`` is solved by ``exhaustive`` and ``bnb`` in the
same run (the table shows both times, their ratio and the largest relative
value difference), then CRAB runs on ``--suite`` and ``--crab-suite``
(time, BP iterations, pruned edges, rounds, messages, payload floats).
Instance generation is not timed.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

from mmopt.registry import get_problem, get_solver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="small")
    ap.add_argument("--crab-suite", default="paper")
    ap.add_argument("--limit", type=int, default=None)
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


if __name__ == "__main__":
    main()

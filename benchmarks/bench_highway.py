"""Timing of ``highway-sector-beams``: simulation, strategies and oracle side by side (markdown on stdout).

Usage::

    python benchmarks/bench_highway.py [--vehicles 40] [--duration 2000] [--model geometric] [--repeat 1]

One instance of the paper's highway (the authors' layout, ``--vehicles``
vehicles, ``--duration`` seconds, dt = 0.1 s) is built; every timed run
starts from a cold scenario cache, so each strategy's time includes the
mobility expansion and the sector-membership table (T x 18 x N). Also
timed: the problem's own evaluation (check + objective + metrics) and the
oracle bound, for the geometric and (with ``--practical``) the SINR model.
Pin one core with ``taskset -c 0`` for the one-core figure; numpy is
single-threaded here (elementwise work only).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mmopt.api import Instance  # noqa: E402
from mmopt.problems.highway_sector_beams import scenario as sim  # noqa: E402
from mmopt.registry import get_problem, get_solver  # noqa: E402


def build(prob, n, duration, model, seed):
    arrays = prob.make_instance({"n_vehicles": n, "duration_s": duration, "model": model},
                                np.random.default_rng(seed))
    inst = Instance(arrays, {"problem": prob.name, "params": {"n_vehicles": n, "duration_s": duration,
                                                              "model": model}})
    prob.check_instance(inst)
    return inst.readonly()


def timed(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        sim._CACHE.clear()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, default=40)
    ap.add_argument("--duration", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per row (best kept)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--practical", action="store_true", help="also time the SINR-model instance")
    args = ap.parse_args()

    prob = get_problem("highway-sector-beams")
    models = ["geometric"] + (["practical"] if args.practical else [])
    print(f"`highway-sector-beams`: {args.vehicles} vehicles, {args.duration:g} s, dt = 0.1 s "
          f"({int(round(args.duration / 0.1))} steps, 18 beams); {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, affinity {len(os.sched_getaffinity(0))} core(s)\n")
    print("| model | what | seconds | objective | interference ratio (time on the section) "
          "| mean free distance, analysed beam (m) |")
    print("|---|---|---:|---:|---:|---:|")
    for model in models:
        inst = build(prob, args.vehicles, args.duration, model, args.seed)
        t, sc = timed(lambda: sim.scenario(inst).inside_all(), args.repeat)
        print(f"| {model} | scenario: mobility + membership table | {t:.2f} | | | |")
        sols = {}
        for name in ("random", "best-snr", "macol", "oracle-bound"):
            s = get_solver(name, prob.name)
            t, (sol, st) = timed(lambda: s.solve(inst), args.repeat)
            sols[name] = sol
            m = prob.metrics(inst, sol)
            print(f"| {model} | `{name}` (incl. scenario) | {t:.2f} | {prob.objective(inst, sol):.4f} "
                  f"| {m['interference_ratio']:.3f} | {m.get('mean_free_distance_m', float('nan')):.1f} |")
        # the obvious alternative for the oracle: a HiGHS MILP for every distinct per-step component
        s = get_solver("oracle-bound", prob.name)
        t, (sol, st) = timed(lambda: s.solve(inst, max_enum=0, max_enum_practical=0), args.repeat)
        same = abs(prob.objective(inst, sol) - prob.objective(inst, sols["oracle-bound"])) < 1e-12
        print(f"| {model} | `oracle-bound` with a MILP per component (max_enum=0) | {t:.2f} "
              f"| {prob.objective(inst, sol):.4f} | | same optimum: {same} |")
        t, _ = timed(lambda: (prob.check(inst, sols["macol"]), prob.objective(inst, sols["macol"]),
                              prob.metrics(inst, sols["macol"])), args.repeat)
        print(f"| {model} | check + objective + metrics of one solution (incl. scenario) | {t:.2f} | | | |")


if __name__ == "__main__":
    main()

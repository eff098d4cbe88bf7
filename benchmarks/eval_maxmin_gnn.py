"""Mean gap to the certified optimum and median inference time of the GNNs on paper / pilots-* suites.

    nice -n 10 .venv/bin/python benchmarks/eval_maxmin_gnn.py [--suites paper,pilots-1,...] [--count N]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from mmopt.references import load_references
from mmopt.registry import get_problem, get_solver


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suites", default="paper")
    ap.add_argument("--solvers", default="gnn-i,gnn-p,gnn-c,gnn-direct,max-gain")
    ap.add_argument("--params", default="", help="SOLVER.KEY=VALUE,...")
    ap.add_argument("--count", type=int, default=None)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    prob = get_problem("maxmin-assoc-bf")
    prm = {}
    for item in filter(None, a.params.split(",")):
        k, v = item.split("=")
        s, key = k.split(".")
        prm.setdefault(s, {})[key] = int(v)
    for suite in a.suites.split(","):
        refs = load_references("maxmin-assoc-bf", suite)
        n = prob.suite(suite).count if a.count is None else min(a.count, prob.suite(suite).count)
        insts = [prob.generate(suite, i) for i in range(n)]
        opt = np.array([refs[inst.hash]["value"] for inst in insts])
        for name in a.solvers.split(","):
            s = get_solver(name, "maxmin-assoc-bf")
            p = prm.get(name, {})
            s.setup(p)
            vals, times, skipped = [], [], 0
            for inst in insts:
                if s.applies(inst, p):
                    skipped += 1
                    vals.append(np.nan)
                    continue
                t0 = time.perf_counter()
                sol, _ = s.solve(inst, **p)
                times.append(time.perf_counter() - t0)
                assert prob.check(inst, sol).feasible
                vals.append(prob.objective(inst, sol))
            v = np.array(vals)
            ok = np.isfinite(v)
            print(json.dumps({"suite": suite, "solver": name, **p, "n": int(ok.sum()), "skipped": skipped,
                              "mean_min_rate": round(float(np.nanmean(v)), 4) if ok.any() else None,
                              "optimum": round(float(opt[ok].mean()), 4) if ok.any() else None,
                              "mean_gap_pct": round(float(np.mean((opt[ok] - v[ok]) / opt[ok]) * 100), 2)
                              if ok.any() else None,
                              "median_ms": round(float(np.median(times)) * 1e3, 3) if times else None}), flush=True)


if __name__ == "__main__":
    main()

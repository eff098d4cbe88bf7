"""Timing of the maxmin-assoc-bf references, side by side on the same instances (not a test).

For each size (K users, L APs, M antennas; square-road-loop scenario of Li, Liu,
Yu), on the same instances:

* per association: SOCP bisection (``maxmin_socp``) vs the duality fixed
  point (``maxmin_duality``), median seconds over a sample of associations,
  and the largest relative difference of their optima;
* per instance: exhaustive search with the SOCP inner solver (only up to
  ``--socp-max-k``, it takes minutes per instance at K = 6), exhaustive
  search with the duality inner solver (the default), and branch-and-bound;
  their optima must agree.

Everything runs in this process on one core (BLAS threads pinned to 1).
Usage::

    python benchmarks/bench_maxmin.py                       # full table (about 25 min)
    python benchmarks/bench_maxmin.py --quick               # smaller sample, no SOCP exhaustive at K = 6
    python benchmarks/bench_maxmin.py --json out.json       # also write the raw numbers
"""
from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import time
import warnings

import numpy as np
from mmopt.problems.maxmin_assoc_bf import DEFAULTS
from mmopt.problems.maxmin_assoc_bf.beamforming import maxmin_socp
from mmopt.problems.maxmin_assoc_bf.duality import maxmin_duality

from mmopt.api import Instance
from mmopt.registry import get_problem, get_solver


def instance(K: int, L: int, Mr: int, Mc: int, i: int) -> Instance:
    p = get_problem("maxmin-assoc-bf")
    rng = np.random.default_rng(np.random.SeedSequence([20240917, 77, K, L, Mr, Mc, i]))
    return Instance(p.make_instance({**DEFAULTS, "K": K, "L": L, "Mr": Mr, "Mc": Mc}, rng), {"problem": p.name})


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def bench_size(K, L, Mr, Mc, n_inst, n_assoc, exhaustive_max_k, rng):
    ex, bb = get_solver("exhaustive"), get_solver("bnb")
    row = {"K": K, "L": L, "M": Mr * Mc, "associations": L ** K, "instances": n_inst}
    t_socp, t_dual, rel = [], [], []
    t_ex_d, t_bnb, nodes, agree, t_batch = [], [], [], [], []
    for i in range(n_inst):
        inst = instance(K, L, Mr, Mc, i)
        H, P, noise = inst["H"], inst["P"], inst["noise"]
        for _ in range(n_assoc):
            a = rng.integers(0, L, K)
            (_, s_info), ts = timed(maxmin_socp, H, P, noise, a)
            (_, d_info), td = timed(maxmin_duality, H, P, noise, a)
            t_socp.append(ts)
            t_dual.append(td)
            rel.append(abs(d_info["sinr"] - s_info["sinr"]) / s_info["sinr"])
        if K <= 7:
            # every association of the instance solved in one batch, no pruning: amortised cost
            from mmopt.problems.maxmin_assoc_bf.duality import solve_associations
            from mmopt.problems.maxmin_assoc_bf.solvers.exhaustive import all_associations

            A_all = all_associations(K, L)
            _, t = timed(solve_associations, H, P, noise, A_all, tol=1e-7, prune=False)
            t_batch.append(t / len(A_all))
        vals = []
        if K <= exhaustive_max_k:
            (_, st), t = timed(ex.solve, inst.readonly())
            t_ex_d.append(t)
            vals.append(st["value"])
        (_, st), t = timed(bb.solve, inst.readonly())
        t_bnb.append(t)
        nodes.append(st["nodes"])
        vals.append(st["value"])
        agree.append((max(vals) - min(vals)) / max(vals))
    med = lambda x: float(np.median(x)) if x else None
    row.update(socp_per_assoc_s=med(t_socp), duality_per_assoc_s=med(t_dual),
               per_assoc_ratio=med(t_socp) / med(t_dual), per_assoc_max_rel_diff=float(max(rel)),
               duality_batched_per_assoc_s=med(t_batch),
               batched_ratio=med(t_socp) / med(t_batch) if t_batch else None,
               exhaustive_socp_s=None, exhaustive_duality_s=med(t_ex_d),
               exhaustive_duality_max_s=float(max(t_ex_d)) if t_ex_d else None,
               bnb_s=med(t_bnb), bnb_max_s=float(max(t_bnb)), bnb_nodes=med(nodes),
               optimum_max_rel_diff=float(max(agree)))
    return row


def fmt(x, unit=""):
    if x is None:
        return "-"
    if unit == "ms":
        return f"{1e3 * x:.2f}"
    if unit == "x":
        return f"{x:,.0f}x"
    if unit == "e":
        return f"{x:.1e}"
    return f"{x:.3g}"


def table(rows) -> str:
    out = [("| K | L | M | associations | SOCP / assoc (ms) | duality / assoc (ms) | ratio | "
            "duality batched, all assoc. (us / assoc) | ratio | "
            "exhaustive, SOCP (s) | exhaustive, duality (s) | ratio | bnb (s, median / max) | bnb nodes | "
            "max rel. diff of optima |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['K']} | {r['L']} | {r['M']} | {r['associations']:,} | {fmt(r['socp_per_assoc_s'], 'ms')} | "
            f"{fmt(r['duality_per_assoc_s'], 'ms')} | {fmt(r['per_assoc_ratio'], 'x')} | "
            f"{fmt(None if r['duality_batched_per_assoc_s'] is None else 1e6 * r['duality_batched_per_assoc_s'])} | "
            f"{fmt(r['batched_ratio'], 'x')} | "
            f"{fmt(r['exhaustive_socp_s'])} | {fmt(r['exhaustive_duality_s'])} | "
            f"{fmt(r.get('exhaustive_ratio'), 'x')} | {fmt(r['bnb_s'])} / {fmt(r['bnb_max_s'])} | "
            f"{r['bnb_nodes']:,.0f} | {fmt(max(r['per_assoc_max_rel_diff'], r['optimum_max_rel_diff']), 'e')} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer instances; SOCP exhaustive only up to K = 5")
    ap.add_argument("--instances", type=int, default=None, help="instances per size (default 3, quick 2)")
    ap.add_argument("--socp-max-k", type=int, default=None, help="largest K for SOCP exhaustive (default 6, quick 5)")
    ap.add_argument("--exhaustive-max-k", type=int, default=10, help="largest K for duality exhaustive")
    ap.add_argument("--json", default=None, help="write the raw rows here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    n_inst = args.instances or (2 if args.quick else 3)
    socp_max_k = args.socp_max_k if args.socp_max_k is not None else (5 if args.quick else 6)
    rng = np.random.default_rng(0)
    sizes = [(K, 4, 4, 4) for K in range(4, 11)]                 # L = 4, M = 16: K = 4..10
    sizes += [(6, 4, 2, 2), (6, 4, 8, 8), (6, 2, 4, 4), (6, 3, 4, 4)]   # growth in M and L at K = 6
    rows = []
    for K, L, Mr, Mc in sizes:
        t0 = time.perf_counter()
        n_socp_ex = min(n_inst, 2) if K >= 6 else n_inst
        r = bench_size(K, L, Mr, Mc, n_inst, 3 if args.quick else 5, args.exhaustive_max_k, rng)
        if K <= socp_max_k and (L, Mr, Mc) == (4, 4, 4):
            # SOCP exhaustive on the first instances of the same size (minutes each at K = 6)
            ex = get_solver("exhaustive")
            ts, td = [], []
            for i in range(n_socp_ex):
                inst = instance(K, L, Mr, Mc, i)
                (_, s1), t1 = timed(ex.solve, inst.readonly(), inner="socp")
                (_, s2), t2 = timed(ex.solve, inst.readonly())
                ts.append(t1)
                td.append(t2)
                r["optimum_max_rel_diff"] = max(r["optimum_max_rel_diff"],
                                                abs(s1["value"] - s2["value"]) / s2["value"])
            r["exhaustive_socp_s"] = float(np.median(ts))
            r["exhaustive_ratio"] = float(np.median(np.array(ts) / np.array(td)))
            r["socp_exhaustive_instances"] = n_socp_ex
        rows.append(r)
        print(f"# K={K} L={L} M={Mr * Mc}: {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

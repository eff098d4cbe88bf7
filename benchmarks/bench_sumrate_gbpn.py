"""The learned predictors of ``sumrate-bs-beam`` against the genie and the certified optimum (markdown).

Usage::

    python benchmarks/bench_sumrate_gbpn.py [--suite paper] [--limit N] [--solvers a,b,...]

For every instance of the suite (or the first ``--limit``; the ``paper``
suite's instance ``i`` has ``U = i mod 4 + 1``), each solver runs in this
process on one torch thread, after its set-up (weight loading); the table
gives per solver and U: the paper's top-1 / top-3 beam accuracy (Fig. 9,
per BS over the users its camera sees: the problem's ``topk_accuracy_seen`` on
stats ``seen_scores``), top-1 / top-3 at the chosen BS (``topk_accuracy`` on
stats ``beam_scores``), ASRR against ``genie-max-gain`` as a ratio of sums and
as the mean of per-instance ratios, the feasible fraction, the mean gap to the
shipped ``opt`` reference (``bnb``), the users whose BS differs from the
genie's, and the median and 95th-percentile solve time per instance (wall and
CPU, one thread, after a warm-up solve), side by side with the genie.
``oracle-visible`` is eqs. (26)-(27) with perfect predictions, the ceiling of
every learned row (its JSON rows add ``genie_bs_seen``, the fraction of users
whose genie BS sees them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from mmopt.problems.sumrate_bs_beam import gain_table, genie_assignment, greedy_capacity_assign, sum_rate
from mmopt.problems.sumrate_bs_beam.problem import topk_accuracy, topk_accuracy_seen
from mmopt.references import load_references
from mmopt.registry import get_problem, get_solver

DEFAULT = ("bem-gbpn,bb-gbpn,p-gbpn,bem-gbpn-nomoe,oracle-visible,reactive-handoff,max-gain-interference-aware,"
           "genie-max-gain")


def references(suite: str) -> dict:
    return {r["index"]: r for r in load_references("sumrate-bs-beam", suite).values()}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="paper")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--solvers", default=DEFAULT)
    ap.add_argument("--json", default=None, help="also write the per-(solver, U) rows here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    prob = get_problem("sumrate-bs-beam")
    n = prob.suite(args.suite).count if args.limit is None else min(args.limit, prob.suite(args.suite).count)
    refs = references(args.suite)
    solvers = [get_solver(s, "sumrate-bs-beam") for s in args.solvers.split(",")]
    for s in solvers:
        s.setup()
        s.solve(prob.generate(args.suite, 0).readonly())        # warm: first call pays the lazy imports
    rows = defaultdict(lambda: defaultdict(list))
    for i in range(n):
        inst = prob.generate(args.suite, i)
        G = gain_table(inst)
        U = G.shape[0]
        gb, gn = genie_assignment(inst)
        genie = sum_rate(G, gb, gn)
        ref = refs.get(i)
        if ref is not None and ref["hash"] != inst.hash:
            raise SystemExit(f"{args.suite}/{i}: reference hash differs from the generated instance")
        ro = inst.readonly()
        vis = np.asarray(inst["visible"], bool)
        for s in solvers:
            t0, c0 = time.perf_counter(), time.process_time()
            sol, stats = s.solve(ro)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            rep = prob.check(inst, sol)
            if not rep.feasible:
                raise SystemExit(f"{s.name} infeasible on {args.suite}/{i}: {rep.summary()}")
            v = sum_rate(G, sol["bs"], sol["beam"])
            r = rows[(s.name, U)]
            r["value"].append(v)
            r["genie"].append(genie)
            r["ratio"].append(v / genie if genie > 0 else 1.0)
            r["seconds"].append(dt)
            r["cpu"].append(dc)
            r["bs_diff_genie"].append(float(np.count_nonzero(sol["bs"] != gb)) / U)
            r["feasible"].append(1.0)
            if s.name == "oracle-visible":
                r["genie_seen"].append(float(np.mean(vis[np.arange(U), gb])))
            if ref is not None and ref["status"] == "opt":
                r["gap"].append((ref["value"] - v) / ref["value"] if ref["value"] > 0 else 0.0)
                r["genie_gap"].append((ref["value"] - genie) / ref["value"] if ref["value"] > 0 else 0.0)
            if stats.get("beam_scores") is not None:
                tk = topk_accuracy(G, sol["bs"], stats["beam_scores"])
                r["top1"].extend([tk["top1"]] * U)
                r["top3"].extend([tk["top3"]] * U)
            if stats.get("seen_scores"):
                tk = topk_accuracy_seen(G, stats["seen_scores"])
                r["top1_seen"].extend([tk["top1_seen"]] * len(stats["seen_scores"]))
                r["top3_seen"].extend([tk["top3_seen"]] * len(stats["seen_scores"]))

    def pct(x):
        return f"{100 * float(np.mean(x)):.1f}" if x else "-"

    print(f"# sumrate-bs-beam, suite {args.suite}, {n} instances, torch {torch.__version__}, 1 thread\n")
    print("| solver | U | n | top-1 % (seen) | top-3 % (seen) | top-1 % (chosen BS) | top-3 % (chosen BS) | "
          "ASRR % (ratio of sums) | ASRR % (mean of ratios) | feasible % | gap to opt % | "
          "BS != genie % | median ms | p95 ms | median CPU ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for name in [s.name for s in solvers]:
        for U in sorted({u for (nm, u) in rows if nm == name}):
            r = rows[(name, U)]
            ms = 1e3 * np.array(r["seconds"])
            asrr = sum(r["value"]) / sum(r["genie"])
            row = {"solver": name, "U": U, "n": len(r["value"]),
                   "top1": float(np.mean(r["top1"])) if r["top1"] else None,
                   "top3": float(np.mean(r["top3"])) if r["top3"] else None,
                   "top1_seen": float(np.mean(r["top1_seen"])) if r["top1_seen"] else None,
                   "top3_seen": float(np.mean(r["top3_seen"])) if r["top3_seen"] else None,
                   "asrr_ratio_of_sums": asrr, "asrr_mean_of_ratios": float(np.mean(r["ratio"])),
                   "feasible": float(np.mean(r["feasible"])),
                   "gap": float(np.mean(r["gap"])) if r["gap"] else None,
                   "bs_diff_genie": float(np.mean(r["bs_diff_genie"])),
                   "median_ms": float(statistics.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
                   "median_cpu_ms": 1e3 * float(statistics.median(r["cpu"]))}
            out.append(row)
            if r["genie_seen"]:
                row["genie_bs_seen"] = float(np.mean(r["genie_seen"]))
            print(f"| {name} | {U} | {row['n']} | {pct(r['top1_seen'])} | {pct(r['top3_seen'])} | "
                  f"{pct(r['top1'])} | {pct(r['top3'])} | {100 * asrr:.1f} | "
                  f"{100 * row['asrr_mean_of_ratios']:.1f} | {pct(r['feasible'])} | {pct(r['gap'])} | "
                  f"{pct(r['bs_diff_genie'])} | "
                  f"{row['median_ms']:.2f} | {row['p95_ms']:.2f} | {row['median_cpu_ms']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

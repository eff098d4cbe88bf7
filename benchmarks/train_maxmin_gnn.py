"""Train and write every shipped model of gnn-i, gnn-p, gnn-c and gnn-direct (maxmin-assoc-bf).

Equivalent to one ``mmopt train --problem maxmin-assoc-bf --solver S [--param train_pilots=N]`` per
model, in one process so the training instances are generated once:

    nice -n 10 .venv/bin/python benchmarks/train_maxmin_gnn.py [--only gnn-p] [--pilots 16,64]

Order: GNN-I; GNN-P, direct and GNN-C at the base N_u (16, 64, from scratch; GNN-C from the trained
GNN-I and GNN-P); then the other standard N_u, fine-tuned from the nearest base model.
"""
from __future__ import annotations

import argparse
import json
import time

from mmopt.learned import train_solver
from mmopt.registry import get_solver
from mmopt.problems.maxmin_assoc_bf.solvers.gnn import BASE_PILOTS, STANDARD_PILOTS


def plan(only=None, pilots=None):
    nus = [n for n in STANDARD_PILOTS if pilots is None or n in pilots]
    steps = [("gnn-i", None)]
    for kind in ("gnn-p", "gnn-direct", "gnn-c"):
        steps += [(kind, n) for n in nus if n in BASE_PILOTS]
    for kind in ("gnn-p", "gnn-direct", "gnn-c"):
        steps += [(kind, n) for n in nus if n not in BASE_PILOTS]
    return [s for s in steps if only is None or s[0] in only]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None, help="comma-separated solver names")
    ap.add_argument("--pilots", default=None, help="comma-separated N_u")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    only = a.only.split(",") if a.only else None
    pilots = [int(x) for x in a.pilots.split(",")] if a.pilots else None
    t0 = time.time()
    for name, nu in plan(only, pilots):
        s = get_solver(name, "maxmin-assoc-bf")
        params = {} if nu is None else {"train_pilots": nu}
        path, side = train_solver(s, seed=a.seed, params=params, progress=False)
        keep = ("train_count", "epochs", "wall_seconds", "cpu_seconds", "final_train_loss", "best_val_min_rate",
                "init_from")
        print(json.dumps({"weights": path.name, **{k: side.get(k) for k in keep},
                          "elapsed": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()

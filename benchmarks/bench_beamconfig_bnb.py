"""``bnb`` of ``random-beam-config``: one core against Dask clusters of 1 and 2 workers, side by side.

Usage::

    python benchmarks/bench_beamconfig_bnb.py [--suite medium] [--instances 0,1,2,3,4,5] [--workers 1,2]
                                              [--time-limit 900] [--slice-s 10] [--search-s 60]

Each instance is solved, in the same run, by the serial search (``bnb``, in this process) and by the
distributed search on a fresh local cluster of each ``--workers`` count (single-threaded worker processes;
the driver is this process). The table gives the wall times to a certified optimum (or the bracket reached
by ``--time-limit``), the speed-up of each cluster over the serial search and over the 1-worker cluster,
the nodes, the tasks, the share of worker time spent in the incumbent ``Variable`` (``wait``), the share of
worker time idle during the search phase (scheduling, the driver's own work, starvation), the largest
open-node count and the set-up time (cluster tables and incumbent heuristics). Instance generation and
cluster start-up are not timed.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from mmopt.problems.random_beam_config import network_rates
from mmopt.problems.random_beam_config.solvers.distributed import distributed_bnb
from mmopt.problems.random_beam_config.solvers.bnb_tree import bnb_search
from mmopt.registry import get_problem
from mmopt.runner import make_client


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="medium")
    ap.add_argument("--instances", default=None, help="comma-separated indices (default: all)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--time-limit", type=float, default=900.0)
    ap.add_argument("--slice-s", type=float, default=10.0)
    ap.add_argument("--search-s", type=float, default=60.0)
    ap.add_argument("--no-serial", action="store_true", help="skip the serial search")
    a = ap.parse_args()
    P = get_problem("random-beam-config")
    idx = [int(i) for i in a.instances.split(",")] if a.instances else list(range(P.suite(a.suite).count))
    counts = [int(w) for w in a.workers.split(",")]
    insts = {i: P.generate(a.suite, i) for i in idx}
    rows = {i: {} for i in idx}
    if not a.no_serial:
        for i in idx:
            t0 = time.perf_counter()
            cfg, proven, bound, nodes, root = bnb_search(insts[i], a.time_limit)
            val = float(network_rates(insts[i], cfg[None, :])[0])
            rows[i]["serial"] = {"s": time.perf_counter() - t0, "val": val, "bound": val if proven else bound,
                                 "proven": proven, "nodes": nodes}
            print(f"serial {a.suite}/{i:04d}: {rows[i]['serial']['s']:.1f} s", flush=True)
    for w in counts:
        client = make_client(workers=w)
        try:
            for i in idx:
                t0 = time.perf_counter()
                cfg, proven, bound, st = distributed_bnb(insts[i], client, time_limit=a.time_limit,
                                                         slice_s=a.slice_s, search_s=a.search_s)
                val = float(network_rates(insts[i], cfg[None, :])[0])
                rows[i][w] = {"s": time.perf_counter() - t0, "val": val, "bound": val if proven else bound,
                              "proven": proven, **st}
                print(f"{w} worker(s) {a.suite}/{i:04d}: {rows[i][w]['s']:.1f} s", flush=True)
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; suite {a.suite}, "
          f"time limit {a.time_limit:g} s, slices of {a.slice_s:g} s\n")
    head = ["instance"] + (["serial s"] if not a.no_serial else []) + [f"{w}w s" for w in counts]
    head += ([f"{w}w vs serial" for w in counts] if not a.no_serial else [])
    head += [f"{w}w vs {counts[0]}w" for w in counts[1:]]
    head += [f"{w}w nodes / tasks / wait / idle / max open / set-up s" for w in counts] + ["bracket", "values agree"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for i in idx:
        r = rows[i]
        cells = [f"{a.suite}/{i:04d}"] + ([f"{r['serial']['s']:.1f}"] if not a.no_serial else [])
        cells += [f"{r[w]['s']:.1f}" for w in counts]
        cells += [f"{r['serial']['s'] / r[w]['s']:.2f}x" for w in counts] if not a.no_serial else []
        cells += [f"{r[counts[0]]['s'] / r[w]['s']:.2f}x" for w in counts[1:]]
        for w in counts:
            x = r[w]
            busy = max(x["busy_s"], 1e-9)
            cells.append(f"{x['nodes']} / {x['tasks']} / {x['wait_s'] / busy:.1%} / {x['idle_share']:.1%} / "
                         f"{x['max_open']} / {x['setup_s']:.1f}")
        vals = [r[k]["val"] for k in r]
        brackets = [r[k]["bound"] / r[k]["val"] - 1 for k in r]
        cells.append("opt" if all(r[k]["proven"] for k in r) else ", ".join(f"{b:.1%}" for b in brackets))
        agree = all(r[k]["proven"] for k in r) and max(vals) - min(vals) <= 1e-9 * max(vals)
        cells.append("yes" if agree else ("n/a" if not all(r[k]["proven"] for k in r) else "NO"))
        print("| " + " | ".join(cells) + " |")
    tot = {k: sum(rows[i][k]["s"] for i in idx) for k in (["serial"] if not a.no_serial else []) + counts}
    print("\ntotal wall s: " + ", ".join(f"{k}: {v:.1f}" for k, v in tot.items()))


if __name__ == "__main__":
    main()

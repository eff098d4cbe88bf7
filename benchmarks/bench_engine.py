"""Engine overhead, side by side in one run (markdown on stdout).

Usage::

    python benchmarks/bench_engine.py [--workers 2]   # MMOPT_BENCH_CELLS=2000 MMOPT_BENCH_SOLVER_MS=1

1. **Overhead per cell.** A synthetic problem (``bench-noop``, defined in
   ``bench_noop_plugin.py`` and shipped to the workers as a plugin) with ``--cells``
   instances and a solver that busy-waits ``--solver-ms``. The same cells
   are timed (a) as a plain Python loop (generate, solve, check, evaluate),
   (b) through the engine in this process (``--workers 0``: a forked,
   time-limited child per cell, rows stored in SQLite) and (c) through the
   engine on a ``LocalCluster`` of ``--workers`` workers, cluster start-up
   included. The figure is wall seconds per cell; the target is the engine
   within 20 ms per cell of the plain loop.
2. **Fully cached re-run.** The ``small`` suite of the built-in problems is
   run once into a fresh store, then run again: the second run is served
   from the store (planned from the suite manifests, no instance generated)
   and is timed in-process (``run()``), per cell; the target is under 5 ms
   per cell.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


def plain_loop(p, s, n: int) -> float:
    from mmopt.evaluate import score

    t0 = time.perf_counter()
    for i in range(n):
        inst = p.generate("bench", i)
        sol, _ = s.solve(inst.readonly())
        score(p, inst, sol)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-cached", action="store_true")
    args = ap.parse_args()

    from mmopt.registry import add_plugin_modules, get_problem, get_solver
    from mmopt.runner import run

    files = add_plugin_modules([str(Path(__file__).resolve().with_name("bench_noop_plugin.py"))])
    from bench_noop_plugin import SOLVER_MS
    p, s = get_problem("bench-noop"), get_solver("busy-argmax", "bench-noop")
    n = p.suite("bench").count
    tmp = Path(tempfile.mkdtemp(prefix="mmopt-bench-"))
    print(f"# Engine overhead ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()})\n")
    t_loop = plain_loop(p, s, n)
    t0 = time.perf_counter()
    r0 = run(["bench-noop"], "bench", ["busy-argmax"], db=str(tmp / "inline.sqlite"), workers=0, progress=False,
             time_limit=60)
    t_inline = time.perf_counter() - t0
    t0 = time.perf_counter()
    r1 = run(["bench-noop"], "bench", ["busy-argmax"], db=str(tmp / "dask.sqlite"), workers=args.workers,
             progress=False, time_limit=60, plugin_files=files)
    t_dask = time.perf_counter() - t0
    assert r0.counts == {"ok": n} and r1.counts == {"ok": n}, (r0.counts, r1.counts)
    print(f"## 1. Overhead per cell: {n} cells of a {SOLVER_MS:g} ms solver\n")
    print("| path | wall s | ms per cell | engine - loop, ms per cell |")
    print("|---|---:|---:|---:|")
    print(f"| plain Python loop (generate, solve, check, evaluate) | {t_loop:.2f} | {1e3 * t_loop / n:.2f} | – |")
    print(f"| mmopt run --workers 0 (forked child per cell, SQLite) | {t_inline:.2f} | {1e3 * t_inline / n:.2f} "
          f"| {1e3 * (t_inline - t_loop) / n:+.2f} |")
    print(f"| mmopt run --workers {args.workers} (LocalCluster, start-up included) | {t_dask:.2f} | "
          f"{1e3 * t_dask / n:.2f} | {1e3 * (t_dask - t_loop) / n:+.2f} |")
    if args.skip_cached:
        return
    from mmopt.registry import problems

    names = [k for k, v in problems().items() if "small" in v.suites and k != "bench-noop"]
    db = str(tmp / "small.sqlite")
    first = run(names, "small", None, db=db, workers=args.workers, progress=False)
    t0 = time.perf_counter()
    again = run(names, "small", None, db=db, workers=args.workers, progress=False)
    t_cached = time.perf_counter() - t0
    assert again.ran == 0 and again.cached == first.planned
    print(f"\n## 2. Fully cached re-run of the `small` suites ({again.planned} cells)\n")
    print("| run | wall s | ms per cell |")
    print("|---|---:|---:|")
    print(f"| first run ({args.workers} workers) | {first.seconds:.2f} | {1e3 * first.seconds / first.planned:.2f} |")
    print(f"| cached re-run (in-process `run()`) | {t_cached:.3f} | {1e3 * t_cached / again.planned:.3f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""The benchmark matrix on dask.distributed.

Cells (problem, instance, solver, parameters, seed) go to a Dask client: a
``LocalCluster`` sized to the machine (one single-threaded worker process
per core) by default, or an existing cluster with ``scheduler=ADDRESS``.
Each cell runs in a forked child of its worker with a hard time limit
(:mod:`mmopt.sandbox`). Results are scored against the shipped references
and committed to the SQLite store as they finish; cells whose cache key is
stored are skipped unless ``force``. Ctrl-C keeps every finished cell.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .api import Instance, MmoptError, Solver, params_key
from .cell import execute, to_score
from .references import load_references
from .registry import get_problem, get_solver, problems as all_problems, solvers_for
from .store import Store, cache_key, provenance

DEFAULT_TIME_LIMIT = 600.0
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MALLOC_TRIM_THRESHOLD_": "65536"}


@dataclass
class Cell:
    problem: str
    solver: Solver
    instance: Instance
    params: dict
    seed: int
    key: str
    reference: Mapping | None


@dataclass
class RunSummary:
    run_id: str
    planned: int = 0
    cached: int = 0
    counts: dict = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ran(self) -> int:
        return sum(self.counts.values())


def plan(problem_names: Iterable[str] | None, suite: str, solver_names: Iterable[str] | None = None,
         params: Mapping[str, Mapping] | None = None, seed: int = 0, count: int | None = None) -> list[Cell]:
    """Every cell of the matrix (problems x instances of ``suite`` x solvers)."""
    params = dict(params or {})
    names = list(problem_names or all_problems())
    wanted = list(solver_names or [])
    for w in wanted:
        get_solver(w)  # unknown solver -> error before any work
    cells, used, used_common = [], set(), set()
    for pname in names:
        p = get_problem(pname)
        s_ = p.suite(suite)
        solvers = [s for s in solvers_for(pname) if not wanted or s.name in wanted]
        if not solvers:
            continue
        refs = load_references(pname, suite)
        n = s_.count if count is None else min(count, s_.count)
        for i in range(n):
            inst = p.generate(suite, i)
            h = inst.hash
            for s in solvers:
                used.add(s.name)
                common = {k: v for k, v in params.get("*", {}).items() if k in s.params}
                prm = s.canonical_params({**common, **params.get(s.name, {})})
                used_common.update(common)
                if "seed" in s.params:
                    prm["seed"] = seed
                key = cache_key(h, s.name, s.version, params_key(prm))
                cells.append(Cell(pname, s, inst, prm, seed, key, refs.get(h)))
    missing = [w for w in wanted if w not in used]
    if missing:
        raise MmoptError(f"solver {', '.join(missing)} does not solve any of: {', '.join(names)}")
    unused_common = set(params.get("*", {})) - used_common
    if unused_common:
        raise MmoptError(f"no solver in this run has parameter {', '.join(sorted(unused_common))}")
    unused = set(params) - used - {"*"}
    if unused:
        raise MmoptError(f"--param given for solver(s) not in this run: {', '.join(sorted(unused))}")
    return cells


def row_for(cell: Cell, out, run_id: str, time_limit: float | None) -> dict:
    p = get_problem(cell.problem)
    sc = to_score(out, cell.reference, p.value_tol)
    info = out.info
    return {"cache_key": cell.key, "run_id": run_id, "problem": cell.problem,
            "suite": cell.instance.meta.get("suite"), "instance": cell.instance.id,
            "instance_index": cell.instance.meta.get("index"), "instance_hash": cell.instance.hash,
            "solver": cell.solver.name, "kind": cell.solver.kind, "solver_version": cell.solver.version,
            "params": params_key(cell.params), "seed": cell.seed, "status": sc.status,
            "objective": sc.objective, "feasible": int(sc.feasible), "max_violation": sc.max_violation,
            "reference": sc.reference, "reference_status": sc.reference_status, "gap": sc.gap,
            "abs_gap": sc.abs_gap, "seconds": info.get("seconds", out.wall), "wall_seconds": out.wall,
            "time_limit": time_limit, "message": sc.message, "stats": info.get("stats", {}),
            "metrics": sc.metrics, "provenance": provenance()}


def make_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: the given scheduler, or a LocalCluster of single-threaded workers."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise MmoptError(f"cannot reach Dask scheduler at {scheduler}: {e}") from None
    n = workers or os.cpu_count() or 1
    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENV,
                          "distributed.worker.daemon": False,
                          "distributed.admin.tick.limit": "60s"}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=50)
    return Client(cluster)


def run(problem_names: Iterable[str] | None, suite: str, solver_names: Iterable[str] | None = None, *,
        db: str | None = None, workers: int | None = None, scheduler: str | None = None,
        time_limit: float | None = DEFAULT_TIME_LIMIT, force: bool = False,
        params: Mapping[str, Mapping] | None = None, seed: int = 0, count: int | None = None,
        progress: bool = True, console=None, client=None) -> RunSummary:
    """Run the matrix and store every finished cell. Returns a summary."""
    from distributed import as_completed

    t0 = time.perf_counter()
    run_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    cells = plan(problem_names, suite, solver_names, params, seed, count)
    summary = RunSummary(run_id, planned=len(cells))
    with Store(db) as store:
        done = set() if force else store.keys(c.key for c in cells)
        todo = [c for c in cells if c.key not in done]
        summary.cached = len(cells) - len(todo)
        if not todo:
            summary.seconds = time.perf_counter() - t0
            return summary
        own = client is None
        if own:
            client = make_client(workers, scheduler)
        bar = _progress(console, progress, len(todo))
        futures = {}
        try:
            for c in todo:
                f = client.submit(execute, c.problem, c.solver.name, dict(c.instance), c.instance.meta,
                                  c.params, time_limit, pure=False,
                                  key=f"{c.solver.name}-{c.instance.id}-{c.key[:10]}".replace("/", "-"))
                futures[f] = c
            task = bar.add_task("cells", total=len(todo), status="") if bar else None
            if bar:
                bar.start()
            for f in as_completed(futures):
                c = futures[f]
                try:
                    out = f.result()
                except Exception as e:  # worker died, cancelled, ...
                    from .sandbox import Outcome, one_line

                    out = Outcome("error", message=f"worker failure: {one_line(e)}")
                row = row_for(c, out, run_id, time_limit)
                store.put(row)
                summary.counts[row["status"]] = summary.counts.get(row["status"], 0) + 1
                if bar:
                    bar.update(task, advance=1, status=" ".join(f"{k}={v}" for k, v in
                                                                 sorted(summary.counts.items())))
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            if bar:
                bar.stop()
            if own:
                try:
                    client.cancel(list(futures))
                    cluster = getattr(client, "cluster", None)
                    client.close(timeout=10)
                    if cluster is not None:
                        cluster.close(timeout=10)
                except Exception:  # noqa: BLE001 - shutting down after an interrupt
                    pass
    summary.seconds = time.perf_counter() - t0
    return summary


def _progress(console, enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("{task.fields[status]}"), console=console, transient=False)

"""``mmopt references``: run a reference solver over a suite and write its certified records.

The cells take the same path as ``mmopt run`` (:func:`mmopt.runner.execute`
and :func:`mmopt.cell.run_cell`); the records and manifests are written by
:mod:`mmopt.references`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from .api import MmoptError
from .references import (REFERENCE_STATUSES, load_manifest, load_references, reference_path, write_manifest,
                         write_references)
from .registry import get_problem, get_solver
from .runner import _is_local, execute, make_client
from .schema import Cell, Row

__all__ = ["compute_references", "checkpoint_dir"]


def checkpoint_dir(problem_name: str, suite: str) -> Path:
    """Where a split reference solver keeps its per-instance checkpoints.

    Parameters
    ----------
    problem_name : str
        The problem's name.
    suite : str
        The suite's name.

    Returns
    -------
    pathlib.Path
        ``$MMOPT_CHECKPOINTS`` (default ``./mmopt-checkpoints``) / problem / suite; a rerun of the same
        command resumes every unfinished instance from its file there.
    """
    return Path(os.environ.get("MMOPT_CHECKPOINTS") or "mmopt-checkpoints") / problem_name / suite


def compute_references(problem_name: str, suite: str, solver_name: str, params: Mapping | None = None,
                       indices: Iterable[int] | None = None, root: Path | None = None,
                       progress: bool = True, workers: int | None = 0, scheduler: str | None = None,
                       time_limit: float | None = None) -> Path:
    """Solve every instance of a suite with a reference solver and write the records (and the manifest).

    The cells go through the same path as ``mmopt run`` (:func:`mmopt.cell.run_cell`):
    the checker re-checks and re-evaluates every solution. The solver's
    stats must carry ``value``, ``bound``, ``status`` and ``tolerance`` (the
    certificate); a claimed value that disagrees with the evaluated one
    beyond the tolerance is an error, and so is any failed cell.

    Parameters
    ----------
    problem_name : str
        The problem's name.
    suite : str
        The suite's name.
    solver_name : str
        The reference solver's name.
    params : mapping, optional
        Solver parameters (defaults filled in); ``params["seed"]`` seeds the cells.
    indices : iterable of int, optional
        Only these instances (default: all); the file's other records are kept.
    root : pathlib.Path, optional
        The references tree (see :func:`mmopt.references.reference_dir`).
    progress : bool, optional
        Print one line per certified instance.
    workers : int, optional
        Workers of :func:`mmopt.runner.execute` (0: the cells run here, one by one; ``None``: one per
        core). A solver with a ``scheduler`` parameter (``bnb`` of ``random-beam-config``) instead gets a
        local cluster of that many workers, splits each instance over it, and the instances run one after
        another, checkpointed to :func:`checkpoint_dir` (a killed run resumes from there).
    scheduler : str, optional
        Address of a Dask scheduler to run the cells on (or to split each instance over).
    time_limit : float, optional
        Seconds per cell (``None``: no limit).

    Returns
    -------
    pathlib.Path
        The written ``<suite>.jsonl`` records file.

    Raises
    ------
    MmoptError
        When the problem, suite or solver is unknown, a parameter is invalid,
        a cell fails, a claimed value or status is wrong, or the run is
        interrupted (the records file is then left as it was).
    """
    p = get_problem(problem_name)
    s = get_solver(solver_name, problem_name)
    params = s.canonical_params(params)
    count = p.suite(suite).count
    idx = list(indices) if indices is not None else list(range(count))
    write_manifest(p, suite, root)
    hashes = load_manifest(problem_name, suite, root)
    # a solver that splits one instance over a Dask cluster (parameter ``scheduler``) gets the cluster, and the
    # instances run one after another here; every other solver gets one instance per worker
    split = "scheduler" in s.params and (bool(scheduler) or workers is None or workers > 0)
    cell_params, client = dict(params), None
    if split:
        client = make_client(workers, scheduler)
        cell_params["scheduler"] = client.scheduler.address
        if "checkpoint" in s.params and not cell_params.get("checkpoint"):
            cell_params["checkpoint"] = str(checkpoint_dir(problem_name, suite))
        if progress:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            print(f"{solver_name}: each instance split over {n} Dask worker(s) at {client.scheduler.address}"
                  + (f", checkpoints in {cell_params['checkpoint']}" if cell_params.get("checkpoint") else ""),
                  flush=True)
        params = {k: v for k, v in params.items() if k not in ("scheduler", "checkpoint")}
    cells = [Cell(problem=problem_name, suite=suite, index=i, solver=solver_name, params=cell_params,
                  seed=int(params.get("seed", 0)), hash=hashes[i], key=hashes[i], time_limit=time_limit) for i in idx]
    recs, errors = [], []

    def on_row(row: Row):
        if row.status not in ("ok",):
            errors.append(f"{solver_name} on {row.instance}: {row.status} {row.message}")
            return
        stats = row.stats
        val = float(row.objective)
        status = stats.get("status", "best")
        tol = float(stats.get("tolerance", p.value_tol))
        claimed = stats.get("value", val)
        if status != "bound" and abs(float(claimed) - val) > max(tol * abs(val), 1e-9) * 10:
            errors.append(f"{solver_name} on {row.instance}: reported value {claimed} but its solution "
                          f"evaluates to {val}")
            return
        value = float(stats["value"]) if status == "bound" else val
        bound = None if stats.get("bound") is None else float(stats["bound"])
        rec = {"problem": problem_name, "suite": suite, "instance": row.instance, "index": row.instance_index,
               "hash": row.instance_hash, "value": value, "bound": bound, "status": status,
               "method": solver_name, "tolerance": tol, "solver_version": int(s.version),
               "seconds": round(float(row.seconds), 4), "params": dict(params),
               "solution": stats.get("reference_solution")}
        if bound is not None and status in ("opt", "best") and value:
            # the bracket: how far the certified bound may lie above the value (0 when optimal)
            rec["bracket"] = 0.0 if status == "opt" else round(abs(bound / value - 1.0), 6)
        if split:
            rec["workers"] = stats.get("workers")
            if stats.get("elapsed_total_s") is not None:   # wall time over every resumed run
                rec["wall_s"] = round(float(stats["elapsed_total_s"]), 2)
        if status not in REFERENCE_STATUSES:
            errors.append(f"{solver_name} on {row.instance}: reference status must be one of "
                          f"{REFERENCE_STATUSES}, got {status!r}")
            return
        recs.append(rec)
        if progress:
            print(f"{problem_name}/{row.instance}: {value:.6g} ({status}, {row.seconds:.2f} s)", flush=True)

    try:
        if split:
            execute(cells, workers=0, on_row=on_row)
        else:
            execute(cells, workers=workers, scheduler=scheduler, on_row=on_row)
    finally:
        if client is not None:
            cluster = client.cluster if _is_local(client) else None
            client.close()
            if cluster is not None:
                cluster.close()
    if errors:
        raise MmoptError(f"{len(errors)} instance(s) failed, nothing written; first: {errors[0]}")
    if len(recs) != len(cells):
        raise MmoptError("interrupted: nothing written")
    path = reference_path(problem_name, suite, root)
    if indices is not None and path.exists():  # a partial recomputation keeps the other records
        keep = {r["index"]: r for r in load_references(problem_name, suite, root).values()
                if r.get("index") not in set(idx)}
        recs = list(keep.values()) + recs
    return write_references(path, recs)

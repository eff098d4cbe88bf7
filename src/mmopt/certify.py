"""``mmopt references``: run a reference solver over a suite and write its certified records.

The cells take the same path as ``mmopt run`` (:func:`mmopt.runner.execute`
and :func:`mmopt.cell.run_cell`); the records and manifests are written by
:mod:`mmopt.references`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from .api import MmoptError
from .references import (REFERENCE_STATUSES, load_manifest, load_references, reference_path, write_manifest,
                         write_references)
from .registry import get_problem, get_solver
from .runner import execute
from .schema import Cell, Row

__all__ = ["compute_references"]


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
        Workers of :func:`mmopt.runner.execute` (0: the cells run here, one by one).
    scheduler : str, optional
        Address of a Dask scheduler to run the cells on.
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
    cells = [Cell(problem=problem_name, suite=suite, index=i, solver=solver_name, params=params,
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
        rec = {"problem": problem_name, "suite": suite, "instance": row.instance, "index": row.instance_index,
               "hash": row.instance_hash, "value": value,
               "bound": None if stats.get("bound") is None else float(stats["bound"]), "status": status,
               "method": solver_name, "tolerance": tol, "solver_version": int(s.version),
               "seconds": round(float(row.seconds), 4), "params": dict(params),
               "solution": stats.get("reference_solution")}
        if status not in REFERENCE_STATUSES:
            errors.append(f"{solver_name} on {row.instance}: reference status must be one of "
                          f"{REFERENCE_STATUSES}, got {status!r}")
            return
        recs.append(rec)
        if progress:
            print(f"{problem_name}/{row.instance}: {value:.6g} ({status}, {row.seconds:.2f} s)", flush=True)

    execute(cells, workers=workers, scheduler=scheduler, on_row=on_row)
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

"""Validate a user's algorithm against the stored references (``mmopt validate``).

The user's function ``f(instance: dict[str, ndarray]) -> dict[str, ndarray]``
(or ``-> (solution, stats)``) runs on every instance of a suite, each in a
time-limited child; every output is checked for feasibility and scored by
its gap against the shipped reference record. With a results store
(``mmopt validate --db FILE``) each scored cell is also stored there, under
the method's name and kind ``user``, so that ``mmopt table`` and ``mmopt
plot`` show it beside the suite's solvers.
"""
from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .api import MmoptError
from .cell import USER_PREFIX, resolve_solver
from .references import load_references, suite_hashes
from .registry import get_problem, load_callable, solvers_for
from .runner import execute
from .sandbox import check_time_limit, run_limited
from .schema import Cell, Row
from .store import Store, cache_key, provenance
from .testing import check_solver

__all__ = ["USER_KIND", "ValidationResult", "default_name", "validate"]

#: the kind under which a validated function's cells are stored
USER_KIND = "user"


def default_name(spec: str) -> str:
    """The name a validated function gets in the store: ``module:callable`` (a file's stem for a path).

    Parameters
    ----------
    spec : str
        ``MODULE:CALLABLE`` as given to :func:`validate`.

    Returns
    -------
    str
        ``mypkg.algo:solve`` for ``mypkg.algo:solve``, ``algo:solve`` for ``path/to/algo.py:solve``.
    """
    mod, _, attr = spec.rpartition(":")
    if mod.endswith(".py") or os.sep in mod or "/" in mod:
        mod = Path(mod).stem
    return f"{mod}:{attr}"


def _check_name(name: str, problem_name: str) -> str:
    """A usable store name for the user's method: printable, not a solver of the problem."""
    if not isinstance(name, str) or not re.fullmatch(r"[^\s,]{1,80}", name):
        raise MmoptError(f"--name must be 1 to 80 characters without spaces or commas, got {name!r}")
    if any(s.name == name for s in solvers_for(problem_name)):
        raise MmoptError(f"--name '{name}' is a solver of {problem_name}; give the method another name")
    return name


def _probe(spec: str) -> tuple[dict, dict]:
    """Child body: import the user's target; report its module file or the one-line error."""
    try:
        fn = load_callable(spec)
    except MmoptError as e:
        return {}, {"error": str(e)}
    return {}, {"file": getattr(sys.modules.get(getattr(fn, "__module__", "")), "__file__", None)}


@dataclass
class ValidationResult:
    """The outcome of :func:`validate`.

    Attributes
    ----------
    problem : str
        Problem name.
    suite : str
        Suite name.
    rows : list of dict
        One per instance, sorted by instance: ``instance``, ``status``,
        ``objective``, ``reference``, ``gap``, ``seconds``, ``message`` (as in
        :class:`~mmopt.schema.Row`).
    conformance : str or None
        What :func:`mmopt.testing.check_solver` found wrong (determinism,
        mutation, JSON stats), or ``timeout: ...`` / ``error: ...`` when its
        child did not finish; ``None`` when nothing was found or the checks
        did not run (some output infeasible).
    """

    problem: str
    suite: str
    rows: list = field(default_factory=list)
    #: what :func:`mmopt.testing.check_solver` found wrong (determinism, mutation, JSON stats), or None
    conformance: str | None = None

    @property
    def all_feasible(self) -> bool:
        """Whether there is a row and every row is ``ok`` or ``mismatch`` (feasible)."""
        return bool(self.rows) and all(r["status"] in ("ok", "mismatch") for r in self.rows)

    @property
    def passed(self) -> bool:
        """Whether every output is feasible and the conformance checks found nothing."""
        return self.all_feasible and self.conformance is None


def _conformance(spec: str, problem_name: str, suite: str) -> tuple[dict, dict]:
    """Child body: the solver conformance checks of mmopt.testing on the suite's first instance."""
    try:
        check_solver(get_problem(problem_name), resolve_solver(problem_name, USER_PREFIX + spec), suite, count=1)
        return {}, {"failure": None}
    except AssertionError as e:
        return {}, {"failure": " ".join(str(e).split())}


def validate(spec: str, problem_name: str, suite: str, count: int | None = None,
             time_limit: float | None = 300.0, progress: Callable[[dict], None] | None = None,
             workers: int | None = 0, scheduler: str | None = None, db: str | os.PathLike | None = None,
             name: str | None = None) -> ValidationResult:
    """Run the user's function on a suite through the runner's cell path.

    ``workers=0`` (default) runs cell after cell here (each in a forked,
    time-limited child); ``workers=N`` or ``scheduler`` runs them on Dask,
    with the user's module shipped to the workers. The module is first
    imported in a time-limited child (its code never runs inside mmopt),
    which checks the target. When every output is feasible, the conformance
    checks of :func:`mmopt.testing.check_solver` run on the suite's first
    instance, in a child with the same time limit. Nothing is stored unless
    ``db`` names a results store: then every finished cell is stored there
    as it arrives (solver ``name``, kind :data:`USER_KIND`, version 0, the
    run's provenance), replacing the cells an earlier validation stored
    under the same name, suite and instances.

    Parameters
    ----------
    spec : str
        ``MODULE:CALLABLE`` (:func:`mmopt.registry.load_callable`): a function
        ``f(instance: dict) -> solution`` or ``-> (solution, stats)``.
    problem_name : str
        Problem name.
    suite : str
        Suite name.
    count : int, optional
        First ``count`` instances (``None``: all; more than the suite has: all).
    time_limit : float or None
        Seconds per instance, for the import check and for the conformance
        checks (``None``: no limit).
    progress : callable, optional
        Called with each row (a dict as in :attr:`ValidationResult.rows`) as
        it finishes.
    workers : int, optional
        0: here, without Dask; N: N local Dask workers; ``None``: one per core.
    scheduler : str, optional
        Address of an existing Dask scheduler.
    db : str or path-like, optional
        Results store (SQLite file, created if missing) that receives the cells.
    name : str, optional
        The method's name in the store (default :func:`default_name` of ``spec``);
        it must not be a solver of the problem.

    Returns
    -------
    ValidationResult

    Raises
    ------
    MmoptError
        When ``count`` is negative, the problem or suite is unknown, the
        target cannot be imported or is not a callable (or importing it
        outlasts ``time_limit``), a manifest or reference file is malformed,
        the Dask scheduler cannot be reached, ``name`` is unusable or ``db``
        is not a usable mmopt store.
    InputError
        When ``time_limit`` is not a positive finite number or ``None``.
    """
    time_limit = check_time_limit(time_limit)
    if count is not None and count < 0:
        raise MmoptError(f"--count must be >= 0, got {count}")
    p = get_problem(problem_name)
    n = p.suite(suite).count if count is None else min(count, p.suite(suite).count)
    stored_name = _check_name(default_name(spec) if name is None else name, p.name) if db is not None else None
    # the user's module is imported in a child (its code never runs inside mmopt): this checks the target
    probe = run_limited(lambda: _probe(spec), time_limit)
    if probe.status != "ok":
        raise MmoptError(f"cannot load '{spec}': " + (probe.message if probe.status == "error" else
                                                      f"importing it took longer than the time limit"))
    if probe.info.get("error"):
        raise MmoptError(probe.info["error"])
    mod_file = probe.info.get("file")
    refs = load_references(problem_name, suite)
    hashes = suite_hashes(p, suite, n)
    name = USER_PREFIX + spec
    cells = [Cell(problem=problem_name, suite=suite, index=i, solver=name, hash=h, key=h, reference=refs.get(h),
                  time_limit=time_limit) for i, h in enumerate(hashes)]
    res = ValidationResult(problem_name, suite)
    store = Store(db) if db is not None else None
    run_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"

    def on_row(r: Row):
        row = {"instance": r.instance, "status": r.status, "objective": r.objective,
               "reference": r.reference, "gap": r.gap, "seconds": r.seconds, "message": r.message}
        res.rows.append(row)
        if store is not None and r.status != "lost":  # as mmopt run stores it, under the method's name
            r.solver, r.kind, r.solver_version = stored_name, USER_KIND, 0
            r.cache_key = cache_key(r.instance_hash or "", stored_name, 0, "{}")
            r.run_id, r.provenance, r.solution = run_id, provenance(), None
            store.put(r, commit=True)
        if progress:
            progress(row)

    try:
        execute(cells, workers=workers, scheduler=scheduler, on_row=on_row,
                plugin_files=[Path(mod_file)] if mod_file and (workers or scheduler) else [])
    finally:
        if store is not None:
            store.close()
    res.rows.sort(key=lambda r: r["instance"])
    if res.all_feasible:  # feasibility first; then the promises a solver keeps (mmopt.testing)
        out = run_limited(lambda: _conformance(spec, problem_name, suite), time_limit)
        res.conformance = out.info.get("failure") if out.status == "ok" else f"{out.status}: {out.message}"
    return res

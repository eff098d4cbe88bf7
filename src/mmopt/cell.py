"""One cell of the benchmark: (problem, suite, index, solver, parameters, seed).

:func:`run_cell` is the one path every score takes (``mmopt run``,
``mmopt solve``, ``mmopt validate``, ``mmopt references``, figures): the
worker obtains the instance itself (generates it, or takes it from its
in-memory cache or the content-addressed folder ``MMOPT_INSTANCE_CACHE``),
checks its hash against the suite manifest, asks the solver whether it
applies, runs the solver's set-up (weight loading) in the worker, then
solves, checks and evaluates in a forked, time-limited child, scores the
result against the reference record and returns a finished
:class:`~mmopt.schema.Row` that the driver stores as it is.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .api import InputError, Instance, MmoptError, Solver, json_safe
from .evaluate import Score, score
from .io import read_instance, write_instance
from .learned import cell_threads, fingerprint
from .registry import get_problem, get_solver, load_callable
from .sandbox import Outcome, one_line, run_limited
from .schema import Cell, Row

__all__ = ["USER_PREFIX", "MAX_STATS_BYTES", "obtain_instance", "resolve_solver", "evaluate_in_child", "to_score", "run_cell"]

#: solver names of this form run a user's function ``MODULE:CALLABLE`` (``mmopt validate``)
USER_PREFIX = "user:"
#: the most bytes of JSON a cell's stats may take; larger stats are replaced by a note
MAX_STATS_BYTES = 1 << 20


# ---------------------------------------------------------------------------
# Instances in the worker
# ---------------------------------------------------------------------------

_INSTANCES: "OrderedDict[tuple, Instance]" = OrderedDict()
_INSTANCE_CACHE_SIZE = 32


def obtain_instance(problem, suite: str, index: int, expected_hash: str | None = None) -> Instance:
    """Instance ``index`` of ``suite``: from this process's cache, the disk cache, or generated.

    The disk cache (``MMOPT_INSTANCE_CACHE``, a folder) is content-addressed
    by the manifest hash, so a stale entry can never be served: it is read
    from ``<folder>/<problem>/<expected_hash>.npz``, and a generated instance
    is written there only when its hash is ``expected_hash``. Without
    ``expected_hash`` the disk cache is not used. This process keeps the
    last 32 instances it obtained.

    Parameters
    ----------
    problem : Problem
        The problem (an object, not a name).
    suite : str
        The suite's name.
    index : int
        The instance index in the suite.
    expected_hash : str, optional
        The instance's hash in the suite manifest; checked when given.

    Returns
    -------
    Instance

    Raises
    ------
    MmoptError
        When the instance's hash differs from ``expected_hash`` (the manifest
        needs regenerating), or as :meth:`~mmopt.api.Problem.generate` (unknown
        suite, index out of range).
    InputError
        When a disk-cache file cannot be read (:func:`mmopt.io.read_instance`).
    """
    key = (problem.name, suite, int(index))
    inst = _INSTANCES.get(key)
    if inst is not None:
        _INSTANCES.move_to_end(key)
    else:
        folder = os.environ.get("MMOPT_INSTANCE_CACHE")
        path = Path(folder) / problem.name / f"{expected_hash}.npz" if folder and expected_hash else None
        if path is not None and path.is_file():

            inst = read_instance(path, problem.name)
        else:
            inst = problem.generate(suite, int(index))
            if path is not None and inst.hash == expected_hash:

                path.parent.mkdir(parents=True, exist_ok=True)
                write_instance(path, inst)
        _INSTANCES[key] = inst
        while len(_INSTANCES) > _INSTANCE_CACHE_SIZE:
            _INSTANCES.popitem(last=False)
    if expected_hash and inst.hash != expected_hash:
        raise MmoptError(f"{problem.name}/{inst.id}: the generated instance differs from the suite manifest "
                         f"(regenerate it: mmopt manifest --problem {problem.name} --suite {suite})")
    return inst


# ---------------------------------------------------------------------------
# Solvers, including a user's function
# ---------------------------------------------------------------------------


def _as_solution(out):
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
        return out[0], out[1]
    return out, {}


def resolve_solver(problem_name: str, name: str) -> Solver:
    """The registered solver (problem, name), or a user's ``user:MODULE:CALLABLE`` as an ad-hoc solver.

    A user's module is imported only when the solver is called, that is in
    the cell's child process: its code never runs inside mmopt itself. The
    ad-hoc solver (kind ``baseline``, version 0, no parameters) calls the
    function with the instance as a plain dict and takes its result as the
    solution, or as ``(solution, stats)`` when it is a pair whose second item
    is a dict.

    Parameters
    ----------
    problem_name : str
        Problem name.
    name : str
        Solver name, or :data:`USER_PREFIX` followed by ``MODULE:CALLABLE``
        (see :func:`mmopt.registry.load_callable`).

    Returns
    -------
    Solver

    Raises
    ------
    MmoptError
        As :func:`mmopt.registry.get_solver` for a registered name (a user's
        target is not checked here: it fails when called).
    """
    if not name.startswith(USER_PREFIX):
        return get_solver(name, problem_name)
    target = name[len(USER_PREFIX):]

    def call(inst, **_):
        return _as_solution(load_callable(target)(dict(inst)))

    return Solver(name=name, fn=call, problems=(problem_name,), kind="baseline", version=0, params={},
                  module=target.rpartition(":")[0])


# ---------------------------------------------------------------------------
# The cell
# ---------------------------------------------------------------------------


def evaluate_in_child(problem, instance: Instance, produce: Callable[[Instance], tuple[dict, dict]],
                      keep_solution: bool, reference: Mapping | None = None) -> tuple[dict, dict]:
    """Body of the child: produce a solution, then check, evaluate and score it against ``reference``.

    A malformed solution (an :class:`~mmopt.api.InputError` while scoring:
    a missing key, a wrong dtype or shape) is scored ``infeasible`` with the
    error as its message.

    Parameters
    ----------
    problem : Problem
        The problem.
    instance : Instance
        The instance; ``produce`` receives a read-only copy.
    produce : callable
        ``produce(instance) -> (solution, stats)``: the solver.
    keep_solution : bool
        Return the solution's arrays (not those of a malformed solution);
        keys that are not the problem's solution keys are dropped first.
    reference : mapping, optional
        The instance's reference record (no gap without one).

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        The solution when ``keep_solution``, else empty.
    info : dict
        ``seconds``: wall-clock seconds of ``produce`` alone; ``stats``: the
        solver's stats made JSON-safe (arrays over 64 elements summarised,
        non-finite numbers null, replaced by a note beyond
        :data:`MAX_STATS_BYTES`),
        plus ``problem_data`` (:meth:`~mmopt.api.Problem.cell_data`) when the
        solution is feasible and the problem has some; ``score``: the finished
        :class:`~mmopt.evaluate.Score` as a dict (status, objective, gap
        against the reference, metrics, the first 20 violations), computed
        once, here.

    Raises
    ------
    Exception
        Whatever ``produce`` raises, or the problem's check and evaluation
        raise other than :class:`~mmopt.api.InputError` (in a sandboxed child
        this makes the cell an ``error``).
    """
    cell_threads()
    t0 = time.perf_counter()
    solution, stats = produce(instance.readonly())
    seconds = time.perf_counter() - t0
    if isinstance(solution, Mapping):  # only the problem's keys: an extra array never travels or is written
        known = {k.name for k in problem.solution_keys}
        solution = {k: v for k, v in solution.items() if k in known}
    if not isinstance(stats, Mapping):
        stats = {}
    safe = json_safe(stats, max_array=64)
    size = len(json.dumps(safe))
    if size > MAX_STATS_BYTES:
        safe = {"stats_dropped": f"the solver's stats take {size} bytes of JSON, more than {MAX_STATS_BYTES}"}
    info = {"seconds": seconds, "stats": safe}
    malformed = False
    try:
        sc = score(problem, instance, solution, reference, stats=stats)
    except InputError as e:
        malformed = True
        sc = Score(status="infeasible", objective=None, feasible=False, max_violation=float("nan"),
                   message=str(e))
    sc.violations = sc.violations[:20]
    info["score"] = dataclasses.asdict(sc)
    if sc.feasible:
        data = problem.cell_data(instance, solution)
        if data:
            info["stats"]["problem_data"] = data
    arrays = {k: np.asarray(v) for k, v in solution.items()} if keep_solution and not malformed else {}
    return arrays, info


def to_score(out: Outcome) -> Score:
    """The executed cell's score: the child's, or the status of a child that did not finish.

    Parameters
    ----------
    out : Outcome
        What :func:`mmopt.sandbox.run_limited` returned for
        :func:`evaluate_in_child`.

    Returns
    -------
    Score
        ``out.info["score"]`` when the child finished (``ok``); otherwise an
        infeasible score with the outcome's status (``timeout`` or ``error``),
        its message, no objective and a NaN ``max_violation``.
    """
    if out.status != "ok":
        return Score(status=out.status, objective=None, feasible=False, max_violation=float("nan"),
                     message=out.message)
    return Score(**out.info["score"])


def run_cell(cell: Cell, keep_solution: bool = False, cancelled: Callable[[], bool] | None = None) -> Row:
    """Run one cell and return its finished row.

    The solver's set-up, applicability check and weights fingerprint run in
    this process; solving, checking and scoring run in a forked child under
    the cell's time and memory limits (:func:`evaluate_in_child`). A failure
    of the solver or of its set-up is the row's ``error`` status, not an
    exception.

    Parameters
    ----------
    cell : Cell
        What to run (see :class:`mmopt.schema.Cell`): the instance is
        obtained from ``(suite, index)`` and checked against ``cell.hash``, or
        taken from ``cell.instance`` (a file given by the user).
    keep_solution : bool
        Put the solution arrays in ``Row.solution`` (never stored).
    cancelled : callable, optional
        Asked while the cell runs; ``True`` kills it and the row's status is
        ``lost`` (its run is gone: the cell is run again next time).

    Returns
    -------
    Row
        Status, objective, gap against ``cell.reference``, metrics, stats and
        times. The status is ``ok``, ``infeasible`` or ``mismatch`` (scored),
        ``timeout``, ``error`` (the solver, its set-up or the instance failed,
        or the child died), or ``skipped`` (the solver does not apply; the
        message says why). ``seconds`` is the solve time (the child's wall
        time when it did not finish), ``wall_seconds`` the child's wall time
        (the whole cell's for a cell that stopped before solving). The stats
        gain ``setup_seconds`` for a solver with a set-up hook and
        ``weights_sha256`` for one with weights.

    Raises
    ------
    MmoptError
        When ``cell.problem`` is not a registered problem.
    InputError
        When ``cell.time_limit`` or ``cell.memory_limit`` is not a positive
        finite number or ``None``.
    """
    t_cell = time.perf_counter()
    p = get_problem(cell.problem)
    row = Row.of(cell, problem=p.name)
    try:
        s = resolve_solver(p.name, cell.solver)
        row.kind, row.solver_version = s.kind, s.version
        if cell.instance is not None:
            inst = Instance(cell.instance["arrays"], cell.instance["meta"])
        else:
            inst = obtain_instance(p, cell.suite, cell.index, cell.hash)
        row.instance, row.instance_hash = inst.id, inst.hash
        row.suite = inst.meta.get("suite", cell.suite)
        s.warm_up()
        reason = s.applies(inst, cell.params)
        if reason:
            row.status, row.message, row.seconds = "skipped", reason, 0.0
            row.wall_seconds = time.perf_counter() - t_cell
            return row
        setup_s = s.setup(cell.params)
        weights = fingerprint(s, cell.params)
    except Exception as e:  # noqa: BLE001 - a solver's applies/setup failing is that cell's error
        row.status, row.seconds = "error", 0.0
        row.message = str(e) if isinstance(e, MmoptError) else one_line(e)
        row.wall_seconds = time.perf_counter() - t_cell
        return row
    params = dict(cell.params)
    out = run_limited(lambda: evaluate_in_child(p, inst, lambda i: s.solve(i, **params), keep_solution,
                                                cell.reference),
                      cell.time_limit, cell.memory_limit, watch_pids=(cell.driver_pid,) if cell.driver_pid else (),
                      cancelled=cancelled)
    if out.status == "cancelled":
        out.status = "lost"
    sc = to_score(out)
    stats = dict(out.info.get("stats", {}))
    if s.setup_fn is not None:
        stats["setup_seconds"] = setup_s
    if weights:
        stats["weights_sha256"] = weights
    row.status, row.objective, row.feasible, row.max_violation = sc.status, sc.objective, int(sc.feasible), \
        sc.max_violation
    row.reference, row.reference_status, row.gap, row.abs_gap = sc.reference, sc.reference_status, sc.gap, \
        sc.abs_gap
    row.seconds, row.wall_seconds = out.info.get("seconds", out.wall), out.wall
    row.message, row.stats, row.metrics = sc.message, stats, sc.metrics
    if keep_solution:
        row.solution = out.arrays
    return row

"""One cell of the benchmark: (problem, suite, index, solver, parameters, seed).

:func:`run_cell` is the one path every score takes (``mmopt run``,
``mmopt solve``, ``mmopt validate``, ``mmopt references``, figures): the
worker obtains the instance itself (generates it, or takes it from its
in-memory cache or the content-addressed folder ``MMOPT_INSTANCE_CACHE``),
checks its hash against the suite manifest, asks the solver whether it
applies, runs the solver's set-up (weight loading) in the worker, then
solves, checks and evaluates in a forked, time-limited child, scores the
result against the reference record and returns a finished row (a JSON-able
dict) that the driver stores as it is.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .api import InputError, Instance, MmoptError, Solver, params_key
from .evaluate import Score, score
from .learned import cell_threads, fingerprint
from .registry import get_problem, get_solver, load_callable
from .sandbox import Outcome, run_limited

#: solver names of this form run a user's function ``MODULE:CALLABLE`` (``mmopt validate``)
USER_PREFIX = "user:"


def _json_safe(d: Mapping) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist() if v.size <= 64 else f"<array {v.dtype} {v.shape}>"
        elif isinstance(v, Mapping):
            v = _json_safe(v)
        elif isinstance(v, (list, tuple)):
            v = [_json_safe({"x": x})["x"] for x in v]
        elif isinstance(v, float) and not np.isfinite(v):
            v = None
        elif not isinstance(v, (str, int, float, bool, type(None))):
            v = str(v)
        out[str(k)] = v
    return out


# ---------------------------------------------------------------------------
# Instances in the worker
# ---------------------------------------------------------------------------

_INSTANCES: "OrderedDict[tuple, Instance]" = OrderedDict()
_INSTANCE_CACHE_SIZE = 32


def obtain_instance(problem, suite: str, index: int, expected_hash: str | None = None) -> Instance:
    """Instance ``index`` of ``suite``: from this process's cache, the disk cache, or generated.

    The disk cache (``MMOPT_INSTANCE_CACHE``, a folder) is content-addressed
    by the manifest hash, so a stale entry can never be served.
    """
    key = (problem.name, suite, int(index))
    inst = _INSTANCES.get(key)
    if inst is not None:
        _INSTANCES.move_to_end(key)
    else:
        folder = os.environ.get("MMOPT_INSTANCE_CACHE")
        path = Path(folder) / problem.name / f"{expected_hash}.npz" if folder and expected_hash else None
        if path is not None and path.is_file():
            from .io import read_instance

            inst = read_instance(path, problem.name)
        else:
            inst = problem.generate(suite, int(index))
            if path is not None and inst.hash == expected_hash:
                from .io import write_instance

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
    the cell's child process: its code never runs inside mmopt itself.
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

    Returns ``(arrays, info)``: ``info["score"]`` is the finished
    :class:`~mmopt.evaluate.Score` as a dict (status, objective, gap against
    the reference, metrics), computed once, here.
    """
    cell_threads()
    t0 = time.perf_counter()
    solution, stats = produce(instance.readonly())
    seconds = time.perf_counter() - t0
    info = {"seconds": seconds, "stats": _json_safe(stats or {})}
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
    """The executed cell's score: the child's, or the status of a child that did not finish."""
    if out.status != "ok":
        return Score(status=out.status, objective=None, feasible=False, max_violation=float("nan"),
                     message=out.message)
    return Score(**out.info["score"])


def run_cell(spec: Mapping[str, Any], keep_solution: bool = False) -> dict:
    """Run one cell described by ``spec`` and return its finished row.

    ``spec`` keys: ``problem``, ``suite``, ``index`` (or ``instance``: arrays
    and ``meta`` for a file given by the user), ``solver``, ``params``,
    ``seed``, ``key`` (the cache key), ``hash`` (expected instance hash or
    None), ``reference`` (record or None), ``time_limit``; optional
    ``memory_limit`` (GB the cell may allocate) and ``driver_pid`` (the cell
    is killed when that process is gone: same machine only). With
    ``keep_solution`` the row carries the solution arrays under
    ``"solution"`` (not stored).
    """
    t_cell = time.perf_counter()
    p = get_problem(spec["problem"])
    row = {"cache_key": spec.get("key"), "problem": p.name, "suite": spec.get("suite"),
           "instance_index": spec.get("index"), "solver": spec["solver"], "params": params_key(spec["params"]),
           "seed": spec.get("seed", 0), "time_limit": spec.get("time_limit"), "stats": {}, "metrics": {},
           "feasible": 0, "max_violation": None, "objective": None, "reference": None,
           "reference_status": None, "gap": None, "abs_gap": None, "message": ""}
    try:
        s = resolve_solver(p.name, spec["solver"])
        row.update(kind=s.kind, solver_version=s.version)
        if spec.get("instance") is not None:
            inst = Instance(spec["instance"]["arrays"], spec["instance"]["meta"])
        else:
            inst = obtain_instance(p, spec["suite"], spec["index"], spec.get("hash"))
        row.update(instance=inst.id, instance_hash=inst.hash, suite=inst.meta.get("suite", spec.get("suite")))
        s.warm_up()
        reason = s.applies(inst, spec["params"])
        if reason:
            row.update(status="skipped", message=reason, seconds=0.0, wall_seconds=time.perf_counter() - t_cell)
            return row
        setup_s = s.setup(spec["params"])
        weights = fingerprint(s, spec["params"])
    except MmoptError as e:
        row.update(status="error", message=str(e), seconds=0.0, wall_seconds=time.perf_counter() - t_cell)
        row.setdefault("kind", None)
        row.setdefault("instance", f"{spec.get('suite')}/{int(spec.get('index') or 0):04d}")
        return row
    except Exception as e:  # noqa: BLE001 - a solver's applies/setup failing is that cell's error
        from .sandbox import one_line

        row.update(status="error", message=one_line(e), seconds=0.0, wall_seconds=time.perf_counter() - t_cell)
        row.setdefault("instance", f"{spec.get('suite')}/{int(spec.get('index') or 0):04d}")
        return row
    params = dict(spec["params"])
    out = run_limited(lambda: evaluate_in_child(p, inst, lambda i: s.solve(i, **params), keep_solution,
                                                spec.get("reference")),
                      spec.get("time_limit"), spec.get("memory_limit"),
                      watch_pids=(spec["driver_pid"],) if spec.get("driver_pid") else ())
    sc = to_score(out)
    stats = dict(out.info.get("stats", {}))
    if s.setup_fn is not None:
        stats["setup_seconds"] = setup_s
    if weights:
        stats["weights_sha256"] = weights
    row.update(status=sc.status, objective=sc.objective, feasible=int(sc.feasible), max_violation=sc.max_violation,
               reference=sc.reference, reference_status=sc.reference_status, gap=sc.gap, abs_gap=sc.abs_gap,
               seconds=out.info.get("seconds", out.wall), wall_seconds=out.wall, message=sc.message, stats=stats,
               metrics=sc.metrics)
    if keep_solution:
        row["solution"] = out.arrays
    return row

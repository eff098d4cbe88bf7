"""One cell of the benchmark: (problem, instance, solver, parameters, seed).

:func:`execute` solves, checks and evaluates in a time-limited child and
returns a JSON-able result; :func:`finish` turns it into a stored row,
scored against the reference record. The same path serves ``mmopt run``,
``mmopt solve`` and ``mmopt validate``.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np

from .api import InputError, Instance
from .evaluate import Score, compare, score
from .sandbox import Outcome, run_limited


def _json_safe(d: Mapping) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist() if v.size <= 64 else f"<array {v.dtype} {v.shape}>"
        elif isinstance(v, Mapping):
            v = _json_safe(v)
        out[str(k)] = v
    return out


def evaluate_in_child(problem, instance: Instance, produce: Callable[[Instance], tuple[dict, dict]],
                      keep_solution: bool) -> tuple[dict, dict]:
    """Body of the child: produce a solution, then check and evaluate it."""
    t0 = time.perf_counter()
    solution, stats = produce(instance.readonly())
    seconds = time.perf_counter() - t0
    info = {"seconds": seconds, "stats": _json_safe(stats or {})}
    try:
        sc = score(problem, instance, solution)
    except InputError as e:
        info.update(malformed=str(e), feasible=False, max_violation=None, objective=None, metrics={})
        return ({}, info)
    info.update(feasible=sc.feasible, max_violation=sc.max_violation, violations=sc.violations[:20],
                message=sc.message, objective=sc.objective, metrics=sc.metrics)
    arrays = {k: np.asarray(v) for k, v in solution.items()} if keep_solution else {}
    return arrays, info


def execute(problem_name: str, solver_name: str, arrays: Mapping[str, np.ndarray], meta: Mapping,
            params: Mapping, time_limit: float | None, keep_solution: bool = False) -> Outcome:
    """Run a registered solver on an instance (in a worker or locally)."""
    from .registry import get_problem, get_solver

    problem = get_problem(problem_name)
    s = get_solver(solver_name, problem_name)
    s.warm_up()
    inst = Instance(arrays, meta)
    return run_limited(lambda: evaluate_in_child(problem, inst, lambda i: s.solve(i, **params), keep_solution),
                       time_limit)


def to_score(out: Outcome, reference: Mapping | None, value_tol: float) -> Score:
    """Status, objective and gap of an executed cell."""
    info = out.info
    if out.status != "ok":
        return Score(status=out.status, objective=None, feasible=False, max_violation=float("nan"),
                     message=out.message)
    if "malformed" in info:
        return Score(status="infeasible", objective=None, feasible=False, max_violation=float("nan"),
                     message=info["malformed"])
    s = Score(status="ok" if info["feasible"] else "infeasible", objective=info.get("objective"),
              feasible=bool(info["feasible"]), max_violation=float(info.get("max_violation") or 0.0),
              message=info.get("message", ""), metrics=info.get("metrics", {}))
    return compare(s, reference, value_tol)


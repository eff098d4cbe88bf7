"""Conformance checks for problems and solvers, in the spirit of scikit-learn's ``check_estimator``.

``check_problem(problem)`` and ``check_solver(problem, solver)`` raise
``AssertionError`` naming the broken promise. The test suite runs them over
the whole registry; ``mmopt validate`` applies the solver-side checks
(feasibility, determinism, no mutation, JSON stats) to a user's function.

Problem promises
    generation is deterministic (same hash twice); instances pass the
    problem's own structure checks; the checker reports every violation
    with its size (a solution with two broken keys reports at least two
    violations or raises a one-line ``InputError``); training suites' seeds
    are disjoint from every evaluation suite's.
Solver promises (on the ``smoke`` suite)
    ``applies()`` is honoured (a declined instance is never solved); every
    answer is feasible; the same seed gives the same answer; the instance
    is not mutated; stats are JSON-serialisable; a reference reports
    ``status``, ``value`` and ``bound``, with ``bound >= value`` up to its
    tolerance; a learned solver reports where its weights are; a
    distributed solver reports ``rounds`` and ``messages``.
"""
from __future__ import annotations

import json
from typing import Callable, Mapping

import numpy as np

from .api import InputError, Instance, Problem, Solver, json_default
from .learned import weights_files


def _same(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


def check_problem(problem: Problem, suite: str = "smoke", count: int = 2) -> None:
    """Assert the problem's promises on the first ``count`` instances of ``suite``."""
    assert problem.name and problem.sense == "max", f"{problem.name}: a problem has a name and is maximised"
    assert problem.statement.strip(), f"{problem.name}: no formal statement"
    assert problem.instance_keys and problem.solution_keys, f"{problem.name}: no key tables"
    s = problem.suite(suite)
    for i in range(min(count, s.count)):
        a, b = problem.generate(suite, i), problem.generate(suite, i)
        assert a.hash == b.hash, f"{problem.name}/{suite}/{i}: generation is not deterministic"
        problem.check_instance(a)
    train = {n: x.seed for n, x in problem.suites.items() if x.role == "train"}
    evals = {n: x.seed for n, x in problem.suites.items() if x.role != "train"}
    for tn, ts in train.items():
        clash = [n for n, es in evals.items() if es == ts]
        assert not clash, f"{problem.name}: training suite '{tn}' shares its seed with {clash}"
    # the checker: a solution with every key wrong in dtype raises a one-line InputError
    inst = problem.generate(suite, 0)
    bad = {k.name: np.zeros(1, dtype=np.int8) for k in problem.solution_keys}
    try:
        rep = problem.check(inst, bad)
        raise AssertionError(f"{problem.name}: a solution with every key of the wrong dtype passed the "
                             f"structure check ({rep.summary()})")
    except InputError as e:
        assert "\n" not in str(e), f"{problem.name}: structure errors must be one line"


def check_solver(problem: Problem, solver: Solver, suite: str = "smoke", count: int = 2,
                 solve: Callable | None = None) -> dict:
    """Assert the solver's promises on the first ``count`` instances of ``suite``; returns counts."""
    solve = solve or (lambda inst, **kw: solver.solve(inst, **kw))
    done = {"solved": 0, "skipped": 0}
    for i in range(min(count, problem.suite(suite).count)):
        inst = problem.generate(suite, i)
        reason = solver.applies(inst)
        if reason:
            assert isinstance(reason, str) and reason.strip(), f"{solver.name}: applies() must give a reason"
            done["skipped"] += 1
            continue
        solver.setup()
        before = {k: np.array(v, copy=True) for k, v in inst.items()}
        writable = Instance({k: np.array(v, copy=True) for k, v in inst.items()}, inst.meta)
        sol, stats = solve(writable)
        assert _same(before, writable), f"{solver.name} on {inst.id}: the instance was mutated"
        rep = problem.check(inst, sol)
        assert rep.feasible, f"{solver.name} on {inst.id}: infeasible: {rep.summary()}"
        json.dumps(stats, default=_strict_json)
        sol2, _ = solve(inst.readonly())
        assert _same(sol, sol2), f"{solver.name} on {inst.id}: not deterministic under the same seed"
        val = float(problem.objective(inst, sol))
        if solver.kind == "reference":
            assert stats.get("status") in ("opt", "best", "bound"), f"{solver.name}: reference stats need status"
            tol = float(stats.get("tolerance", problem.value_tol))
            bound = stats.get("bound")
            if bound is not None:
                assert float(bound) >= val - max(tol * abs(val), 1e-9), \
                    f"{solver.name} on {inst.id}: bound {bound} below its value {val}"
        if solver.kind == "distributed":
            assert {"rounds", "messages"} <= set(stats), f"{solver.name}: distributed stats need rounds, messages"
        if solver.kind == "learned":
            assert weights_files(solver), f"{solver.name}: a learned solver names its weights"
        done["solved"] += 1
    return done


def _strict_json(o):
    if isinstance(o, (np.generic, np.ndarray)):
        return json_default(o)
    raise TypeError(f"stats value of type {type(o).__name__} is not JSON-serialisable")

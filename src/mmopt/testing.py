"""Conformance checks for problems and solvers, one named check at a time.

In the spirit of scikit-learn's ``check_estimator`` and
``parametrize_with_checks``: :func:`problem_checks` and :func:`solver_checks`
yield :class:`Check` objects (a name, the target it checks, a callable that
raises ``AssertionError`` naming the broken promise);
:func:`parametrize_with_checks` turns them into one pytest test each, with
explicit expected failures. Plugin authors run the same checks on their own
problems and solvers::

    from mmopt.testing import parametrize_with_checks

    @parametrize_with_checks([("maxmin-assoc-bf", "my-assoc")])
    def test_mmopt_conformance(check):
        check()

Problem promises
    generation is deterministic (same hash twice); instances pass the
    problem's own structure checks; a solution with every key of the wrong
    dtype raises a one-line ``InputError``; training suites' seeds are
    disjoint from every evaluation suite's.
Solver promises (on the first suite, in the order ``smoke``, ``small``, then
the problem's other evaluation suites, where the solver takes at least one of
the first ``count`` instances)
    ``applies()`` gives a reason when it declines; every answer is feasible;
    the same seed gives the same answer; the instance is not mutated; stats
    are JSON-serialisable; a reference reports ``status``, ``value`` and
    ``bound``, with ``bound >= value`` up to its tolerance; a learned solver
    names weight files that exist; a distributed solver reports ``rounds``
    and ``messages``. A solver that declines every instance of every suite
    fails: a check that checked nothing is a failure, not a pass.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np

from .api import InputError, Instance, Problem, Solver, json_default
from .learned import weights_files
from .registry import get_problem, get_solver

__all__ = ["Check", "check_problem", "check_solver", "parametrize_with_checks", "problem_checks",
           "solver_checks"]


@dataclass(frozen=True)
class Check:
    """One named conformance check.

    Attributes
    ----------
    target : str
        What is checked: a problem name, or ``problem:solver``.
    name : str
        The promise checked (``deterministic``, ``feasible``, ...).
    fn : callable
        Runs the check; raises ``AssertionError`` naming what is broken.
    """

    target: str
    name: str
    fn: Callable[[], None]

    @property
    def id(self) -> str:
        """``target::name``, the pytest id of the check."""
        return f"{self.target}::{self.name}"

    def __call__(self) -> None:
        """Run the check (raises ``AssertionError`` on a broken promise)."""
        self.fn()


def _same(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=True) for k in a)


def _strict_json(o):
    if isinstance(o, (np.generic, np.ndarray)):
        return json_default(o)
    raise TypeError(f"stats value of type {type(o).__name__} is not JSON-serialisable")


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


def problem_checks(problem: Problem, suite: str = "smoke", count: int = 2) -> Iterator[Check]:
    """The problem's promises, one check at a time, on the first ``count`` instances of ``suite``.

    Parameters
    ----------
    problem : Problem
        The problem to check.
    suite : str
        Suite whose first instances are generated.
    count : int
        How many instances to generate.

    Yields
    ------
    Check
    """
    t = problem.name

    def statement():
        assert problem.name and problem.sense == "max", f"{t}: a problem has a name and is maximised"
        assert problem.statement.strip(), f"{t}: no formal statement"
        assert problem.instance_keys and problem.solution_keys, f"{t}: no key tables"

    def deterministic():
        s = problem.suite(suite)
        n = min(count, s.count)
        assert n >= 1, f"{t}: suite '{suite}' has no instance: nothing checked"
        for i in range(n):
            a, b = problem.generate(suite, i), problem.generate(suite, i)
            assert a.hash == b.hash, f"{t}/{suite}/{i}: generation is not deterministic"
            problem.check_instance(a)

    def train_seeds():
        train = {n: x.seed for n, x in problem.suites.items() if x.role == "train"}
        evals = {n: x.seed for n, x in problem.suites.items() if x.role != "train"}
        for tn, ts in train.items():
            clash = [n for n, es in evals.items() if es == ts]
            assert not clash, f"{t}: training suite '{tn}' shares its seed with {clash}"

    def one_line_errors():
        inst = problem.generate(suite, 0)
        bad = {k.name: np.zeros(1, dtype=np.int8) for k in problem.solution_keys}
        try:
            rep = problem.check(inst, bad)
        except InputError as e:
            assert "\n" not in str(e), f"{t}: structure errors must be one line"
            return
        raise AssertionError(f"{t}: a solution with every key of the wrong dtype passed the structure check "
                             f"({rep.summary()})")

    for name, fn in (("statement", statement), ("deterministic-generation", deterministic),
                     ("training-seeds-disjoint", train_seeds), ("one-line-structure-errors", one_line_errors)):
        yield Check(t, name, fn)


def check_problem(problem: Problem, suite: str = "smoke", count: int = 2) -> None:
    """Run every check of :func:`problem_checks`.

    Parameters
    ----------
    problem : Problem
        The problem to check.
    suite : str
        Suite whose first instances are generated.
    count : int
        How many instances to generate.

    Raises
    ------
    AssertionError
        Naming the first broken promise.
    """
    for c in problem_checks(problem, suite, count):
        c()


# ---------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------


class _Runs:
    """The solver's answers on the chosen suite, computed once and shared by the checks."""

    def __init__(self, problem: Problem, solver: Solver, suite: str | None, count: int, solve: Callable | None):
        self.problem, self.solver, self.suite, self.count = problem, solver, suite, count
        self.solve = solve or (lambda inst, **kw: solver.solve(inst, **kw))
        self._runs: list | None = None
        self.declined: list[str] = []

    def _suites(self) -> list[str]:
        if self.suite is not None:
            return [self.suite]
        ev = self.problem.eval_suites()
        return [s for s in ("smoke", "small") if s in ev] + [s for s in ev if s not in ("smoke", "small")]

    def runs(self) -> list[tuple]:
        """``(instance, solution, stats, second_solution, mutated)`` on the first suite the solver takes."""
        if self._runs is not None:
            return self._runs
        p, s = self.problem, self.solver
        self._runs = []
        for suite in self._suites():
            for i in range(min(self.count, p.suite(suite).count)):
                inst = p.generate(suite, i)
                reason = s.applies(inst)
                if reason:
                    assert isinstance(reason, str) and reason.strip(), f"{s.name}: applies() must give a reason"
                    self.declined.append(f"{inst.id}: {reason}")
                    continue
                s.setup()
                before = {k: np.array(v, copy=True) for k, v in inst.items()}
                writable = Instance({k: np.array(v, copy=True) for k, v in inst.items()}, inst.meta)
                sol, stats = self.solve(writable)
                mutated = not _same(before, writable)
                sol2, _ = self.solve(inst.readonly())
                self._runs.append((inst, sol, stats, sol2, mutated))
            if self._runs:
                break
        return self._runs

    def solved(self) -> list[tuple]:
        runs = self.runs()
        assert runs, (f"{self.solver.name}: declined every instance it was offered, so nothing was checked "
                      f"({'; '.join(self.declined[:3])})")
        return runs


def solver_checks(problem: Problem, solver: Solver, suite: str | None = None, count: int = 2,
                  solve: Callable | None = None) -> Iterator[Check]:
    """The solver's promises, one check at a time.

    Parameters
    ----------
    problem : Problem
        The problem the solver is checked on.
    solver : Solver
        The solver.
    suite : str, optional
        Suite to check on; by default the first of ``smoke``, ``small`` and
        the problem's other evaluation suites on which the solver takes at
        least one of the first ``count`` instances.
    count : int
        Instances per suite.
    solve : callable, optional
        ``solve(instance) -> (solution, stats)``; by default ``solver.solve``.

    Yields
    ------
    Check
        Every check fails when the solver declined every instance offered.
    """
    yield from _solver_checks(problem, solver, _Runs(problem, solver, suite, count, solve))


def _solver_checks(problem: Problem, solver: Solver, runs: _Runs) -> list[Check]:
    t = f"{problem.name}:{solver.name}"

    def feasible():
        for inst, sol, _, _, _ in runs.solved():
            rep = problem.check(inst, sol)
            assert rep.feasible, f"{solver.name} on {inst.id}: infeasible: {rep.summary()}"

    def not_mutated():
        for inst, _, _, _, mutated in runs.solved():
            assert not mutated, f"{solver.name} on {inst.id}: the instance was mutated"

    def deterministic():
        for inst, sol, _, sol2, _ in runs.solved():
            assert _same(sol, sol2), f"{solver.name} on {inst.id}: not deterministic under the same seed"

    def json_stats():
        for inst, _, stats, _, _ in runs.solved():
            try:
                json.dumps(stats, default=_strict_json)
            except TypeError as e:
                raise AssertionError(f"{solver.name} on {inst.id}: {e}") from None

    def kind_stats():
        for inst, sol, stats, _, _ in runs.solved():
            if solver.kind == "reference":
                assert stats.get("status") in ("opt", "best", "bound"), \
                    f"{solver.name}: reference stats need status opt, best or bound"
                val = float(problem.objective(inst, sol))
                tol = float(stats.get("tolerance", problem.value_tol))
                bound = stats.get("bound")
                if bound is not None:
                    assert float(bound) >= val - max(tol * abs(val), 1e-9), \
                        f"{solver.name} on {inst.id}: bound {bound} below its value {val}"
            elif solver.kind == "distributed":
                assert {"rounds", "messages"} <= set(stats), f"{solver.name}: distributed stats need rounds, messages"
            elif solver.kind == "learned":
                files = weights_files(solver)
                assert files and all(f.is_file() for f in files), \
                    f"{solver.name}: a learned solver names weight files that exist ({files})"

    return [Check(t, name, fn) for name, fn in (
        ("feasible", feasible), ("instance-not-mutated", not_mutated), ("deterministic", deterministic),
        ("json-stats", json_stats), (f"{solver.kind}-stats", kind_stats))]


def check_solver(problem: Problem, solver: Solver, suite: str | None = None, count: int = 2,
                 solve: Callable | None = None) -> dict:
    """Run every check of :func:`solver_checks`.

    Parameters
    ----------
    problem, solver, suite, count, solve
        As for :func:`solver_checks`.

    Returns
    -------
    dict
        ``{"solved": n, "skipped": m}``: instances solved and declined.

    Raises
    ------
    AssertionError
        Naming the first broken promise.
    """
    runs = _Runs(problem, solver, suite, count, solve)
    for c in _solver_checks(problem, solver, runs):
        c()
    return {"solved": len(runs.runs()), "skipped": len(runs.declined)}


# ---------------------------------------------------------------------------
# pytest
# ---------------------------------------------------------------------------


def _checks_for(targets: Iterable) -> Iterator[Check]:
    for t in targets:
        if isinstance(t, str):
            yield from problem_checks(get_problem(t))
        else:
            pname, sname = t
            s = get_solver(sname, pname)
            if not s.available:
                yield Check(f"{pname}:{sname}", "available", lambda s=s: _skip(s.unavailable_reason()))
                continue
            yield from solver_checks(get_problem(pname), s)


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)


def parametrize_with_checks(targets: Iterable, expected_failures: Mapping[str, str] | None = None):
    """A pytest decorator: one test per check of every target.

    Parameters
    ----------
    targets : iterable
        Problem names (problem checks) and ``(problem, solver)`` pairs
        (solver checks).
    expected_failures : mapping, optional
        ``{"problem:solver::check": reason}``: checks that are known to fail,
        marked ``xfail(strict=True)`` so that a fix is noticed. An entry that
        names no generated check is an error.

    Returns
    -------
    callable
        ``pytest.mark.parametrize("check", ...)`` over the checks.

    Raises
    ------
    ValueError
        When ``expected_failures`` names a check that does not exist.
    """
    import pytest

    expected = dict(expected_failures or {})
    checks = list(_checks_for(targets))
    unknown = set(expected) - {c.id for c in checks}
    if unknown:
        raise ValueError(f"expected failures name no check: {', '.join(sorted(unknown))}")
    params = [pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=expected[c.id], raises=AssertionError))
              if c.id in expected else pytest.param(c, id=c.id) for c in checks]
    return pytest.mark.parametrize("check", params)

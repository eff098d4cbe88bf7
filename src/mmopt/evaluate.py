"""Scoring: the one gap function, cell statuses, and evaluation of a solution.

For a maximisation problem with reference value ``r`` and solution value ``v``::

    gap     = (r - v) / max(|r|, 1e-9)
    abs_gap = r - v

A feasible value that beats an ``opt`` reference by more than the
reference's tolerance is a ``mismatch`` (the reference or the checker is
wrong); it is never averaged in as a negative gap.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .api import FeasibilityReport, Problem

STATUSES = ("ok", "infeasible", "timeout", "error", "mismatch", "skipped")
GAP_FLOOR = 1e-9


def gap(reference: float, value: float) -> float:
    """Relative gap of ``value`` below ``reference`` (maximisation)."""
    return (reference - value) / max(abs(reference), GAP_FLOOR)


def abs_gap(reference: float, value: float) -> float:
    return reference - value


def beats(reference: float, value: float, rel_tol: float, abs_tol: float = 1e-9) -> bool:
    """Whether ``value`` exceeds ``reference`` beyond tolerance."""
    return value - reference > max(rel_tol * abs(reference), abs_tol)


@dataclass
class Score:
    status: str
    objective: float | None
    feasible: bool
    max_violation: float
    gap: float | None = None
    abs_gap: float | None = None
    reference: float | None = None
    reference_status: str | None = None
    message: str = ""
    metrics: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)


def problem_metrics(problem: Problem, instance, solution, stats: Mapping | None = None,
                    reference: Mapping | None = None) -> dict:
    """``problem.metrics``, given what its signature asks for.

    ``metrics(instance, solution, stats=None)`` receives the solver's stats
    (top-k accuracy from a solver's ranked beams, say);
    ``metrics(..., reference=None)`` receives the instance's reference record
    (with the reference's ``solution`` where the reference solver kept one): a
    metric that needs the optimum reads it there and never runs a solver.
    """
    names = inspect.signature(problem.metrics).parameters
    kw = {}
    if "stats" in names:
        kw["stats"] = dict(stats or {})
    if "reference" in names:
        kw["reference"] = reference
    return problem.metrics(instance, solution, **kw)


def score(problem: Problem, instance: Mapping[str, np.ndarray], solution: Mapping[str, np.ndarray],
          reference: Mapping | None = None, tol: float = 1e-6, stats: Mapping | None = None) -> Score:
    """Check, evaluate and compare one solution against its reference record.

    Raises :class:`~mmopt.api.InputError` when the solution is malformed.
    """
    rep: FeasibilityReport = problem.check(instance, solution, tol)
    obj = float(problem.objective(instance, solution)) if rep.feasible else None
    metrics = problem_metrics(problem, instance, solution, stats, reference) if rep.feasible else {}
    s = Score(status="ok" if rep.feasible else "infeasible", objective=obj, feasible=rep.feasible,
              max_violation=rep.max_violation, message="" if rep.feasible else rep.summary(),
              metrics={k: float(v) for k, v in metrics.items()}, violations=rep.to_dict()["violations"])
    return compare(s, reference, problem.value_tol)


def compare(s: Score, reference: Mapping | None, default_tol: float) -> Score:
    """Fill gap fields of ``s`` from a reference record (DESIGN.md)."""
    if reference is None or s.objective is None or reference.get("value") is None:
        return s
    r = float(reference["value"])
    s.reference, s.reference_status = r, reference.get("status")
    s.gap, s.abs_gap = gap(r, s.objective), abs_gap(r, s.objective)
    rtol = float(reference.get("tolerance") or default_tol)
    if s.status == "ok" and s.reference_status == "opt" and beats(r, s.objective, rtol):
        s.status = "mismatch"
        s.message = (f"feasible value {s.objective:.9g} beats the opt reference {r:.9g} "
                     f"beyond its tolerance {rtol:g}")
    return s


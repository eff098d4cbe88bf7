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

__all__ = ["STATUSES", "GAP_FLOOR", "gap", "abs_gap", "beats", "Score", "problem_metrics", "score", "compare"]

#: every status a cell can have (``lost``: its run or Dask scheduler went away; run again next time)
STATUSES = ("ok", "infeasible", "timeout", "error", "mismatch", "skipped", "lost")
#: smallest denominator of the relative gap
GAP_FLOOR = 1e-9


def gap(reference: float, value: float) -> float:
    """Relative gap of ``value`` below ``reference`` (maximisation).

    Parameters
    ----------
    reference : float
        The reference value ``r``.
    value : float
        The solution's value ``v``.

    Returns
    -------
    float
        ``(r - v) / max(|r|, GAP_FLOOR)``; negative when ``v`` beats ``r``.
    """
    return (reference - value) / max(abs(reference), GAP_FLOOR)


def abs_gap(reference: float, value: float) -> float:
    """Absolute gap of ``value`` below ``reference`` (maximisation).

    Parameters
    ----------
    reference : float
        The reference value ``r``.
    value : float
        The solution's value ``v``.

    Returns
    -------
    float
        ``r - v``, in the objective's unit.
    """
    return reference - value


def beats(reference: float, value: float, rel_tol: float, abs_tol: float = 1e-9) -> bool:
    """Whether ``value`` exceeds ``reference`` beyond tolerance.

    Parameters
    ----------
    reference : float
        The reference value.
    value : float
        The solution's value.
    rel_tol : float
        Relative tolerance, times ``|reference|``.
    abs_tol : float, optional
        Smallest absolute tolerance.

    Returns
    -------
    bool
        ``value - reference > max(rel_tol * |reference|, abs_tol)``.
    """
    return value - reference > max(rel_tol * abs(reference), abs_tol)


@dataclass
class Score:
    """The evaluation of one solution.

    Attributes
    ----------
    status : str
        ``ok``, ``infeasible`` or ``mismatch`` (see :data:`STATUSES`).
    objective : float or None
        The objective value (``None`` when infeasible).
    feasible : bool
        Whether the solution has no violation.
    max_violation : float
        The largest violation size (0.0 when feasible).
    gap, abs_gap : float or None
        Relative and absolute gap below the reference (``None`` without a usable reference).
    reference : float or None
        The reference value.
    reference_status : str or None
        The reference's status (``opt``, ``best`` or ``bound``).
    message : str
        The first violations, or why the cell is a mismatch.
    metrics : dict of str to float
        The problem's extra metrics (empty when infeasible).
    violations : list of dict
        Every violation (``constraint``, ``size``, ``where``).
    """

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

    Parameters
    ----------
    problem : Problem
        The problem.
    instance : mapping of str to numpy.ndarray
        The instance.
    solution : mapping of str to numpy.ndarray
        A feasible solution.
    stats : mapping, optional
        The solver's stats (passed as a dict, ``{}`` when ``None``).
    reference : mapping, optional
        The instance's reference record.

    Returns
    -------
    dict
        What ``problem.metrics`` returns.
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

    Parameters
    ----------
    problem : Problem
        The problem.
    instance : mapping of str to numpy.ndarray
        The instance.
    solution : mapping of str to numpy.ndarray
        The solution.
    reference : mapping, optional
        The instance's reference record (``value``, ``status``, ``tolerance``).
    tol : float, optional
        Tolerance of the constraints.
    stats : mapping, optional
        The solver's stats, for problems whose metrics read them.

    Returns
    -------
    Score
        Status ``ok``, ``infeasible`` or ``mismatch``, with value, gaps and metrics.

    Raises
    ------
    InputError
        When the solution is malformed (a missing key, a wrong dtype or shape).
    """
    rep: FeasibilityReport = problem.check(instance, solution, tol)
    obj = float(problem.objective(instance, solution)) if rep.feasible else None
    metrics = problem_metrics(problem, instance, solution, stats, reference) if rep.feasible else {}
    s = Score(status="ok" if rep.feasible else "infeasible", objective=obj, feasible=rep.feasible,
              max_violation=rep.max_violation, message="" if rep.feasible else rep.summary(),
              metrics={k: float(v) for k, v in metrics.items()}, violations=rep.to_dict()["violations"])
    return compare(s, reference, problem.value_tol)


def compare(s: Score, reference: Mapping | None, default_tol: float) -> Score:
    """Fill the gap fields of ``s`` from a reference record (DESIGN.md).

    An ``ok`` score whose value beats an ``opt`` reference beyond the
    reference's tolerance becomes a ``mismatch``.

    Parameters
    ----------
    s : Score
        The score, modified in place.
    reference : mapping or None
        The reference record; ``None``, or one without ``value``, leaves ``s`` unchanged.
    default_tol : float
        Relative tolerance used when the record has no ``tolerance``.

    Returns
    -------
    Score
        ``s`` itself.
    """
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


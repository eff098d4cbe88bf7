"""Validate a user's algorithm against the stored references (``mmopt validate``).

The user's function ``f(instance: dict[str, ndarray]) -> dict[str, ndarray]``
(or ``-> (solution, stats)``) runs on every instance of a suite, each in a
time-limited child; every output is checked for feasibility and scored by
its gap against the shipped reference record.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .api import MmoptError
from .cell import evaluate_in_child, to_score
from .references import load_references
from .registry import get_problem
from .sandbox import run_limited


def load_callable(spec: str) -> Callable:
    """``package.module:function`` or ``path/to/file.py:function``."""
    if ":" not in spec:
        raise MmoptError(f"expected MODULE:CALLABLE, got '{spec}'")
    mod_name, _, attr = spec.rpartition(":")
    try:
        if mod_name.endswith(".py") or "/" in mod_name:
            path = Path(mod_name)
            if not path.is_file():
                raise MmoptError(f"no such file: {path}")
            spec_ = importlib.util.spec_from_file_location(path.stem, path)
            mod = importlib.util.module_from_spec(spec_)
            sys.modules[path.stem] = mod
            spec_.loader.exec_module(mod)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            mod = importlib.import_module(mod_name)
    except MmoptError:
        raise
    except Exception as e:  # the user's module failed to import
        raise MmoptError(f"cannot import '{mod_name}': {type(e).__name__}: {e}") from None
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise MmoptError(f"'{mod_name}' has no callable '{attr}'")
    return fn


def _as_solution(out):
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
        return out[0], out[1]
    return out, {}


@dataclass
class ValidationResult:
    problem: str
    suite: str
    rows: list = field(default_factory=list)

    @property
    def all_feasible(self) -> bool:
        return bool(self.rows) and all(r["status"] in ("ok", "mismatch") for r in self.rows)


def validate(spec: str, problem_name: str, suite: str, count: int | None = None,
             time_limit: float | None = 300.0, progress: Callable[[dict], None] | None = None) -> ValidationResult:
    fn = load_callable(spec)
    p = get_problem(problem_name)
    refs = load_references(problem_name, suite)
    n = p.suite(suite).count if count is None else min(count, p.suite(suite).count)
    res = ValidationResult(problem_name, suite)
    for i in range(n):
        inst = p.generate(suite, i)
        out = run_limited(lambda inst=inst: evaluate_in_child(p, inst, lambda x: _as_solution(fn(dict(x))), False),
                          time_limit)
        sc = to_score(out, refs.get(inst.hash), p.value_tol)
        row = {"instance": inst.id, "status": sc.status, "objective": sc.objective, "reference": sc.reference,
               "gap": sc.gap, "seconds": out.info.get("seconds", out.wall), "message": sc.message}
        res.rows.append(row)
        if progress:
            progress(row)
    return res

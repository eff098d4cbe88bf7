"""Reference records: certified values per problem, suite and instance.

One line of JSON per instance in ``reference_results/<problem>/<suite>.jsonl``
(installed as the package ``mmopt.reference_results``)::

    {"problem": ..., "suite": ..., "instance": "paper/0007", "index": 7,
     "hash": "<sha256>", "value": 3.21, "bound": 3.21000001,
     "status": "opt" | "best" | "bound", "method": "exhaustive",
     "tolerance": 1e-6, "solver_version": 2, "seconds": 0.41, "params": {...}}

``status``: ``opt`` proven optimal within ``tolerance`` (relative), ``best``
best known value, ``bound`` only an upper bound (``value`` is then the bound).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterable, Mapping

from .api import MmoptError

REFERENCE_STATUSES = ("opt", "best", "bound")
RECORD_FIELDS = ("problem", "suite", "instance", "index", "hash", "value", "bound", "status", "method",
                 "tolerance", "solver_version", "seconds", "params")


def reference_dir() -> Path:
    """Folder of shipped references (``MMOPT_REFERENCE_DIR`` overrides)."""
    env = os.environ.get("MMOPT_REFERENCE_DIR")
    if env:
        return Path(env)
    import mmopt.reference_results as rr

    return Path(rr.__file__).parent


def reference_path(problem: str, suite: str, root: Path | None = None) -> Path:
    return (root or reference_dir()) / problem / f"{suite}.jsonl"


def load_references(problem: str, suite: str, root: Path | None = None) -> dict[str, dict]:
    """Records of one suite keyed by instance hash (empty if none shipped)."""
    path = reference_path(problem, suite, root)
    if not path.exists():
        return {}
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise MmoptError(f"{path}:{n}: not valid JSON") from None
        out[rec["hash"]] = rec
    return out


def make_record(problem: str, instance, value: float, bound: float | None, status: str, method: str,
                tolerance: float, solver_version: int, seconds: float, params: Mapping | None = None) -> dict:
    if status not in REFERENCE_STATUSES:
        raise ValueError(f"reference status must be one of {REFERENCE_STATUSES}")
    meta = instance.meta
    return {"problem": problem, "suite": meta.get("suite"), "instance": instance.id,
            "index": meta.get("index"), "hash": instance.hash, "value": float(value),
            "bound": None if bound is None else float(bound), "status": status, "method": method,
            "tolerance": float(tolerance), "solver_version": int(solver_version),
            "seconds": round(float(seconds), 4), "params": dict(params or {})}


def write_references(path: Path, records: Iterable[Mapping]) -> Path:
    """Write records (sorted by index) atomically, one JSON object per line."""
    records = sorted(records, key=lambda r: (r.get("index") is None, r.get("index") or 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("".join(json.dumps({k: r.get(k) for k in RECORD_FIELDS}) + "\n" for r in records))
    os.replace(tmp, path)
    return path


def compute_references(problem_name: str, suite: str, solver_name: str, params: Mapping | None = None,
                       indices: Iterable[int] | None = None, root: Path | None = None,
                       progress: bool = True) -> Path:
    """Solve every instance of a suite with a reference solver and write the records.

    The solver's stats must carry ``value``, ``bound``, ``status`` and
    ``tolerance`` (the certificate); its solution is re-checked and
    re-evaluated here, and a disagreement beyond the tolerance is an error.
    """
    from .registry import get_problem, get_solver

    p = get_problem(problem_name)
    s = get_solver(solver_name, problem_name)
    params = s.canonical_params(params)
    idx = list(indices) if indices is not None else list(range(p.suite(suite).count))
    recs = []
    for i in idx:
        inst = p.generate(suite, i)
        t0 = time.perf_counter()
        sol, stats = s.solve(inst.readonly(), **params)
        secs = time.perf_counter() - t0
        rep = p.check(inst, sol)
        if not rep.feasible:
            raise MmoptError(f"{solver_name} returned an infeasible solution on {inst.id}: {rep.summary()}")
        val = float(p.objective(inst, sol))
        status = stats.get("status", "best")
        tol = float(stats.get("tolerance", p.value_tol))
        claimed = stats.get("value", val)
        if status != "bound" and abs(claimed - val) > max(tol * abs(val), 1e-9) * 10:
            raise MmoptError(f"{solver_name} on {inst.id}: reported value {claimed} but its solution "
                             f"evaluates to {val}")
        value = float(stats["value"]) if status == "bound" else val
        recs.append(make_record(problem_name, inst, value, stats.get("bound"), status, solver_name, tol,
                                s.version, secs, params))
        if progress:
            print(f"{problem_name}/{inst.id}: {value:.6g} ({status}, {secs:.2f} s)", flush=True)
    return write_references(reference_path(problem_name, suite, root), recs)

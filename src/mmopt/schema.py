"""The one schema of a cell and of its stored row, shared by the cell, the runner and the store.

A :class:`Cell` is the unit of work: (problem, suite, index, solver,
parameters, seed) with its cache key, expected instance hash, reference
record and limits. :func:`mmopt.cell.run_cell` turns it into a :class:`Row`,
the finished, scored result; :class:`mmopt.store.Store` writes rows, and its
table's columns are :data:`COLUMNS`, derived from :class:`Row`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .api import json_safe, params_key

__all__ = ["COLUMNS", "Cell", "JSON_COLUMNS", "Row"]


@dataclass
class Cell:
    """One cell of the benchmark matrix, as the runner sends it to a worker.

    Attributes
    ----------
    problem, solver : str
        Problem and solver names (a user's function is ``user:MODULE:CALLABLE``).
    suite : str or None
        Suite name (None for a file given by the user).
    index : int or None
        Instance index in the suite.
    params : dict
        Canonical solver parameters.
    seed : int
        Seed (also in ``params`` for solvers that take one).
    hash : str or None
        Expected instance hash (from the suite manifest); checked by the worker.
    key : str or None
        Cache key in the store.
    reference : dict or None
        The instance's reference record.
    time_limit : float or None
        Seconds the solver may run.
    memory_limit : float or None
        GB the cell may allocate.
    driver_pid : int or None
        The cell is killed when this process is gone (same machine only).
    instance : dict or None
        ``{"arrays": ..., "meta": ...}`` of an instance given as a file.
    """

    problem: str
    solver: str
    suite: str | None = None
    index: int | None = None
    params: dict = field(default_factory=dict)
    seed: int = 0
    hash: str | None = None
    key: str | None = None
    reference: dict | None = None
    time_limit: float | None = None
    memory_limit: float | None = None
    driver_pid: int | None = None
    instance: dict | None = None

    @property
    def instance_id(self) -> str:
        """``suite/index`` as the store names instances."""
        return f"{self.suite}/{int(self.index or 0):04d}"


def _col(sql: str, default: Any = None, factory=None):
    if factory is not None:
        return field(default_factory=factory, metadata={"sql": sql})
    return field(default=default, metadata={"sql": sql})


@dataclass
class Row:
    """The finished, scored result of a cell: one row of the store's ``cells`` table.

    Attributes
    ----------
    cache_key : str
        Instance hash, solver, version, parameters and weights sha256, hashed.
    status : str
        ``ok``, ``infeasible``, ``timeout``, ``error``, ``mismatch``, ``skipped`` or ``lost``
        (the run or its Dask scheduler went away: run again next time).
    objective, reference, gap, abs_gap : float or None
        The solution's value, the reference value and the gap (DESIGN.md).
    stats, metrics : dict
        The solver's stats and the problem's metrics.
    solution : dict or None
        The solution arrays when the caller asked for them (never stored).
    """

    cache_key: str | None = _col("TEXT PRIMARY KEY")
    run_id: str | None = _col("TEXT")
    problem: str | None = _col("TEXT")
    suite: str | None = _col("TEXT")
    instance: str | None = _col("TEXT")
    instance_index: int | None = _col("INTEGER")
    instance_hash: str | None = _col("TEXT")
    solver: str | None = _col("TEXT")
    kind: str | None = _col("TEXT")
    solver_version: int | None = _col("INTEGER")
    params: str | None = _col("TEXT")
    seed: int | None = _col("INTEGER")
    status: str | None = _col("TEXT")
    objective: float | None = _col("REAL")
    feasible: int = _col("INTEGER", 0)
    max_violation: float | None = _col("REAL")
    reference: float | None = _col("REAL")
    reference_status: str | None = _col("TEXT")
    gap: float | None = _col("REAL")
    abs_gap: float | None = _col("REAL")
    seconds: float | None = _col("REAL")
    wall_seconds: float | None = _col("REAL")
    time_limit: float | None = _col("REAL")
    message: str = _col("TEXT", "")
    stats: dict = _col("TEXT", factory=dict)
    metrics: dict = _col("TEXT", factory=dict)
    provenance: dict | None = _col("TEXT")
    created: str | None = _col("TEXT")
    solution: dict | None = field(default=None, metadata={"sql": None}, repr=False)

    @classmethod
    def of(cls, cell: Cell, **values) -> "Row":
        """A row for ``cell``: its identity filled in, then ``values``.

        Parameters
        ----------
        cell : Cell
            The cell the row reports on.
        **values
            Further column values.

        Returns
        -------
        Row
        """
        base = dict(cache_key=cell.key, problem=cell.problem, suite=cell.suite, instance_index=cell.index,
                    instance=cell.instance_id, instance_hash=cell.hash, solver=cell.solver,
                    params=params_key(cell.params), seed=cell.seed, time_limit=cell.time_limit)
        return cls(**{**base, **values})

    def record(self) -> dict:
        """The stored columns: JSON columns encoded (non-finite numbers as null), ``created`` set, the solution left out.

        Returns
        -------
        dict
            Column name -> SQLite value.
        """
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("sql") is None:
                continue
            v = getattr(self, f.name)
            if f.name in JSON_COLUMNS and v is not None and not isinstance(v, str):
                v = json.dumps(json_safe(v), sort_keys=True, allow_nan=False)  # NaN and inf become null
            elif isinstance(v, float) and not math.isfinite(v):
                v = None
            out[f.name] = v
        if out.get("created") is None:
            out["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        return out

    @classmethod
    def from_mapping(cls, row: Mapping) -> "Row":
        """A row from a mapping of column values (unknown names are an error).

        Parameters
        ----------
        row : mapping
            Column name -> value.

        Returns
        -------
        Row

        Raises
        ------
        ValueError
            When ``row`` names a column the store does not have.
        """
        unknown = set(row) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown store columns: {sorted(unknown)}")
        return cls(**dict(row))


#: the store's ``cells`` table: column -> SQLite type, in order
COLUMNS = {f.name: f.metadata["sql"] for f in dataclasses.fields(Row) if f.metadata.get("sql")}
#: columns stored as JSON text
JSON_COLUMNS = ("params", "stats", "metrics", "provenance")

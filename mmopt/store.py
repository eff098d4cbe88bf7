"""SQLite result store: one row per cell, with provenance.

The cache key of a cell is the SHA-256 of (instance hash, solver, solver
version, canonical parameters); a stored key is not run again unless forced.
Rows are committed as cells finish, so an interrupted run keeps them.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sqlite3
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from .api import json_default

DEFAULT_DB = "mmopt-results.sqlite"

COLUMNS = {
    "cache_key": "TEXT PRIMARY KEY",
    "run_id": "TEXT",
    "problem": "TEXT", "suite": "TEXT", "instance": "TEXT", "instance_index": "INTEGER",
    "instance_hash": "TEXT",
    "solver": "TEXT", "kind": "TEXT", "solver_version": "INTEGER", "params": "TEXT", "seed": "INTEGER",
    "status": "TEXT", "objective": "REAL", "feasible": "INTEGER", "max_violation": "REAL",
    "reference": "REAL", "reference_status": "TEXT", "gap": "REAL", "abs_gap": "REAL",
    "seconds": "REAL", "wall_seconds": "REAL", "time_limit": "REAL",
    "message": "TEXT", "stats": "TEXT", "metrics": "TEXT", "provenance": "TEXT", "created": "TEXT",
}


def default_db() -> str:
    return os.environ.get("MMOPT_DB", DEFAULT_DB)


def cache_key(instance_hash: str, solver: str, version: int, params_json: str, fingerprint: str = "") -> str:
    """SHA-256 of (instance hash, solver, version, canonical parameters[, weights sha256])."""
    extra = f"|{fingerprint}" if fingerprint else ""
    return hashlib.sha256(f"{instance_hash}|{solver}|{version}|{params_json}{extra}".encode()).hexdigest()


@lru_cache(maxsize=1)
def provenance() -> dict:
    """mmopt version, git SHA (if any), host, Python and key package versions."""
    import importlib.metadata as md

    import mmopt

    def ver(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    sha = None
    try:
        root = Path(mmopt.__file__).resolve().parent.parent
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"mmopt": mmopt.__version__, "git": sha, "host": socket.gethostname(),
            "python": platform.python_version(), "platform": platform.platform(),
            **{p: ver(p) for p in ("numpy", "scipy", "cvxpy", "clarabel", "highspy", "pyomo", "dask",
                                   "distributed", "torch")}}


class Store:
    """Results database (``with Store(path) as st: ...``)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path or default_db())
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=30)
        self.con.execute("PRAGMA journal_mode=WAL")
        cols = ", ".join(f"{k} {v}" for k, v in COLUMNS.items())
        self.con.execute(f"CREATE TABLE IF NOT EXISTS cells ({cols})")
        have = {r[1] for r in self.con.execute("PRAGMA table_info(cells)")}
        for k, v in COLUMNS.items():
            if k not in have:
                self.con.execute(f"ALTER TABLE cells ADD COLUMN {k} {v.replace(' PRIMARY KEY', '')}")
        self.con.commit()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.commit()
        self.con.close()

    def has(self, key: str) -> bool:
        return self.con.execute("SELECT 1 FROM cells WHERE cache_key = ?", (key,)).fetchone() is not None

    def keys(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT cache_key FROM cells WHERE cache_key IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.con.execute(q, chunk))
        return found

    def commit(self) -> None:
        self.con.commit()
        self._last_commit = time.perf_counter()

    def commit_every(self, seconds: float) -> None:
        """Commit if the last commit is older than ``seconds`` (rows stream in without a commit per row)."""
        if time.perf_counter() - getattr(self, "_last_commit", 0.0) >= seconds:
            self.commit()

    def put(self, row: Mapping, commit: bool = True) -> None:
        row = dict(row)
        for k in ("params", "stats", "metrics", "provenance"):
            if k in row and not isinstance(row[k], str):
                row[k] = json.dumps(row[k], sort_keys=True, default=json_default)
        row.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown store columns: {sorted(unknown)}")
        names = list(row)
        self.con.execute(f"INSERT OR REPLACE INTO cells ({', '.join(names)}) VALUES "
                         f"({', '.join('?' * len(names))})", [row[n] for n in names])
        if commit:
            self.commit()

    def frame(self, problems: Iterable[str] | None = None, suites: Iterable[str] | None = None,
              solvers: Iterable[str] | None = None):
        """All rows as a pandas DataFrame (JSON columns left as text)."""
        import pandas as pd

        q, args, where = "SELECT * FROM cells", [], []
        for col, vals in (("problem", problems), ("suite", suites), ("solver", solvers)):
            if vals:
                vals = list(vals)
                where.append(f"{col} IN ({','.join('?' * len(vals))})")
                args += vals
        if where:
            q += " WHERE " + " AND ".join(where)
        return pd.read_sql_query(q + " ORDER BY problem, suite, solver, instance", self.con, params=args)

    def export(self, path: str | os.PathLike, **filters) -> Path:
        """Write rows to ``.csv`` or ``.parquet`` (atomically)."""
        path = Path(path)
        df = self.frame(**filters)
        tmp = path.with_name(f".{path.name}.tmp")
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif path.suffix in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            from .api import MmoptError

            raise MmoptError(f"{path}: export format must be .csv or .parquet")
        os.replace(tmp, path)
        return path

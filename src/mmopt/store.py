"""SQLite result store: one row per cell, with provenance.

The cache key of a cell is the SHA-256 of (instance hash, solver, solver
version, canonical parameters, weights sha256); a stored key is not run again unless forced
(failed cells are retried: see :func:`mmopt.runner.run`). Rows are committed
as cells finish, so an interrupted run keeps them.

Runs sharing a store claim the cells they compute (table ``claims``: the
cell's key, the owner run, its host and pid, and a lease renewed while the
run lives); a cell claimed by a live run is left to it. A file that is not
an mmopt store (not SQLite, corrupted, a directory, a ``cells`` table with
other columns) is refused with a one-line error and left untouched. Reading
commands open the store read-only (``Store(path, readonly=True)``): nothing
is created or altered, and a locked store is one error, not a long wait.
Every row the runner stores is committed at once (WAL with
``synchronous=NORMAL``: a commit survives a killed process).
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import platform
import socket
import sqlite3
import subprocess
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from ._version import __version__
from .api import MmoptError
from .cli_util import atomic_write, check_output
from .sandbox import pid_alive
from .schema import COLUMNS, Row

__all__ = ["DEFAULT_DB", "CORE_COLUMNS", "LEASE_SECONDS", "default_db", "cache_key", "provenance", "Store", "Lease"]

#: the store's file, in the current directory, when neither ``--db`` nor ``MMOPT_DB`` names one
DEFAULT_DB = "mmopt-results.sqlite"



#: columns every mmopt ``cells`` table has had (older stores get the newer columns added)
CORE_COLUMNS = {"cache_key", "problem", "suite", "solver", "params", "status", "objective"}
#: seconds a claim lasts unless renewed (:class:`Lease` renews it every quarter of that)
LEASE_SECONDS = 60.0
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_db() -> str:
    """The default results store: ``$MMOPT_DB``, else :data:`DEFAULT_DB`.

    Returns
    -------
    str
        A path (relative ones to the current directory).
    """
    return os.environ.get("MMOPT_DB", DEFAULT_DB)


def cache_key(instance_hash: str, solver: str, version: int, params_json: str, fingerprint: str = "") -> str:
    """SHA-256 of (instance hash, solver, version, canonical parameters[, weights sha256]).

    Parameters
    ----------
    instance_hash : str
        The instance's hash.
    solver : str
        Solver name.
    version : int
        Solver version.
    params_json : str
        Canonical parameters (:func:`mmopt.api.params_key`).
    fingerprint : str
        Weights sha256 (:func:`mmopt.learned.fingerprint`); ``""``: none, and
        the key is the one of a solver without weights.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    extra = f"|{fingerprint}" if fingerprint else ""
    return hashlib.sha256(f"{instance_hash}|{solver}|{version}|{params_json}{extra}".encode()).hexdigest()


@lru_cache(maxsize=1)
def provenance() -> dict:
    """mmopt version, git SHA (if any), host, Python and key package versions.

    Computed once per process (cached).

    Returns
    -------
    dict
        ``mmopt``, ``git`` (``git rev-parse HEAD`` in the package's folder;
        ``None`` outside a git checkout or without git), ``host``, ``python``,
        ``platform``, and the installed versions of numpy, scipy, cvxpy,
        clarabel, highspy, pyomo, dask, distributed and torch (``None`` for
        one that is not installed).
    """
    def ver(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    sha = None
    try:
        root = Path(__file__).resolve().parent
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"mmopt": __version__, "git": sha, "host": socket.gethostname(),
            "python": platform.python_version(), "platform": platform.platform(),
            **{p: ver(p) for p in ("numpy", "scipy", "cvxpy", "clarabel", "highspy", "pyomo", "dask",
                                   "distributed", "torch")}}


class Store:
    """Results database (``with Store(path) as st: ...``).

    Opening creates the file, its folder and the ``cells`` (columns
    :data:`mmopt.schema.COLUMNS`) and ``claims`` tables as needed, adds the
    columns an older mmopt store lacks, and switches SQLite to WAL
    journaling. Closing (or leaving the ``with`` block) commits.

    With ``readonly`` (``table``, ``export``, ``reproduce``, ``plot``) the
    file is opened read-only and never changed: no table is created, no
    column added (an older store's missing columns read as empty), and a
    store locked by another process is one error after three seconds, not a
    thirty-second wait called corruption.

    Parameters
    ----------
    path : str or path-like, optional
        The SQLite file (default :func:`default_db`).
    readonly : bool, optional
        Open for reading only (the file must exist).

    Attributes
    ----------
    path : pathlib.Path
        The SQLite file.
    con : sqlite3.Connection
        The connection (30-second busy timeout).

    Raises
    ------
    MmoptError
        When ``path`` is a directory, cannot be read, is not a SQLite file, is
        read-only (when opened for writing), locked, or corrupted, has a ``cells`` table that is not an mmopt
        results table, or when its folder cannot be created or written.
    """

    def __init__(self, path: str | os.PathLike | None = None, readonly: bool = False):
        self.path = Path(path or default_db())
        self.readonly = readonly
        where = f"results store {self.path}"
        if self.path.is_dir():
            raise MmoptError(f"{where}: is a directory, not a SQLite file")
        if self.path.exists():
            try:
                with open(self.path, "rb") as f:
                    head = f.read(16)
            except OSError as e:
                raise MmoptError(f"{where}: cannot be read ({e.strerror})") from None
            if head and head != _SQLITE_MAGIC:
                raise MmoptError(f"{where}: not a SQLite file (not an mmopt results store)")
        elif readonly:
            raise MmoptError(f"{where}: no such file")
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise MmoptError(f"{where}: cannot create its folder ({e.strerror})") from None
            if not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise MmoptError(f"{where}: folder {self.path.parent} is not writable")
        try:
            if readonly:
                self.con = self._connect_readonly()
            else:
                self.con = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as e:
            raise MmoptError(f"{where}: cannot be opened ({e})") from None
        try:
            have = {r[1]: r for r in self.con.execute("PRAGMA table_info(cells)")}
            if have:
                pk = [r[1] for r in have.values() if r[5]]
                foreign = set(have) - set(COLUMNS)
                if foreign or not CORE_COLUMNS <= set(have) or pk != ["cache_key"]:
                    raise MmoptError(f"{where}: its 'cells' table is not an mmopt results table "
                                     f"(columns {', '.join(sorted(have))}); use another --db")
            self._columns = [k for k in COLUMNS if k in have] if have else []
            if readonly:
                return
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")  # WAL: every commit survives a killed process
            cols = ", ".join(f"{k} {v}" for k, v in COLUMNS.items())
            self.con.execute(f"CREATE TABLE IF NOT EXISTS cells ({cols})")
            for k, v in COLUMNS.items():
                if have and k not in have:
                    self.con.execute(f"ALTER TABLE cells ADD COLUMN {k} {v.replace(' PRIMARY KEY', '')}")
            self._columns = list(COLUMNS)
            self.con.execute("CREATE TABLE IF NOT EXISTS claims (cache_key TEXT PRIMARY KEY, owner TEXT, "
                             "host TEXT, pid INTEGER, expires REAL)")
            self.con.commit()
        except MmoptError:
            self.con.close()
            raise
        except sqlite3.Error as e:
            self.con.close()
            raise MmoptError(f"{where}: {self._explain(e)}") from None

    @staticmethod
    def _explain(e: sqlite3.Error) -> str:
        msg = str(e)
        if "locked" in msg or "busy" in msg:
            return "is locked by another process (try again when it has finished)"
        if "readonly" in msg or "unable to open" in msg:
            return "is read-only or its folder is not writable"
        return f"is corrupted or not an mmopt results store ({e})"

    def _connect_readonly(self) -> sqlite3.Connection:
        """A connection that never writes: ``mode=ro``, or ``immutable=1`` where the folder cannot be written."""
        uri = self.path.resolve().as_uri()
        immutable = not os.access(self.path.parent, os.W_OK) and not Path(f"{self.path}-wal").exists()
        con = sqlite3.connect(f"{uri}?{'immutable=1' if immutable else 'mode=ro'}", uri=True, timeout=3)
        con.execute("PRAGMA query_only=1")
        return con

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Commit (unless read-only) and close the connection."""
        if not self.readonly:
            self.con.commit()
        self.con.close()

    def has(self, key: str) -> bool:
        """Whether a row with cache key ``key`` is stored.

        Parameters
        ----------
        key : str
            Cache key.

        Returns
        -------
        bool
        """
        return self.con.execute("SELECT 1 FROM cells WHERE cache_key = ?", (key,)).fetchone() is not None

    def keys(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` that are stored.

        Parameters
        ----------
        keys : iterable of str
            Cache keys.

        Returns
        -------
        set of str
        """
        keys = list(keys)
        found = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT cache_key FROM cells WHERE cache_key IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.con.execute(q, chunk))
        return found

    def run_ids(self, keys: Iterable[str]) -> dict[str, str]:
        """The run that stored each of ``keys`` (stored keys only).

        Parameters
        ----------
        keys : iterable of str
            Cache keys.

        Returns
        -------
        dict
            Cache key -> run id.
        """
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT cache_key, run_id FROM cells WHERE cache_key IN ({','.join('?' * len(chunk))})"
            out.update({r[0]: r[1] for r in self.con.execute(q, chunk)})
        return out

    def failed(self, keys: Iterable[str]) -> dict[str, tuple[str, float | None]]:
        """(status, time limit) of the stored cells among ``keys`` whose status is ``timeout``, ``error`` or ``lost``.

        Parameters
        ----------
        keys : iterable of str
            Cache keys.

        Returns
        -------
        dict
            Cache key -> (status, time limit in seconds or ``None``).
        """
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = (f"SELECT cache_key, status, time_limit FROM cells WHERE status IN ('timeout', 'error', 'lost') "
                 f"AND cache_key IN ({','.join('?' * len(chunk))})")
            out.update({r[0]: (r[1], r[2]) for r in self.con.execute(q, chunk)})
        return out

    # -- claims: runs sharing a store never compute the same cell twice ----------
    def claim(self, keys: Iterable[str], owner: str, lease: float = LEASE_SECONDS) -> set[str]:
        """Claim the cells ``keys`` not claimed by another live run; returns the keys now owned.

        A claim of another owner is taken over when its lease has expired or
        its process, on this host, is gone. Pending changes are committed
        first; the claims are written in one transaction.

        Parameters
        ----------
        keys : iterable of str
            Cache keys.
        owner : str
            The claiming run's id.
        lease : float
            Seconds the claims last unless renewed.

        Returns
        -------
        set of str
            The keys ``owner`` now holds (including those it held already).

        Raises
        ------
        sqlite3.Error
            When the store stays locked by another writer past the busy
            timeout (the transaction is rolled back).
        """
        keys, now, host = list(keys), time.time(), socket.gethostname()
        self.commit()
        self.con.execute("BEGIN IMMEDIATE")
        try:
            taken = {}
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT cache_key, owner, host, pid, expires FROM claims WHERE cache_key IN ({','.join('?' * len(chunk))})"
                taken.update({r[0]: r[1:] for r in self.con.execute(q, chunk)})
            mine = set()
            for k in keys:
                t = taken.get(k)
                if t is not None and t[0] != owner and t[3] > now and not (t[1] == host and not pid_alive(t[2])):
                    continue
                mine.add(k)
            self.con.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                                 [(k, owner, host, os.getpid(), now + lease) for k in mine])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return mine

    def claim_owners(self, keys: Iterable[str]) -> dict[str, int]:
        """Who holds the claims on ``keys``: ``"RUN_ID (pid P on HOST)"`` -> number of cells.

        Parameters
        ----------
        keys : iterable of str
            Cache keys.

        Returns
        -------
        dict
            One entry per owner of at least one of the keys.
        """
        keys, out = list(keys), {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT owner, host, pid FROM claims WHERE cache_key IN ({','.join('?' * len(chunk))})"
            for owner, host, pid in self.con.execute(q, chunk):
                name = f"{owner} (pid {pid} on {host})"
                out[name] = out.get(name, 0) + 1
        return out

    def renew(self, owner: str, lease: float = LEASE_SECONDS) -> None:
        """Extend every claim of ``owner`` to ``lease`` seconds from now, and commit.

        Parameters
        ----------
        owner : str
            The run id holding the claims.
        lease : float
            Seconds from now.
        """
        self.con.execute("UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + lease, owner))
        self.commit()

    def keep_claims(self, owner: str, every: float = LEASE_SECONDS / 4) -> "Lease":
        """Renew ``owner``'s claims from a background thread (its own connection) until stopped.

        Parameters
        ----------
        owner : str
            The run id holding the claims.
        every : float
            Seconds between renewals.

        Returns
        -------
        Lease
            Call ``stop()`` when the run ends. Each renewal extends the claims
            by :data:`LEASE_SECONDS`.
        """
        return Lease(self.path, owner, every)

    def release(self, owner: str, keys: Iterable[str] | None = None) -> None:
        """Drop claims of ``owner``, and commit.

        Parameters
        ----------
        owner : str
            The run id holding the claims.
        keys : iterable of str, optional
            The cache keys to let go (default: every claim of ``owner``).
        """
        if keys is None:
            self.con.execute("DELETE FROM claims WHERE owner = ?", (owner,))
        else:
            self.con.executemany("DELETE FROM claims WHERE owner = ? AND cache_key = ?", [(owner, k) for k in keys])
        self.commit()

    def commit(self) -> None:
        """Commit pending rows and claims (and note the time for :meth:`commit_every`)."""
        self.con.commit()
        self._last_commit = time.perf_counter()

    def commit_every(self, seconds: float) -> None:
        """Commit if the last commit is older than ``seconds`` (rows stream in without a commit per row).

        Parameters
        ----------
        seconds : float
            Age of the last :meth:`commit` that calls for a new one.
        """
        if time.perf_counter() - getattr(self, "_last_commit", 0.0) >= seconds:
            self.commit()

    def put(self, row: Row | Mapping, commit: bool = True) -> None:
        """Insert (or replace) one row.

        Parameters
        ----------
        row : Row or mapping
            The row (a mapping of column values is converted; an unknown column is a ``ValueError``).
        commit : bool
            Commit now (else at the next :meth:`commit` or :meth:`commit_every`).

        Raises
        ------
        ValueError
            When a mapping names a column the store does not have.
        """
        rec = (row if isinstance(row, Row) else Row.from_mapping(row)).record()
        names = list(rec)
        self.con.execute(f"INSERT OR REPLACE INTO cells ({', '.join(names)}) VALUES "
                         f"({', '.join('?' * len(names))})", [rec[n] for n in names])
        if commit:
            self.commit()

    def frame(self, problems: Iterable[str] | None = None, suites: Iterable[str] | None = None,
              solvers: Iterable[str] | None = None, keys: Iterable[str] | None = None):
        """All rows as a pandas DataFrame (JSON columns left as text).

        Parameters
        ----------
        problems, suites, solvers : iterable of str, optional
            Keep only rows of these problems, suites and solvers (``None`` or
            empty: all).
        keys : iterable of str, optional
            Keep only rows with these cache keys (a run's plan); ``None``: all.

        Returns
        -------
        pandas.DataFrame
            One row per cell, one column per store column (those an older
            store lacks are empty), ordered by problem, suite, solver and
            instance.
        """
        import pandas as pd

        if not self._columns:
            return pd.DataFrame(columns=list(COLUMNS))
        q, args, where = f"SELECT {', '.join(self._columns)} FROM cells", [], []
        for col, vals in (("problem", problems), ("suite", suites), ("solver", solvers)):
            if vals:
                vals = list(vals)
                where.append(f"{col} IN ({','.join('?' * len(vals))})")
                args += vals
        if where:
            q += " WHERE " + " AND ".join(where)
        try:
            order = ", ".join(c for c in ("problem", "suite", "solver", "instance") if c in self._columns)
            df = pd.read_sql_query(q + " ORDER BY " + order, self.con, params=args)
        except (sqlite3.Error, pd.errors.DatabaseError) as e:
            raise MmoptError(f"results store {self.path}: {self._explain(e)}") from None
        if keys is not None:
            df = df[df["cache_key"].isin(set(keys))].reset_index(drop=True)
        for c in COLUMNS:
            if c not in df.columns:
                df[c] = None
        return df[list(COLUMNS)]

    def export(self, path: str | os.PathLike, force: bool = False, **filters) -> Path:
        """Write rows to ``.csv`` or ``.parquet``, atomically.

        The table of :meth:`frame` is written to a temporary file beside
        ``path`` that then replaces it (a symbolic link at ``path`` is
        replaced, its target never written).

        Parameters
        ----------
        path : str or path-like
            The file; its suffix (``.csv``, ``.parquet`` or ``.pq``) chooses the format.
        force : bool
            Replace an existing file.
        **filters
            ``problems``, ``suites``, ``solvers``, ``keys``, as :meth:`frame`.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        MmoptError
            When the suffix is not one of those, ``path`` is a directory, its
            folder is missing or not writable, it exists and ``force`` is not
            given, or the file cannot be written (a full disk, a file size limit).
        """
        path = check_output(path, (".csv", ".parquet", ".pq"), force=force, what="export")
        df = self.frame(**filters)
        if path.suffix.lower() == ".csv":
            atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
        else:
            atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
        return path


class Lease:
    """Renews a run's claims in a store from a background thread until :meth:`stop`.

    The thread (a daemon, started at once) opens its own connection for each
    renewal and sets the claims to expire :data:`LEASE_SECONDS` later;
    SQLite errors are ignored (the next renewal tries again).

    Parameters
    ----------
    path : str or path-like
        The store's SQLite file.
    owner : str
        The run id holding the claims.
    every : float
        Seconds between renewals.
    """

    def __init__(self, path, owner: str, every: float = LEASE_SECONDS / 4):
        self._stop = threading.Event()

        def loop():
            while not self._stop.wait(every):
                try:
                    con = sqlite3.connect(path, timeout=30)
                    con.execute("UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + LEASE_SECONDS, owner))
                    con.commit()
                    con.close()
                except sqlite3.Error:
                    pass

        self._thread = threading.Thread(target=loop, name="mmopt-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the claims expire or are released); does not wait for the thread."""
        self._stop.set()

"""Reference records: certified values per problem, suite and instance.

One line of JSON per instance in ``<problem folder>/references/<suite>.jsonl``
(``src/mmopt/problems/<id>/references/``, beside the problem's code)::

    {"problem": ..., "suite": ..., "instance": "paper/0007", "index": 7,
     "hash": "<sha256>", "value": 3.21, "bound": 3.21000001,
     "status": "opt" | "best" | "bound", "method": "exhaustive",
     "tolerance": 1e-6, "solver_version": 2, "seconds": 0.41, "params": {...}}

A reference solver may keep a small part of its solution in the record
(stats ``reference_solution``, stored as ``"solution"``) for a problem metric
that compares a solution with the optimum's (``sumrate-bs-beam``'s
``bs_diff_opt``); metrics read it from the record and never run a solver.

``status``: ``opt`` proven optimal within ``tolerance`` (relative), ``best``
best known value, ``bound`` only an upper bound (``value`` is then the bound).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping

from .api import MmoptError
from .cli_util import atomic_write
from .registry import get_problem

__all__ = ["REFERENCE_STATUSES", "RECORD_FIELDS", "reference_dir", "reference_path", "load_references",
           "write_references", "manifest_path", "load_manifest", "write_manifest", "suite_hashes"]

#: the statuses a reference record may have
REFERENCE_STATUSES = ("opt", "best", "bound")
#: the fields of a record, in the order they are written
RECORD_FIELDS = ("problem", "suite", "instance", "index", "hash", "value", "bound", "status", "method",
                 "tolerance", "solver_version", "seconds", "params")
#: written after them where present: the relative width of the certified bracket (bound / value - 1; 0 when
#: optimal), and for an instance split over a Dask cluster the workers and the wall time over every resumed run
OPTIONAL_FIELDS = ("bracket", "workers", "wall_s")


def reference_dir(problem: str, root: Path | None = None) -> Path:
    """Folder of a problem's references and manifests.

    ``root`` (or the ``MMOPT_REFERENCE_DIR`` environment variable) names a
    tree with one sub-folder per problem id; otherwise the problem's own
    ``references/`` folder (see :attr:`mmopt.api.Problem.folder`).

    Parameters
    ----------
    problem : str
        The problem's name.
    root : pathlib.Path, optional
        A tree with one folder per problem, instead of the problem's own folder
        (default: ``MMOPT_REFERENCE_DIR`` when set).

    Returns
    -------
    pathlib.Path
        The folder (not created here).

    Raises
    ------
    MmoptError
        When neither ``root`` nor ``MMOPT_REFERENCE_DIR`` is given and the
        problem is not registered or has no folder.
    """
    root = root or (Path(os.environ["MMOPT_REFERENCE_DIR"]) if os.environ.get("MMOPT_REFERENCE_DIR") else None)
    if root is not None:
        return Path(root) / problem
    return get_problem(problem).folder / "references"


def reference_path(problem: str, suite: str, root: Path | None = None) -> Path:
    """The reference records file of a suite: ``<reference_dir>/<suite>.jsonl``.

    Parameters
    ----------
    problem : str
        The problem's name.
    suite : str
        The suite's name.
    root : pathlib.Path, optional
        As in :func:`reference_dir`.

    Returns
    -------
    pathlib.Path
        The file (it may not exist).

    Raises
    ------
    MmoptError
        As :func:`reference_dir`.
    """
    return reference_dir(problem, root) / f"{suite}.jsonl"


def load_references(problem: str, suite: str, root: Path | None = None) -> dict[str, dict]:
    """Records of one suite keyed by instance hash (empty if none shipped).

    Parameters
    ----------
    problem : str
        The problem's name.
    suite : str
        The suite's name.
    root : pathlib.Path, optional
        As in :func:`reference_dir`.

    Returns
    -------
    dict of str to dict
        Instance hash -> record; ``{}`` when the file does not exist.

    Raises
    ------
    MmoptError
        When a line is not valid JSON, or as :func:`reference_dir`.
    """
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


def _record(r: Mapping) -> dict:
    """The record's fields in order; ``solution`` only where the reference solver kept one."""
    out = {k: r.get(k) for k in RECORD_FIELDS}
    out.update({k: r[k] for k in OPTIONAL_FIELDS if r.get(k) is not None})
    if r.get("solution") is not None:
        out["solution"] = r["solution"]
    return out


def write_references(path: Path, records: Iterable[Mapping]) -> Path:
    """Write records (sorted by index) atomically, one JSON object per line.

    Parameters
    ----------
    path : pathlib.Path
        The ``.jsonl`` file; missing folders are created.
    records : iterable of mapping
        The records; each is written with the :data:`RECORD_FIELDS` (``None``
        when absent) and its ``solution`` when that is not ``None``; records
        without an index come last.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    records = sorted(records, key=lambda r: (r.get("index") is None, r.get("index") or 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(_record(r)) + "\n" for r in records)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


# ---------------------------------------------------------------------------
# Suite manifests: the instance hashes of a suite, so that planning a run
# generates nothing (workers generate or fetch instances and check the hash)
# ---------------------------------------------------------------------------


def manifest_path(problem: str, suite: str, root: Path | None = None) -> Path:
    """The manifest file of a suite: ``<reference_dir>/<suite>.manifest.json``.

    Parameters
    ----------
    problem : str
        The problem's name.
    suite : str
        The suite's name.
    root : pathlib.Path, optional
        As in :func:`reference_dir`.

    Returns
    -------
    pathlib.Path
        The file (it may not exist).

    Raises
    ------
    MmoptError
        As :func:`reference_dir`.
    """
    return reference_dir(problem, root) / f"{suite}.manifest.json"


def load_manifest(problem: str, suite: str, root: Path | None = None) -> list[str] | None:
    """Instance hashes of a suite by index, or None when no manifest is shipped.

    Parameters
    ----------
    problem : str
        The problem's name.
    suite : str
        The suite's name.
    root : pathlib.Path, optional
        As in :func:`reference_dir`.

    Returns
    -------
    list of str or None
        Hash of instance ``i`` at position ``i``; ``None`` without a manifest file.

    Raises
    ------
    MmoptError
        When the file is not a manifest (invalid JSON or no ``hashes`` list).
    """
    path = manifest_path(problem, suite, root)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return [str(h) for h in data["hashes"]]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise MmoptError(f"{path}: not a suite manifest (regenerate: mmopt manifest --problem {problem} "
                         f"--suite {suite})") from None


def write_manifest(problem, suite: str, root: Path | None = None, progress: bool = False) -> Path:
    """Generate every instance of a suite and write its hashes.

    Parameters
    ----------
    problem : Problem
        The problem (an object, not a name).
    suite : str
        The suite's name.
    root : pathlib.Path, optional
        As in :func:`reference_dir`.
    progress : bool, optional
        Print one line per generated instance.

    Returns
    -------
    pathlib.Path
        The manifest file, holding ``problem``, ``suite``, ``count`` and ``hashes``.

    Raises
    ------
    MmoptError
        When the problem has no such suite.
    """
    n = problem.suite(suite).count
    hashes = []
    for i in range(n):
        hashes.append(problem.generate(suite, i).hash)
        if progress:
            print(f"{problem.name}/{suite}/{i:04d} {hashes[-1][:12]}", flush=True)
    path = manifest_path(problem.name, suite, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"problem": problem.name, "suite": suite, "count": n, "hashes": hashes}, indent=0) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def suite_hashes(problem, suite: str, count: int) -> list[str]:
    """Hashes of the first ``count`` instances: from the manifest, else by generating them here.

    A manifest whose length differs from the suite's count is ignored.

    Parameters
    ----------
    problem : Problem
        The problem (an object, not a name).
    suite : str
        The suite's name.
    count : int
        How many instances, from index 0.

    Returns
    -------
    list of str
        The instance hashes by index.

    Raises
    ------
    MmoptError
        When the manifest is malformed or the suite does not exist.
    """
    man = load_manifest(problem.name, suite)
    if man is not None and len(man) == problem.suite(suite).count:
        return man[:count]
    return [problem.generate(suite, i).hash for i in range(count)]

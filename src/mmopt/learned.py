"""Learned solvers: shipped weights, their sidecars, and the training entry.

A learned solver is registered with ``@solver(..., kind="learned",
weights=NAME, train=FN, setup=LOADER, requires=("torch",))``:

* ``NAME`` (or ``weights(**params) -> NAME``) is a file in the ``weights/``
  folder of the solver's problem (``src/mmopt/problems/<id>/weights/``),
  written by :func:`save_weights` and read by :func:`load_weights` with
  ``torch.load(..., weights_only=True)``: no pickle;
* beside it, ``NAME.json`` (the sidecar) records the training suite and
  size, seed, epochs, wall time, final train/validation losses, mmopt and
  torch versions and the weights' sha256, which :func:`load_weights` checks;
* the sha256 is part of every cell's cache key (:func:`fingerprint`);
* ``FN(*, epochs, seed, count, progress, **params) -> (state_dict, info)``
  trains on the problem's ``train`` suite (seeds disjoint from every
  evaluation suite); ``mmopt train`` calls it and writes weights + sidecar.

Training is deterministic for a seed on one machine
(:func:`deterministic`): ``torch.manual_seed``, deterministic algorithms,
a fixed thread count.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ._version import __version__
from .api import WEIGHTS_OVERRIDE, MmoptError
from .cli_util import atomic_write
from .progress import progress_bar
from .registry import get_problem

__all__ = ["weights_dir", "weights_path", "weights_files", "fingerprint", "sidecar_path", "file_sha256",
           "read_sidecar", "save_weights", "load_weights", "deterministic", "cell_threads", "Progress",
           "TRAIN_DIR", "train_solver"]


def weights_dir(problem: str | None = None) -> Path:
    """Folder of a problem's shipped weights: ``<problem folder>/weights``.

    The ``MMOPT_WEIGHTS_DIR`` environment variable, when set, replaces it for
    every problem (a scratch folder for training runs and tests).

    Parameters
    ----------
    problem : str, optional
        The problem's name (needed unless ``MMOPT_WEIGHTS_DIR`` is set).

    Returns
    -------
    pathlib.Path
        The folder (not created here).

    Raises
    ------
    MmoptError
        When ``MMOPT_WEIGHTS_DIR`` is unset and ``problem`` is ``None``, unknown, or has no folder.
    """
    env = os.environ.get("MMOPT_WEIGHTS_DIR")
    if env:
        return Path(env)
    if problem is None:
        raise MmoptError("a relative weights file name needs its problem (or MMOPT_WEIGHTS_DIR)")
    return get_problem(problem).folder / "weights"


def weights_path(name: str | os.PathLike, problem: str | None = None) -> Path:
    """``name`` as it is when absolute, else in :func:`weights_dir` of ``problem``; the file of a
    solver's ``weights`` parameter instead while the solver runs (:data:`mmopt.api.WEIGHTS_OVERRIDE`).

    Parameters
    ----------
    name : str or os.PathLike
        A weight file name or path.
    problem : str, optional
        The problem whose ``weights/`` folder holds a relative name.

    Returns
    -------
    pathlib.Path
        The file's path.

    Raises
    ------
    MmoptError
        When ``name`` is relative and :func:`weights_dir` fails.
    """
    override = WEIGHTS_OVERRIDE.get()
    if override:
        return Path(override)
    p = Path(name)
    return p if p.is_absolute() else weights_dir(problem) / p


def weights_files(solver, params: Mapping[str, Any] | None = None) -> list[Path]:
    """Weight files of a learned solver for these parameters (``[]`` for a solver without weights).

    Parameters
    ----------
    solver : mmopt.api.Solver
        The solver; its ``weights_fn`` names the files, relative to the
        ``weights/`` folder of its (first) problem.
    params : mapping, optional
        Solver parameters (defaults filled in).

    Returns
    -------
    list of pathlib.Path
        The files (they may not exist).

    Raises
    ------
    MmoptError
        When ``params`` holds an unknown parameter or the folder cannot be resolved.
    """
    if solver.weights_fn is None:
        return []
    prm = solver.canonical_params(params)
    if solver.engine_weights and prm.get("weights"):
        return [Path(prm["weights"])]
    names = solver.call(solver.weights_fn, prm)
    names = [names] if isinstance(names, (str, bytes)) or hasattr(names, "__fspath__") else list(names)
    return [weights_path(n, solver.problems[0]) for n in names]


def fingerprint(solver, params: Mapping[str, Any] | None = None) -> str:
    """What a solver's answer depends on beyond code and parameters: its weights' sha256 (comma-joined).

    Part of every cell's cache key; ``""`` for a solver without weights.

    Parameters
    ----------
    solver : mmopt.api.Solver
        The solver.
    params : mapping, optional
        Solver parameters (defaults filled in).

    Returns
    -------
    str
        The sha256 of each weight file (``missing`` for an absent one), joined by commas.

    Raises
    ------
    MmoptError
        As :func:`weights_files`.
    """
    return ",".join(file_sha256(p) for p in weights_files(solver, params))


def sidecar_path(path: Path) -> Path:
    """The sidecar of a weight file: the same name with ``.json`` appended.

    Parameters
    ----------
    path : pathlib.Path
        The weight file.

    Returns
    -------
    pathlib.Path
        ``<path>.json``.
    """
    return Path(str(path) + ".json")


@lru_cache(maxsize=64)
def _sha(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file (``missing`` if it does not exist).

    Memoised on (path, modification time, size).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        The hex digest, or ``"missing"``.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return "missing"
    return _sha(str(p), st.st_mtime_ns, st.st_size)


def read_sidecar(path: str | os.PathLike) -> dict:
    """The sidecar of a weight file.

    Parameters
    ----------
    path : str or os.PathLike
        The weight file (not the sidecar).

    Returns
    -------
    dict
        The sidecar's JSON (``{}`` when there is no sidecar).

    Raises
    ------
    MmoptError
        When the sidecar is not valid JSON.
    """
    sc = sidecar_path(Path(path))
    if not sc.is_file():
        return {}
    try:
        return json.loads(sc.read_text())
    except json.JSONDecodeError:
        raise MmoptError(f"{sc}: not valid JSON") from None


def save_weights(path: str | os.PathLike, state: Mapping[str, Any], sidecar: Mapping[str, Any],
                 problem: str | None = None) -> Path:
    """Write ``state`` (tensors, numbers, strings, nested dicts) and its JSON sidecar atomically.

    The same state gives the same bytes, hence the same sha256.

    Parameters
    ----------
    path : str or os.PathLike
        The weight file, resolved by :func:`weights_path`; folders are created.
    state : mapping
        What ``torch.save`` writes (as a dict).
    sidecar : mapping
        The training record; ``file``, ``sha256``, ``bytes``, ``mmopt``,
        ``torch`` and ``created`` are added.
    problem : str, optional
        The problem whose ``weights/`` folder holds a relative ``path``.

    Returns
    -------
    pathlib.Path
        The weight file.

    Raises
    ------
    MmoptError
        When a relative ``path`` cannot be resolved.
    """
    import torch

    path = weights_path(path, problem)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()  # through memory: the archive's inner name then does not depend on the file name,
    torch.save(dict(state), buf)  # so the same weights give the same bytes and the same sha256
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))
    meta = {**dict(sidecar), "file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size,
            "mmopt": __version__, "torch": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    text = json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n"
    atomic_write(sidecar_path(path), lambda tmp: Path(tmp).write_text(text))
    return path


def load_weights(path: str | os.PathLike, verify: bool = True, problem: str | None = None) -> dict:
    """Load weights with ``torch.load(weights_only=True)``; check the sidecar's sha256.

    Parameters
    ----------
    path : str or os.PathLike
        The weight file, resolved by :func:`weights_path`.
    verify : bool, optional
        Compare the file's sha256 with its sidecar's (when the sidecar records one).
    problem : str, optional
        The problem whose ``weights/`` folder holds a relative ``path``.

    Returns
    -------
    dict
        The state, tensors on the CPU.

    Raises
    ------
    MmoptError
        When the file is missing, its sha256 differs from the sidecar's, or the sidecar is not valid JSON.
    """
    import torch

    path = weights_path(path, problem)
    if not path.is_file():
        raise MmoptError(f"{path}: no weights (train them with `mmopt train`)")
    if verify:
        want = read_sidecar(path).get("sha256")
        if want and want != file_sha256(path):
            raise MmoptError(f"{path}: sha256 differs from its sidecar (retrain or restore the file)")
    return torch.load(path, map_location="cpu", weights_only=True)


def deterministic(seed: int, threads: int | None = None) -> None:
    """Seed NumPy's legacy state, Python and torch; deterministic algorithms; fixed thread count.

    Parameters
    ----------
    seed : int
        The seed (NumPy gets ``seed % 2**32``).
    threads : int, optional
        torch's thread count (default: ``MMOPT_TRAIN_THREADS``, else 1: on a busy
        2-core machine two threads were 50x slower per step than one).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads is None:
        threads = int(os.environ.get("MMOPT_TRAIN_THREADS", "0")) or 1
    torch.set_num_threads(threads)


def cell_threads() -> None:
    """Give torch the thread budget of its cell (``OMP_NUM_THREADS``; one per single-threaded worker)."""

    n = os.environ.get("OMP_NUM_THREADS")
    if n and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, int(n)))


class Progress:
    """A training progress bar (rich) with the latest losses; silent when disabled.

    Parameters
    ----------
    total : int
        Number of steps (epochs).
    description : str
        The bar's label.
    enabled : bool, optional
        Show the bar (it starts at once).

    Attributes
    ----------
    bar : rich.progress.Progress or None
        The bar (``None`` when disabled).
    """

    def __init__(self, total: int, description: str, enabled: bool = True):
        self.bar = None
        if enabled:
            self.bar = progress_bar("losses")
            self.task = self.bar.add_task(description, total=total, losses="")
            self.bar.start()

    def __call__(self, advance: int = 1, **losses: float) -> None:
        """Advance the bar and show the latest losses.

        Parameters
        ----------
        advance : int, optional
            Steps done since the last call.
        **losses : float
            Named losses, shown with 4 significant digits.
        """
        if self.bar is not None:
            txt = " ".join(f"{k}={v:.4g}" for k, v in losses.items())
            self.bar.update(self.task, advance=advance, losses=txt)

    def close(self) -> None:
        """Stop the bar (leaving it on the screen)."""
        if self.bar is not None:
            self.bar.stop()


#: folder (relative to the working folder) that ``mmopt train`` writes to unless ``--out`` is given
TRAIN_DIR = "mmopt-weights"


def train_solver(solver, *, epochs: int | None = None, seed: int = 0, count: int | None = None,
                 out: str | os.PathLike | None = None, params: Mapping[str, Any] | None = None,
                 progress: bool | Callable = True) -> tuple[Path, dict]:
    """Train a learned solver and write its weights and sidecar.

    Parameters
    ----------
    solver : mmopt.api.Solver
        A learned solver with a training entry.
    epochs : int, optional
        Training epochs (default: the training entry's).
    seed : int, optional
        The training seed.
    count : int, optional
        Number of training instances (``None``: the training entry's default).
    out : str or os.PathLike, optional
        The weight file. Default: the name of the solver's first weight file
        for ``params`` in :data:`TRAIN_DIR` (relative to the working folder),
        or in ``MMOPT_WEIGHTS_DIR`` when that is set; the shipped file is only
        replaced when ``out`` names it.
    params : mapping, optional
        Solver parameters passed to the training entry (``seed``, ``count``,
        ``progress`` and ``epochs`` of this call win over them).
    progress : bool or callable, optional
        Passed to the training entry: show progress, or a callback.

    Returns
    -------
    path : pathlib.Path
        The weight file.
    sidecar : dict
        The sidecar as written (problem, solver, version, seed, params, wall
        seconds, the training entry's info, sha256, versions).

    Raises
    ------
    MmoptError
        When the solver is not learned or has no training entry, is
        unavailable here, has an unknown parameter, or the target is a
        directory or its folder is not writable.
    """
    if solver.kind != "learned" or solver.train_fn is None:
        raise MmoptError(f"solver '{solver.name}' is a {solver.kind} solver: nothing to train")
    reason = solver.unavailable_reason()
    if reason:
        raise MmoptError(f"solver '{solver.name}' {reason}")
    prm = solver.own_params(solver.canonical_params(params))
    if out:
        target = Path(out).expanduser().resolve()
    else:
        shipped = weights_files(solver, prm)[0]
        target = shipped if os.environ.get("MMOPT_WEIGHTS_DIR") else \
            (Path(TRAIN_DIR) / solver.problems[0] / shipped.name).resolve()
    if target.exists() and target.is_dir():
        raise MmoptError(f"{target}: is a directory")
    parent = target.parent if target.parent != Path("") else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise MmoptError(f"{parent}: not writable")
    t0 = time.perf_counter()
    kw = {"seed": seed, "count": count, "progress": progress}
    if epochs is not None:
        kw["epochs"] = epochs
    # the training seed and budget win over solver parameters of the same name (an inference `seed`)
    state, info = solver.train_fn(**{**{k: v for k, v in prm.items() if k not in kw}, **kw})
    wall = time.perf_counter() - t0
    sidecar = {"problem": list(solver.problems), "solver": solver.name, "solver_version": solver.version,
               "seed": seed, "params": prm, "wall_seconds": round(wall, 2), **dict(info)}
    path = save_weights(target, state, sidecar)
    return path, read_sidecar(path)

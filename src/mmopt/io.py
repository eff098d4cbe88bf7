"""Instance and solution files: ``.npz`` (NumPy, never pickled) and ``.mat`` (MATLAB).

A file holds the arrays of the dict plus one string array ``mmopt_meta``
with the JSON metadata (problem, schema, suite, index, seed, params, and for
solutions the solver and the instance hash). Files are written atomically:
to a temporary name in the same folder, then renamed, with the permissions
the umask gives a new file.

Reading checks the sizes the arrays declare (``.npy`` headers inside the
zip, ``whosmat`` for ``.mat``) before inflating anything, against
``MMOPT_MAX_INPUT_GB`` (default 2 GB); every malformed file is an
:class:`InputError` naming the file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from .api import InputError, Instance, Key, MmoptError, Problem, json_default
from .cli_util import atomic_write
from .registry import get_problem

__all__ = ["META_KEY", "FORMATS", "DEFAULT_MAX_INPUT_GB", "max_input_bytes", "save_arrays", "load_arrays", "conform",
           "read_instance", "read_solution", "write_instance", "write_solution"]

#: name of the string array holding the JSON metadata in a file
META_KEY = "mmopt_meta"
#: file suffixes read and written (lower case)
FORMATS = (".npz", ".mat")
#: default of ``MMOPT_MAX_INPUT_GB``
DEFAULT_MAX_INPUT_GB = 2.0


def max_input_bytes() -> int:
    """The largest total array size a file may declare (``MMOPT_MAX_INPUT_GB``, default 2).

    Returns
    -------
    int
        The limit in bytes (GB taken as GiB, ``2**30`` bytes).

    Raises
    ------
    InputError
        When ``MMOPT_MAX_INPUT_GB`` is set but is not a positive finite number (up to 2**20).
    """
    v = os.environ.get("MMOPT_MAX_INPUT_GB")
    try:
        gb = float(v) if v else DEFAULT_MAX_INPUT_GB
    except ValueError:
        raise InputError(f"MMOPT_MAX_INPUT_GB must be a number of GB, got '{v}'") from None
    if not math.isfinite(gb) or gb <= 0 or gb > (1 << 20):
        raise InputError(f"MMOPT_MAX_INPUT_GB must be a positive number of GB up to {1 << 20}, got '{v}'")
    return int(gb * (1 << 30))


def _check_npz_sizes(path: Path) -> None:
    """Read every ``.npy`` header in the zip (a few bytes each) and refuse oversized declarations."""
    limit, total = max_input_bytes(), 0
    with zipfile.ZipFile(path) as zf:
        seen = set()
        for info in zf.infolist():  # zip keeps both copies of a name, and readers disagree on which wins
            if info.filename in seen:
                raise InputError(f"{path}: the archive holds two members named '{info.filename}'")
            seen.add(info.filename)
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            n = int(np.prod([int(d) for d in shape], dtype=object)) if shape else 1
            total += n * max(dtype.itemsize, 1)
            if total > limit:
                raise InputError(f"{path}: key '{info.filename[:-4]}' declares {n * dtype.itemsize / 2**30:.3g} GiB "
                                 f"(shape {tuple(shape)}); the limit is {limit / 2**30:g} GiB (MMOPT_MAX_INPUT_GB)")


def _check_mat_sizes(path: Path) -> None:
    import scipy.io

    limit, total = max_input_bytes(), 0
    for name, shape, cls in scipy.io.whosmat(path):
        if cls == "sparse":
            raise InputError(f"{path}: variable '{name}' is a sparse matrix; only dense numeric arrays are read")
        if cls in ("cell", "struct", "object", "function_handle", "opaque"):
            raise InputError(f"{path}: variable '{name}' is a {cls}; only numeric arrays are read")
        n = int(np.prod([int(d) for d in shape], dtype=object)) if shape else 1
        total += 16 * n
        if total > limit:
            raise InputError(f"{path}: variable '{name}' declares {16 * n / 2**30:.3g} GiB (shape {tuple(shape)}); "
                             f"the limit is {limit / 2**30:g} GiB (MMOPT_MAX_INPUT_GB)")


def _fmt(path: Path) -> str:
    suf = path.suffix.lower()
    if suf not in FORMATS:
        raise InputError(f"{path}: unsupported file type '{suf or '(none)'}' (use .npz or .mat)")
    return suf


def _atomic_write(path: Path, write) -> None:
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"{path}: cannot create its folder ({e.strerror or e})") from None
    try:
        atomic_write(path, write)
    except MmoptError as e:
        raise InputError(str(e)) from None


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None) -> Path:
    """Write ``arrays`` and ``meta`` to ``path`` (.npz or .mat), atomically.

    ``.npz`` files are compressed NumPy archives; ``.mat`` files are
    compressed MATLAB 5 files with 1-D arrays saved as rows.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its suffix picks the format; missing folders are created.
    arrays : mapping of str to array_like
        The arrays (numeric; converted with ``numpy.asarray``).
    meta : mapping, optional
        JSON-able metadata, stored as :data:`META_KEY`.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        When the suffix is not ``.npz`` or ``.mat``, an array has dtype
        ``object``, or a ``.mat`` variable name does not start with a letter.
    """
    path = Path(path)
    fmt = _fmt(path)
    data = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in data.items():
        if v.dtype == object:
            raise InputError(f"key '{k}' is an object array; only numeric arrays can be saved")
    data[META_KEY] = np.array(json.dumps(dict(meta or {}), sort_keys=True, default=json_default))
    if fmt == ".npz":
        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **data)
    else:
        import scipy.io

        bad = [k for k in data if not k[:1].isalpha()]
        if bad:
            raise InputError(f"MATLAB variable names must start with a letter: {', '.join(bad)}")

        def write(tmp):
            scipy.io.savemat(tmp, data, do_compression=True, oned_as="row")
    _atomic_write(path, write)
    return path


def load_arrays(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file into (arrays, meta); never unpickles.

    The sizes the arrays declare are checked against :func:`max_input_bytes`
    before anything is inflated.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` or ``.mat`` file.

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        The numeric arrays of the file, without :data:`META_KEY`.
    meta : dict
        The JSON metadata (``{}`` when the file has none).

    Raises
    ------
    InputError
        When the file is missing, has another suffix, is corrupt or too
        large, or holds an object, string, sparse, cell or struct variable or
        a malformed :data:`META_KEY`.
    """
    path = Path(path)
    fmt = _fmt(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if fmt == ".npz":
        try:
            _check_npz_sizes(path)
            with np.load(path, allow_pickle=False) as z:
                arrays = {}
                for k in z.files:
                    try:
                        arrays[k] = z[k]
                    except ValueError as e:
                        if "pickle" in str(e):
                            raise InputError(f"{path}: key '{k}' needs pickle to load (object array); "
                                             "mmopt reads only plain numeric arrays") from None
                        raise
                    if not isinstance(arrays[k], np.ndarray):
                        raise InputError(f"{path}: member '{k}' is not a .npy array")
        except InputError:
            raise
        except MemoryError:
            raise InputError(f"{path}: too large to load") from None
        except Exception as e:  # noqa: BLE001 - zipfile, zlib, numpy raise many types for corrupt files
            msg = " ".join(str(e).split())[:200]
            raise InputError(f"{path}: not a readable .npz file ({type(e).__name__}: {msg})") from None
    else:
        import scipy.io

        try:
            _check_mat_sizes(path)
            raw = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=False)
        except InputError:
            raise
        except MemoryError:
            raise InputError(f"{path}: too large to load") from None
        except Exception as e:  # scipy raises several types for corrupt files
            msg = " ".join(str(e).split())[:200]
            raise InputError(f"{path}: not a readable .mat file ({type(e).__name__}: {msg})") from None
        arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
        for k, v in arrays.items():
            if not isinstance(v, np.ndarray):
                raise InputError(f"{path}: variable '{k}' is a {type(v).__name__}; only dense numeric arrays are read")
            if v.dtype == object or v.dtype.kind not in "biufcSU":
                raise InputError(f"{path}: variable '{k}' is a cell or struct; only numeric arrays are read")
    meta = {}
    if META_KEY in arrays:
        m = arrays.pop(META_KEY)
        try:
            if m.dtype.kind not in "SU" or m.size != 1:
                raise ValueError
            meta = json.loads(str(m.reshape(-1)[0]))
        except (ValueError, IndexError, TypeError, RecursionError):
            raise InputError(f"{path}: '{META_KEY}' is not a JSON object in a string array") from None
        if not isinstance(meta, dict):
            raise InputError(f"{path}: '{META_KEY}' must be a JSON object, got {type(meta).__name__}")
    for k, v in arrays.items():
        if v.dtype.kind not in "biufc":
            raise InputError(f"{path}: key '{k}' has dtype {v.dtype}; only numeric arrays are read")
    return arrays, meta


def conform(arrays: dict[str, np.ndarray], keys: tuple[Key, ...]) -> dict[str, np.ndarray]:
    """Undo MATLAB's conventions: scalars and vectors come back as 2-D, logicals as uint8.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        Arrays read from a ``.mat`` file.
    keys : tuple of Key
        The expected keys: a 0/1 ``uint8`` array of a ``bool`` key becomes
        ``bool``, a size-1 array of a scalar key becomes 0-D, and a ``(1, n)``
        or ``(n, 1)`` (or 0-D) array of a 1-D key becomes 1-D.

    Returns
    -------
    dict of str to numpy.ndarray
        A new dict with the converted arrays; other arrays are unchanged.
    """
    out = dict(arrays)
    for k in keys:
        if k.name not in out:
            continue
        a = out[k.name]
        if k.dtype == "bool" and a.dtype == np.uint8 and np.all(a <= 1):
            a = out[k.name] = a.astype(bool)
        if len(k.shape) == 0 and a.size == 1:
            out[k.name] = a.reshape(())
        elif len(k.shape) == 1 and a.ndim == 2 and 1 in a.shape:
            out[k.name] = a.reshape(-1)
        elif len(k.shape) == 1 and a.ndim == 0:
            out[k.name] = a.reshape(1)
    return out


def _resolve_problem(meta: dict, problem: str | None, path: Path, what: str) -> Problem:
    recorded = meta.get("problem")
    if recorded is not None and not isinstance(recorded, str):
        raise InputError(f"{path}: the recorded problem must be a name, got {type(recorded).__name__}")
    for field in ("suite", "kind", "instance_hash", "solver"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            raise InputError(f"{path}: the recorded '{field}' must be a string, got {type(meta[field]).__name__}")
    if problem is None and recorded is None:
        raise InputError(f"{path}: the file does not record its problem; pass --problem")
    if problem is not None and recorded is not None and recorded != problem:
        raise InputError(f"{path}: this {what} is for problem '{recorded}', not '{problem}'")
    return get_problem(problem or recorded)


def read_instance(path: str | os.PathLike, problem: str | None = None) -> Instance:
    """Load and check an instance file.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` or ``.mat`` instance file.
    problem : str, optional
        The problem's name; needed when the file does not record it, and must
        match the recorded one otherwise.

    Returns
    -------
    Instance
        The checked instance; ``meta["problem"]`` is the resolved problem name.

    Raises
    ------
    InputError
        When the file cannot be read (:func:`load_arrays`), is a solution
        file, records another problem, none, or a malformed suite or index,
        or the instance fails :meth:`mmopt.api.Problem.check_instance`.
    MmoptError
        When the problem is not registered.
    """
    path = Path(path)
    arrays, meta = load_arrays(path)
    if meta.get("kind") == "solution":
        raise InputError(f"{path}: this is a solution file, not an instance")
    p = _resolve_problem(meta, problem, path, "instance")
    if path.suffix.lower() == ".mat":
        arrays = conform(arrays, p.instance_keys)
    if meta.get("suite") is not None and meta["suite"] not in p.suites:
        raise InputError(f"{path}: recorded suite '{meta['suite']}' is not a suite of '{p.name}' "
                         f"({', '.join(p.suites)})")
    if meta.get("index") is not None and (isinstance(meta["index"], bool) or not isinstance(meta["index"], int)):
        raise InputError(f"{path}: the recorded 'index' must be an integer")
    meta = {**meta, "problem": p.name}
    inst = Instance(arrays, meta)
    p.check_instance(inst)
    return inst


def read_solution(path: str | os.PathLike, problem: str | None = None) -> tuple[dict, dict]:
    """Load a solution file; its structure is checked by the problem later.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` or ``.mat`` solution file.
    problem : str, optional
        The problem's name; needed when the file does not record it, and must
        match the recorded one otherwise.

    Returns
    -------
    arrays : dict of str to numpy.ndarray
        The solution arrays (MATLAB conventions undone by :func:`conform`).
    meta : dict
        The file's metadata, with ``problem`` set to the resolved name.

    Raises
    ------
    InputError
        When the file cannot be read, is an instance file, or records another problem or none.
    MmoptError
        When the problem is not registered.
    """
    path = Path(path)
    arrays, meta = load_arrays(path)
    if meta.get("kind") == "instance":
        raise InputError(f"{path}: this is an instance file, not a solution")
    p = _resolve_problem(meta, problem, path, "solution")
    if path.suffix.lower() == ".mat":
        arrays = conform(arrays, p.solution_keys)
    return arrays, {**meta, "problem": p.name}


def write_instance(path: str | os.PathLike, instance: Instance) -> Path:
    """Write an instance file: its arrays and meta, with ``kind`` ``instance`` and its hash.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` or ``.mat`` file.
    instance : Instance
        The instance.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        As :func:`save_arrays`.
    """
    return save_arrays(path, instance, {**instance.meta, "kind": "instance", "hash": instance.hash})


def write_solution(path: str | os.PathLike, solution: Mapping[str, np.ndarray], meta: Mapping) -> Path:
    """Write a solution file with ``meta`` and ``kind`` ``solution``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` or ``.mat`` file.
    solution : mapping of str to numpy.ndarray
        The solution arrays.
    meta : mapping
        JSON-able metadata (problem, solver, instance hash, ...).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        As :func:`save_arrays`.
    """
    return save_arrays(path, solution, {**meta, "kind": "solution"})

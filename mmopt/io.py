"""Instance and solution files: ``.npz`` (NumPy, never pickled) and ``.mat`` (MATLAB).

A file holds the arrays of the dict plus one string array ``mmopt_meta``
with the JSON metadata (problem, schema, suite, index, seed, params, and for
solutions the solver and the instance hash). Files are written atomically:
to a temporary name in the same folder, then renamed.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from .api import InputError, Instance, Key, Problem, json_default

META_KEY = "mmopt_meta"
FORMATS = (".npz", ".mat")


def _fmt(path: Path) -> str:
    suf = path.suffix.lower()
    if suf not in FORMATS:
        raise InputError(f"{path}: unsupported file type '{suf or '(none)'}' (use .npz or .mat)")
    return suf


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None) -> Path:
    """Write ``arrays`` and ``meta`` to ``path`` (.npz or .mat), atomically."""
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
    """Read a file into (arrays, meta). Never unpickles; malformed files raise InputError."""
    path = Path(path)
    fmt = _fmt(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if fmt == ".npz":
        try:
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
        except InputError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise InputError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    else:
        import scipy.io

        try:
            raw = scipy.io.loadmat(path, squeeze_me=False, mat_dtype=False)
        except Exception as e:  # scipy raises several types for corrupt files
            raise InputError(f"{path}: not a readable .mat file ({type(e).__name__}: {e})") from None
        arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
        for k, v in arrays.items():
            if v.dtype == object:
                raise InputError(f"{path}: variable '{k}' is a cell or struct; only numeric arrays are read")
    meta = {}
    if META_KEY in arrays:
        m = arrays.pop(META_KEY)
        try:
            meta = json.loads(str(m.reshape(-1)[0]) if m.size else "{}")
        except (json.JSONDecodeError, IndexError):
            raise InputError(f"{path}: '{META_KEY}' is not valid JSON") from None
    return arrays, meta


def conform(arrays: dict[str, np.ndarray], keys: tuple[Key, ...]) -> dict[str, np.ndarray]:
    """Undo MATLAB's shape conventions: scalars and vectors come back as 2-D."""
    out = dict(arrays)
    for k in keys:
        if k.name not in out:
            continue
        a = out[k.name]
        if len(k.shape) == 0 and a.size == 1:
            out[k.name] = a.reshape(())
        elif len(k.shape) == 1 and a.ndim == 2 and 1 in a.shape:
            out[k.name] = a.reshape(-1)
        elif len(k.shape) == 1 and a.ndim == 0:
            out[k.name] = a.reshape(1)
    return out


def _resolve_problem(meta: dict, problem: str | None, path: Path, what: str) -> Problem:
    from .registry import get_problem

    recorded = meta.get("problem")
    if problem is None and recorded is None:
        raise InputError(f"{path}: the file does not record its problem; pass --problem")
    if problem is not None and recorded is not None and recorded != problem:
        raise InputError(f"{path}: this {what} is for problem '{recorded}', not '{problem}'")
    return get_problem(problem or recorded)


def read_instance(path: str | os.PathLike, problem: str | None = None) -> Instance:
    """Load and check an instance file."""
    path = Path(path)
    arrays, meta = load_arrays(path)
    if meta.get("kind") == "solution":
        raise InputError(f"{path}: this is a solution file, not an instance")
    p = _resolve_problem(meta, problem, path, "instance")
    if path.suffix.lower() == ".mat":
        arrays = conform(arrays, p.instance_keys)
    meta = {**meta, "problem": p.name}
    inst = Instance(arrays, meta)
    p.check_instance(inst)
    return inst


def read_solution(path: str | os.PathLike, problem: str | None = None) -> tuple[dict, dict]:
    """Load a solution file: (arrays, meta). Structure is checked by the problem later."""
    path = Path(path)
    arrays, meta = load_arrays(path)
    if meta.get("kind") == "instance":
        raise InputError(f"{path}: this is an instance file, not a solution")
    p = _resolve_problem(meta, problem, path, "solution")
    if path.suffix.lower() == ".mat":
        arrays = conform(arrays, p.solution_keys)
    return arrays, {**meta, "problem": p.name}


def write_instance(path: str | os.PathLike, instance: Instance) -> Path:
    return save_arrays(path, instance, {**instance.meta, "kind": "instance", "hash": instance.hash})


def write_solution(path: str | os.PathLike, solution: Mapping[str, np.ndarray], meta: Mapping) -> Path:
    return save_arrays(path, solution, {**meta, "kind": "solution"})

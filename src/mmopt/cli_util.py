"""Helpers shared by the CLI and the commands problems contribute to it: JSON output and safe output files."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .api import MmoptError, json_safe

__all__ = ["dump_json", "check_output", "atomic_write"]


def dump_json(obj) -> str:
    """One line of JSON; NaN and inf become null.

    Parameters
    ----------
    obj : Any
        Data made JSON-safe by :func:`mmopt.api.json_safe` (non-finite floats
        at any depth become ``null``, NumPy values Python values).

    Returns
    -------
    str
        The JSON text, without a newline.
    """
    return json.dumps(json_safe(obj))


def check_output(path, suffixes: Iterable[str], force: bool = False, what: str = "--out",
                 inputs: Iterable = ()) -> Path:
    """Refuse an output file before any work is done.

    Parameters
    ----------
    path : str or path-like
        The output file.
    suffixes : iterable of str
        Accepted suffixes (lower case, with the dot); the format follows the suffix.
    force : bool
        Whether an existing file (or symbolic link) may be replaced.
    what : str
        The command or option, for the messages.
    inputs : iterable of path-like
        Files the command reads, which the output may not be.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MmoptError
        When the suffix is not accepted, the path is a directory, an input,
        exists without ``force``, or its folder is missing, not a folder or
        not writable.
    """
    out = Path(path)
    suffixes = tuple(suffixes)
    if out.suffix.lower() not in suffixes:
        raise MmoptError(f"{path}: {what} must end in {' or '.join(suffixes)}")
    if out.is_dir():
        raise MmoptError(f"{path}: {what} is a directory")
    for i in inputs:
        try:
            if out.resolve() == Path(i).resolve() or (out.exists() and os.path.samefile(out, i)):
                raise MmoptError(f"{path}: {what} is the input file {i}; choose another name")
        except OSError:
            pass
    folder = out.parent
    if not folder.exists():
        raise MmoptError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise MmoptError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise MmoptError(f"{path}: folder {folder} is not writable")
    if (out.exists() or out.is_symlink()) and not force:
        raise MmoptError(f"{path}: exists; pass --force to replace it")
    return out


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def atomic_write(path, write: Callable[[str], None]) -> Path:
    """Write a file through ``write(tmp)`` to a temporary name beside it, then rename it over ``path``.

    A symbolic link at ``path`` is replaced, never its target; the file gets
    the permissions the umask gives a new file; the temporary file is gone
    whatever happens.

    Parameters
    ----------
    path : str or path-like
        The file.
    write : callable
        Writes the content to the temporary path it is given (same suffix as ``path``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MmoptError
        When the folder is missing or the file cannot be written (a full
        disk, a file size limit, no permission).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=path.suffix, dir=path.parent)
    except OSError as e:
        raise MmoptError(f"{path}: cannot be written ({e.strerror or e})") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        raise MmoptError(f"{path}: cannot be written ({e.strerror or e})") from None
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path

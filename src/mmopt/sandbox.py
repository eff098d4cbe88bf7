"""Run a function in a forked child with a hard time limit and a memory limit.

The child sends back a dict of arrays (as ``.npz`` bytes) and a JSON
object, so nothing is pickled. A child that runs past the limit is killed
(``timeout``); one that raises or dies reports ``error`` with its message.
Forking from the calling process keeps imports warm (milliseconds per cell).

Nothing outlives its cell: the child starts its own session (process group),
and the whole group is killed with SIGKILL when the child finishes, at the
time limit, when the caller is interrupted, and, by a watchdog thread in the
child, when the parent (the worker) or the driver (``watch_pids``) is gone.
The memory limit is ``RLIMIT_AS`` of the child: the address space it had at
the fork plus ``memory_limit`` bytes; a cell over it reports
``memory limit N GB exceeded``.
"""
from __future__ import annotations

import gc
import io
import json
import math
import os
import select
import signal
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .api import InputError, json_default

__all__ = ["Outcome", "one_line", "run_inline", "run_limited", "check_time_limit", "check_memory_limit",
           "default_memory_limit", "pid_alive"]


@dataclass
class Outcome:
    """What a sandboxed call returned.

    Attributes
    ----------
    status : str
        ``ok``, ``timeout`` or ``error``.
    arrays : dict of str to numpy.ndarray
        The arrays returned by the function (empty unless ``ok``).
    info : dict
        The JSON object returned by the function (empty unless ``ok``).
    message : str
        Why it timed out or failed (``""`` when ``ok``).
    wall : float
        Wall-clock seconds, fork to end.
    """

    status: str                      # "ok", "timeout" or "error"
    arrays: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    message: str = ""
    wall: float = 0.0


def _pack(arrays: dict, info: dict) -> bytes:
    a = b""
    if arrays:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        a = buf.getvalue()
    j = json.dumps(info, default=json_default).encode()
    return struct.pack("<QQ", len(a), len(j)) + a + j


def _unpack(data: bytes) -> tuple[dict, dict]:
    na, nj = struct.unpack("<QQ", data[:16])
    a = data[16:16 + na]
    j = data[16 + na:16 + na + nj]
    arrays = {}
    if na:
        with np.load(io.BytesIO(a), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(j)


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, with the innermost frame.

    Parameters
    ----------
    exc : BaseException
        The exception.

    Returns
    -------
    str
        ``"Type: message (file.py:line)"`` with whitespace collapsed, at most 2000 characters.
    """
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}{where}"[:2000]


def run_inline(fn: Callable[[], tuple[dict, dict]]) -> Outcome:
    """Run ``fn() -> (arrays, info)`` in this process, without limits (where ``fork`` is missing).

    Parameters
    ----------
    fn : callable
        A function of no argument returning a dict of arrays and a JSON-able dict.

    Returns
    -------
    Outcome
        ``ok`` with its results, or ``error`` with :func:`one_line` of the exception.
    """
    t0 = time.perf_counter()
    try:
        arrays, info = fn()
        return Outcome("ok", dict(arrays), dict(info), wall=time.perf_counter() - t0)
    except Exception as e:  # reported as the cell's error
        return Outcome("error", message=one_line(e), wall=time.perf_counter() - t0)


def _positive(value, what: str, unit: str) -> float | None:
    """``None`` or a positive finite number; anything else is an input error naming ``what``."""

    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number of {unit}, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise InputError(f"{what} must be a positive number of {unit}, got {value!r}")
    return x


def check_time_limit(time_limit, what: str = "--time-limit") -> float | None:
    """``None`` or a positive finite number of seconds; anything else is an input error.

    Parameters
    ----------
    time_limit : float, str or None
        The limit as given.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    float or None
        The limit in seconds, or ``None`` (no limit).

    Raises
    ------
    InputError
        When it is not a number, or not positive and finite.
    """
    return _positive(time_limit, what, "seconds")


def check_memory_limit(memory_limit, what: str = "--memory-limit") -> float | None:
    """``None`` or a positive finite number of GB; anything else is an input error.

    Parameters
    ----------
    memory_limit : float, str or None
        The limit as given.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    float or None
        The limit in GB (GiB, ``2**30`` bytes), or ``None`` (no limit).

    Raises
    ------
    InputError
        When it is not a number, or not positive and finite.
    """
    return _positive(memory_limit, what, "GB")


def default_memory_limit(workers: int | None = None) -> float:
    """GB per cell: the machine's memory divided by the workers (one per core by default).

    Parameters
    ----------
    workers : int, optional
        Number of workers; ``None`` or less than 1: the CPU count.

    Returns
    -------
    float
        Physical memory (8 GiB when unknown) / workers in GiB, rounded to 0.1,
        at least 0.5.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    n = workers if workers and workers > 0 else (os.cpu_count() or 1)
    return max(0.5, round(total / n / (1 << 30), 1))


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pid_alive(pid) -> bool:
    """Whether process ``pid`` exists on this machine.

    Parameters
    ----------
    pid : int
        Process id (a value that is not a valid id counts as alive: nothing is assumed dead).

    Returns
    -------
    bool
    """
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True


def _watchdog(parent: int, watch_pids: tuple[int, ...], period: float = 0.25) -> None:
    """In the child: kill its own process group once the parent or a watched process is gone."""
    def loop():
        while True:
            time.sleep(period)
            if os.getppid() != parent or not all(pid_alive(p) for p in watch_pids):
                try:
                    os.killpg(0, signal.SIGKILL)
                finally:
                    os._exit(9)

    threading.Thread(target=loop, name="mmopt-watchdog", daemon=True).start()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _memory_message(gb: float) -> str:
    return f"memory limit {gb:g} GB exceeded"


def run_limited(fn: Callable[[], tuple[dict, dict]], time_limit: float | None,
                memory_limit: float | None = None, watch_pids: tuple[int, ...] = ()) -> Outcome:
    """Run ``fn() -> (arrays, info)`` in a forked child killed after ``time_limit`` seconds.

    Without ``os.fork`` the function runs inline (:func:`run_inline`), without limits.

    Parameters
    ----------
    fn : callable
        A function of no argument returning a dict of arrays and a JSON-able dict.
    time_limit : float or None
        Seconds; ``None``: no limit, still in a child (the user's code never
        runs inside mmopt).
    memory_limit : float, optional
        GB the child may add to its address space (``None``: no limit).
    watch_pids : tuple of int, optional
        Processes (the driver) whose end kills the cell.

    Returns
    -------
    Outcome
        ``ok`` with the arrays and info, ``timeout``, or ``error`` with the
        child's exception, ``memory limit N GB exceeded``, or the signal or
        exit code of a child that died without a result.

    Raises
    ------
    InputError
        When ``time_limit`` or ``memory_limit`` is not a positive finite number or ``None``.
    """
    time_limit = check_time_limit(time_limit, "time limit")
    memory_limit = check_memory_limit(memory_limit, "memory limit")
    if not hasattr(os, "fork"):
        return run_inline(fn)
    if time_limit is None:
        time_limit = float("inf")
    watch_pids = tuple(int(p) for p in watch_pids if p and int(p) != os.getpid())
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice by the child
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    r, w = os.pipe()
    t0 = time.perf_counter()
    gc.freeze()  # the child's collector then never walks (and copies on write) the parent's objects
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            gc.disable()  # short-lived: no collection pauses, no copy-on-write of the heap
            os.close(r)
            os.setsid()
            try:  # what the user's code prints goes to stderr, never into mmopt's (JSON) output
                os.dup2(2, 1)
            except OSError:
                pass
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _watchdog(parent, watch_pids)
            if memory_limit is not None:
                import resource

                cap = _vm_size() + int(memory_limit * (1 << 30))
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            try:
                arrays, info = fn()
                payload = b"K" + _pack(arrays, info)
            except MemoryError:
                payload = b"M"
            except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
                payload = b"E" + one_line(e).encode()
            view = memoryview(payload)
            while view:
                n = os.write(w, view)
                view = view[n:]
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    chunks, deadline, killed, st = [], t0 + time_limit, False, None
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                killed = True
                break
            ready, _, _ = select.select([r], [], [], min(left, 0.2))
            if ready:
                data = os.read(r, 1 << 20)
                if not data:
                    break
                chunks.append(data)
            else:
                # the child may be gone while a process it started keeps the pipe open
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    st = status
                    os.set_blocking(r, False)
                    try:
                        while data := os.read(r, 1 << 20):
                            chunks.append(data)
                    except BlockingIOError:
                        pass
                    break
    finally:
        if st is None:
            _kill_group(pid)       # the child is not reaped yet: its pid still names the group
            os.close(r)
            _, st = os.waitpid(pid, 0)
        else:
            os.close(r)
        _kill_group(pid)           # processes the child left behind in its group
    wall = time.perf_counter() - t0
    if killed:
        return Outcome("timeout", message=f"time limit of {time_limit:g} s exceeded", wall=wall)
    data = b"".join(chunks)
    if data[:1] == b"K":
        arrays, info = _unpack(data[1:])
        return Outcome("ok", arrays, info, wall=wall)
    if data[:1] == b"M" or (memory_limit is not None and data[:1] == b"E" and b"MemoryError" in data[:200]):
        return Outcome("error", message=_memory_message(memory_limit) if memory_limit is not None
                       else "MemoryError: out of memory", wall=wall)
    if data[:1] == b"E":
        return Outcome("error", message=data[1:].decode(errors="replace"), wall=wall)
    if memory_limit is not None and os.WIFSIGNALED(st) and os.WTERMSIG(st) in (signal.SIGSEGV, signal.SIGABRT,
                                                                                signal.SIGBUS):
        return Outcome("error", message=_memory_message(memory_limit) + f" (killed by signal {os.WTERMSIG(st)})",
                       wall=wall)
    if os.WIFSIGNALED(st):
        return Outcome("error", message=f"solver process killed by signal {os.WTERMSIG(st)}", wall=wall)
    return Outcome("error", message=f"solver process exited with code {os.WEXITSTATUS(st)} without a result",
                   wall=wall)

"""Run a function in a forked child with a hard time limit and a memory limit.

The child sends back its arrays (raw bytes after a JSON header) and a JSON
object, so nothing is pickled, and what comes back is bounded (the
arrays' total at most :func:`max_result_bytes`). A child that runs past
the limit is killed (``timeout``); one that raises or dies reports
``error`` with its message.

Nothing outlives its cell. The forked child is a small *supervisor* in a
session of its own: it runs the function in a grandchild (the *runner*)
and is its ``PR_SET_CHILD_SUBREAPER``, so every process the function
starts stays its descendant even in a new session, a new process group or
as a double-forked daemon. The supervisor kills that whole tree when the
runner finishes, at the time limit, when the caller asks (Ctrl-C, a
cancelled task), when the caller (the worker) or a watched process (the
driver) is gone, and when the tree uses more memory than the limit. Where
the machine allows it (root and a delegated cgroup v2 memory controller;
``MMOPT_CGROUP=0`` turns it off) the runner also gets a cgroup of its own
(``memory.max``, killed with ``cgroup.kill``).

The memory limit covers the cell's whole tree: the runner's ``RLIMIT_AS``
is its address space at the fork plus ``memory_limit`` (a clean
``MemoryError``), and the supervisor adds up the private memory of every
process of the tree (``/proc/PID/smaps_rollup``) four times a second; a
cell over it reports ``memory limit N GB exceeded``.
"""
from __future__ import annotations

import atexit
import ctypes
import gc
import json
import math
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .api import InputError, json_default

__all__ = ["Outcome", "one_line", "run_inline", "run_limited", "check_time_limit", "check_memory_limit",
           "default_memory_limit", "machine_memory_gb", "max_result_bytes", "pid_alive", "descendants",
           "cgroup_available"]


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


def machine_memory_gb() -> float:
    """This machine's physical memory in GB (GiB; 8 when unknown).

    Returns
    -------
    float
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    except (ValueError, OSError, AttributeError):
        return 8.0


def check_memory_limit(memory_limit, what: str = "--memory-limit", maximum: float | None = None) -> float | None:
    """``None`` or a positive finite number of GB, at most ``maximum``; anything else is an input error.

    Parameters
    ----------
    memory_limit : float, str or None
        The limit as given.
    what : str, optional
        Its name in the error message.
    maximum : float, optional
        The largest limit accepted, in GB (default: 2**20 GB, 1 PiB).

    Returns
    -------
    float or None
        The limit in GB (GiB, ``2**30`` bytes), or ``None`` (no limit).

    Raises
    ------
    InputError
        When it is not a number, not positive and finite, or above ``maximum``.
    """
    x = _positive(memory_limit, what, "GB")
    top = float(1 << 20) if maximum is None else float(maximum)
    if x is not None and x > top:
        raise InputError(f"{what} must be at most {top:.4g} GB"
                         + (" (this machine's memory)" if maximum is not None else "") + f", got {memory_limit!r}")
    return x


def default_memory_limit(workers: int | None = None) -> float:
    """GB per cell: the machine's memory divided by the workers (one per core by default).

    Parameters
    ----------
    workers : int, optional
        Number of workers; ``None`` or less than 1 (``--workers 0`` too): the CPU count.

    Returns
    -------
    float
        Physical memory (8 GiB when unknown) / workers in GiB, rounded to 0.1,
        at least 0.5.
    """
    n = workers if workers and workers > 0 else (os.cpu_count() or 1)
    return max(0.5, round(machine_memory_gb() / n, 1))


def max_result_bytes() -> int:
    """The most bytes of arrays a child may send back: ``MMOPT_MAX_INPUT_GB`` (default 2 GiB), as for files.

    Returns
    -------
    int
    """
    v = os.environ.get("MMOPT_MAX_INPUT_GB")
    try:
        gb = float(v) if v else 2.0
    except ValueError:
        gb = 2.0
    if not math.isfinite(gb) or gb <= 0:
        gb = 2.0
    return int(min(gb, 1 << 20) * (1 << 30))


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------


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
    except (PermissionError, TypeError, ValueError, OverflowError):
        return True
    return True


def _proc_table() -> dict[int, list[tuple[int, str]]]:
    """parent pid -> [(pid, state)] of every process in /proc."""
    kids: dict[int, list[tuple[int, str]]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return kids
    for d in names:
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        if len(rest) < 2:
            continue
        kids.setdefault(int(rest[1]), []).append((int(d), rest[0].decode()))
    return kids


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every descendant of ``pid`` with its state letter (``Z`` for a zombie), from ``/proc``.

    Parameters
    ----------
    pid : int
        The root process.

    Returns
    -------
    list of (int, str)
        (pid, state) pairs, parents before their children; empty without ``/proc``.
    """
    table, out, stack = _proc_table(), [], [int(pid)]
    while stack:
        for c, st in table.get(stack.pop(), ()):
            out.append((c, st))
            stack.append(c)
    return out


def _private_bytes(pid: int) -> int:
    """Memory a process holds for itself: private pages and swap (``smaps_rollup``), else its anonymous RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            total = 0
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:", "Swap:")):
                    total += int(line.split()[1]) * 1024
            return total
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


_LIBC: list = []


def _libc():
    """The C library (loaded once, in the caller, so that forked children need no ``dlopen``)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None)
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def _set_subreaper() -> bool:
    """``prctl(PR_SET_CHILD_SUBREAPER, 1)``: orphans of this process's descendants are reparented to it."""
    libc = _libc()
    try:
        return libc is not None and libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


#: supervisors whose result came back complete and that finish cleaning up on their own; reaped later
_PENDING: list = []


def _reap_pending(block: float = 0.0) -> None:
    """Reap finished supervisors of earlier calls (waiting up to ``block`` seconds for each)."""
    end = time.monotonic() + block
    for pid in list(_PENDING):
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                _PENDING.remove(pid)
                break
            if time.monotonic() >= end:
                break
            time.sleep(0.005)


atexit.register(lambda: _reap_pending(2.0))


# -- cgroup v2 (where the machine allows it) -----------------------------------

_CG_BASE: list = []   # [path or None], computed once per process
_CG_SEQ = [0]


def _cgroup_base() -> str | None:
    """A cgroup v2 folder this process may create memory-limited children in, or ``None``."""
    if _CG_BASE:
        return _CG_BASE[0]
    base = None
    try:
        if os.environ.get("MMOPT_CGROUP", "1") != "0" and os.geteuid() == 0:
            mount = None
            with open("/proc/self/mounts") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) > 2 and parts[2] == "cgroup2":
                        mount = parts[1]
                        break
            rel = None
            with open("/proc/self/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        rel = line[3:].strip()
            if mount and rel is not None:
                cand = os.path.join(mount, rel.lstrip("/"))
                with open(os.path.join(cand, "cgroup.subtree_control")) as f:
                    ctl = f.read().split()
                if "memory" in ctl and os.access(cand, os.W_OK):
                    base = cand
    except (OSError, ValueError):
        base = None
    _CG_BASE.append(base)
    return base


def cgroup_available() -> bool:
    """Whether cells get a cgroup v2 of their own here (root, a delegated memory controller, ``MMOPT_CGROUP`` not 0).

    Returns
    -------
    bool
    """
    return _cgroup_base() is not None


class _Cgroup:
    """One cell's cgroup v2: created with ``memory.max``, killed and removed at the end."""

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def new(cls, memory_limit: float | None) -> "_Cgroup | None":
        base = _cgroup_base()
        if base is None:
            return None
        _CG_SEQ[0] += 1
        path = os.path.join(base, f"mmopt-{os.getpid()}-{_CG_SEQ[0]}")
        try:
            os.mkdir(path)
        except OSError:
            return None
        cg = cls(path)
        if memory_limit is not None:
            try:
                cg._write("memory.max", str(int(memory_limit * (1 << 30))))
                cg._write("memory.swap.max", "0")
            except OSError:
                pass
        return cg

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def enter(self) -> None:
        """Move the calling process into the cgroup (the runner, before anything else)."""
        self._write("cgroup.procs", "0")

    def oom(self) -> bool:
        try:
            with open(os.path.join(self.path, "memory.events")) as f:
                return any(line.startswith("oom_kill ") and int(line.split()[1]) > 0 for line in f)
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        try:
            self._write("cgroup.kill", "1")
            return
        except OSError:
            pass
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                for p in f.read().split():
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
        except OSError:
            pass

    def remove(self) -> None:
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


# ---------------------------------------------------------------------------
# the result: a JSON header, then the arrays' raw bytes (nothing pickled)
# ---------------------------------------------------------------------------

_ARRAY_KINDS = "biufc"


def _write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _send_result(fd: int, arrays: dict, info: dict) -> None:
    """``K`` + total length + header length + JSON header + raw array bytes."""
    parts, meta = [], []
    for k, v in (arrays or {}).items():
        a = np.ascontiguousarray(np.asarray(v))
        if a.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"solution key '{k}' has dtype {a.dtype}; only numeric arrays are returned")
        parts.append(a)
        meta.append([str(k), a.dtype.str, list(a.shape), int(a.nbytes)])
    header = json.dumps({"info": info, "arrays": meta}, default=json_default).encode()
    total = 8 + len(header) + sum(m[3] for m in meta)
    _write_all(fd, b"K" + struct.pack("<QQ", total, len(header)) + header)
    for a in parts:
        if a.nbytes:
            _write_all(fd, a.reshape(-1).view(np.uint8))


def _parse_result(buf: bytearray) -> tuple[dict, dict]:
    """The arrays (views of ``buf``, no copy) and info of a ``K`` result body (after the total length)."""
    (nh,) = struct.unpack("<Q", bytes(buf[:8]))
    head = json.loads(bytes(buf[8:8 + nh]))
    pos, arrays = 8 + nh, {}
    for name, dstr, shape, nbytes in head["arrays"]:
        dt = np.dtype(dstr)
        if dt.kind not in _ARRAY_KINDS:
            raise ValueError(f"unexpected dtype {dstr}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        arrays[name] = np.frombuffer(buf, dtype=dt, count=count, offset=pos).reshape(shape)
        pos += nbytes
    return arrays, head["info"]


def _memory_message(gb: float, tree: bool = False) -> str:
    return f"memory limit {gb:g} GB exceeded" + (" by the cell's processes together" if tree else "")


# ---------------------------------------------------------------------------
# supervisor and runner (in the child)
# ---------------------------------------------------------------------------


def _kill_tree(cg: "_Cgroup | None", seconds: float = 3.0) -> None:
    """SIGKILL every descendant of this process (and its cgroup), reaping them, until none is left."""
    if cg is not None:
        cg.kill()
    me, end = os.getpid(), time.monotonic() + seconds
    while True:
        ds = descendants(me)
        live = [p for p, st in ds if st != "Z"]
        for p in live:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _reap()
        if not ds or time.monotonic() > end:
            return
        if not live:
            time.sleep(0.002)


def _reap() -> dict[int, int]:
    """Reap every finished child of this process: pid -> wait status."""
    done = {}
    while True:
        try:
            p, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if p == 0:
            return done
        done[p] = st


def _runner(fn, w: int, memory_limit: float | None, cg: "_Cgroup | None") -> None:
    """The grandchild: run ``fn`` under ``RLIMIT_AS`` and send its result; never returns."""
    code = 0
    try:
        gc.disable()  # short-lived: no collection pauses, no copy-on-write of the heap
        if cg is not None:
            try:
                cg.enter()
            except OSError:
                pass
        try:  # what the user's code prints goes to stderr, never into mmopt's (JSON) output
            os.dup2(2, 1)
        except OSError:
            pass
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL if s != signal.SIGINT else signal.SIG_IGN)
        if memory_limit is not None:
            import resource

            cap = _vm_size() + int(memory_limit * (1 << 30))
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            arrays, info = fn()
            _send_result(w, arrays, info)
        except MemoryError:
            _write_all(w, b"M")
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            msg = one_line(e).encode()
            _write_all(w, b"E" + struct.pack("<Q", len(msg)) + msg)
    except BaseException:  # noqa: BLE001
        code = 3
    finally:
        os._exit(code)


def _supervise(fn, w: int, ctl: socket.socket, deadline: float, memory_limit: float | None,
               watch_pids: tuple[int, ...], parent: int) -> None:
    """The child: fork the runner, watch it and its tree, kill the tree, report to the parent; never returns."""
    stop = []
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, lambda *_: stop.append(1))
        _set_subreaper()
        cg = _Cgroup.new(memory_limit)
        runner = os.fork()
        if runner == 0:
            ctl.close()
            _runner(fn, w, memory_limit, cg)
        os.close(w)
        try:
            pidfd = os.pidfd_open(runner)
        except (AttributeError, OSError):
            pidfd = None
        limit = None if memory_limit is None else memory_limit * (1 << 30)
        reason, st, used, next_mem = None, None, 0, time.monotonic() + 0.1
        while True:
            done = _reap()
            if runner in done:
                st, reason = done[runner], "exit"
                break
            now = time.monotonic()
            # next_mem only advances under a memory limit: without one it must not shorten the wait
            wait = max(0.0, min(0.1, deadline - now, next_mem - now if limit is not None else 0.1))
            fds = [ctl] + ([pidfd] if pidfd is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], wait if pidfd is not None else min(wait, 0.02))
            except InterruptedError:
                ready = []
            if ctl in ready:
                try:
                    ctl.recv(64)
                except OSError:
                    pass
                reason = "stopped"
                break
            if stop:
                reason = "stopped"
                break
            now = time.monotonic()
            if now >= deadline:
                reason = "timeout"
                break
            if os.getppid() != parent or not all(pid_alive(p) for p in watch_pids):
                reason = "orphaned"
                break
            if limit is not None and now >= next_mem:
                next_mem = now + 0.25
                used = sum(_private_bytes(p) for p, s in descendants(os.getpid()) if s != "Z")
                if used > limit or (cg is not None and cg.oom()):
                    reason = "memory"
                    break
        _kill_tree(cg)
        if st is None:
            try:
                _, st = os.waitpid(runner, 0)
            except ChildProcessError:
                st = None
        if reason == "exit" and cg is not None and cg.oom():
            reason = "memory"
        if cg is not None:
            cg.remove()
        try:
            ctl.sendall(json.dumps({"reason": reason, "status": st, "used": used}).encode())
        except OSError:
            pass
    finally:
        os._exit(0)


# ---------------------------------------------------------------------------
# the caller's side
# ---------------------------------------------------------------------------


def _decode_status(st: int | None) -> tuple[str, int]:
    if st is None:
        return "gone", 0
    if os.WIFSIGNALED(st):
        return "signal", os.WTERMSIG(st)
    return "exit", os.WEXITSTATUS(st)


def run_limited(fn: Callable[[], tuple[dict, dict]], time_limit: float | None,
                memory_limit: float | None = None, watch_pids: tuple[int, ...] = (),
                cancelled: Callable[[], bool] | None = None, max_bytes: int | None = None) -> Outcome:
    """Run ``fn() -> (arrays, info)`` in a forked child killed, with all it started, after ``time_limit`` seconds.

    Without ``os.fork`` the function runs inline (:func:`run_inline`), without limits.

    Parameters
    ----------
    fn : callable
        A function of no argument returning a dict of numeric arrays and a JSON-able dict.
    time_limit : float or None
        Seconds; ``None``: no limit, still in a child (the user's code never
        runs inside mmopt).
    memory_limit : float, optional
        GB the cell's processes together may add (``None``: no limit).
    watch_pids : tuple of int, optional
        Processes (the driver) whose end kills the cell.
    cancelled : callable, optional
        Asked about five times a second; ``True`` stops the cell (status ``cancelled``).
    max_bytes : int, optional
        Most bytes the child may send back (default :func:`max_result_bytes`).

    Returns
    -------
    Outcome
        ``ok`` with the arrays and info, ``timeout``, ``cancelled``, or
        ``error`` with the child's exception, ``memory limit N GB exceeded``,
        a result over ``max_bytes``, or the signal or exit code of a child
        that died without a result.

    Raises
    ------
    InputError
        When ``time_limit`` or ``memory_limit`` is not a positive finite number or ``None``.
    KeyboardInterrupt
        Passes through, after the child and everything it started are killed.
    """
    time_limit = check_time_limit(time_limit, "time limit")
    memory_limit = check_memory_limit(memory_limit, "memory limit")
    if not hasattr(os, "fork"):
        return run_inline(fn)
    cap = max_result_bytes() if max_bytes is None else int(max_bytes)
    watch_pids = tuple(int(p) for p in watch_pids if p and int(p) != os.getpid())
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice by the child
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    _reap_pending()
    _libc()
    _cgroup_base()  # computed here once, not in every child
    r, w = os.pipe()
    mine, theirs = socket.socketpair()
    t0 = time.monotonic()
    deadline = t0 + time_limit if time_limit is not None else float("inf")
    gc.freeze()  # the child's collector then never walks (and copies on write) the parent's objects
    pid = os.fork()
    if pid == 0:  # the supervisor
        try:
            os.close(r)
            mine.close()
            os.setsid()
            _supervise(fn, w, theirs, deadline, memory_limit, watch_pids, parent)
        finally:
            os._exit(0)
    os.close(w)
    theirs.close()
    head, body, pos = bytearray(), None, 0
    report, eof_r, eof_c, asked, too_big, reaped, complete = b"", False, False, None, False, None, False
    backstop = deadline + 10.0

    def ask(what: bytes):
        nonlocal asked
        if asked is None:
            asked = what
            try:
                mine.sendall(what)
            except OSError:
                pass

    try:
        while not (eof_r and eof_c):
            if time.monotonic() > backstop:  # the supervisor does not answer: kill what we can reach
                _kill_group(pid)
                break
            if cancelled is not None and asked is None and cancelled():
                ask(b"C")
            fds = ([] if eof_r else [r]) + ([] if eof_c else [mine])
            ready, _, _ = select.select(fds, [], [], 0.2)
            if r in ready:
                if body is not None and not too_big:
                    n = os.readv(r, [memoryview(body)[pos:]]) if pos < len(body) else len(os.read(r, 1 << 16))
                    pos += n
                    eof_r = n == 0
                else:
                    data = os.read(r, 1 << 16)
                    eof_r = not data
                    if not too_big:
                        head += data
                        if head[:1] == b"K" and len(head) >= 9:
                            (total,) = struct.unpack("<Q", bytes(head[1:9]))
                            if total > cap:
                                too_big = True
                                ask(b"L")
                            else:
                                body = bytearray(total)
                                extra = head[9:9 + total]
                                body[:len(extra)] = extra
                                pos = len(extra)
                        elif head[:1] == b"E" and len(head) >= 9:
                            (n,) = struct.unpack("<Q", bytes(head[1:9]))
                            complete = len(head) >= 9 + n
                        elif head[:1] == b"M":
                            complete = True
                if body is not None and pos == len(body):
                    complete = True
                if complete:  # the whole result is here: the supervisor cleans up on its own
                    break
            if mine in ready:
                try:
                    data = mine.recv(1 << 16)
                except OSError:
                    data = b""
                if data:
                    report += data
                else:
                    eof_c = True
                    if not eof_r and not report:  # the supervisor died: nothing watches its tree any more
                        _kill_group(pid)
                        os.set_blocking(r, False)
                        eof_r = True
    except BaseException:
        ask(b"S")  # Ctrl-C and the like: the supervisor kills the tree; wait for it a little
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                reaped = True
                break
            time.sleep(0.01)
        raise
    finally:
        if reaped is None and complete:
            mine.close()  # the supervisor sees it at once, kills what is left of the tree and exits
            _PENDING.append(pid)
            reaped = True
        if reaped is None:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done:
                if not eof_c:
                    _kill_group(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.waitpid(pid, 0)
        os.close(r)
        mine.close()
    wall = time.monotonic() - t0
    try:
        rep = json.loads(report.decode()) if report else {}
    except ValueError:
        rep = {}
    reason = rep.get("reason")
    if too_big:
        return Outcome("error", message=f"the result is larger than {cap / 2**30:.3g} GiB (MMOPT_MAX_INPUT_GB)",
                       wall=wall)
    if reason == "timeout" or (reason is None and not complete and time.monotonic() > deadline):
        return Outcome("timeout", message=f"time limit of {time_limit:g} s exceeded", wall=wall)
    if reason == "memory":
        return Outcome("error", message=_memory_message(memory_limit, tree=True), wall=wall)
    if asked == b"C":
        return Outcome("cancelled", message="the cell was cancelled (its run is gone)", wall=wall)
    if body is not None and pos == len(body):
        try:
            arrays, info = _parse_result(body)
            return Outcome("ok", arrays, info, wall=wall)
        except (ValueError, KeyError, TypeError, struct.error) as e:
            return Outcome("error", message=f"malformed result from the solver process: {e}", wall=wall)
    tag = bytes(head[:1])
    if tag == b"M" or (memory_limit is not None and tag == b"E" and b"MemoryError" in head[:200]):
        return Outcome("error", message=_memory_message(memory_limit) if memory_limit is not None
                       else "MemoryError: out of memory", wall=wall)
    if tag == b"E":
        return Outcome("error", message=bytes(head[9:9 + 4000]).decode(errors="replace"), wall=wall)
    if reason == "orphaned":
        return Outcome("error", message="the cell's caller or driver is gone", wall=wall)
    kind, n = _decode_status(rep.get("status"))
    if memory_limit is not None and kind == "signal" and n in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return Outcome("error", message=_memory_message(memory_limit) + f" (killed by signal {n})", wall=wall)
    if kind == "signal":
        return Outcome("error", message=f"solver process killed by signal {n}", wall=wall)
    if kind == "exit":
        return Outcome("error", message=f"solver process exited with code {n} without a result", wall=wall)
    return Outcome("error", message="solver process ended without a result", wall=wall)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

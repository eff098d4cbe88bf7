"""Run a function in a forked child with a hard time limit.

The child sends back a dict of arrays (as ``.npz`` bytes) and a JSON
object, so nothing is pickled. A child that runs past the limit is killed
(``timeout``); one that raises or dies reports ``error`` with its message.
Forking from the calling process keeps imports warm (milliseconds per cell).
"""
from __future__ import annotations

import gc
import io
import json
import os
import select
import signal
import struct
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .api import json_default


@dataclass
class Outcome:
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
    """``Type: message`` on one line, with the innermost frame."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}{where}"[:2000]


def run_inline(fn: Callable[[], tuple[dict, dict]]) -> Outcome:
    t0 = time.perf_counter()
    try:
        arrays, info = fn()
        return Outcome("ok", dict(arrays), dict(info), wall=time.perf_counter() - t0)
    except Exception as e:  # reported as the cell's error
        return Outcome("error", message=one_line(e), wall=time.perf_counter() - t0)


def run_limited(fn: Callable[[], tuple[dict, dict]], time_limit: float | None) -> Outcome:
    """Run ``fn() -> (arrays, info)`` in a forked child killed after ``time_limit`` seconds.

    ``time_limit`` None: no limit, still in a child (the user's code never runs inside mmopt).
    """
    if not hasattr(os, "fork"):
        return run_inline(fn)
    if time_limit is None:
        time_limit = float("inf")
    r, w = os.pipe()
    t0 = time.perf_counter()
    gc.freeze()  # the child's collector then never walks (and copies on write) the parent's objects
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            gc.disable()  # short-lived: no collection pauses, no copy-on-write of the heap
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                arrays, info = fn()
                payload = b"K" + _pack(arrays, info)
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
    chunks, deadline, killed = [], t0 + time_limit, False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                killed = True
                break
            ready, _, _ = select.select([r], [], [], min(left, 0.5))
            if ready:
                data = os.read(r, 1 << 20)
                if not data:
                    break
                chunks.append(data)
    finally:
        if killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(r)
        _, st = os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    if killed:
        return Outcome("timeout", message=f"time limit of {time_limit:g} s exceeded", wall=wall)
    data = b"".join(chunks)
    if data[:1] == b"K":
        arrays, info = _unpack(data[1:])
        return Outcome("ok", arrays, info, wall=wall)
    if data[:1] == b"E":
        return Outcome("error", message=data[1:].decode(errors="replace"), wall=wall)
    if os.WIFSIGNALED(st):
        return Outcome("error", message=f"solver process killed by signal {os.WTERMSIG(st)}", wall=wall)
    return Outcome("error", message=f"solver process exited with code {os.WEXITSTATUS(st)} without a result",
                   wall=wall)

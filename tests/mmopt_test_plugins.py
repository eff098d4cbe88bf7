"""Solvers that misbehave on purpose, for the runner tests (loaded with MMOPT_PLUGINS)."""
import os
import signal
import time

import numpy as np

from mmopt.api import solver


def _mrt(instance):
    H, P = instance["H"], instance["P"]
    K, L, M = H.shape
    assoc = np.linalg.norm(H, axis=2).argmax(1).astype(np.int64)
    V = H[np.arange(K), assoc].copy()
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    counts = np.bincount(assoc, minlength=L)
    V *= np.sqrt(P[assoc] / counts[assoc])[:, None]
    return assoc, V


@solver("test-raises", problems=["maxmin-assoc-bf"], kind="baseline")
def raises(instance):
    raise RuntimeError("deliberate failure")


@solver("test-sleeps", problems=["maxmin-assoc-bf"], kind="baseline")
def sleeps(instance, *, seconds: float = 30.0):
    time.sleep(seconds)
    return {}, {}


@solver("test-dies", problems=["maxmin-assoc-bf"], kind="baseline")
def dies(instance):
    os.kill(os.getpid(), signal.SIGKILL)


@solver("test-mrt", problems=["maxmin-assoc-bf"], kind="baseline")
def mrt(instance, *, delay: float = 0.0):
    time.sleep(delay)
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {"delay": delay}


@solver("test-cheat", problems=["maxmin-assoc-bf"], kind="baseline")
def cheat(instance):
    """Over budget by 4x: infeasible."""
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": 2 * V}, {}


def user_feasible(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}


def user_infeasible(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": 2 * V}


def user_malformed(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc.astype(np.int32), "V": V}


def user_nondeterministic(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V * np.exp(1j * np.random.default_rng().uniform())}



@solver("test-spawns", problems=["maxmin-assoc-bf"], kind="baseline")
def spawns(instance, *, seconds: float = 60.0):
    """Starts ``sleep 97`` (its pid written to $MMOPT_TEST_PIDS) and then sleeps: nothing may survive the cell."""
    import subprocess

    p = subprocess.Popen(["sleep", "97"])
    folder = os.environ.get("MMOPT_TEST_PIDS")
    if folder:
        with open(os.path.join(folder, f"{p.pid}.pid"), "w") as f:
            f.write(str(p.pid))
    time.sleep(seconds)
    return {}, {}


@solver("test-hog", problems=["maxmin-assoc-bf"], kind="baseline")
def hog(instance, *, gb: float = 4.0):
    """Allocates ``gb`` GB at once."""
    x = np.ones(int(gb * (1 << 30) // 8))
    return {}, {"n": float(x[-1])}


def user_prints(instance):
    print("chatter from the user's function")
    return user_feasible(instance)


# -- processes that try to escape their cell (each `sleep 97`, its pid written to $MMOPT_TEST_PIDS) ----------

def _record(pid):
    folder = os.environ.get("MMOPT_TEST_PIDS")
    if folder:
        with open(os.path.join(folder, f"{pid}.pid"), "w") as f:
            f.write(str(pid))


def escape(how: str) -> None:
    """Start ``sleep 97`` in a new session (``setsid``), a new process group (``pgroup``) or as a daemon."""
    import subprocess

    if how == "setsid":
        _record(subprocess.Popen(["sleep", "97"], start_new_session=True).pid)
    elif how == "pgroup":
        _record(subprocess.Popen(["sleep", "97"], process_group=0).pid)
    elif how == "daemon":  # double fork: the grandchild's parent exits at once
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                grand = os.fork()
                if grand == 0:
                    os.execvp("sleep", ["sleep", "97"])
                _record(grand)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    else:
        raise ValueError(how)


@solver("test-escapes", problems=["maxmin-assoc-bf"], kind="baseline")
def escapes(instance, *, how: str = "setsid", seconds: float = 0.0):
    """Leaves ``sleep 97`` behind in a new session, process group or as a daemon, then returns (or sleeps)."""
    escape(how)
    time.sleep(seconds)
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {}


def user_escapes(instance):
    escape(os.environ.get("MMOPT_TEST_ESCAPE", "setsid"))
    return user_feasible(instance)


@solver("test-tree-hog", problems=["maxmin-assoc-bf"], kind="baseline")
def tree_hog(instance, *, mb: int = 300, n: int = 3, seconds: float = 30.0):
    """Starts ``n`` Python processes that each hold ``mb`` MB (each under any per-process limit), then waits."""
    import subprocess
    import sys

    code = f"import time; b = b'x' * ({int(mb)} << 20); time.sleep(97)"
    for _ in range(n):
        _record(subprocess.Popen([sys.executable, "-c", code]).pid)
    time.sleep(seconds)
    return {}, {}


@solver("test-extra", problems=["maxmin-assoc-bf"], kind="baseline")
def extra(instance, *, mb: int = 64):
    """A feasible solution plus an unknown ``mb`` MB array, and non-finite and oversized stats."""
    assoc, V = _mrt(instance)
    junk = np.ones(int(mb) << 17)  # mb MB of float64
    return {"assoc": assoc, "V": V, "junk": junk}, {"inf": float("inf"), "nan": float("nan"),
                                                    "nested": {"x": [1.0, float("-inf")]}}


@solver("test-big-stats", problems=["maxmin-assoc-bf"], kind="baseline")
def big_stats(instance):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {"trace": [0.5] * 400_000}


@solver("test-choices", problems=["maxmin-assoc-bf"], kind="baseline", choices={"inner": ("duality", "socp")})
def choices(instance, *, inner: str = "duality", batch: int = 4, rel_tol: float = 1e-6):
    assoc, V = _mrt(instance)
    return {"assoc": assoc, "V": V}, {}


@solver("test-exits", problems=["maxmin-assoc-bf"], kind="baseline")
def exits(instance):
    os._exit(0)

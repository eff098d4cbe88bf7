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

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


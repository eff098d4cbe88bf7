"""Baselines of MACOL (Kose et al., Sec. IV): Random and Best SNR beam allocation.

Both are greedy and never pre-empt: at every step each *free* beam (in a
fresh random order) picks a vehicle inside its sector that no other beam is
serving, and serves it until the vehicle leaves the sector (then the beam is
free again at the same step). They ignore interference.

* ``random``: the vehicle is drawn uniformly among the candidates.
* ``best-snr``: the candidate with the best SNR, i.e. the one nearest to
  the BS (ideal sector antenna, eq. (1) path loss).
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import solver
from mmopt.problems.highway_sector_beams import scenario as sim

PROBLEM = "highway-sector-beams"


def departed(cur: np.ndarray, ins: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Beams whose served vehicle (``cur``, -1 idle) is no longer inside them (``ins``: beams x vehicles)."""
    return (cur >= 0) & ~ins[ar, np.maximum(cur, 0)]


def pick_vehicle(sc, t: int, b: int, candidates: np.ndarray, rule: str, rng: np.random.Generator) -> int:
    """The vehicle a free beam ``b`` picks among ``candidates`` at step ``t``.

    ``random``: uniformly at random; ``best-snr``: the strongest link, i.e.
    the nearest vehicle (path loss grows with distance, equal beam gains).
    """
    if rule == "random":
        return int(candidates[rng.integers(candidates.size)])
    dx = sc.x[t, candidates] - sc.beams.x[b]
    dy = sc.y[candidates] - sc.beams.y[b]
    return int(candidates[np.argmin(dx * dx + dy * dy)])


def greedy_schedule(instance, rule: str, seed: int) -> tuple[np.ndarray, dict]:
    """Time-stepped greedy allocation without pre-emption (``rule``: ``random`` | ``best-snr``)."""
    sc = sim.scenario(instance)
    ins_all = sc.inside_all()
    T, B, N = ins_all.shape
    rng = np.random.default_rng(seed)
    A = np.full((T, B), -1, dtype=np.int16)
    cur = np.full(B, -1, dtype=np.int64)
    busy = np.zeros(N, dtype=bool)
    ar = np.arange(B)
    picks = 0
    for t in range(T):
        ins = ins_all[t]
        gone = departed(cur, ins, ar)
        if gone.any():
            busy[cur[gone]] = False
            cur[gone] = -1
        want = (cur < 0) & (ins & ~busy).any(axis=1)
        if want.any():
            for b in rng.permutation(np.flatnonzero(want)):
                c = np.flatnonzero(ins[b] & ~busy)
                if c.size == 0:
                    continue
                v = pick_vehicle(sc, t, b, c, rule, rng)
                cur[b] = v
                busy[v] = True
                picks += 1
        A[t] = cur
    return A, {"connections_started": picks}


@solver("random", problems=[PROBLEM], kind="baseline", version=1)
def random_allocation(instance, *, seed: int = 0):
    """Random: each free beam serves a random vehicle inside it until the vehicle leaves (no pre-emption)."""
    t0 = time.perf_counter()
    A, st = greedy_schedule(instance, "random", seed)
    return {"assign": A}, {**st, "seconds": time.perf_counter() - t0}


@solver("best-snr", problems=[PROBLEM], kind="baseline", version=1)
def best_snr_allocation(instance, *, seed: int = 0):
    """Best SNR: each free beam serves the unserved vehicle inside it with the best SNR (nearest), no pre-emption.

    ``seed`` only sets the order in which free beams pick within a step.
    """
    t0 = time.perf_counter()
    A, st = greedy_schedule(instance, "best-snr", seed)
    return {"assign": A}, {**st, "seconds": time.perf_counter() - t0}

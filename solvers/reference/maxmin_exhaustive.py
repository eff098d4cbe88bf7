"""Exhaustive search over associations for ``maxmin-assoc-bf`` (exact reference).

Every association ``a`` in ``{0..L-1}^K`` is either solved by certified
max-min beamforming (:mod:`mmopt.solvers.reference.beamforming`), or skipped
because its interference-free bound (users of one AP sharing its power,
:func:`~mmopt.solvers.reference.beamforming.single_user_bound`) cannot beat
the incumbent by more than the tolerance. The optimum is the best achieved
value; the certificate is the largest upper end over all associations
(solved brackets and skipped bounds): the value is ``opt`` when it lies
within ``rel_tol`` of that bound.
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from mmopt.api import solver
from mmopt.solvers.reference.beamforming import maxmin_beamforming, single_user_bound


def rate(gamma: float) -> float:
    return float(np.log2(1.0 + gamma))


@solver("exhaustive", problems=["maxmin-assoc-bf"], kind="reference", version=1)
def exhaustive(instance, *, inner: str = "socp", rel_tol: float = 1e-6, prune: bool = True):
    """Exact optimum over all L^K associations with certified inner beamforming."""
    t0 = time.perf_counter()
    H, P, noise = instance["H"], instance["P"], instance["noise"]
    K, L, _ = H.shape
    assocs = np.array(list(itertools.product(range(L), repeat=K)), dtype=np.int64)
    bounds = np.array([single_user_bound(H, P, noise, a) for a in assocs])
    order = np.argsort(-bounds)                    # most promising first
    best, best_a, best_V, upper = -np.inf, None, None, 0.0
    solved = skipped = 0
    for j in order:
        a = assocs[j]
        if prune and best_a is not None and bounds[j] <= best * (1 + rel_tol):
            upper = max(upper, bounds[j])
            skipped += 1
            continue
        V, info = maxmin_beamforming(instance, a, method=inner, rel_tol=rel_tol)
        solved += 1
        upper = max(upper, info["sinr_upper"])
        if info["sinr"] > best:
            best, best_a, best_V = info["sinr"], a, V
    upper = max(upper, best)
    status = "opt" if upper - best <= rel_tol * upper else "best"
    return ({"assoc": best_a.copy(), "V": best_V},
            {"value": rate(best), "bound": rate(upper), "status": status, "tolerance": rel_tol,
             "sinr": best, "sinr_upper": upper, "associations": int(len(assocs)), "solved": solved,
             "skipped_by_bound": skipped, "inner": inner, "seconds": time.perf_counter() - t0})

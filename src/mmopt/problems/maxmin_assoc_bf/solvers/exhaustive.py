"""Exhaustive search over associations for ``maxmin-assoc-bf`` (exact reference).

Every association ``a`` in ``{0..L-1}^K`` is accounted for, either solved by
certified max-min beamforming or discarded by a valid upper bound on its
optimum :math:`\\gamma^\\star(a)`:

* the interference-free bound (users of one AP sharing its power,
  :func:`~mmopt.problems.maxmin_assoc_bf.socp.single_user_bound`), computed
  for all associations at once; associations are visited in decreasing order
  of it and the visit stops once it falls below the incumbent;
* with ``inner="duality"`` (default), the uplink-downlink duality fixed
  point (:mod:`mmopt.problems.maxmin_assoc_bf.duality`), run on batches of
  associations; its upper bound is valid at every iteration, so an
  association stops as soon as it cannot beat the incumbent by more than
  the tolerance (``pruned``), and the best ones run until their own bracket
  closes; an association whose bracket does not close within the iteration
  cap is re-solved by the SOCP bisection;
* with ``inner="socp"``, the SOCP bisection of Wiesel, Eldar, Shamai per
  association (slow; kept as the independent check).

The value is the min SINR achieved by the returned beamformers; the bound is
the largest upper bound over all associations (closed brackets, pruning
bounds, skipped single-user bounds). ``status`` is ``opt`` when
``(bound - value) / bound <= rel_tol`` in SINR (hence also in rate).
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from mmopt.api import MmoptError, solver
from mmopt.problems.maxmin_assoc_bf import sinr
from mmopt.problems.maxmin_assoc_bf.beamforming import maxmin_beamforming, maxmin_socp
from mmopt.problems.maxmin_assoc_bf.duality import (CAPPED, finish_beamformers, reduced_channels,
                                                            solve_associations)


def rate(gamma: float) -> float:
    return float(np.log2(1.0 + gamma))


def all_associations(K: int, L: int) -> np.ndarray:
    """Every association, (L^K, K) int64, in lexicographic order."""
    if K == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.array(list(itertools.product(range(L), repeat=K)), dtype=np.int64).reshape(-1, K)


def single_user_bounds(H: np.ndarray, P: np.ndarray, noise: np.ndarray, assocs: np.ndarray) -> np.ndarray:
    """Vectorised :func:`single_user_bound` for many associations (A, K) -> (A,)."""
    K, L, _ = H.shape
    A = assocs.shape[0]
    g = np.linalg.norm(H, axis=2) ** 2                           # (K, L)
    cost = noise[:, None] / np.maximum(g, 1e-300)                # (K, L)
    need = np.zeros((A, L))
    np.add.at(need, (np.broadcast_to(np.arange(A)[:, None], (A, K)), assocs), cost[np.arange(K)[None, :], assocs])
    with np.errstate(divide="ignore"):
        b = np.where(need > 0, P[None, :] / np.where(need > 0, need, 1.0), np.inf)
    return b.min(axis=1)


def search_duality(H, P, noise, assocs, bounds, *, rel_tol: float = 1e-6, chunk: int = 2048,
                   incumbent: tuple | None = None, max_iter: int = 3000, C=None) -> dict:
    """Best association among ``assocs`` by batched duality with bound pruning.

    ``bounds`` are valid upper bounds on each association's optimum (e.g.
    single-user bounds). Returns a dict with the winner (``assoc``, ``V``,
    ``sinr``), the certificate ``sinr_upper`` (over all of ``assocs``) and
    counters. ``incumbent`` is an optional ``(sinr, assoc, V)`` known to be
    achievable.
    """

    tol = rel_tol / 2
    if C is None:
        C = reduced_channels(H)[0]
    order = np.argsort(-bounds, kind="stable")
    best, best_a, best_zp, best_V = -np.inf, None, None, None
    if incumbent is not None:
        best, best_a, best_V = incumbent
    upper = -np.inf
    n_solved = n_pruned = n_skipped = n_capped = n_fallback = 0
    iters = pair_solves = 0
    pos = 0
    A = len(order)
    while pos < A:
        # everything left whose bound cannot beat the incumbent is skipped (sorted order)
        if np.isfinite(best) and bounds[order[pos]] <= best * (1 + tol):
            rest = order[pos:]
            upper = max(upper, float(bounds[rest].max()))
            n_skipped += rest.size
            break
        # first batch small: a good incumbent early prunes the rest
        size = 64 if not np.isfinite(best) else chunk
        sel = order[pos:pos + size]
        pos += sel.size
        live = bounds[sel] > best * (1 + tol) if np.isfinite(best) else np.ones(sel.size, bool)
        if (~live).any():
            upper = max(upper, float(bounds[sel[~live]].max()))
            n_skipped += int((~live).sum())
            sel = sel[live]
        if not sel.size:
            continue
        res = solve_associations(H, P, noise, assocs[sel], tol=tol, max_iter=max_iter, incumbent=best, C=C,
                                 ub_init=bounds[sel])
        iters += res.total_iterations
        pair_solves += res.pair_solves
        n_solved += int((res.status == 0).sum())
        n_pruned += int((res.status == 1).sum())
        j = int(np.argmax(res.lb))
        if res.lb[j] > best:
            best, best_a, best_zp, best_V = float(res.lb[j]), assocs[sel[j]].copy(), (res.z[j], res.p[j]), None
        capped = np.flatnonzero(res.status == CAPPED)
        n_capped += capped.size
        ok = res.status != CAPPED
        if ok.any():
            upper = max(upper, float(res.ub[ok].max()))
        for c in capped:
            if res.ub[c] <= best * (1 + tol):
                upper = max(upper, float(res.ub[c]))
                continue
            V, info = maxmin_socp(H, P, noise, assocs[sel[c]], rel_tol=tol)
            n_fallback += 1
            upper = max(upper, min(float(info["sinr_upper"]), float(res.ub[c])))
            if info["sinr"] > best:
                best, best_a, best_zp, best_V = float(info["sinr"]), assocs[sel[c]].copy(), None, V
    if best_V is None and best_zp is not None:
        best_V, best = finish_beamformers(H, P, noise, best_a, *best_zp)
    return {"assoc": best_a, "V": best_V, "sinr": best, "sinr_upper": max(upper, best),
            "solved": n_solved, "pruned_by_duality_bound": n_pruned, "skipped_by_bound": n_skipped,
            "capped": n_capped, "socp_fallbacks": n_fallback, "iterations": iters, "pair_solves": pair_solves}


#: largest association space L**K searched exhaustively (4**10: the largest suite, ``large``, is within it)
MAX_ASSOCIATIONS = 4 ** 10


def _applies(instance, **_) -> str | None:
    K, L = instance["H"].shape[:2]
    if L ** K > MAX_ASSOCIATIONS:
        return f"L**K = {L}**{K} associations exceed the exhaustive limit of {MAX_ASSOCIATIONS}"
    return None


@solver("exhaustive", problems=["maxmin-assoc-bf"], kind="reference", version=2, applies=_applies,
        choices={"inner": ("duality", "socp")})
def exhaustive(instance, *, inner: str = "duality", rel_tol: float = 1e-6, prune: bool = True):
    """Exact optimum over all L^K associations with certified inner beamforming.

    ``inner="duality"`` (default): batched uplink-downlink duality with
    bound pruning (SOCP fallback for the rare association whose bracket does
    not close). ``inner="socp"``: SOCP bisection for every association that
    survives the single-user bound. ``prune=False`` solves every association
    to its own tolerance (for checks).
    """

    t0 = time.perf_counter()
    H, P, noise = np.asarray(instance["H"]), np.asarray(instance["P"]), np.asarray(instance["noise"])
    K, L, _ = H.shape
    assocs = all_associations(K, L)
    bounds = single_user_bounds(H, P, noise, assocs)
    if inner == "duality":
        if prune:
            r = search_duality(H, P, noise, assocs, bounds, rel_tol=rel_tol)
        else:
            r = _all_duality(H, P, noise, assocs, rel_tol)
        best_a, best_V = r.pop("assoc"), r.pop("V")
        best = float(sinr(H, noise, best_a, best_V).min())
        upper = max(r.pop("sinr_upper"), best)
        solved = r.pop("solved")
        extra = r
    elif inner == "socp":
        order = np.argsort(-bounds, kind="stable")
        best, best_a, best_V, upper = -np.inf, None, None, 0.0
        solved = skipped = 0
        for j in order:
            a = assocs[j]
            if prune and best_a is not None and bounds[j] <= best * (1 + rel_tol):
                upper = max(upper, bounds[j])
                skipped += 1
                continue
            V, info = maxmin_beamforming(instance, a, method="socp", rel_tol=rel_tol)
            solved += 1
            upper = max(upper, info["sinr_upper"])
            if info["sinr"] > best:
                best, best_a, best_V = info["sinr"], a, V
        upper = max(upper, best)
        extra = {"skipped_by_bound": skipped}
    else:
        raise MmoptError(f"unknown inner beamforming method '{inner}' (choose from duality, socp)")
    status = "opt" if upper - best <= rel_tol * upper else "best"
    return ({"assoc": np.asarray(best_a, dtype=np.int64).copy(), "V": np.asarray(best_V, dtype=complex)},
            {"value": rate(best), "bound": rate(upper), "status": status, "tolerance": rel_tol,
             "sinr": best, "sinr_upper": upper, "associations": len(assocs), "solved": solved,
             "inner": inner, "seconds": time.perf_counter() - t0, **extra})


def _all_duality(H, P, noise, assocs, rel_tol):
    """No pruning: every association's own bracket closed (for checks)."""

    tol = rel_tol / 2
    res = solve_associations(H, P, noise, assocs, tol=tol, prune=False)
    ub = res.ub.copy()
    lb = res.lb.copy()
    fallback = 0
    Vs = {}
    for c in np.flatnonzero(res.status == CAPPED):
        V, info = maxmin_socp(H, P, noise, assocs[c], rel_tol=tol)
        fallback += 1
        ub[c] = min(ub[c], info["sinr_upper"])
        if info["sinr"] > lb[c]:
            lb[c], Vs[c] = info["sinr"], V
    j = int(np.argmax(lb))
    V = Vs[j] if j in Vs else finish_beamformers(H, P, noise, assocs[j], res.z[j], res.p[j])[0]
    return {"assoc": assocs[j].copy(), "V": V, "sinr": float(lb[j]), "sinr_upper": float(ub.max()),
            "solved": len(assocs), "socp_fallbacks": fallback, "per_association_lb": None}

r"""Branch-and-bound over associations for ``maxmin-assoc-bf`` (exact reference).

Search tree: users are assigned one at a time in a fixed order :math:`\pi`
(weakest best-AP SNR first); a node at depth ``d`` fixes the APs of users
:math:`\pi_1..\pi_d`; its ``L`` children assign :math:`\pi_{d+1}`. Leaves are
complete associations, solved by the batched duality fixed point
(:mod:`mmopt.problems.maxmin_assoc_bf.duality`) with the incumbent as pruning
threshold.

Upper bound on every completion of a node
-----------------------------------------
*Dropping users is a relaxation*: for any association ``a`` and any subset
``S`` of users, :math:`\gamma^\star(a) \le \gamma^\star(a|_S)` (restrict a
feasible ``V`` to ``S``: less power is used, less interference is received,
and the min runs over fewer users). With certified upper bounds
:math:`\bar\gamma_S(t)` for every subset of one, two and three users and
every AP tuple ``t`` (precomputed once per instance: single-user SNRs, and
the duality upper bound of each 2- and 3-user sub-problem, ``L^2`` and
``L^3`` associations per subset, all batched), a node with assignment
``a`` on the assigned set ``A`` is bounded by

.. math::

    B(a) = \min\Big( \min_{S \subseteq A,\ |S| \le 3} \bar\gamma_S(a_S),\
    \min_{j \notin A} \max_{l} \min_{S \subseteq A,\ |S| \le 2}
    \bar\gamma_{S \cup \{j\}}(a_S, l) \Big):

the first term covers the assigned users, the second every unassigned user
``j`` wherever it goes (it must go to some AP ``l``). From depth
``partial_from`` (3) on, the first term is tightened by the duality upper
bound of the sub-problem on all assigned users (a few tens of fixed-point
steps, batched over the nodes of a level; the bound is valid at every
iterate). All terms are valid for every completion, so the search is exact.
Nodes are expanded best-first (largest bound first, from a heap of node
batches); a node is discarded when its bound is at most
``incumbent * (1 + tol)``. The incumbent starts from a
local search (max-gain association, then single-user moves).

Certificate: ``bound`` is the largest bound of anything discarded (nodes,
and leaves with their duality upper bound), and ``status`` is ``opt`` when
it is within ``rel_tol`` of the value. Stats report nodes created and
expanded, leaves solved by duality, and the final bound.
"""
from __future__ import annotations

import heapq
import itertools
import time

import numpy as np

from mmopt.api import solver
from mmopt.problems.maxmin_assoc_bf import sinr
from mmopt.problems.maxmin_assoc_bf.beamforming import maxmin_socp
from mmopt.problems.maxmin_assoc_bf.duality import (CAPPED, finish_beamformers, reduce_rows, reduced_channels,
                                                            solve_associations)


def rate(gamma: float) -> float:
    return float(np.log2(1.0 + gamma))


# ---------------------------------------------------------------------------
# subset bounds
# ---------------------------------------------------------------------------


def subset_bounds(H, P, noise, r: int, C=None, tol: float = 1e-4, max_iter: int = 300) -> np.ndarray:
    """Certified upper bounds on the max-min SINR of every ``r``-user sub-problem.

    Returns an array of shape ``(K,)*r + (L,)*r``: entry ``[i, j, ..., l_i, l_j, ...]``
    bounds the optimum of the sub-problem with users ``i, j, ...`` (distinct)
    served by APs ``l_i, l_j, ...`` (the duality upper bound, valid at any
    iteration); symmetric under permuting users together with their APs;
    ``inf`` where users repeat. ``r = 1``: the single-user SNR ``P_l ||h_{k,l}||^2 / sigma_k``
    as a (K, L) array.
    """
    K, L, _ = H.shape
    if C is None:
        C = reduced_channels(H)[0]
    if r == 1:
        g = np.einsum("lkd,lkd->kl", C.real, C.real) + np.einsum("lkd,lkd->kl", C.imag, C.imag)
        return P[None, :] * g / noise[:, None]
    out = np.full((K,) * r + (L,) * r, np.inf)
    subsets = np.array(list(itertools.combinations(range(K), r)), dtype=np.int64)
    tuples = np.array(list(itertools.product(range(L), repeat=r)), dtype=np.int64)
    if not len(subsets):
        return out
    Cs = reduce_rows(np.moveaxis(C[:, subsets], 0, 1))           # (n_subsets, L, r, d')
    S = np.repeat(subsets, len(tuples), axis=0)                   # (N, r)
    T = np.tile(tuples, (len(subsets), 1))                         # (N, r)
    Crows = np.repeat(Cs, len(tuples), axis=0)                     # (N, L, r, d')
    res = solve_associations(None, P, noise[S], T, C=Crows, tol=tol, max_iter=max_iter, prune=False)
    for perm in itertools.permutations(range(r)):
        perm = list(perm)
        out[tuple(S[:, perm].T) + tuple(T[:, perm].T)] = res.ub
    return out


# ---------------------------------------------------------------------------
# incumbent by local search
# ---------------------------------------------------------------------------


def local_search(H, P, noise, start: np.ndarray, C=None, tol: float = 1e-7, rounds: int = 20):
    """Best-improvement search over single-user moves from ``start``; returns ``(sinr, assoc, z, p)``."""
    K, L, _ = H.shape
    if C is None:
        C = reduced_channels(H)[0]
    cur = np.asarray(start, dtype=np.int64).copy()
    res = solve_associations(H, P, noise, cur[None], tol=tol, C=C)
    best, bz, bp = float(res.lb[0]), res.z[0], res.p[0]
    for _ in range(rounds):
        nb = []
        for k in range(K):
            for l in range(L):
                if l != cur[k]:
                    a = cur.copy()
                    a[k] = l
                    nb.append(a)
        if not nb:
            break
        nb = np.array(nb, dtype=np.int64)
        res = solve_associations(H, P, noise, nb, tol=tol, C=C, incumbent=best)
        j = int(np.argmax(res.lb))
        if res.lb[j] <= best * (1 + tol):
            break
        best, cur, bz, bp = float(res.lb[j]), nb[j].copy(), res.z[j], res.p[j]
    return best, cur, bz, bp


# ---------------------------------------------------------------------------
# branch and bound
# ---------------------------------------------------------------------------


class _Bounds:
    """Vectorised node bounds from the subset tables, in the search order ``pi``."""

    def __init__(self, U1, U2, U3, pi):
        self.pi = pi
        K = len(pi)
        # tables re-indexed by search position
        self.U1 = U1[pi]                                            # (K, L)
        self.U2 = U2[np.ix_(pi, pi)] if U2 is not None else None     # (K, K, L, L)
        self.U3 = U3[np.ix_(pi, pi, pi)] if U3 is not None else None  # (K, K, K, L, L, L)
        self.K = K

    def candidate(self, a: np.ndarray, j: int) -> np.ndarray:
        """``c[n, l] = min_{S subset of assigned, |S|<=2} U_{S+j}(a_S, l)`` for position ``j``.

        ``a`` (N, d) holds the APs of positions ``0..d-1`` (d <= j).
        """
        N, d = a.shape
        c = np.broadcast_to(self.U1[j], (N, self.U1.shape[1])).copy()
        if d and self.U2 is not None:
            # U2[i, j, a_i, l] for i < d
            v = self.U2[np.arange(d)[None, :], j, a, :]                 # (N, d, L)
            c = np.minimum(c, v.min(axis=1))
        if d >= 2 and self.U3 is not None:
            ii, kk = np.triu_indices(d, 1)
            v = self.U3[ii[None, :], kk[None, :], j, a[:, ii], a[:, kk], :]   # (N, npairs, L)
            c = np.minimum(c, v.min(axis=1))
        return c

    def lookahead(self, a: np.ndarray) -> np.ndarray:
        """``min_{j unassigned} max_l candidate(a, j)[:, l]`` (inf when all are assigned)."""
        N, d = a.shape
        out = np.full(N, np.inf)
        for j in range(d, self.K):
            out = np.minimum(out, self.candidate(a, j).max(axis=1))
        return out


@solver("bnb", problems=["maxmin-assoc-bf"], kind="reference", version=1)
def bnb(instance, *, rel_tol: float = 1e-6, triples: bool = True, partial_from: int = 3, partial_iter: int = 40,
        batch: int = 4096):
    """Exact optimum by best-first branch-and-bound over associations.

    Bounds from certified 1-, 2- and 3-user sub-problem bounds (dropping users
    is a relaxation; ``triples=False`` uses 1 and 2 only) and, from depth
    ``partial_from`` on, the duality upper bound of the sub-problem on the
    assigned users (``partial_iter`` fixed-point steps); leaves by the batched
    duality fixed point with incumbent pruning (SOCP fallback for a leaf
    whose bracket does not close). ``batch``: nodes expanded per heap pop.
    Stats: ``nodes`` created, ``expanded``, ``leaves`` solved, ``bound``
    (final certificate, rate), ``tables_seconds``.
    """

    leaf_batch = 2048                                               # leaves solved per duality batch

    t0 = time.perf_counter()
    H, P, noise = np.asarray(instance["H"]), np.asarray(instance["P"], float), np.asarray(instance["noise"], float)
    K, L, _ = H.shape
    tol = rel_tol / 2
    C = reduced_channels(H)[0]
    U1 = subset_bounds(H, P, noise, 1, C)
    U2 = subset_bounds(H, P, noise, 2, C) if K >= 2 else None
    U3 = subset_bounds(H, P, noise, 3, C) if (K >= 3 and triples) else None
    t_tables = time.perf_counter() - t0

    # incumbent: local search from the max-gain association
    start = np.linalg.norm(H, axis=2).argmax(axis=1)
    best, best_a, best_z, best_p = local_search(H, P, noise, start, C)
    best_V = None
    t_inc = time.perf_counter() - t0 - t_tables

    pi = np.argsort(U1.max(axis=1), kind="stable")                 # weakest users first
    bd = _Bounds(U1, U2, U3, pi)
    Cpi = C[:, pi]
    noise_pi = noise[pi]

    upper = best                                                    # largest bound of discarded things
    nodes = expanded = leaves = leaf_pruned = fallbacks = partial_solved = 0
    counter = itertools.count()
    # heap of node batches: (-max bound, id, depth, assigned (N, d), assigned-part bound (N,), bound (N,))
    root_a = np.zeros((1, 0), dtype=np.int64)
    root_b = np.array([bd.lookahead(root_a)[0]])
    heap = [(-root_b[0], next(counter), 0, root_a, np.full(1, np.inf), root_b)]
    pending_leaves: list[tuple[np.ndarray, np.ndarray]] = []

    def flush_leaves(force=False):
        nonlocal best, best_a, best_z, best_p, best_V, upper, leaves, leaf_pruned, fallbacks
        if not pending_leaves:
            return
        tot = sum(len(x[0]) for x in pending_leaves)
        if tot < leaf_batch and not force:
            return
        A_ = np.concatenate([x[0] for x in pending_leaves])
        B_ = np.concatenate([x[1] for x in pending_leaves])
        pending_leaves.clear()
        live = B_ > best * (1 + tol)
        if (~live).any():
            upper = max(upper, float(B_[~live].max()))
        A_, B_ = A_[live], B_[live]
        if not len(A_):
            return
        order = np.argsort(-B_, kind="stable")
        A_, B_ = A_[order], B_[order]
        res = solve_associations(None, P, noise_pi, A_, C=Cpi, tol=tol, incumbent=best, ub_init=B_)
        leaves += len(A_)
        leaf_pruned += int((res.status == 1).sum())
        j = int(np.argmax(res.lb))
        if res.lb[j] > best:
            best = float(res.lb[j])
            best_a = np.empty(K, dtype=np.int64)
            best_a[pi] = A_[j]
            best_z = _unpermute_z(res.z[j], pi)
            best_p = np.empty(K)
            best_p[pi] = res.p[j]
            best_V = None
        ok = res.status != CAPPED
        if ok.any():
            upper = max(upper, float(res.ub[ok].max()))
        for c in np.flatnonzero(res.status == CAPPED):
            if res.ub[c] <= best * (1 + tol):
                upper = max(upper, float(res.ub[c]))
                continue
            a_orig = np.empty(K, dtype=np.int64)
            a_orig[pi] = A_[c]
            V, info = maxmin_socp(H, P, noise, a_orig, rel_tol=tol)
            fallbacks += 1
            upper = max(upper, min(float(info["sinr_upper"]), float(res.ub[c])))
            if info["sinr"] > best:
                best, best_a, best_V = float(info["sinr"]), a_orig, V

    while heap:
        negb, _, d, A_, Bas, Bnd = heapq.heappop(heap)
        if -negb <= best * (1 + tol):
            upper = max(upper, -negb)
            # everything left in the heap is bounded by this
            while heap:
                upper = max(upper, -heapq.heappop(heap)[0])
            break
        live = Bnd > best * (1 + tol)
        if (~live).any():
            upper = max(upper, float(Bnd[~live].max()))
            A_, Bas, Bnd = A_[live], Bas[live], Bnd[live]
        if len(A_) > batch:                                       # split: keep the rest for later
            rest = slice(batch, None)
            heapq.heappush(heap, (-float(Bnd[rest].max()), next(counter), d, A_[rest], Bas[rest], Bnd[rest]))
            A_, Bas, Bnd = A_[:batch], Bas[:batch], Bnd[:batch]
        expanded += len(A_)
        N = len(A_)
        c = bd.candidate(A_, d)                                     # (N, L)
        child_as = np.minimum(Bas[:, None], c).reshape(-1)          # (N*L,)
        child_a = np.concatenate([np.repeat(A_, L, axis=0), np.tile(np.arange(L), N)[:, None]], axis=1)
        nodes += len(child_a)
        if d + 1 == K:
            pending_leaves.append((child_a, child_as))
            flush_leaves()
            continue
        keep = child_as > best * (1 + tol)
        if (~keep).any():
            upper = max(upper, float(child_as[~keep].max()))
        child_a, child_as = child_a[keep], child_as[keep]
        if not len(child_a):
            continue
        if d + 1 >= partial_from:
            # duality bound of the sub-problem on the assigned users (dropping users is a relaxation)
            n_ = d + 1
            res = solve_associations(None, P, noise_pi[:n_], child_a, C=reduce_rows(Cpi[:, :n_]), tol=1e-3,
                                     incumbent=best * (1 + tol), max_iter=partial_iter, ub_init=child_as,
                                     batch_incumbent=False)
            partial_solved += len(child_a)
            child_as = np.minimum(child_as, res.ub)
        child_b = np.minimum(child_as, bd.lookahead(child_a))
        keep = child_b > best * (1 + tol)
        if (~keep).any():
            upper = max(upper, float(child_b[~keep].max()))
        child_a, child_as, child_b = child_a[keep], child_as[keep], child_b[keep]
        if not len(child_a):
            continue
        order = np.argsort(-child_b, kind="stable")
        child_a, child_as, child_b = child_a[order], child_as[order], child_b[order]
        heapq.heappush(heap, (-float(child_b[0]), next(counter), d + 1, child_a, child_as, child_b))
        if not heap or -heap[0][0] <= best * (1 + tol):
            flush_leaves(force=True)
    flush_leaves(force=True)
    # leaves flushed after the loop may have improved the incumbent; bounds stay valid
    if best_V is None:
        best_V, _ = finish_beamformers(H, P, noise, best_a, best_z, best_p)
    val = float(sinr(H, noise, best_a, best_V).min())
    upper = max(upper, val)
    status = "opt" if upper - val <= rel_tol * upper else "best"
    return ({"assoc": best_a.astype(np.int64), "V": best_V},
            {"value": rate(val), "bound": rate(upper), "status": status, "tolerance": rel_tol,
             "sinr": val, "sinr_upper": upper, "nodes": nodes, "expanded": expanded, "leaves": leaves,
             "leaves_pruned_by_duality": leaf_pruned, "partial_bounds": partial_solved, "socp_fallbacks": fallbacks,
             "associations": int(L ** K), "tables_seconds": t_tables, "incumbent_seconds": t_inc,
             "seconds": time.perf_counter() - t0})


def _unpermute_z(z_pi: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Reduced receivers of users in search order ``pi`` back to the original user order."""
    z = np.empty_like(z_pi)
    z[pi] = z_pi
    return z

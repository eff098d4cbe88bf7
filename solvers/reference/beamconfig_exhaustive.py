r"""Exact references for ``random-beam-config`` (Limani Fazliu et al., CRAB, eqs. (10), (12), Lemma 1).

By Lemma 1 the randomised problems (12)/(14) have the deterministic optimum
:math:`\mathbf B^{\max} = \arg\max_{\mathbf B} T(\mathbf B)`, so the references maximise
:math:`T` (eq. (10)) over :math:`\mathcal F_1 \times \cdots \times \mathcal F_G`.

* ``exhaustive``: every network configuration, vectorised over chunks of
  configurations and zones. Groups of gNBs that share no zone (no gain at a
  common zone) are independent and searched apart
  (:func:`~mmopt.problems.random_beam_config.components`); declines an
  instance whose products exceed ``max_products`` (1e7).
* ``bnb``: depth-first branch-and-bound over the gNBs of each group in
  breadth-first order of their zone sharing, children of a node evaluated in
  one batch. The bound of a partial assignment is exact for every beam whose
  zones are reached only by assigned gNBs (its serving zones, SINRs and load
  are final); an assigned beam with an open zone delivers at most :math:`W`
  times the largest :math:`\log_2(1 + \mathrm{SINR})` over the zones it can still
  serve, with the interference of the assigned gNBs only (a serving beam
  delivers :math:`W` times the mean spectral efficiency of its vehicles); an
  unassigned gNB at most its interference-free per-beam bound. Incumbent:
  best response (coordinate ascent) from the empty, the strongest and
  ``restarts`` = 8 random (fixed seed) configurations. Certified optimal when the search completes (status
  ``opt``), else (``time_limit``) ``best`` with the largest open bound (capped
  by the interference-free bound). Declines instances with more than
  ``max_products`` (1e8) network configurations unless told otherwise.
* ``interference-free-bound``: :func:`~mmopt.problems.random_beam_config.interference_free_bound`,
  status ``bound``, at any scale.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np

from mmopt import MmoptError, solver
from mmopt.problems.random_beam_config import (beam_se_bound, components, interference_free_bound,
                                               network_rates, touches, zone_service)

PROBLEM = "random-beam-config"
TOL = 1e-9


def _products(instance) -> list[float]:
    n = instance["valid"].sum(axis=1).astype(float)
    return [float(np.prod(n[gs])) for gs, _ in components(instance)]


def _exhaustive_applies(instance, max_products=1e7, **_):
    p = sum(_products(instance))
    if p > max_products:
        return f"{p:.3g} network configurations > max_products = {max_products:.3g}"
    return None


def _product_rows(lists: list[np.ndarray], start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the Cartesian product of ``lists`` (last varies fastest)."""
    sizes = [len(x) for x in lists]
    idx = np.arange(start, stop, dtype=np.int64)
    out = np.empty((len(idx), len(lists)), dtype=np.int64)
    for j in range(len(lists) - 1, -1, -1):
        out[:, j] = lists[j][idx % sizes[j]]
        idx //= sizes[j]
    return out


def exhaustive_search(instance, chunk: int = 20000):
    """Best configuration by enumeration, per independent group; returns ``(config, evaluated)``."""
    G = instance["valid"].shape[0]
    best = np.zeros(G, dtype=np.int64)
    evaluated = 0
    for gs, zs in components(instance):
        lists = [np.nonzero(instance["valid"][g])[0] for g in gs]
        total = int(np.prod([len(x) for x in lists]))
        bv, bc = -np.inf, None
        for a in range(0, total, chunk):
            rows = _product_rows(lists, a, min(total, a + chunk))
            t = network_rates(instance, rows, gnbs=gs, zones=zs)
            k = int(np.argmax(t))  # first maximum: lowest index in product order
            if t[k] > bv + TOL * max(1.0, abs(bv)) or bc is None:
                bv, bc = float(t[k]), rows[k]
            evaluated += len(rows)
        best[gs] = bc
    return best, evaluated


@solver("exhaustive", problems=[PROBLEM], kind="reference", version=1, applies=_exhaustive_applies)
def exhaustive(instance, *, max_products=1e7):
    """Brute force over the product of the candidate sets (per independent group of gNBs); exact."""
    t0 = time.perf_counter()
    reason = _exhaustive_applies(instance, max_products)
    if reason:  # a runner that does not consult applies() gets an immediate error, not a long search
        raise MmoptError(f"exhaustive declines this instance: {reason}")
    cfg, n = exhaustive_search(instance)
    value = float(network_rates(instance, cfg[None, :])[0])
    return {"config": cfg}, {"value": value, "bound": value, "status": "opt", "tolerance": TOL,
                             "evaluated": int(n), "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------
# Branch-and-bound
# ---------------------------------------------------------------------------


def best_response(instance, start: np.ndarray, gnbs=None, zones=None, max_sweeps: int = 50) -> tuple[np.ndarray, float]:
    """Coordinate ascent: each gNB in turn switches to its best configuration given the others."""
    valid = instance["valid"]
    gnbs = np.arange(valid.shape[0]) if gnbs is None else np.asarray(gnbs)
    cfg = np.array(start, dtype=np.int64)
    val = float(network_rates(instance, cfg[None, :], gnbs, zones)[0])
    for _ in range(max_sweeps):
        improved = False
        for i, g in enumerate(gnbs):
            cs = np.nonzero(valid[g])[0]
            rows = np.repeat(cfg[None, :], len(cs), axis=0)
            rows[:, i] = cs
            t = network_rates(instance, rows, gnbs, zones)
            k = int(np.argmax(t))
            if t[k] > val * (1 + 1e-12) + 1e-9:
                cfg, val, improved = rows[k].copy(), float(t[k]), True
        if not improved:
            break
    return cfg, val


class _BnB:
    def __init__(self, instance, gnbs, zones, deadline):
        self.inst = instance
        self.valid = instance["valid"]
        self.S = instance["gain"].shape[2]
        self.W = float(instance["bandwidth"])
        self.smin = float(instance["sinr_min"])
        self.v = np.asarray(instance["vehicles"], dtype=float)[np.asarray(zones, dtype=np.int64)]
        t = touches(instance)
        # BFS order over zone sharing, starting from the gNB with the most neighbours
        gl = list(gnbs)
        share = (t[gl][:, zones].astype(int) @ t[gl][:, zones].T.astype(int)) > 0
        order, seen = [], set()
        for s0 in np.argsort(-share.sum(1), kind="stable"):
            if s0 in seen:
                continue
            q = deque([s0])
            seen.add(s0)
            while q:
                a = q.popleft()
                order.append(gl[a])
                for b in np.nonzero(share[a])[0]:
                    if b not in seen:
                        seen.add(b)
                        q.append(b)
        self.order = np.array(order, dtype=np.int64)
        self.zones = np.asarray(zones, dtype=np.int64)
        tz = t[self.order][:, self.zones]                   # (n, Zc)
        # zone z is closed after depth d iff every gNB touching it is among order[:d+1]
        last = np.where(tz.any(0), tz.shape[0] - 1 - np.argmax(tz[::-1], axis=0), -1)
        self.close_depth = last
        se = beam_se_bound(instance)
        per = np.where(self.valid, se.sum(axis=2), -np.inf).max(axis=1)
        self.U_rest = np.concatenate([np.cumsum(per[self.order][::-1])[::-1][1:], [0.0]])
        self.gain = instance["gain"]
        self.active = instance["active"]
        self.deadline = deadline
        self.nodes = 0
        self.timed_out = False
        self.open_bound = -np.inf

    def bounds(self, prefix: np.ndarray, depth: int, children: np.ndarray) -> np.ndarray:
        """Upper bounds of the children ``prefix + [c]`` (see the module docstring)."""
        gs = self.order[:depth + 1]
        rows = np.concatenate([np.repeat(prefix[None, :], len(children), 0), children[:, None]], axis=1)
        zs = self.zones
        srv, sinr, served, load = zone_service(self.inst, rows, gs, zs)
        closed = self.close_depth <= depth                    # (Zc,)
        N, nb = load.shape
        # beam touches an open zone -> open beam (per row: the beam's gain pattern of that row's config)
        P = self.gain[gs[None, :], rows]                      # (N, d, S, Z)
        P = P[..., zs] * self.active[gs[None, :], rows][..., None]
        P = P.reshape(N, nb, -1)
        open_beam = (P[:, :, ~closed] > 0).any(axis=2)        # (N, nb)
        # exact part: closed beams' served zones
        nbz = np.take_along_axis(load, srv, axis=1)
        term = np.where(served, self.v * self.W * np.log2(1 + sinr) / np.where(served, nbz, 1.0), 0.0)
        beam_of = srv
        zone_open = np.take_along_axis(open_beam, beam_of, axis=1)
        exact = np.where(zone_open, 0.0, term).sum(axis=1)
        # open beams: W * max SE over zones where they are the strongest assigned beam and SINR >= min
        # (SINR with the assigned interferers only: an upper bound on the final SINR)
        se_open = np.where(served & zone_open, np.log2(1 + sinr), 0.0)
        best_open = np.zeros((N, nb))
        np.maximum.at(best_open, (np.repeat(np.arange(N), srv.shape[1]), srv.ravel()), se_open.ravel())
        openpart = self.W * (best_open * open_beam).sum(axis=1)
        return exact + openpart + self.W * self.U_rest[depth]

    def run(self, incumbent: np.ndarray, inc_val: float):
        self.best, self.best_val = incumbent.copy(), inc_val
        n = len(self.order)
        lists = [np.nonzero(self.valid[g])[0] for g in self.order]

        def dfs(prefix, depth):
            if self.timed_out:
                return
            if time.perf_counter() > self.deadline:
                self.timed_out = True
                return
            self.nodes += 1
            ch = lists[depth]
            if depth == n - 1:
                rows = np.concatenate([np.repeat(prefix[None, :], len(ch), 0), ch[:, None]], axis=1)
                t = network_rates(self.inst, rows, self.order, self.zones)
                k = int(np.argmax(t))
                if t[k] > self.best_val * (1 + 1e-12):
                    self.best_val, self.best = float(t[k]), rows[k].copy()
                return
            ub = self.bounds(prefix, depth, ch)
            for k in np.argsort(-ub, kind="stable"):
                if ub[k] <= self.best_val * (1 + TOL):
                    break
                if self.timed_out:
                    self.open_bound = max(self.open_bound, float(ub[k]))
                    continue
                dfs(np.append(prefix, ch[k]), depth + 1)
                if self.timed_out:
                    self.open_bound = max(self.open_bound, float(ub[k]))

        dfs(np.zeros(0, dtype=np.int64), 0)
        return self.best, self.best_val


def bnb_search(instance, time_limit: float = 600.0, restarts: int = 8):
    """Branch-and-bound per independent group; returns ``(config, proven, bound, nodes)``."""
    t0 = time.perf_counter()
    G = instance["valid"].shape[0]
    cfg = np.zeros(G, dtype=np.int64)
    proven, bound, nodes = True, 0.0, 0
    for gs, zs in components(instance):
        # incumbent: best response from all-empty and from each gNB's best single-gNB configuration
        starts = [np.zeros(len(gs), dtype=np.int64)]
        alone = []
        for g in gs:
            cs = np.nonzero(instance["valid"][g])[0]
            alone.append(cs[int(np.argmax(network_rates(instance, cs[:, None], gnbs=[g], zones=zs)))])
        starts.append(np.array(alone, dtype=np.int64))
        rs = np.random.default_rng(0)
        for _ in range(int(restarts)):
            starts.append(np.array([rs.choice(np.nonzero(instance["valid"][g])[0]) for g in gs], dtype=np.int64))
        inc, iv = None, -np.inf
        for st in starts:
            c, v = best_response(instance, st, gs, zs)
            if v > iv:
                inc, iv = c, v
        b = _BnB(instance, gs, zs, t0 + time_limit)
        pos = {g: i for i, g in enumerate(gs)}
        inc_ordered = np.array([inc[pos[g]] for g in b.order], dtype=np.int64)
        best, val = b.run(inc_ordered, iv)
        cfg[b.order] = best
        nodes += b.nodes
        if b.timed_out:
            proven = False
            bound += max(val, b.open_bound)
        else:
            bound += val
    return cfg, proven, bound, nodes


def _bnb_applies(instance, max_products=1e8, **_):
    p = sum(_products(instance))
    if p > max_products:
        return (f"{p:.3g} network configurations > max_products = {max_products:.3g} (the search would not "
                f"complete; pass a larger max_products with a time_limit for a best-known value)")
    return None


@solver("bnb", problems=[PROBLEM], kind="reference", version=1, applies=_bnb_applies)
def bnb(instance, *, time_limit=600.0, max_products=1e8, restarts=8):
    """Branch-and-bound on T over the gNBs of each independent group (exact when it completes)."""
    t0 = time.perf_counter()
    reason = _bnb_applies(instance, max_products)
    if reason:
        raise MmoptError(f"bnb declines this instance: {reason}")
    cfg, proven, bound, nodes = bnb_search(instance, float(time_limit), int(restarts))
    value = float(network_rates(instance, cfg[None, :])[0])
    if proven:
        bound = value
    else:
        bound = max(bound, value)
        bound = min(bound, interference_free_bound(instance))
    return {"config": cfg}, {"value": value, "bound": float(bound), "status": "opt" if proven else "best",
                             "tolerance": TOL, "nodes": int(nodes), "seconds": time.perf_counter() - t0}


@solver("interference-free-bound", problems=[PROBLEM], kind="reference", version=2)
def if_bound(instance):
    """Interference-free upper bound on T (status ``bound``, value = bound).

    The solution returned is every gNB's best configuration alone (the
    selfish choice the bound starts from); its objective is in the stats.
    """
    t0 = time.perf_counter()
    ub = interference_free_bound(instance)
    valid = instance["valid"]
    cfg = np.zeros(valid.shape[0], dtype=np.int64)
    for g in range(valid.shape[0]):
        cs = np.nonzero(valid[g])[0]
        cfg[g] = cs[int(np.argmax(network_rates(instance, cs[:, None], gnbs=[g])))]
    value = float(network_rates(instance, cfg[None, :])[0])
    return {"config": cfg}, {"value": ub, "bound": ub, "status": "bound", "tolerance": 0.0,
                             "selfish_value": value, "seconds": time.perf_counter() - t0}

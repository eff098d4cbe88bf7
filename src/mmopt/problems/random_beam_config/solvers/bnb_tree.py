r"""The branch-and-bound tree of ``random-beam-config``: bounds, cluster tables, the search and its incumbents.

The method is described in :mod:`~mmopt.problems.random_beam_config.solvers.exact` (solver ``bnb``);
:mod:`~mmopt.problems.random_beam_config.solvers.distributed` runs the same tree on a Dask cluster.
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from mmopt.problems.random_beam_config import components, interference_free_bound, network_rates, touches

TOL = 1e-9


def candidate_lists(instance, gnbs) -> dict[int, np.ndarray]:
    """gNB -> the indices of its candidate configurations."""
    return {int(g): np.nonzero(instance["valid"][g])[0] for g in gnbs}


def _product_rows(lists: list[np.ndarray], start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the Cartesian product of ``lists`` (last varies fastest)."""
    sizes = [len(x) for x in lists]
    idx = np.arange(start, stop, dtype=np.int64)
    out = np.empty((len(idx), len(lists)), dtype=np.int64)
    for j in range(len(lists) - 1, -1, -1):
        out[:, j] = lists[j][idx % sizes[j]]
        idx //= sizes[j]
    return out


# ---------------------------------------------------------------------------
# Branch-and-bound
# ---------------------------------------------------------------------------


def local_search(instance, start: np.ndarray, gnbs=None, zones=None, size: int = 1,
                 deadline: float = np.inf, max_sweeps: int = 50) -> tuple[np.ndarray, float]:
    """Group moves: each group of ``size`` gNBs (a gNB and ``size - 1`` gNBs sharing a zone with it) in
    turn switches to its best joint configuration given the others, until no group improves T.
    ``size = 1`` is best response (coordinate ascent)."""
    valid = instance["valid"]
    gnbs = np.arange(valid.shape[0]) if gnbs is None else np.asarray(gnbs)
    t = touches(instance)[gnbs].astype(np.int64)
    share = (t @ t.T) > 0
    groups = sorted({tuple(sorted((i, *sub))) for i in range(len(gnbs))
                     for sub in itertools.combinations([j for j in np.nonzero(share[i])[0] if j != i], size - 1)})
    lists = [np.nonzero(valid[g])[0] for g in gnbs]
    cfg = np.array(start, dtype=np.int64)
    val = float(network_rates(instance, cfg[None, :], gnbs, zones)[0])
    for _ in range(max_sweeps):
        improved = False
        for grp in groups:
            if time.perf_counter() > deadline:
                return cfg, val
            rows = np.repeat(cfg[None, :], int(np.prod([len(lists[i]) for i in grp])), axis=0)
            rows[:, list(grp)] = np.array(list(itertools.product(*[lists[i] for i in grp])), dtype=np.int64)
            tv = network_rates(instance, rows, gnbs, zones)
            k = int(np.argmax(tv))
            if tv[k] > val * (1 + 1e-12) + 1e-9:
                cfg, val, improved = rows[k].copy(), float(tv[k]), True
        if not improved:
            break
    return cfg, val


def _superset_mean_max(base_num, base_den, se, w, extra):
    r"""Largest weighted mean :math:`\sum_S w\,se / \sum_S w` over sets ``certain`` :math:`\subseteq S \subseteq`
    ``certain`` :math:`\cup` ``extra`` (``base_num``/``base_den``: the sums over ``certain``); 0 when both are empty.

    The optimal set is ``certain`` plus every extra element above its mean (a weighted mean grows by an
    element iff the element exceeds it). Found by Dinkelbach's iteration: from the mean m of ``certain``,
    take the extras above m, recompute m, until the set stops changing (m rises at every step, and the
    fixed point is the optimality condition; a few steps in practice). With ``certain`` empty it is the
    largest extra value.
    """
    se_x = np.where(extra, se, -np.inf)
    top = se_x.max(axis=-1) if se_x.shape[-1] else np.full(np.shape(base_num), -np.inf)
    has = base_den > 0
    m = np.where(has, base_num / np.where(has, base_den, 1.0), np.where(np.isfinite(top), top, 0.0))
    if not np.any(has):
        return m
    wx = np.where(extra, w, 0.0)
    wse = wx * np.where(extra, se, 0.0)
    for _ in range(200):
        sel = se_x > m[..., None]
        num = base_num + np.where(sel, wse, 0.0).sum(axis=-1)
        den = base_den + np.where(sel, wx, 0.0).sum(axis=-1)
        new = np.where(has, num / np.where(has, den, 1.0), m)
        if not np.any(new > m * (1 + 1e-14) + 1e-300):
            return np.maximum(m, new)
        m = np.maximum(m, new)
    return m


def _split_max(vals, ids, g, n):
    """Largest of ``vals`` rows over the gNBs ``ids`` below g and above g (ties go to the lowest gNB index)."""
    return tuple(vals[sel].max(axis=0) if sel.any() else np.zeros(n) for sel in (ids < g, ids > g))


class BeamBounds:
    r"""Upper bounds on each gNB's share of :math:`T` under a partial assignment (see the module docstring).

    :math:`T = \sum_g F_g` with :math:`F_g = W \sum_{b \text{ of } g} \bar s_b` (mean spectral
    efficiency of the vehicles a beam serves); :math:`F_g` depends only on the
    configurations of g and of the gNBs sharing a zone with g. Computed on each
    gNB's own zones, vectorised over its configurations (and over the children
    of a branching node).
    """

    def __init__(self, instance, gnbs, zones):
        gain, act, valid = instance["gain"], instance["active"], instance["valid"]
        S = gain.shape[2]
        self.smin, self.W = float(instance["sinr_min"]), float(instance["bandwidth"])
        v = np.asarray(instance["vehicles"], dtype=float)
        t = touches(instance)
        inz = np.zeros(gain.shape[3], dtype=bool)
        inz[np.asarray(zones, dtype=np.int64)] = True
        self.cfg_tot = np.where(valid[..., None], gain.sum(axis=2), 0.0)   # (G, C, Z) power of a configuration
        self.cfg_max = np.where(valid[..., None], gain.max(axis=2), 0.0)   # (G, C, Z) its strongest beam
        self.max_tot = self.cfg_tot.max(axis=1)                            # (G, Z)
        self.max_beam = self.cfg_max.max(axis=1)                           # (G, Z)
        self.loc = {}
        for g in gnbs:
            L = np.nonzero(t[g] & inz)[0]
            cs = np.nonzero(valid[g])[0]
            gl = gain[g][cs][:, :, L]                                       # (Cg, S, n)
            # strongest own other beam, split by slot index (ties go to the lowest slot)
            olo, ohi = np.zeros_like(gl), np.zeros_like(gl)
            for s in range(S):
                if s > 0:
                    olo[:, s] = gl[:, :s].max(axis=1)
                if s < S - 1:
                    ohi[:, s] = gl[:, s + 1:].max(axis=1)
            own = gl.sum(axis=1, keepdims=True) - gl
            # only the active (configuration, slot) pairs carry a beam: the bound is computed on those
            pc, ps = np.nonzero(act[g][cs])
            pair_cfg = np.zeros((len(pc), len(cs)))
            pair_cfg[np.arange(len(pc)), pc] = 1.0
            self.loc[g] = {"L": L, "cs": cs, "w": v[L], "gain": gl[pc, ps], "den": 1.0 + own[pc, ps],
                           "ok": ((gl > 0) & (gl > olo) & (gl >= ohi))[pc, ps], "pair_cfg": pair_cfg,
                           "nb": np.array([h for h in gnbs if h != g and t[h, L].any()], dtype=np.int64)}

    def neighbours(self, g) -> np.ndarray:
        return self.loc[g]["nb"]

    def _bound(self, g, assigned, cfg, extra=None):
        """Bound per configuration of g, ``(Cg,)``; with ``extra = (h, configs)``: ``(len(configs), Cg)``,
        h (an unassigned neighbour of g, or g itself) taking each of ``configs``."""
        d = self.loc[g]
        L, nb = d["L"], d["nb"]
        asg = nb[assigned[nb]]
        un = np.array([k for k in nb[~assigned[nb]] if extra is None or k != extra[0]], dtype=np.int64)
        n = len(L)

        I_lo = self.cfg_tot[asg, cfg[asg]][:, L].sum(axis=0) if len(asg) else np.zeros(n)
        a_lo, a_hi = _split_max(self.cfg_max[asg, cfg[asg]][:, L], asg, g, n)
        I_un = self.max_tot[un][:, L].sum(axis=0) if len(un) else np.zeros(n)
        u_lo, u_hi = _split_max(self.max_beam[un][:, L], un, g, n)
        if extra is not None and extra[0] != g:
            h, hc = extra
            I_lo = I_lo[None] + self.cfg_tot[h, hc][:, L]
            if h < g:
                a_lo = np.maximum(a_lo[None], self.cfg_max[h, hc][:, L])
            else:
                a_hi = np.maximum(a_hi[None], self.cfg_max[h, hc][:, L])
        I_hi = I_lo + I_un
        I_lo, I_hi, a_lo, a_hi, u_lo, u_hi = (np.asarray(x)[..., None, :]
                                              for x in (I_lo, I_hi, a_lo, a_hi, u_lo, u_hi))
        gl, own1 = d["gain"], d["den"]                      # (pairs, zones): active beams only
        sinr = gl / (own1 + I_lo)
        possible = d["ok"] & (sinr >= self.smin) & (gl > a_lo) & (gl >= a_hi)
        certain = (possible & (gl > u_lo) & (gl >= u_hi) & (gl / (own1 + I_hi) >= self.smin))
        se = np.log2(1.0 + sinr)
        w = np.broadcast_to(d["w"], se.shape)
        num = np.where(certain, w * se, 0.0).sum(axis=-1)
        den = np.where(certain, w, 0.0).sum(axis=-1)
        mean = _superset_mean_max(num, den, se, w, possible & ~certain)
        return self.W * (mean @ d["pair_cfg"])

    def value(self, g, assigned, cfg, extra=None):
        """Bound on :math:`F_g`: at g's configuration if assigned (or set by ``extra``), else its best."""
        b = self._bound(g, assigned, cfg, extra)
        cs = self.loc[g]["cs"]
        if extra is not None and extra[0] == g:
            return b[np.searchsorted(cs, extra[1])]
        if assigned[g]:
            return b[..., int(np.searchsorted(cs, cfg[g]))]
        return b.max(axis=-1)


def _clusters(instance, gnbs, size: int) -> list[list[int]]:
    """Partition of ``gnbs`` into groups of at most ``size`` gNBs sharing many zones, each next to the previous."""
    t = touches(instance)[np.asarray(gnbs)].astype(np.int64)
    share = t @ t.T
    np.fill_diagonal(share, 0)
    left, placed, out = list(range(len(gnbs))), [], []
    while left:
        seed = max(left, key=lambda a: (share[a, placed].sum(), share[a, left].sum()))
        cl = [seed]
        left.remove(seed)
        while len(cl) < size and left:
            h = max(left, key=lambda a: share[a, cl].sum())
            if share[h, cl].sum() == 0:
                break
            cl.append(h)
            left.remove(h)
        out.append(cl)
        placed += cl
    return [[int(gnbs[a]) for a in cl] for cl in out]


def cluster_table_rows(bb: BeamBounds, lists: dict, cl: list[int], G: int, first=None) -> np.ndarray:
    """Raw table of one cluster (see :func:`cluster_table`), for the positions ``first`` (default all) of
    its first member's configurations when it has more than one member."""
    a, c = np.zeros(G, dtype=bool), np.zeros(G, dtype=np.int64)
    *head, last = cl
    sizes = [len(lists[g]) for g in cl]
    if head and first is not None:
        sizes[0] = len(first)
    tab = np.empty(sizes)
    a[head] = True
    ranges = [range(len(lists[g])) for g in head]
    if head and first is not None:
        ranges[0] = list(first)
    for pos in itertools.product(*[range(len(r)) for r in ranges]):
        for g, r, j in zip(head, ranges, pos):
            c[g] = lists[g][r[j]]
        tab[pos] = sum(bb.value(g, a, c, extra=(last, lists[last])) for g in cl)
    return tab


def project_table(tab: np.ndarray) -> list[np.ndarray]:
    """``[t_0, ..., t_m]``: the raw table max-projected over its trailing members."""
    proj = [tab]
    for _ in range(tab.ndim):
        proj.append(proj[-1].max(axis=-1))
    return proj[::-1]


def cluster_table(bb: BeamBounds, lists: dict, cl: list[int], G: int) -> list[np.ndarray]:
    """Static table of one cluster: the joint bound of its members' :math:`F_g` over their joint configurations
    with every gNB outside it unassigned, then max-projected over trailing members (``[t_0, ..., t_m]``,
    ``t_j`` indexed by the first j members' configuration positions; members are assigned in cluster order)."""
    return project_table(cluster_table_rows(bb, lists, cl, G))


class _BnB:
    """Depth-first branch-and-bound over one independent group of gNBs, cluster by cluster.

    A node is a prefix: the configurations of the first gNBs of ``order``. :meth:`search` explores the
    subtree of a prefix until its deadline and leaves the unexplored nodes, with their bounds, in
    ``frontier`` (the serial search starts from the root; the distributed one,
    :mod:`~mmopt.problems.random_beam_config.solvers.distributed`, hands prefixes to Dask workers).
    ``poll``/``publish`` (optional callables) read and share the incumbent value with other searches.
    """

    def __init__(self, instance, gnbs, zones, deadline, cluster: int = 3, tables=None):
        G = instance["valid"].shape[0]
        self.inst, self.zones, self.deadline = instance, np.asarray(zones, dtype=np.int64), deadline
        self.bb = BeamBounds(instance, list(gnbs), zones)
        self.clusters = _clusters(instance, list(gnbs), cluster)
        self.order = np.array([g for cl in self.clusters for g in cl], dtype=np.int64)
        self.cl_of = {g: q for q, cl in enumerate(self.clusters) for g in cl}
        self.lists = candidate_lists(instance, gnbs)
        self.assigned = np.zeros(G, dtype=bool)
        self.cfg = np.zeros(G, dtype=np.int64)
        self.choice = np.zeros(G, dtype=np.int64)
        self.tables = tables if tables is not None else [cluster_table(self.bb, self.lists, cl, G)
                                                         for cl in self.clusters]
        self.filled = [0] * len(self.clusters)
        self.per = {int(g): float(self.bb.value(g, self.assigned, self.cfg)) for g in gnbs}
        self.stat = [float(tab[0]) for tab in self.tables]
        self.root = self.total()
        self.nodes, self.timed_out, self.open_bound = 0, False, -np.inf
        self.frontier: list[tuple[tuple[int, ...], float]] = []
        self.poll = self.publish = None
        self.poll_every, self._next_poll = 0.5, 0.0

    def total(self):
        return sum(min(self.stat[q], sum(self.per[g] for g in cl)) for q, cl in enumerate(self.clusters))

    # -- one level of the tree ------------------------------------------------------------------
    def _expand(self, depth):
        """Bounds of the children of the current node (``order[depth]`` taking each of its configurations)."""
        h = int(self.order[depth])
        hc = self.lists[h]
        q, m = self.cl_of[h], self.filled[self.cl_of[h]]
        cl = self.clusters[q]
        new = {int(g): self.bb.value(g, self.assigned, self.cfg, extra=(h, hc))
               for g in [h, *self.bb.neighbours(h)]}
        sq = self.tables[q][m + 1][tuple(self.choice[g] for g in cl[:m])]
        ub = np.zeros(len(hc))
        for qq, members in enumerate(self.clusters):
            dyn = sum(new[g] if g in new else self.per[g] for g in members)
            ub += np.minimum(sq if qq == q else self.stat[qq], dyn)
        return h, hc, q, m, new, sq, ub

    def _assign(self, exp, k):
        h, hc, q, m, new, sq, _ = exp
        undo = (h, q, m, {g: self.per[g] for g in new}, self.stat[q])
        self.assigned[h], self.cfg[h], self.choice[h], self.filled[q] = True, hc[k], k, m + 1
        self.stat[q] = float(sq[k])
        for g in new:
            self.per[g] = float(new[g][k])
        return undo

    def _unassign(self, undo):
        h, q, m, per, stat = undo
        self.per.update(per)
        self.stat[q], self.filled[q] = stat, m
        self.assigned[h], self.cfg[h], self.choice[h] = False, 0, 0

    def children(self, prefix) -> list[tuple[tuple[int, ...], float]]:
        """The children of node ``prefix`` with their bounds (leaves: their exact values)."""
        undos, _ = self._descend(prefix)
        try:
            depth = len(prefix)
            if depth == len(self.order):
                return []
            h, hc, *_, ub = self._expand(depth)
            if depth == len(self.order) - 1:
                rows = np.repeat(self.cfg[self.order][None, :], len(hc), axis=0)
                rows[:, depth] = hc
                ub = network_rates(self.inst, rows, self.order, self.zones)
            return [((*prefix, int(hc[k])), float(ub[k])) for k in range(len(hc))]
        finally:
            for u in reversed(undos):
                self._unassign(u)

    def _descend(self, prefix):
        """Assign ``prefix`` level by level (the bounds along the way as in the search); returns the undo
        records and the bound of the node."""
        undos, bound = [], float(self.root)
        for d, c in enumerate(prefix):
            exp = self._expand(d)
            k = int(np.searchsorted(exp[1], c))
            if k >= len(exp[1]) or exp[1][k] != c:
                for u in reversed(undos):
                    self._unassign(u)
                raise ValueError(f"configuration {c} is not a candidate of gNB {exp[0]}")
            bound = min(bound, float(exp[6][k]))
            undos.append(self._assign(exp, k))
        return undos, bound

    # -- the search -----------------------------------------------------------------------------
    def run(self, incumbent: np.ndarray, inc_val: float):
        """Serial search from the root until the deadline (``frontier``: what is left open)."""
        return self.search((), incumbent, inc_val)

    def search(self, prefix, incumbent: np.ndarray, inc_val: float, bound: float = np.inf):
        """Explore the subtree of ``prefix`` (node bound ``bound``, default recomputed) until the deadline.

        Returns ``(best, best_val)`` over ``order`` (``incumbent`` when nothing better is found); the
        nodes left open are in ``frontier`` and their largest bound in ``open_bound``; ``found`` is
        ``(value, config)`` of the best completion this search evaluated itself, if it beat the incumbent
        (``best_val`` may also rise through ``poll`` without a configuration).
        """
        self.best, self.best_val = np.asarray(incumbent, dtype=np.int64).copy(), float(inc_val)
        self.frontier, self.timed_out, self.found = [], False, None
        undos, b = self._descend(tuple(int(c) for c in prefix))
        try:
            self._dfs(len(prefix), min(b, float(bound)))
        finally:
            for u in reversed(undos):
                self._unassign(u)
        self.open_bound = max((f[1] for f in self.frontier), default=-np.inf)
        return self.best, self.best_val

    def _prefix(self, depth, extra=()):
        return tuple(int(c) for c in self.cfg[self.order[:depth]]) + tuple(int(c) for c in extra)

    def _sync(self):
        if self.poll is None:
            return
        now = time.perf_counter()
        if now >= self._next_poll:
            self._next_poll = now + self.poll_every
            self.best_val = max(self.best_val, float(self.poll()))

    def _dfs(self, depth, bound):
        if time.perf_counter() > self.deadline:
            self.timed_out = True
        if self.timed_out:
            self.frontier.append((self._prefix(depth), float(bound)))
            return
        self._sync()
        if bound <= self.best_val * (1 + TOL):
            return
        self.nodes += 1
        exp = self._expand(depth) if depth < len(self.order) - 1 else None
        if exp is None:   # the last gNB (or a complete prefix): evaluate every completion at once
            rows = self.cfg[self.order][None, :]
            if depth < len(self.order):
                hc = self.lists[int(self.order[depth])]
                rows = np.repeat(rows, len(hc), axis=0)
                rows[:, depth] = hc
            t = network_rates(self.inst, rows, self.order, self.zones)
            k = int(np.argmax(t))
            if t[k] > self.best_val * (1 + 1e-12):
                self.best_val, self.best = float(t[k]), rows[k].copy()
                self.found = (self.best_val, self.best.copy())   # this search's own improvement
                if self.publish is not None:
                    self.publish(self.best_val)
            return
        hc, ub = exp[1], exp[6]
        for k in np.argsort(-ub, kind="stable"):
            if ub[k] <= self.best_val * (1 + TOL):
                break
            if self.timed_out:
                self.frontier.append((self._prefix(depth, (hc[k],)), float(ub[k])))
                continue
            undo = self._assign(exp, k)
            self._dfs(depth + 1, float(ub[k]))
            self._unassign(undo)


def _incumbent(instance, gs, zs, restarts: int, deadline: float = np.inf):
    """Best response from all-empty, from each gNB's best configuration alone and from ``restarts`` random
    starts; then group moves of 2 and 3 interacting gNBs from the best of them, until ``deadline``."""
    starts = [np.zeros(len(gs), dtype=np.int64), _selfish(instance, gs, zs)]
    rs = np.random.default_rng(0)
    for _ in range(int(restarts)):
        starts.append(np.array([rs.choice(np.nonzero(instance["valid"][g])[0]) for g in gs], dtype=np.int64))
    inc, iv = None, -np.inf
    for st in starts:
        c, v = local_search(instance, st, gs, zs)
        if v > iv:
            inc, iv = c, v
    for size in (2, 3):
        inc, iv = local_search(instance, inc, gs, zs, size=size, deadline=deadline)
    return inc, iv


def bnb_search(instance, time_limit: float = 600.0, restarts: int = 8, cluster: int = 3, search_share: float = 0.5):
    """Branch-and-bound per independent group; returns ``(config, proven, bound, nodes, root_bound)``."""
    t0 = time.perf_counter()
    G = instance["valid"].shape[0]
    cfg = np.zeros(G, dtype=np.int64)
    proven, bound, nodes, root = True, 0.0, 0, 0.0
    for gs, zs in components(instance):
        inc, iv = _incumbent(instance, gs, zs, restarts, t0 + search_share * time_limit)
        b = _BnB(instance, gs, zs, t0 + time_limit, cluster)
        pos = {g: i for i, g in enumerate(gs)}
        best, val = b.run(np.array([inc[pos[g]] for g in b.order], dtype=np.int64), iv)
        cfg[b.order] = best
        nodes += b.nodes
        root += max(b.root, val)
        if b.timed_out:
            proven = False
            bound += min(max(val, b.open_bound), max(b.root, val))
        else:
            bound += val
    return cfg, proven, bound, nodes, root


def cluster_bound(instance, cluster: int = 4) -> float:
    r"""Upper bound on :math:`T` at any scale: the root bound of :class:`_BnB` per independent group
    (clusters of ``cluster`` gNBs solved jointly, every other gNB optimistic), capped by
    :func:`~mmopt.problems.random_beam_config.interference_free_bound`."""
    total = 0.0
    for gs, zs in components(instance):
        total += _BnB(instance, gs, zs, np.inf, cluster).root
    return float(min(total, interference_free_bound(instance)))


def _selfish(instance, gnbs=None, zones=None) -> np.ndarray:
    """Each listed gNB's (default all) best configuration alone, evaluated on ``zones`` (default all)."""
    gnbs = range(instance["valid"].shape[0]) if gnbs is None else gnbs
    out = []
    for g in gnbs:
        cs = np.nonzero(instance["valid"][g])[0]
        out.append(cs[int(np.argmax(network_rates(instance, cs[:, None], gnbs=[g], zones=zones)))])
    return np.array(out, dtype=np.int64)

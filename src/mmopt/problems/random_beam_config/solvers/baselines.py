r"""Baselines of the CRAB paper for ``random-beam-config`` (Limani Fazliu et al., IEEE TWC 2022, Sec. VI).

The paper specifies none of them fully; the choices made here:

* ``cawbm`` (conflict-aware weighted bipartite matching, [24]): left side the
  4 beam slots of every gNB, right side every gNB's candidate beams; the
  weight of (g, beam) is the rate the beam delivers alone at full power
  (:math:`T` of its single-beam configuration, scaled by the 1/4 power split of
  a 4-beam configuration); two chosen beams conflict when they belong to
  one gNB and overlap (eq. (4)) or belong to two gNBs and their main lobes
  share a non-empty zone (``cover``). The heuristic is greedy max-weight
  matching with conflicts: edges in decreasing weight, an edge is kept when
  its gNB has a free slot and it conflicts with no kept edge. Centralised,
  deterministic; the kept beams of each gNB form one of its configurations
  (every set of pairwise non-overlapping candidate beams is one).
* ``dbscan`` (Ester et al., KDD'96; no coordination): each gNB clusters the
  azimuths of the vehicles in the zones it can serve alone (1-D circular
  DBSCAN, ``eps`` = 5 degrees, ``min_samples`` = 2 vehicles, zone centres
  weighted by their vehicles), puts a 10 degree window on each cluster where
  it covers the most vehicles, keeps up to 4 largest non-overlapping windows,
  and takes the candidate configuration whose beams' main lobes cover the
  most vehicles inside the windows (ties: fewer beams, lower index).
* ``ucb`` (Sutton and Barto, Ch. 2): every gNB runs UCB over its valid
  configurations, all at once; the reward of g is the rate its own beams
  deliver in the network with the other gNBs' concurrent choices, divided by
  its interference-free per-beam bound (rewards in [0, 1]); exploration
  constant ``c`` = 0.5, at most ``iterations`` = 10,000 plays; ties broken at
  random (seeded). The solution is each gNB's most played configuration. No
  message is exchanged (``messages`` = 0; ``rounds`` = plays).
* ``random``: a uniformly drawn valid configuration per gNB.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import solver
from mmopt.problems.random_beam_config import (beam_se_bound, coverage_sets, network_rates,
                                               single_beam_config, zone_service)
from mmopt.problems.random_beam_config.scenario import ang_dist

PROBLEM = "random-beam-config"


def _config_of_beams(instance, g: int, beams: set) -> int:
    """The valid configuration of gNB g whose active beams are exactly ``beams`` (0 if none)."""
    bid, act, valid = instance["beam_id"], instance["active"], instance["valid"]
    for c in np.nonzero(valid[g])[0]:
        if set(int(k) for k in bid[g, c][act[g, c]]) == beams:
            return int(c)
    return 0


@solver("random", problems=[PROBLEM], kind="baseline", version=1)
def random_config(instance, *, seed=0):
    """A uniformly drawn valid configuration per gNB."""
    rng = np.random.default_rng(seed)
    valid = instance["valid"]
    cfg = np.array([rng.choice(np.nonzero(valid[g])[0]) for g in range(valid.shape[0])], dtype=np.int64)
    return {"config": cfg}, {}


@solver("cawbm", problems=[PROBLEM], kind="baseline", version=1)
def cawbm(instance, *, beams=4):
    """Conflict-aware weighted bipartite matching of 4 beam slots per gNB to candidate beams (greedy)."""
    t0 = time.perf_counter()
    single = single_beam_config(instance)
    G, K = single.shape
    cover = instance["cover"] if "cover" in instance else None
    edges = []
    for g in range(G):
        for k in range(K):
            c = single[g, k]
            if c < 0:
                continue
            w = float(network_rates(instance, np.array([[c]]), gnbs=[g])[0]) / beams
            edges.append((w, g, k))
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))
    kept: dict[int, list[int]] = {g: [] for g in range(G)}
    dirs, widths = instance["beam_dir"], instance["beam_width"]
    conflicts = 0
    for w, g, k in edges:
        if len(kept[g]) >= beams:
            continue
        bad = any(ang_dist(dirs[g, k], dirs[g, j]) < (widths[g, k] + widths[g, j]) / 2 for j in kept[g])
        if not bad and cover is not None:
            bad = any(np.any(cover[g, k] & cover[h, j]) for h in range(G) if h != g for j in kept[h])
        if bad:
            conflicts += 1
            continue
        kept[g].append(k)
    cfg = np.array([_config_of_beams(instance, g, set(kept[g])) for g in range(G)], dtype=np.int64)
    return {"config": cfg}, {"conflicts": conflicts, "seconds": time.perf_counter() - t0}


def dbscan_1d(az: np.ndarray, weight: np.ndarray, eps: float, min_samples: float) -> np.ndarray:
    """Circular 1-D DBSCAN of azimuths (deg) with point weights; labels (-1: noise)."""
    n = len(az)
    lab = np.full(n, -1)
    if n == 0:
        return lab
    D = ang_dist(az[:, None], az[None, :])
    nb = D <= eps
    core = (nb * weight[None, :]).sum(axis=1) >= min_samples
    cl = 0
    for i in range(n):
        if lab[i] != -1 or not core[i]:
            continue
        stack = [i]
        lab[i] = cl
        while stack:
            a = stack.pop()
            if not core[a]:
                continue
            for b in np.nonzero(nb[a])[0]:
                if lab[b] == -1:
                    lab[b] = cl
                    stack.append(b)
        cl += 1
    return lab


@solver("dbscan", problems=[PROBLEM], kind="baseline", version=1)
def dbscan(instance, *, eps=5.0, min_samples=2, width=10.0, beams=4):
    """Per-gNB DBSCAN clusters of vehicle azimuths, fixed 10 degree windows on the largest clusters."""
    t0 = time.perf_counter()
    G = instance["valid"].shape[0]
    Zc = coverage_sets(instance)
    v = instance["vehicles"].astype(float)
    gx, zx = instance["gnb_xy"], instance["zone_xy"]
    bid, act, valid = instance["beam_id"], instance["active"], instance["valid"]
    cover = instance["cover"]
    cfg = np.zeros(G, dtype=np.int64)
    n_clusters = 0
    for g in range(G):
        zs = np.nonzero(Zc[g])[0]
        if zs.size == 0:
            continue
        d = zx[zs] - gx[g]
        az = np.rad2deg(np.arctan2(d[:, 1], d[:, 0])) % 360.0
        lab = dbscan_1d(az, v[zs], float(eps), float(min_samples))
        wins = []
        for c in range(lab.max() + 1):
            m = lab == c
            best = max(((float(v[zs][ang_dist(az, a) <= width / 2].sum()), a) for a in az[m]),
                       key=lambda t: (t[0], -t[1]))
            wins.append(best)
        n_clusters += len(wins)
        wins.sort(key=lambda t: (-t[0], t[1]))
        chosen = []
        for cnt, a in wins:
            if len(chosen) < beams and all(ang_dist(a, b) >= width for b in chosen):
                chosen.append(a)
        inwin = np.zeros(len(v), dtype=bool)
        for a in chosen:
            inwin[zs[ang_dist(az, a) <= width / 2]] = True
        best_c, best_key = 0, None
        for c in np.nonzero(valid[g])[0]:
            ks = bid[g, c][act[g, c]]
            cov = cover[g, ks].any(axis=0) if len(ks) else np.zeros(len(v), dtype=bool)
            key = (float(v[cov & inwin].sum()), -len(ks), -int(c))
            if best_key is None or key > best_key:
                best_c, best_key = int(c), key
        cfg[g] = best_c
    return {"config": cfg}, {"clusters": n_clusters, "seconds": time.perf_counter() - t0}


@solver("ucb", problems=[PROBLEM], kind="baseline", version=1)
def ucb(instance, *, iterations=10000, c=0.5, seed=0):
    """Independent UCB per gNB over its configurations, realised own rate as reward (normalised)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    valid = instance["valid"]
    G, C = valid.shape
    S = instance["gain"].shape[2]
    W = float(instance["bandwidth"])
    ub = np.where(valid, beam_se_bound(instance).sum(axis=2), 0.0).max(axis=1) * W
    ub = np.where(ub > 0, ub, 1.0)
    N = np.zeros((G, C))
    Q = np.zeros((G, C))
    v = instance["vehicles"].astype(float)
    for t in range(1, int(iterations) + 1):
        untried = (N == 0) & valid
        score = np.where(valid, Q + float(c) * np.sqrt(np.log(t) / np.maximum(N, 1)), -np.inf)
        score = np.where(untried, np.inf, score)
        score = score + 1e-12 * rng.random((G, C))   # random tie-break
        a = score.argmax(axis=1)
        srv, sinr, served, load = zone_service(instance, a[None, :])
        nb = np.take_along_axis(load, srv, axis=1)
        term = np.where(served, v * W * np.log2(1 + sinr) / np.where(served, nb, 1.0), 0.0)[0]
        own = np.bincount(srv[0] // S, weights=term, minlength=G)
        r = own / ub
        idx = np.arange(G)
        N[idx, a] += 1
        Q[idx, a] += (r - Q[idx, a]) / N[idx, a]
    cfg = np.where(valid, N, -1).argmax(axis=1).astype(np.int64)
    return {"config": cfg}, {"rounds": int(iterations), "messages": 0, "payload_floats": 0,
                             "iterations": int(iterations), "seconds": time.perf_counter() - t0}

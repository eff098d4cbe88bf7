r"""Baselines of the CRAB paper for ``random-beam-config`` (Limani Fazliu et al., IEEE TWC 2022, Sec. VI).

The paper specifies none of them fully; the choices made here:

* ``cawbm`` (conflict-aware weighted bipartite matching, [24]): exactly
  ``beams`` = 4 slots per gNB matched to its rate-ranked candidate beams
  (the DBSCAN beams excluded: they form a configuration of their own); the
  weight of (g, beam) is the rate the beam delivers alone at 1/4 of the power
  (W times the mean spectral efficiency of the vehicles it serves). Iterative:
  each round solves the assignment (:func:`scipy.optimize.linear_sum_assignment`)
  and removes the weaker edge of the weakest conflict, two overlapping beams
  of one gNB (eq. (4)) or two beams of different gNBs whose main lobes share
  a non-empty zone (``cover``); a removal never leaves a gNB without 4
  pairwise non-overlapping beams (the method's number of beams is fixed), a
  conflict that only such a removal would resolve is tolerated. Centralised,
  deterministic.
* ``dbscan`` (Ester et al., KDD'96; no coordination): on a generator-version-2
  instance, each gNB's DBSCAN configuration (``dbscan_config``): fixed
  10 degree beams centred on its largest vehicle clusters (see
  :mod:`mmopt.problems.random_beam_config.scenario`), independent of the rate
  ranking. On a version-1 instance (``large``) the legacy rule: the candidate
  configuration whose main lobes cover most vehicles inside the 10 degree windows.
* ``ucb`` (Sutton and Barto, Ch. 2, the paper's reading): every gNB runs UCB
  over its valid configurations (its arms: |F_g| = 16-40 at ``paper``), all at
  once; the reward of g is the rate its own beams deliver to the zones they
  serve, :math:`\sum_z R(z, \mathbf b_g)`, with the others' concurrent plays
  interfering and a Rician fading draw per play (K = 9 dB), over its
  interference-free bound; c = 2, 1,000 plays (one per 1 ms channel
  realisation of the paper's 1 s update period); the solution is each gNB's
  most played arm, and the stats carry the online rate (mean T over the
  plays) beside the final one.
* ``ucb-oracle-reward``: mmopt's earlier UCB, 10,000 noiseless plays, c = 0.5
  (an upper reference for a learner: it sees its exact realised rate).
* ``random``: a uniformly drawn valid configuration per gNB.
"""
from __future__ import annotations

import time
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from mmopt import solver
from mmopt.problems.random_beam_config import (beam_se_bound, coverage_sets, network_rates,
                                               single_beam_config, zone_service)
from mmopt.problems.random_beam_config.scenario import ang_dist, dbscan_1d

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


def _beam_weight(instance, g: int, c: int, beams: int) -> float:
    """Rate (bit/s) of the single-beam configuration ``c`` of gNB g alone at 1/``beams`` of the power."""
    gz = instance["gain"][g, c].sum(axis=0) / beams
    smin = float(instance["sinr_min"])
    srv = gz >= smin
    if not srv.any():
        return 0.0
    v = instance["vehicles"].astype(float)
    return float(instance["bandwidth"]) * float(np.sum(v[srv] * np.log2(1.0 + gz[srv])) / np.sum(v[srv]))


def _has_set(dirs, widths, ks, beams: int) -> bool:
    """Whether ``beams`` pairwise non-overlapping beams (eq. (4)) exist among ``ks`` of one gNB."""
    for sub in combinations(ks, beams):
        if all(ang_dist(dirs[a], dirs[b]) >= (widths[a] + widths[b]) / 2 for a, b in combinations(sub, 2)):
            return True
    return False


def cawbm_match(instance, beams: int = 4, max_rounds: int = 10_000):
    """Iterative conflict-aware bipartite matching of ``beams`` slots per gNB to its candidate beams.

    Each round solves the max-weight assignment of the slots to the allowed
    (gNB, beam) edges (:func:`scipy.optimize.linear_sum_assignment`), then
    removes the weaker edge of the weakest conflict: two beams of one gNB that
    overlap (eq. (4), always removed), or two beams of different gNBs whose
    main lobes share a non-empty zone (removed only while the gNB keeps
    ``beams`` pairwise non-overlapping allowed beams: the method's number of
    beams is fixed; otherwise the conflict is tolerated). Stops when no
    removable conflict is left. Returns (beams per gNB, rounds, removed edges).
    """
    single = single_beam_config(instance)
    G, K = single.shape
    cover = instance["cover"] if "cover" in instance else None
    dirs, widths = instance["beam_dir"], instance["beam_width"]
    skip = set()                                                # the DBSCAN beams: not combinable
    if "dbscan_config" in instance:
        for g in range(G):
            c = int(instance["dbscan_config"][g])
            if c > 0:
                skip |= {(g, int(k)) for k in instance["beam_id"][g, c][instance["active"][g, c]]}
    cols = [(g, k) for g in range(G) for k in range(K) if single[g, k] >= 0 and (g, k) not in skip]
    wcol = np.array([_beam_weight(instance, g, int(single[g, k]), beams) for g, k in cols])
    allowed = np.ones(len(cols), dtype=bool)
    gcol = np.array([g for g, _ in cols], dtype=np.int64)
    rows = np.repeat(np.arange(G), beams)                       # ``beams`` slots per gNB
    rounds, removed = 0, 0
    chosen: list[int] = []
    while rounds < max_rounds:
        rounds += 1
        ok = (rows[:, None] == gcol[None, :]) & allowed[None, :]
        if not ok.any():
            chosen = []
            break
        Wm = np.where(ok, wcol[None, :] + 1.0, 0.0)             # +1: an allowed edge beats no edge
        r_idx, c_idx = linear_sum_assignment(Wm, maximize=True)
        chosen = sorted(int(j) for i, j in zip(r_idx, c_idx) if ok[i, j])
        drop = None
        for a in range(len(chosen)):
            for b in range(a + 1, len(chosen)):
                ja, jb = chosen[a], chosen[b]
                (g1, k1), (g2, k2) = cols[ja], cols[jb]
                lo = ja if (wcol[ja], -ja) < (wcol[jb], -jb) else jb
                if g1 == g2:
                    if ang_dist(dirs[g1, k1], dirs[g1, k2]) >= (widths[g1, k1] + widths[g1, k2]) / 2:
                        continue
                    # never both in a set of ``beams``: drop the weaker unless only the stronger's removal
                    # keeps one (so a gNB that can emit ``beams`` beams always can)
                    rest = [cols[j][1] for j in np.nonzero(allowed & (gcol == g1))[0] if j != lo]
                    if not _has_set(dirs[g1], widths[g1], rest, beams):
                        lo = jb if lo == ja else ja
                elif cover is None or not np.any(cover[g1, k1] & cover[g2, k2]):
                    continue
                else:
                    g = cols[lo][0]
                    rest = [cols[j][1] for j in np.nonzero(allowed & (gcol == g))[0] if j != lo]
                    if not _has_set(dirs[g], widths[g], rest, beams):
                        hi = jb if lo == ja else ja
                        g = cols[hi][0]
                        rest = [cols[j][1] for j in np.nonzero(allowed & (gcol == g))[0] if j != hi]
                        if not _has_set(dirs[g], widths[g], rest, beams):
                            continue                             # tolerated: both gNBs need their beams
                        lo = hi
                if drop is None or (wcol[lo], -lo) < (wcol[drop], -drop):
                    drop = lo
        if drop is None:
            break
        allowed[drop] = False
        removed += 1
    kept: dict[int, set] = {g: set() for g in range(G)}
    for j in chosen:
        kept[cols[j][0]].add(cols[j][1])
    return kept, rounds, removed


@solver("cawbm", problems=[PROBLEM], kind="baseline", version=2)
def cawbm(instance, *, beams=4):
    """Conflict-aware weighted bipartite matching (iterative, ``beams`` = 4 slots per gNB)."""
    t0 = time.perf_counter()
    kept, rounds, removed = cawbm_match(instance, int(beams))
    G = instance["valid"].shape[0]
    cfg = np.array([_config_of_beams(instance, g, kept[g]) for g in range(G)], dtype=np.int64)
    nb = instance["active"][np.arange(G), cfg].sum(axis=1)
    return {"config": cfg}, {"rounds": int(rounds), "conflicts": int(removed),
                             "beams_per_gnb": float(nb.mean()),
                             "gnbs_with_4": int(np.sum(nb == int(beams))), "seconds": time.perf_counter() - t0}


@solver("dbscan", problems=[PROBLEM], kind="baseline", version=2)
def dbscan(instance, *, eps=5.0, min_samples=2, width=10.0, beams=4):
    """Per-gNB DBSCAN clusters of vehicle azimuths, fixed 10 degree beams on the largest clusters.

    On a generator-version-2 instance the beams are the instance's own DBSCAN
    beams (``dbscan_config``: built by the generator with these parameters,
    independent of the rate ranking); on a version-1 instance (``large``) the
    legacy rule picks the candidate configuration covering most vehicles in the windows.
    """
    t0 = time.perf_counter()
    G = instance["valid"].shape[0]
    if "dbscan_config" in instance:
        cfg = np.asarray(instance["dbscan_config"], dtype=np.int64).copy()
        nb = instance["active"][np.arange(G), cfg].sum(axis=1)
        return {"config": cfg}, {"beams_per_gnb": float(nb.mean()), "legacy": False,
                                 "seconds": time.perf_counter() - t0}
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
    return {"config": cfg}, {"clusters": n_clusters, "legacy": True, "seconds": time.perf_counter() - t0}


def _fading(rng, shape, k_db: float) -> np.ndarray:
    """Rician power fading |h|^2 with K-factor ``k_db`` (mean 1)."""
    k = 10.0 ** (k_db / 10.0)
    h = np.sqrt(k / (k + 1)) + np.sqrt(1 / (2 * (k + 1))) * (rng.standard_normal(shape)
                                                          + 1j * rng.standard_normal(shape))
    return np.abs(h) ** 2


def _own_rates_faded(instance, a: np.ndarray, fade: np.ndarray) -> np.ndarray:
    """Rate delivered by each gNB's beams (G,) under configurations ``a`` and power fading ``fade`` (G, Z)."""
    gain, active = instance["gain"], instance["active"]
    G, C, S, Z = gain.shape
    P = gain[np.arange(G), a] * active[np.arange(G), a][..., None] * fade[:, None, :]   # (G, S, Z)
    P = P.reshape(G * S, Z)
    total = P.sum(axis=0)
    srv = P.argmax(axis=0)
    sig = P[srv, np.arange(Z)]
    sinr = sig / (1.0 + total - sig)
    served = (sinr >= float(instance["sinr_min"])) & (sig > 0)
    v = instance["vehicles"].astype(float)
    load = np.bincount(srv[served], weights=v[served], minlength=G * S)
    term = np.where(served, v * float(instance["bandwidth"]) * np.log2(1.0 + sinr)
                    / np.where(served, load[srv], 1.0), 0.0)
    return np.bincount(srv // S, weights=term, minlength=G)


def _ucb_run(instance, *, iterations, c, seed, fading_k_db=None, normalise=True):
    rng = np.random.default_rng(seed)
    valid = instance["valid"]
    G, C = valid.shape
    W = float(instance["bandwidth"])
    Z = instance["gain"].shape[3]
    ub = np.where(valid, beam_se_bound(instance).sum(axis=2), 0.0).max(axis=1) * W
    ub = np.where(ub > 0, ub, 1.0) if normalise else np.ones(G)
    N = np.zeros((G, C))
    Q = np.zeros((G, C))
    plays = np.empty((int(iterations), G), dtype=np.int64)
    ones = np.ones((G, Z))
    for t in range(1, int(iterations) + 1):
        untried = (N == 0) & valid
        score = np.where(valid, Q + float(c) * np.sqrt(np.log(t) / np.maximum(N, 1)), -np.inf)
        score = np.where(untried, np.inf, score)
        score = score + 1e-12 * rng.random((G, C))   # random tie-break
        a = score.argmax(axis=1)
        fade = ones if fading_k_db is None else _fading(rng, (G, Z), float(fading_k_db))
        r = _own_rates_faded(instance, a, fade) / ub
        idx = np.arange(G)
        N[idx, a] += 1
        Q[idx, a] += (r - Q[idx, a]) / N[idx, a]
        plays[t - 1] = a
    cfg = np.where(valid, N, -1).argmax(axis=1).astype(np.int64)
    online = float(network_rates(instance, plays).mean())
    arms = valid.sum(axis=1)
    return cfg, {"rounds": int(iterations), "messages": 0, "payload_floats": 0, "iterations": int(iterations),
                 "online_rate": online, "final_rate": float(network_rates(instance, cfg[None, :])[0]),
                 "arms_mean": float(arms.mean()), "arms_max": int(arms.max()), "c": float(c),
                 "plays_per_arm": float(int(iterations) / arms.mean())}


@solver("ucb", problems=[PROBLEM], kind="baseline", version=2)
def ucb(instance, *, iterations=1000, c=2.0, fading_k_db=9.0, seed=0):
    """Independent UCB per gNB (Sutton and Barto, Ch. 2) with the paper's per-gNB reward.

    Arms: the gNB's valid configurations (its F_g). Reward of g at a play: the
    rate its own beams deliver to the zones they serve (the paper's
    sum_z R_q(z, b_g)), with the other gNBs' concurrent plays interfering and an
    independent Rician fading draw per play (K = 9 dB, 3GPP UMi LoS), over its
    interference-free bound (rewards in [0, 1]); c = 2; ``iterations`` = 1,000
    plays (one per 1 ms channel realisation of the paper's 1 s update period).
    Final solution: each gNB's most played arm; the stats also carry the
    online rate (mean T over the plays).
    """
    t0 = time.perf_counter()
    cfg, st = _ucb_run(instance, iterations=iterations, c=c, seed=seed, fading_k_db=fading_k_db)
    st["seconds"] = time.perf_counter() - t0
    return {"config": cfg}, st


@solver("ucb-oracle-reward", problems=[PROBLEM], kind="baseline", version=1)
def ucb_oracle(instance, *, iterations=10000, c=0.5, seed=0):
    """mmopt's earlier UCB: 10,000 noiseless plays, c = 0.5 (an upper reference for a learner)."""
    t0 = time.perf_counter()
    cfg, st = _ucb_run(instance, iterations=iterations, c=c, seed=seed, fading_k_db=None)
    st["seconds"] = time.perf_counter() - t0
    return {"config": cfg}, st

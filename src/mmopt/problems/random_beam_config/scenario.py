r"""Scenario of ``random-beam-config``: Manhattan city grid, vehicle mobility, gNBs at traffic lights.

Limani Fazliu, Malandrino, Chiasserini, Nordio (IEEE TWC 2022), Sec. III and VI,
scaled to a CPU; every choice the paper leaves open is stated here and in the
problem statement (:mod:`mmopt.problems.random_beam_config.problem`).

* **City.** An ``nx x ny`` grid of intersections ``pitch`` m apart (200 m),
  streets ``street_w`` = 20 m wide, buildings filling the blocks (opaque at
  52 GHz: a zone is in line of sight of a gNB iff the segment between them
  crosses no building; NLoS links are not modelled, their gain is 0). The
  paper uses the LuST trace of Luxembourg (2 x 2 km^2, 51 gNBs, > 2,500
  vehicles); LuST cannot be downloaded at run time, so the vehicles move on
  the grid under one of two mobility models (``mobility``).
* **Mobility** ``"manhattan"`` (the default, pure numpy, every suite).
  Vehicles start uniformly on the street edges and drive for ``drive_s``
  seconds at a speed uniform in [8, 14] m/s, on one of two lanes (2.5 or 7.5 m
  right of the street axis); at an intersection they go straight with
  probability 1/2, left or right with 1/4 each (no U-turn, renormalised at the
  city border), with no interaction between vehicles. An instance is the
  snapshot at the end.
* **Mobility** ``"sumo"`` (the optional extra ``sumo``: ``pip install
  "mmopt[sumo]"``). The same grid built by SUMO's ``netgenerate`` (two lanes
  per direction at the same offsets, a traffic light at every intersection),
  ``vehicles`` random trips (``randomTrips.py``) departing over a 10 s
  insertion phase, and SUMO's car following, lane changing and signals for
  ``drive_s`` seconds more; the snapshot holds every vehicle
  (:mod:`mmopt.problems.random_beam_config.sumo` states the commands). No
  suite uses it: its instances depend on the SUMO version.
* **Zones.** 10 x 10 m squares; only non-empty zones are kept (``vehicles``).
  Everything from here on is the same for both mobility models.
* **gNBs.** ``G`` distinct intersections drawn at random (traffic lights), the
  gNB 3 m off the intersection centre along the diagonal; 52 GHz, 33 dBm
  shared equally by the active beams, a 64 x 64 UPA with 4 RF chains (B = 4).
  A beam of half-power width :math:`\alpha` uses an :math:`N \times N` sub-array
  with :math:`N = \mathrm{round}(102^\circ/\alpha)` (eq. (2)); its power gain at
  an azimuth offset :math:`\Delta` is :math:`N^2 |AF_N(\sin\Delta)|^2` (the
  ULA array factor of :func:`mmopt.phy.ula_array_factor`, side lobes
  included) for :math:`|\Delta| < 90^\circ` and :math:`10^{-3} N^2` behind.
  Widths {5, 10, 15} degrees (N = 20, 10, 7).
* **Vehicle.** 8 x 8 UPA, 13 degree beam pointed at the serving gNB: receive
  gain 64 on every link (interferers included, a conservative choice).
* **Channel.** 3GPP TR 38.901 UMi street-canyon line of sight
  (:func:`mmopt.phy.umi_los_db`, exponent 2.1) with log-normal shadowing
  (4 dB, one draw per gNB-zone pair), distance clipped below at 5 m, range
  ``r_max`` = 400 m (the paper's d_thr). Noise -174 dBm/Hz + 9 dB noise
  figure over W = 400 MHz.
* **Candidate set** (the paper's 360 integer directions x 3 widths give
  4e10 configurations per gNB): the beams of gNB g are the directions of its
  visible non-empty zones rounded to 1 degree, times the three widths; each
  is scored by the rate it delivers alone at full power; the ``K`` best
  beams with distinct main-lobe zone sets are kept, at most two of them
  overlapping one another (eq. (4)), and the configurations are the empty
  one (index 0) and every set of at most B = 4 pairwise non-overlapping
  kept beams (eq. (4), circular azimuth distance).
* **Generator version 2** (``gen = 2``, every suite): also
  ``reach`` (G, Z), the zones in the main lobe (SNR >= SINR_min) of *any*
  candidate beam before the K best are kept, and the paper's DBSCAN
  benchmark as beams of the instance: each gNB clusters the azimuths of the
  vehicles in its ``reach`` zones (circular 1-D DBSCAN, ``dbscan_eps`` = 5
  degrees, ``dbscan_min`` = 2 vehicles, zone centres weighted by their
  vehicles), centres a ``dbscan_width`` = 10 degree beam on each cluster
  (the integer azimuth in the cluster's span whose window holds most of its
  vehicles), keeps at most B of them, largest cluster first and pairwise
  non-overlapping, and adds them as candidate beams ``K..K+B-1`` and as one
  configuration of their own (``dbscan_config``; not combined with the
  rate-ranked beams). Version 1 instances are unchanged.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from mmopt import phy
from mmopt.api import MmoptError
from mmopt.phy.cqi import cqi_min_sinr

from .sumo import sumo_snapshot

DEFAULTS: dict = {
    "G": 3,                 # gNBs
    "nx": 3, "ny": 3,       # intersections per axis
    "pitch": 200.0,         # m between intersections
    "street_w": 20.0,       # m
    "vehicles": 60,         # vehicles in the snapshot
    "drive_s": 30.0,        # s of driving before the snapshot
    "zone": 10.0,           # m, zone side
    "fc": 52e9,             # Hz
    "bandwidth": 400e6,     # Hz
    "p_tx_dbm": 33.0,       # gNB power, shared by the active beams
    "noise_figure_db": 9.0,
    "n_ue": 8,              # vehicle UPA side (receive gain n_ue^2)
    "widths": [5.0, 10.0, 15.0],  # deg
    "K": 4,                 # candidate beams kept per gNB
    "B": 4,                 # max beams per configuration (RF chains)
    "r_max": 400.0,         # m
    "shadow_db": 4.0,
    "gnb_offset": 3.0,      # m along the diagonal from the intersection centre
    "mobility": "manhattan",  # vehicle mobility: "manhattan" (numpy) or "sumo" (SUMO, optional extra)
    "gen": 1,               # generator version: 1 (K rate-ranked beams), 2 (+ reach, DBSCAN beams)
    "dbscan_eps": 5.0,      # deg, DBSCAN neighbourhood (gen 2)
    "dbscan_min": 2,        # vehicles, DBSCAN core weight (gen 2)
    "dbscan_width": 10.0,   # deg, the fixed DBSCAN beam width (gen 2)
}

_DIRS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])


def manhattan_snapshot(p: dict, rng: np.random.Generator) -> np.ndarray:
    """Vehicle positions (V, 2) after ``drive_s`` seconds of Manhattan mobility."""
    nx, ny, L = int(p["nx"]), int(p["ny"]), float(p["pitch"])
    V = int(p["vehicles"])
    # start edges: node + direction that stays inside the grid
    edges = [(i, j, d) for i in range(nx) for j in range(ny) for d in range(4)
             if 0 <= i + _DIRS[d, 0] < nx and 0 <= j + _DIRS[d, 1] < ny]
    pick = rng.integers(len(edges), size=V)
    node = np.array([edges[k][:2] for k in pick], dtype=np.int64)
    dr = np.array([edges[k][2] for k in pick], dtype=np.int64)
    s = rng.uniform(0, L, size=V)
    speed = rng.uniform(8.0, 14.0, size=V)
    lane = rng.choice([2.5, 7.5], size=V)
    s = s + speed * float(p["drive_s"])
    while True:
        m = np.nonzero(s >= L)[0]
        if m.size == 0:
            break
        s[m] -= L
        node[m] += _DIRS[dr[m]]
        for v in m:  # choose the next edge: straight 1/2, left 1/4, right 1/4, no U-turn
            opts, w = [], []
            for turn, wt in ((0, 0.5), (1, 0.25), (3, 0.25)):
                d = (dr[v] + turn) % 4
                nxt = node[v] + _DIRS[d]
                if 0 <= nxt[0] < nx and 0 <= nxt[1] < ny:
                    opts.append(d)
                    w.append(wt)
            if not opts:
                opts, w = [(dr[v] + 2) % 4], [1.0]
            w = np.asarray(w) / np.sum(w)
            dr[v] = opts[int(rng.choice(len(opts), p=w))]
    u = _DIRS[dr].astype(float)
    right = np.stack([u[:, 1], -u[:, 0]], axis=1)
    return node * L + u * s[:, None] + right * lane[:, None]


#: the mobility models: ``mobility`` -> function (params, rng) -> vehicle positions (V, 2) at the snapshot
MOBILITY = {"manhattan": manhattan_snapshot, "sumo": sumo_snapshot}


def vehicle_positions(p: dict, rng: np.random.Generator) -> np.ndarray:
    """Vehicle positions (V, 2) at the snapshot under the mobility model named by ``p["mobility"]``."""
    mobility = p.get("mobility", "manhattan")
    if not isinstance(mobility, str) or mobility not in MOBILITY:
        raise MmoptError(f"random-beam-config: unknown mobility {mobility!r} (allowed: {', '.join(MOBILITY)})")
    return MOBILITY[mobility](p, rng)


def buildings(p: dict) -> np.ndarray:
    """Building rectangles (xmin, ymin, xmax, ymax) filling the blocks."""
    nx, ny, L, w = int(p["nx"]), int(p["ny"]), float(p["pitch"]), float(p["street_w"])
    return np.array([[i * L + w / 2, j * L + w / 2, (i + 1) * L - w / 2, (j + 1) * L - w / 2]
                     for i in range(nx - 1) for j in range(ny - 1)], dtype=float).reshape(-1, 4)


def tx_gain(delta_deg: np.ndarray, width_deg: float) -> np.ndarray:
    """Power gain of a beam of half-power width ``width_deg`` at azimuth offset ``delta_deg`` (eq. (2))."""
    n = int(round(102.0 / width_deg))
    d = np.deg2rad((np.asarray(delta_deg, dtype=float) + 180.0) % 360.0 - 180.0)
    af = np.abs(phy.ula_array_factor(np.sin(d), n)) ** 2
    return n * n * np.where(np.abs(d) < np.pi / 2, af, 1e-3)


def ang_dist(a, b) -> np.ndarray:
    """Circular distance between azimuths in degrees."""
    return np.abs((np.asarray(a, dtype=float) - np.asarray(b, dtype=float) + 180.0) % 360.0 - 180.0)


def dbscan_1d(az: np.ndarray, weight: np.ndarray, eps: float, min_samples: float) -> np.ndarray:
    """Circular 1-D DBSCAN (Ester et al., KDD'96) of azimuths (deg) with point weights; labels (-1: noise)."""
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


def dbscan_beams(az: np.ndarray, weight: np.ndarray, eps: float, min_samples: float, width: float,
                 beams: int) -> list[tuple[float, float]]:
    """DBSCAN beams of one gNB: ``[(centre, vehicles), ...]``, at most ``beams``, pairwise non-overlapping.

    The vehicles' azimuths (zone centres weighted by their vehicles) are
    clustered (:func:`dbscan_1d`); each cluster gets the ``width``-wide window,
    centred on the integer azimuth within the cluster's span, that holds the
    most of the cluster's vehicles (ties: the window nearest the cluster's
    weighted centre, then the lowest azimuth); the windows are taken largest
    first, each kept when it does not overlap a kept one (eq. (4):
    centres at least ``width`` apart).
    """
    lab = dbscan_1d(az, weight, eps, min_samples)
    wins = []
    for c in range(lab.max() + 1 if lab.size else 0):
        m = lab == c
        a, w = az[m], weight[m]
        ref = a[0]
        off = (a - ref + 180.0) % 360.0 - 180.0              # unwrap around the first member
        mean = (ref + float(np.sum(w * off) / np.sum(w))) % 360.0
        cands = np.unique(np.round(ref + np.arange(np.floor(off.min()), np.ceil(off.max()) + 1)) % 360.0)
        best = max(((float(w[ang_dist(a, d) <= width / 2].sum()), -float(ang_dist(d, mean)), -d) for d in cands))
        wins.append((best[0], -best[2]))
    wins.sort(key=lambda t: (-t[0], t[1]))
    chosen: list[tuple[float, float]] = []
    for cnt, d in wins:
        if len(chosen) < beams and all(ang_dist(d, b) >= width for b, _ in chosen):
            chosen.append((d, cnt))
    return chosen


def simulate(params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One instance (see the module docstring)."""
    p = dict(DEFAULTS)
    p.update(params)
    nx, ny, L = int(p["nx"]), int(p["ny"]), float(p["pitch"])
    G, K, B = int(p["G"]), int(p["K"]), int(p["B"])
    gen = int(p["gen"])
    if gen not in (1, 2):
        raise MmoptError(f"random-beam-config: unknown generator version gen = {gen} (allowed: 1, 2)")
    KD = K + (B if gen >= 2 else 0)   # candidate beams: K rate-ranked, then (gen 2) up to B DBSCAN beams
    widths = [float(w) for w in p["widths"]]
    # -- vehicles and zones -------------------------------------------------
    pos = vehicle_positions(p, rng)
    zs = float(p["zone"])
    origin = -float(p["street_w"])
    cell = np.floor((pos - origin) / zs).astype(np.int64)
    keys, counts = np.unique(cell, axis=0, return_counts=True)
    zone_xy = origin + (keys + 0.5) * zs
    vehicles = counts.astype(np.int64)
    Z = len(vehicles)
    # -- gNBs at random intersections -------------------------------------
    inter = np.array([(i, j) for i in range(nx) for j in range(ny)], dtype=float)
    sel = np.sort(rng.choice(len(inter), size=G, replace=False))
    gnb_xy = inter[sel] * L + float(p["gnb_offset"]) / np.sqrt(2.0)
    # -- large-scale channel ----------------------------------------------
    lam_noise = phy.thermal_noise_w(float(p["bandwidth"]), float(p["noise_figure_db"]))
    p_tx = float(phy.dbm2w(p["p_tx_dbm"]))
    rects = buildings(p)
    diff = zone_xy[None, :, :] - gnb_xy[:, None, :]
    dist = np.maximum(np.linalg.norm(diff, axis=2), 5.0)
    az = np.rad2deg(np.arctan2(diff[..., 1], diff[..., 0])) % 360.0
    los = ~phy.segments_hit_rects(np.repeat(gnb_xy, Z, axis=0), np.tile(zone_xy, (G, 1)), rects).reshape(G, Z)
    vis = los & (dist <= float(p["r_max"]))
    pl_db = phy.umi_los_db(dist, float(p["fc"])) + float(p["shadow_db"]) * rng.standard_normal((G, Z))
    # full-power SNR per unit tx gain (noise-normalised), zero where not visible
    base = np.where(vis, p_tx * float(p["n_ue"]) ** 2 * phy.db2lin(-pl_db) / lam_noise, 0.0)
    sinr_min = cqi_min_sinr(1)
    bw = float(p["bandwidth"])
    # -- candidate beams and configurations per gNB -----------------------
    beam_dir = np.zeros((G, KD))
    beam_width = np.zeros((G, KD))
    cover = np.zeros((G, KD, Z), dtype=bool)
    beam_gain = np.zeros((G, KD, Z))   # full-power single-beam gain
    reach = np.zeros((G, Z), dtype=bool)
    dbscan_config = np.zeros(G, dtype=np.int64)
    configs: list[list[tuple[int, ...]]] = []
    for g in range(G):
        zv = np.nonzero(vis[g])[0]
        cands = []
        if zv.size:
            dirs = np.unique(np.round(az[g, zv]) % 360.0)
            for w in widths:
                for d in dirs:
                    gz = base[g] * tx_gain(az[g] - d, w)
                    main = vis[g] & (ang_dist(az[g], d) <= w / 2) & (gz >= sinr_min)
                    if not main.any():
                        continue
                    reach[g] |= main
                    served = gz >= sinr_min
                    # rate of the beam alone: W x mean spectral efficiency of its served vehicles
                    se = np.log2(1.0 + gz[served])
                    score = bw * float(np.sum(vehicles[served] * se) / np.sum(vehicles[served]))
                    cands.append((score, d, w, main, gz))
        cands.sort(key=lambda c: (-c[0], c[2], c[1]))
        kept = []
        for c in cands:
            if len(kept) == K:
                break
            if any(np.array_equal(c[3], k[3]) for k in kept):
                continue
            n_ov = sum(ang_dist(c[1], k[1]) < (c[2] + k[2]) / 2 for k in kept)
            if n_ov >= 2:
                continue
            kept.append(c)
        for k, c in enumerate(kept):
            beam_dir[g, k], beam_width[g, k] = c[1], c[2]
            cover[g, k], beam_gain[g, k] = c[3], c[4]
        nk = len(kept)
        cfgs = [()]
        for r in range(1, min(B, nk) + 1):
            for sub in combinations(range(nk), r):
                if all(ang_dist(beam_dir[g, a], beam_dir[g, b]) >= (beam_width[g, a] + beam_width[g, b]) / 2
                       for a, b in combinations(sub, 2)):
                    cfgs.append(sub)
        if gen >= 2:
            # the paper's DBSCAN benchmark: fixed-width beams centred on the largest vehicle clusters of
            # the zones g can cover, added as beams K.. and as one configuration of their own
            zr = np.nonzero(reach[g])[0]
            wd = float(p["dbscan_width"])
            chosen = dbscan_beams(az[g, zr], vehicles[zr].astype(float), float(p["dbscan_eps"]),
                                  float(p["dbscan_min"]), wd, B) if zr.size else []
            sub = []
            for j, (d, _) in enumerate(chosen):
                k = K + j
                gz = base[g] * tx_gain(az[g] - d, wd)
                beam_dir[g, k], beam_width[g, k] = d, wd
                cover[g, k] = vis[g] & (ang_dist(az[g], d) <= wd / 2) & (gz >= sinr_min)
                beam_gain[g, k] = gz
                sub.append(k)
            if sub:
                dbscan_config[g] = len(cfgs)
                cfgs.append(tuple(sub))
        configs.append(cfgs)
    C = max(len(c) for c in configs)
    S = B
    gain = np.zeros((G, C, S, Z))
    active = np.zeros((G, C, S), dtype=bool)
    valid = np.zeros((G, C), dtype=bool)
    beam_id = np.full((G, C, S), -1, dtype=np.int64)
    for g, cfgs in enumerate(configs):
        for c, sub in enumerate(cfgs):
            valid[g, c] = True
            for s, k in enumerate(sub):
                active[g, c, s] = True
                beam_id[g, c, s] = k
                gain[g, c, s] = beam_gain[g, k] / len(sub)
    out = {
        "gain": gain, "active": active, "valid": valid, "vehicles": vehicles,
        "bandwidth": np.array(bw), "sinr_min": np.array(sinr_min),
        "beam_id": beam_id, "beam_dir": beam_dir, "beam_width": beam_width, "cover": cover,
        "gnb_xy": gnb_xy, "zone_xy": zone_xy,
    }
    if gen >= 2:
        out["reach"] = reach
        out["dbscan_config"] = dbscan_config
    return out

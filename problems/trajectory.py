r"""Throughput-constrained trajectory association (``trajectory-assoc``).

S. Khosravi, H. S. Ghadikolaei, J. Zander, M. Petrova, "Reinforcement
learning-based joint handover and beam tracking in millimeter-wave networks"
(arXiv:2301.05305): the serving base station (BS) of a pedestrian user (UE)
is chosen slot by slot along a known trajectory; staying with a BS costs the
beam-tracking time of Algorithm 2, changing BS costs an initial beam
training. The problem is the paper's eq. (5); this module states it, checks
and scores solutions, and generates the street-grid scenarios.

Problem (eq. (3), (5a)-(5c))
---------------------------
Slots :math:`i = 1..M`, BSs :math:`j = 0..N_B-1`, one serving BS :math:`j_i`
per slot (eqs. (5b)-(5c)); :math:`j_0` is the BS serving before slot 1
(``initial_bs``; :math:`-1` makes slot 1 an initial access, counted like a
handover). The achieved throughput per Hz of slot :math:`i` is (eq. (3))

.. math::

    \Gamma_i = \Bigl(1 - \frac{\tau_{b,i}}{\tau_c}\Bigr) R_i, \qquad
    (\tau_{b,i}, R_i) = \begin{cases}
        (\tau_{HO},\ \mathrm{rate}_{i, j_i}) & j_i \ne j_{i-1} \text{ (handover)},\\
        (\tau^{tr}_{i, j_i},\ \mathrm{rate}^{tr}_{i, j_i}) & j_i = j_{i-1} \text{ (beam tracking)},
    \end{cases}

and the objective (eq. (5a)) is maximised:

.. math::

    F_1 - \lambda F_2 = \sum_{i=1}^M \Gamma_i - \lambda\,\#\{i : \Gamma_i \le \Gamma_{thr}\}.

Table I values: :math:`\lambda = 100`, :math:`\Gamma_{thr} = 1` bit/s/Hz,
SNR\ :sub:`thr` = 2 dB, :math:`\tau_c = 10` ms,
:math:`\tau_{HO} = \tau_c / 3`, :math:`\beta = 10\ \mu s` per tested beam.

Modelling assumption (what makes eq. (5) a shortest-path problem)
-----------------------------------------------------------------
Each slot's overhead and rate depend only on (slot, BS, handover or not):
after a handover the UE uses the best codebook beam of the new BS (full beam
training); when it stays, Algorithm 2 starts from the *best* beam of the same
BS in the previous slot (the beam that full training would have chosen there),
not from the beam that tracking itself produced. With it, ``rate``,
``rate_track`` and ``tau_track`` are tables over (slot, BS) and eq. (5) is
solved exactly by dynamic programming over the serving BS.

Beam tracking (Algorithm 2)
---------------------------
The codebook is a grid of steering directions (azimuth, elevation) at
5 degree resolution. Tracking keeps the previous best beam if it still meets
SNR\ :sub:`thr` (zero time); otherwise it tests the beams of the
:math:`(\Delta\phi, \Delta\theta) = (10, 10)` degree neighbourhood (the 24
grid neighbours within two steps) in order of angular distance and stops at
the first beam that meets SNR\ :sub:`thr`: :math:`\tau^{tr} = \beta x`, with
:math:`x` the number of beams tested. When no beam of the neighbourhood meets
the threshold, all of them are tested and the best one is used (then
:math:`\mathrm{rate}^{tr} < \log_2(1 + \mathrm{SNR}_{thr})`: the link is
*blocked*, which is what the online baselines observe).

Scenario
--------
A Manhattan grid of square building blocks (``block`` m wide, streets
``street`` m wide) that block the line of sight; a pedestrian walks along the
streets at 1 m/s (a random walk over intersections, no U-turns), one slot per
:math:`T_A = 1` s; BSs on building walls at 6 m height beside the walk (one
per 1/N_B of its length, random side of the street), each with an 8 x 8
half-wavelength UPA whose boresight is the wall's outward normal and a
codebook of steering directions on a 5 degree grid (azimuth within
+-80 degrees, elevation -60..0 degrees); placements are redrawn (up to
``placement_tries``) until, without blockers, every point of the walk has a
path of ``coverage_snr_db`` (10 dB) from some BS, so that outages come from
the temporary blockers rather than from holes in the deployment; temporary
blockers (people and vehicles, Poisson with density 1e-2 per m^2 of street,
heights uniform in [1, 3] m, widths uniform in [2, 4] m, our reading of
Table I's "1 and 3 m, 2 and 4 m") are drawn per channel realisation and are
static within it. Paths: line of sight and single-bounce specular
reflections on building walls (``refl_loss_db`` = 10 dB per bounce),
free-space path loss at 28 GHz, ``blocker_loss_db`` = 30 dB for every
blocker a path crosses below the blocker's height (UE at 1 m, so only the
part of a path near the UE can be blocked), UE omnidirectional; 10 dBm,
100 MHz, -174 dBm/Hz, no noise figure (``noise_figure_db`` = 0). Rates are
Shannon rates of the beamformed SNR, :math:`\log_2(1 + \mathrm{SNR})`. One instance is one trajectory with one
channel realisation; ``n_train`` further realisations of the same trajectory
(same streets, BSs and walk, other blockers) are stored for methods that
learn offline (``train_*`` keys).

Units: SI inside (m, s, W, linear SNR); dB only in the generator parameters.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.sparse as sp

from mmopt.api import InputError, Key, MmoptError, Problem, Suite, problem

__all__ = ["TrajectoryAssoc", "slot_gammas", "slot_rewards", "gamma_of", "track_ok", "simulate",
           "DEFAULTS"]

C_LIGHT = 299_792_458.0

#: Generator parameters (Table I of the paper where it has them). dB at the edge only.
DEFAULTS: dict = {
    "M": 100,                  # slots (trajectory length in m at 1 m/s, T_A = 1 s)
    "NB": 6,                   # BSs
    "fc": 28e9,                # carrier, Hz
    "bandwidth": 100e6,        # Hz
    "p_tx_dbm": 10.0,          # BS transmit power
    "n0_dbm_hz": -174.0,       # noise PSD
    "noise_figure_db": 0.0,    # not in Table I; 0 dB keeps Table I's link budget
    "snr_thr_db": 2.0,         # SNR_thr
    "gamma_thr": 1.0,          # Gamma_thr, bit/s/Hz
    "lam": 100.0,              # lambda
    "tau_c": 10e-3,            # s
    "beta": 10e-6,             # s per tested beam pair
    "speed": 1.0,              # m/s
    "t_slot": 1.0,             # T_A, s
    "block": 60.0,             # building block side, m
    "street": 20.0,            # street width, m
    "grid_nodes": 9,           # intersections per side of the street grid
    "bs_placement": "route",   # route: stratified beside the walk; uniform: anywhere beside it; box: any street near it
    "placement_tries": 50,     # BS placements drawn until every walk point is covered
    "coverage_snr_db": 10.0,   # coverage: some BS path reaches this SNR without blockers
    "h_bs": 6.0,               # m
    "h_ue": 1.0,               # m
    "ue_offset": 6.0,          # max lateral offset of the walk from the street centre, m
    "n_ant": 8,                # UPA is n_ant x n_ant, half-wavelength spacing
    "az_max": 80.0,            # codebook azimuths -az_max..az_max, degrees
    "el_min": -60.0,           # codebook elevations el_min..0, degrees
    "beam_step": 5.0,          # codebook and tracking resolution, degrees
    "track_span": 10.0,        # tracking neighbourhood half-width, degrees
    "blocker_density": 1e-2,   # per m^2 of street
    "blocker_h": [1.0, 3.0],   # height range, m
    "blocker_w": [2.0, 4.0],   # width range, m
    "blocker_loss_db": 30.0,   # per blocker crossed
    "refl_loss_db": 10.0,      # per wall bounce
    "initial_access": True,    # True: initial_bs = -1; False: the BS best at the point before slot 1
    "n_train": 4,              # extra channel realisations for offline learning
}


# ---------------------------------------------------------------------------
# Objective helpers shared by the problem and the solvers
# ---------------------------------------------------------------------------


def _scalar(instance: Mapping[str, np.ndarray], key: str) -> float:
    return float(np.asarray(instance[key]).reshape(()))


def slot_gammas(instance: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-slot throughput per Hz of every (slot, BS), eq. (3).

    Returns
    -------
    g_ho, g_st : ndarray (M, NB)
        :math:`\Gamma` when slot ``i`` is served by BS ``j`` after a handover
        (:math:`(1 - \tau_{HO}/\tau_c)\,\mathrm{rate}_{ij}`) and after staying
        with ``j`` (:math:`(1 - \tau^{tr}_{ij}/\tau_c)\,\mathrm{rate}^{tr}_{ij}`).
        Every evaluator uses these arrays, so threshold tests agree bit for bit.
    """
    rate = np.asarray(instance["rate"], dtype=np.float64)
    rate_tr = np.asarray(instance["rate_track"], dtype=np.float64) if "rate_track" in instance else rate
    tau_c = _scalar(instance, "tau_c")
    g_ho = (1.0 - _scalar(instance, "tau_ho") / tau_c) * rate
    g_st = (1.0 - np.asarray(instance["tau_track"], dtype=np.float64) / tau_c) * rate_tr
    return g_ho, g_st


def slot_rewards(instance: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-slot terms of eq. (5a): :math:`\Gamma - \lambda [\Gamma \le \Gamma_{thr}]`, for handover and stay."""
    g_ho, g_st = slot_gammas(instance)
    lam, thr = _scalar(instance, "lam"), _scalar(instance, "gamma_thr")
    return g_ho - lam * (g_ho <= thr), g_st - lam * (g_st <= thr)


def gamma_of(instance: Mapping[str, np.ndarray], serving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\Gamma_i` of a serving sequence and its handover mask (initial access included)."""
    g_ho, g_st = slot_gammas(instance)
    s = np.asarray(serving, dtype=np.int64)
    prev = np.concatenate(([int(np.asarray(instance["initial_bs"]))], s[:-1]))
    ho = s != prev
    idx = np.arange(len(s))
    return np.where(ho, g_ho[idx, s], g_st[idx, s]), ho


def track_ok(instance: Mapping[str, np.ndarray], rate_track: np.ndarray | None = None) -> np.ndarray:
    """Whether staying with BS ``j`` at slot ``i`` keeps a beam that meets SNR_thr (M, NB).

    True exactly when Algorithm 2 finds a beam at or above SNR_thr, i.e. when
    ``rate_track >= log2(1 + snr_thr)``; False is a *blocked* serving link.
    """
    if rate_track is None:
        rate_track = instance["rate_track"] if "rate_track" in instance else instance["rate"]
    snr_thr = _scalar(instance, "snr_thr") if "snr_thr" in instance else 10 ** (DEFAULTS["snr_thr_db"] / 10)
    return np.asarray(rate_track) >= np.log2(1.0 + snr_thr) - 1e-12


# ---------------------------------------------------------------------------
# Scenario generator: geometry (vectorised NumPy)
# ---------------------------------------------------------------------------


def _street_walk(n_pts: int, step: float, rng: np.random.Generator, P: float, nodes: int,
                 offset: float) -> np.ndarray:
    """UE positions (n_pts, 2), ``step`` m apart, along a random walk over the street grid.

    Street centre lines are x = kP and y = kP, k = 0..nodes-1. The walk goes
    from intersection to intersection (straight w.p. 1/2, left or right w.p.
    1/4 each, never a U-turn, never out of the grid), starting at a uniform
    point of its first street segment; the whole walk is shifted by a fixed
    lateral offset (a pedestrian keeps to one side of the street).
    """
    dirs = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])
    node = rng.integers(1, nodes - 1, size=2)
    d = int(rng.integers(4))
    length_needed = (n_pts - 1) * step + P
    pts = [node.copy()]
    while (len(pts) - 1) * P < length_needed:
        u = rng.random()
        choices = [d, (d + 1) % 4, (d + 3) % 4] if u < 0.5 else (
            [(d + 1) % 4, (d + 3) % 4, d] if u < 0.75 else [(d + 3) % 4, (d + 1) % 4, d])
        for c in choices:
            nxt = node + dirs[c]
            if 0 <= nxt[0] < nodes and 0 <= nxt[1] < nodes:
                d, node = c, nxt
                break
        else:  # dead end: only a U-turn left (cannot happen with nodes >= 3)
            d = (d + 2) % 4
            node = node + dirs[d]
        pts.append(node.copy())
    poly = np.array(pts, dtype=np.float64) * P
    s0 = rng.random() * P
    s = s0 + step * np.arange(n_pts)
    seg = np.minimum((s // P).astype(int), len(poly) - 2)
    t = (s - seg * P) / P
    xy = poly[seg] + t[:, None] * (poly[seg + 1] - poly[seg])
    xy = xy + rng.uniform(-offset, offset, size=2)
    return xy


def _blocks(P: float, block: float, nodes: int) -> np.ndarray:
    """Building rectangles (K, 4) = (xmin, ymin, xmax, ymax), one ring beyond the street grid."""
    k = np.arange(-1, nodes)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    x0 = kx.ravel() * P + (P - block) / 2
    y0 = ky.ravel() * P + (P - block) / 2
    return np.stack([x0, y0, x0 + block, y0 + block], axis=1)


def _walls(rects: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wall segments of the rectangles: axis (0: x = c, 1: y = c), c, span (lo, hi), outward sign."""
    axis, c, lo, hi, sgn = [], [], [], [], []
    for xmin, ymin, xmax, ymax in rects:
        for ax, cc, a, b, s in ((0, xmin, ymin, ymax, -1), (0, xmax, ymin, ymax, 1),
                                (1, ymin, xmin, xmax, -1), (1, ymax, xmin, xmax, 1)):
            axis.append(ax), c.append(cc), lo.append(a), hi.append(b), sgn.append(s)
    return np.array(axis), np.array(c), np.stack([lo, hi], 1), np.array(sgn, dtype=np.float64)


def _seg_hits_rects(a: np.ndarray, b: np.ndarray, rects: np.ndarray, shrink: float = 1e-6) -> np.ndarray:
    """Whether 2D segments a->b (S, 2) cross any rectangle interior (slab test), shape (S,)."""
    out = np.zeros(len(a), dtype=bool)
    if len(a) == 0 or len(rects) == 0:
        return out
    for start in range(0, len(a), 20000):
        A, B = a[start:start + 20000], b[start:start + 20000]
        d = B - A
        t_lo = np.full((len(A), len(rects)), shrink)
        t_hi = np.full((len(A), len(rects)), 1.0 - shrink)
        for ax in (0, 1):
            lo, hi = rects[None, :, ax], rects[None, :, ax + 2]
            da = d[:, ax:ax + 1]
            pa = A[:, ax:ax + 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (lo - pa) / da
                t2 = (hi - pa) / da
            tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
            par = np.abs(da) < 1e-12
            inside = (pa > lo) & (pa < hi)
            tmin = np.where(par, np.where(inside, -np.inf, np.inf), tmin)
            tmax = np.where(par, np.where(inside, np.inf, -np.inf), tmax)
            t_lo = np.maximum(t_lo, tmin)
            t_hi = np.minimum(t_hi, tmax)
        out[start:start + 20000] = np.any(t_hi - t_lo > 1e-9, axis=1)
    return out


def _place_bs(xy: np.ndarray, NB: int, rng: np.random.Generator, P: float, street: float,
              mode: str = "route") -> tuple[np.ndarray, np.ndarray]:
    """BS positions (NB, 2) on walls beside the walk, and their outward wall normals (NB, 2).

    BS k is mounted beside the walk point at arc length (k + U(0.15, 0.85)) M / NB,
    on a random side of the street, 0.5 m off the wall; a point inside an
    intersection is moved along the street to 1..11 m past the corner. ``mode``:
    ``route`` stratified arc lengths, ``uniform`` uniform arc lengths, ``box``
    a uniform point of any street within P/2 of the walk's bounding box.
    """
    n = len(xy) - 1
    pos, nrm = [], []
    for k in range(NB):
        if mode == "box":
            lo, hi = xy.min(0) - P / 2, xy.max(0) + P / 2
            along = int(rng.integers(2))
            across = 1 - along
            lines = np.arange(np.ceil(lo[across] / P), np.floor(hi[across] / P) + 1) * P
            p = np.zeros(2)
            p[across] = rng.choice(lines)
            p[along] = rng.uniform(lo[along], hi[along])
            step = np.zeros(2)
            step[along] = 1.0
        else:
            s = (k + rng.random()) * n / NB if mode == "route" else rng.uniform(0, n)
            i = min(int(s), n - 1)
            p = xy[i] + (s - i) * (xy[i + 1] - xy[i])
            step = xy[i + 1] - xy[i]
            along = 0 if abs(step[0]) >= abs(step[1]) else 1  # street direction axis
        across = 1 - along
        centre = np.round(p[across] / P) * P
        side = 1.0 if rng.random() < 0.5 else -1.0
        q = p.copy()
        q[across] = centre + side * (street / 2 - 0.5)
        # inside an intersection: move along the street, past the corner
        cl = np.round(q[along] / P) * P
        if abs(q[along] - cl) < street / 2 + 1.0:
            direction = 1.0 if step[along] >= 0 else -1.0
            q[along] = cl + direction * (street / 2 + 1.0 + 10.0 * rng.random())
        nv = np.zeros(2)
        nv[across] = -side
        pos.append(q), nrm.append(nv)
    return np.array(pos), np.array(nrm)


def _paths(ue: np.ndarray, bs: np.ndarray, nrm: np.ndarray, rects: np.ndarray, h_bs: float, h_ue: float
           ) -> dict[str, np.ndarray]:
    """Every geometric path (LOS and single wall bounce) from every BS to every UE point.

    Returns a dict of flat arrays over paths: ``ue`` and ``bs`` indices,
    ``refl`` (bounce count), 3D length ``d``, departure ``ux`` = cos(el) sin(az)
    and ``vz`` = sin(el) in the BS array frame, and the 2D legs (``a``, ``b``,
    ``ha``, ``hb``: start, end, and ray heights there) for blocker tests.
    """
    nU, nB = len(ue), len(bs)
    axis, c, span, sgn = _walls(rects)
    dh = h_bs - h_ue
    tang = np.stack([-nrm[:, 1], nrm[:, 0]], 1)  # array horizontal axis
    out = {k: [] for k in ("ue", "bs", "refl", "d", "ux", "vz", "leg_path", "a", "b", "ha", "hb")}
    npaths = 0

    def emit(ui, bi, first_pt, D, nref, legs):
        nonlocal npaths
        k = len(ui)
        if k == 0:
            return
        e = first_pt - bs[bi]
        e = e / np.linalg.norm(e, axis=1, keepdims=True)
        el = -np.arctan2(dh, D)
        out["ue"].append(ui), out["bs"].append(bi), out["refl"].append(np.full(k, nref))
        out["d"].append(np.sqrt(D ** 2 + dh ** 2))
        out["ux"].append(np.cos(el) * np.sum(e * tang[bi], 1))
        out["vz"].append(np.sin(el))
        ids = npaths + np.arange(k)
        for (a, b, ha, hb) in legs:
            out["leg_path"].append(ids), out["a"].append(a), out["b"].append(b)
            out["ha"].append(ha), out["hb"].append(hb)
        npaths += k

    # line of sight
    ui, bi = np.meshgrid(np.arange(nU), np.arange(nB), indexing="ij")
    ui, bi = ui.ravel(), bi.ravel()
    A, B = bs[bi], ue[ui]
    front = np.sum((B - A) * nrm[bi], 1) > 1e-9
    ok = front & ~_seg_hits_rects(A, B, rects)
    ui, bi = ui[ok], bi[ok]
    D = np.linalg.norm(ue[ui] - bs[bi], axis=1)
    emit(ui, bi, ue[ui], D, 0, [(bs[bi], ue[ui], np.full(len(ui), h_bs), np.full(len(ui), h_ue))])

    # single bounce: image of the BS in each wall line
    for w in range(len(axis)):
        ax, cw, (lo, hi), s = axis[w], c[w], span[w], sgn[w]
        side_bs = s * (bs[:, ax] - cw) > 1e-9
        side_ue = s * (ue[:, ax] - cw) > 1e-9
        if not side_bs.any() or not side_ue.any():
            continue
        bsel = np.nonzero(side_bs)[0]
        usel = np.nonzero(side_ue)[0]
        ui, bi = np.meshgrid(usel, bsel, indexing="ij")
        ui, bi = ui.ravel(), bi.ravel()
        img = bs[bi].copy()
        img[:, ax] = 2 * cw - img[:, ax]
        U = ue[ui]
        t = (cw - img[:, ax]) / (U[:, ax] - img[:, ax])
        R = img + t[:, None] * (U - img)
        o = 1 - ax
        ok = (R[:, o] > lo + 1e-6) & (R[:, o] < hi - 1e-6)
        ok &= np.sum((R - bs[bi]) * nrm[bi], 1) > 1e-9
        if not ok.any():
            continue
        ui, bi, R, img, U = ui[ok], bi[ok], R[ok], img[ok], U[ok]
        blocked = _seg_hits_rects(bs[bi], R, rects) | _seg_hits_rects(R, U, rects)
        ui, bi, R, img, U = ui[~blocked], bi[~blocked], R[~blocked], img[~blocked], U[~blocked]
        if len(ui) == 0:
            continue
        D = np.linalg.norm(U - img, axis=1)
        D1 = np.linalg.norm(R - bs[bi], axis=1)
        hR = h_bs - dh * D1 / D
        emit(ui, bi, R, D, 1, [(bs[bi], R, np.full(len(ui), h_bs), hR),
                               (R, U, hR, np.full(len(ui), h_ue))])

    if npaths == 0:
        return {k: np.zeros(0) for k in out}
    return {k: np.concatenate(v) for k, v in out.items()}


def _blockers(rng: np.random.Generator, box: np.ndarray, rects: np.ndarray, density: float,
              h_rng, w_rng, walk: np.ndarray) -> np.ndarray:
    """Blockers (N, 4) = (x, y, height, width): Poisson in the street area of ``box``.

    Blockers overlapping the walk itself are dropped (the pedestrian walks
    around them).
    """
    area = (box[2] - box[0]) * (box[3] - box[1])
    n = rng.poisson(density * area)
    xy = rng.uniform(box[:2], box[2:], size=(n, 2))
    h = rng.uniform(*h_rng, size=n)
    w = rng.uniform(*w_rng, size=n)
    inb = np.zeros(n, dtype=bool)
    for xmin, ymin, xmax, ymax in rects:
        inb |= (xy[:, 0] > xmin) & (xy[:, 0] < xmax) & (xy[:, 1] > ymin) & (xy[:, 1] < ymax)
    keep = ~inb
    if n:
        d2 = np.min(((xy[:, None, :] - walk[None, :, :]) ** 2).sum(-1), axis=1)
        keep &= d2 > (w / 2 + 0.5) ** 2
    return np.column_stack([xy, h, w])[keep]


def _blocked_count(paths: dict, blk: list[np.ndarray], npaths: int) -> np.ndarray:
    """Number of blockers each path crosses below the blocker's height, per realisation.

    ``blk[r]`` holds the blockers (x, y, height, width) of realisation ``r``;
    returns (len(blk), npaths). A blocker is crossed when the 2D leg passes
    within half its width of its centre and the ray there is lower than it.
    Only the part of each leg lower than the tallest blocker is tested, in
    spatially sorted chunks against the blockers inside the chunk's box.
    """
    R1 = len(blk)
    cnt = np.zeros((R1, npaths))
    allb = np.concatenate([np.column_stack([b, np.full(len(b), r)]) for r, b in enumerate(blk)])
    if len(allb) == 0 or len(paths["a"]) == 0:
        return cnt
    hmax, rmax = allb[:, 2].max(), allb[:, 3].max() / 2
    a, b, ha, hb, lp = paths["a"], paths["b"], paths["ha"], paths["hb"], paths["leg_path"]
    sel = np.minimum(ha, hb) < hmax
    a, b, ha, hb, lp = a[sel], b[sel], ha[sel], hb[sel], lp[sel]
    # clip every leg to its sub-segment where the ray is below hmax (heights are linear along a leg)
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = np.where(ha != hb, (hmax - ha) / (hb - ha), 0.0)
    t0 = np.where(ha > hmax, tc, 0.0)
    t1 = np.where(hb > hmax, tc, 1.0)
    d = b - a
    a2, b2 = a + t0[:, None] * d, a + t1[:, None] * d
    ha2, hb2 = ha + t0 * (hb - ha), ha + t1 * (hb - ha)
    mid = (a2 + b2) / 2
    order = np.lexsort((np.floor(mid[:, 0] / 40.0), np.floor(mid[:, 1] / 40.0)))
    a2, b2, ha2, hb2, lp = a2[order], b2[order], ha2[order], hb2[order], lp[order]
    for start in range(0, len(a2), 256):
        A, B = a2[start:start + 256], b2[start:start + 256]
        lo = np.minimum(A, B).min(0) - rmax
        hi = np.maximum(A, B).max(0) + rmax
        inb = allb[(allb[:, 0] > lo[0]) & (allb[:, 0] < hi[0]) & (allb[:, 1] > lo[1]) & (allb[:, 1] < hi[1])]
        if len(inb) == 0:
            continue
        HA, HB = ha2[start:start + 256], hb2[start:start + 256]
        dd = B - A
        L2 = np.maximum((dd ** 2).sum(1), 1e-12)
        rx = inb[None, :, 0] - A[:, 0:1]
        ry = inb[None, :, 1] - A[:, 1:2]
        t = np.clip((rx * dd[:, 0:1] + ry * dd[:, 1:2]) / L2[:, None], 0.0, 1.0)
        dist2 = (rx - t * dd[:, 0:1]) ** 2 + (ry - t * dd[:, 1:2]) ** 2
        hit = (dist2 < (inb[None, :, 3] / 2) ** 2) & (HA[:, None] + t * (HB - HA)[:, None] < inb[None, :, 2])
        li, bi = np.nonzero(hit)
        np.add.at(cnt, (inb[bi, 4].astype(int), lp[start:start + 256][li]), 1.0)
    return cnt


def _dirichlet(x: np.ndarray, n: int) -> np.ndarray:
    r""":math:`\frac1n \sum_{m=0}^{n-1} e^{j\pi m x}` (array factor of an n-element half-wavelength ULA)."""
    s = np.sin(np.pi * x / 2)
    small = np.abs(s) < 1e-9
    ratio = np.where(small, np.cos(n * np.pi * x / 2) / np.where(small, np.cos(np.pi * x / 2), 1.0),
                     np.sin(n * np.pi * x / 2) / (n * np.where(small, 1.0, s)))
    return np.exp(1j * np.pi * (n - 1) * x / 2) * ratio


def _codebook(p: Mapping) -> tuple[np.ndarray, np.ndarray, int, int]:
    step = p["beam_step"]
    az = np.arange(-p["az_max"], p["az_max"] + 1e-9, step)
    el = np.arange(p["el_min"], 1e-9, step)
    EL, AZ = np.meshgrid(np.deg2rad(el), np.deg2rad(az), indexing="ij")  # beam b = iel * nAz + iaz
    u = (np.cos(EL) * np.sin(AZ)).ravel()
    v = np.sin(EL).ravel()
    return u, v, len(el), len(az)


def _tracking(snr: np.ndarray, p: Mapping, n_el: int, n_az: int, snr_thr: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full training and Algorithm 2 for every (point, BS).

    ``snr``: (n_pts, NB, n_beams) linear SNR of every codebook beam. Returns,
    for points 1..n_pts-1: best SNR (full training), SNR after tracking from
    the previous point's best beam, and the number of beams tested.
    """
    n_pts, NB, nb = snr.shape
    best = snr.argmax(-1)  # (n_pts, NB)
    best_snr = np.take_along_axis(snr, best[..., None], -1)[..., 0]
    r = int(round(p["track_span"] / p["beam_step"]))
    offs = [(de, da) for de in range(-r, r + 1) for da in range(-r, r + 1) if (de, da) != (0, 0)]
    offs.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, abs(o[0]), o[0], o[1]))
    offs = np.array([(0, 0)] + offs)  # the previous beam first: measured at no cost
    prev = best[:-1]  # (n_pts-1, NB)
    pe, pa = prev // n_az, prev % n_az
    ne = pe[..., None] + offs[:, 0]
    na = pa[..., None] + offs[:, 1]
    valid = (ne >= 0) & (ne < n_el) & (na >= 0) & (na < n_az)
    nidx = np.where(valid, ne * n_az + na, 0)
    cand = np.take_along_axis(snr[1:], nidx, -1)
    cand = np.where(valid, cand, -1.0)
    meets = cand >= snr_thr
    any_meets = meets.any(-1)
    first = meets.argmax(-1)  # first meeting beam in distance order (index 0: previous beam)
    # tested beams: neighbours up to and including the first that meets (previous beam is free)
    nvalid_before = np.cumsum(valid, -1) - valid[..., 0:1]  # valid neighbours up to position k
    x_meet = np.take_along_axis(nvalid_before, first[..., None], -1)[..., 0]
    x_fail = valid[..., 1:].sum(-1)
    x = np.where(any_meets, x_meet, x_fail)
    snr_tr = np.where(any_meets, np.take_along_axis(cand, first[..., None], -1)[..., 0], cand.max(-1))
    return best_snr, np.maximum(snr_tr, 0.0), x


def simulate(params: Mapping, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw one trajectory scenario and ``1 + n_train`` channel realisations of it.

    Returns rates, tracking results and geometry; see :class:`TrajectoryAssoc`
    for the keys. Deterministic given ``rng``.
    """
    p = dict(DEFAULTS)
    p.update(params)
    M, NB, R = int(p["M"]), int(p["NB"]), int(p["n_train"])
    if M < 1 or NB < 1 or R < 0:
        raise MmoptError(f"trajectory-assoc: need M >= 1, NB >= 1, n_train >= 0 (got {M}, {NB}, {R})")
    P = p["block"] + p["street"]
    lam_c = C_LIGHT / p["fc"]
    step = p["speed"] * p["t_slot"]
    nodes = int(p["grid_nodes"])

    walk = _street_walk(M + 1, step, rng, P, nodes, p["ue_offset"])  # point 0: just before slot 1
    rects_all = _blocks(P, p["block"], nodes)
    noise = 10 ** ((p["n0_dbm_hz"] + p["noise_figure_db"] - 30) / 10) * p["bandwidth"]
    p_tx = 10 ** ((p["p_tx_dbm"] - 30) / 10)
    n_ant = int(p["n_ant"])
    snr_scale = p_tx * n_ant ** 2 / noise  # full array gain n_ant^2 times |a^H w|^2 <= 1
    cover_snr = 10 ** (p["coverage_snr_db"] / 10)
    best = None
    for attempt in range(int(p["placement_tries"])):
        bs, nrm = _place_bs(walk, NB, rng, P, p["street"], p["bs_placement"])
        pts = np.vstack([walk, bs])
        box = np.concatenate([pts.min(0) - P, pts.max(0) + P])
        keep = ((rects_all[:, 2] > box[0]) & (rects_all[:, 0] < box[2])
                & (rects_all[:, 3] > box[1]) & (rects_all[:, 1] < box[3]))
        rects = rects_all[keep]
        paths = _paths(walk, bs, nrm, rects, p["h_bs"], p["h_ue"])
        npaths = len(paths["d"])
        # coverage without blockers: some path of some BS reaches coverage_snr at every point
        g0 = (lam_c / (4 * np.pi * paths["d"])) ** 2 * 10 ** (-p["refl_loss_db"] * paths["refl"] / 10)
        good = snr_scale * g0 >= cover_snr
        covered = np.zeros(M + 1, dtype=bool)
        covered[paths["ue"][good].astype(int)] = True
        if best is None or covered.sum() > best[0]:
            best = (covered.sum(), bs, nrm, rects, paths, g0)
        if covered.all():
            break
    _, bs, nrm, rects, paths, g0 = best
    npaths = len(paths["d"])

    # realisation-independent part of every path: free-space amplitude, phase, wall loss
    c0 = np.sqrt(g0) * np.exp(-2j * np.pi * paths["d"] / lam_c)
    snr_thr = 10 ** (p["snr_thr_db"] / 10)
    u_b, v_b, n_el, n_az = _codebook(p)

    # blockers of every realisation (0: the instance, 1..R: training)
    box_st = np.concatenate([walk.min(0) - P, walk.max(0) + P])
    loss_blk = 10 ** (-p["blocker_loss_db"] / 20)
    blk = [_blockers(rng, box_st, rects, p["blocker_density"], p["blocker_h"], p["blocker_w"], walk)
           for _ in range(R + 1)]
    amps = c0[None, :] * loss_blk ** _blocked_count(paths, blk, npaths)

    rate = np.zeros((R + 1, M, NB))
    rate_tr = np.zeros((R + 1, M, NB))
    tau_tr = np.zeros((R + 1, M, NB))
    best0 = np.zeros(NB)
    for j in range(NB):
        sel = np.nonzero(paths["bs"] == j)[0] if npaths else np.zeros(0, dtype=int)
        if len(sel):
            Dv = _dirichlet(v_b[None, ::n_az] - paths["vz"][sel, None], n_ant)  # (L, n_el)
            K = _dirichlet(u_b[None, :] - paths["ux"][sel, None], n_ant) * np.repeat(Dv, n_az, axis=1)
            rows = paths["ue"][sel].astype(int)
        for r in range(R + 1):
            if len(sel):
                S = sp.csr_matrix((amps[r, sel], (rows, np.arange(len(sel)))), shape=(M + 1, len(sel)))
                snr = snr_scale * np.abs(S @ K) ** 2  # (M + 1, beams)
            else:
                snr = np.zeros((M + 1, len(u_b)))
            best_snr, snr_tr, x = _tracking(snr[:, None, :], p, n_el, n_az, snr_thr)
            rate[r, :, j] = np.log2(1 + best_snr[1:, 0])
            rate_tr[r, :, j] = np.log2(1 + snr_tr[:, 0])
            tau_tr[r, :, j] = p["beta"] * x[:, 0]
            if r == 0:
                best0[j] = best_snr[0, 0]
    init = -1 if p["initial_access"] else int(np.argmax(best0))
    return {
        "rate": rate[0], "rate_track": rate_tr[0], "tau_track": tau_tr[0],
        "tau_ho": np.array(p["tau_c"] / 3), "tau_c": np.array(float(p["tau_c"])),
        "gamma_thr": np.array(float(p["gamma_thr"])), "lam": np.array(float(p["lam"])),
        "initial_bs": np.array(init, dtype=np.int64), "snr_thr": np.array(float(snr_thr)),
        "beta": np.array(float(p["beta"])),
        "train_rate": rate[1:].astype(np.float32),
        "train_rate_track": rate_tr[1:].astype(np.float32),
        "train_tau_track": tau_tr[1:].astype(np.float32),
        "ue_xy": walk[1:].copy(), "bs_xy": bs, "bs_normal": nrm,
    }


# ---------------------------------------------------------------------------
# The problem
# ---------------------------------------------------------------------------

_PAPER_SWEEP = ([{"M": m, "NB": 10} for m in (100, 200, 300, 400, 500)]
                + [{"M": 300, "NB": nb} for nb in range(3, 10)])

STATEMENT = r"""
Choose the serving BS $j_i \in \{0, \dots, N_B - 1\}$ of every slot $i = 1..M$ of a
pedestrian trajectory (one BS per slot, eqs. (5b)-(5c); `serving[i-1]` $= j_i$),
with $j_0$ = `initial_bs` the BS serving before slot 1 ($-1$: slot 1 is an initial
access, counted like a handover). A slot is a *handover* when $j_i \ne j_{i-1}$.
The throughput per Hz of slot $i$ is (eq. (3))

$$\Gamma_i = \Bigl(1 - \frac{\tau_{b,i}}{\tau_c}\Bigr) R_i,\qquad
(\tau_{b,i}, R_i) = \begin{cases}(\tau_{HO},\ \mathrm{rate}_{i j_i}) & j_i \ne j_{i-1},\\
(\tau^{tr}_{i j_i},\ \mathrm{rate}^{tr}_{i j_i}) & j_i = j_{i-1},\end{cases}$$

with $\tau_{HO} = \tau_c/3$ (initial beam training) and $\tau^{tr}_{ij} = \beta x_{ij}$
the beam-tracking time of Algorithm 2 ($x_{ij}$ beam pairs tested in the
$(\pm 10^\circ, \pm 10^\circ)$ neighbourhood of the previous best beam, at $5^\circ$
resolution, in order of distance, stopping at the first beam that meets
$\mathrm{SNR}_{thr}$; $x = 0$ when the previous beam still meets it). Maximise (eq. (5a))

$$F_1 - \lambda F_2 = \sum_{i=1}^{M} \Gamma_i \;-\; \lambda\, \bigl|\{i : \Gamma_i \le \Gamma_{thr}\}\bigr|,$$

$\lambda = 100$, $\Gamma_{thr} = 1$ bit/s/Hz, $\mathrm{SNR}_{thr} = 2$ dB, $\tau_c = 10$ ms,
$\beta = 10\ \mu$s (Table I). Assumption: after a handover the UE uses the best
beam of the new BS; when it stays, tracking starts from the best beam of the
previous slot, so $\mathrm{rate}$, $\mathrm{rate}^{tr}$, $\tau^{tr}$ depend on
(slot, BS) only and eq. (5) is a longest path over (slot, BS): dynamic
programming is exact in $O(M N_B)$. Feasibility: every `serving` entry is a BS
index in $0..N_B-1$. Full statement: `problems/trajectory.tex`.
""".strip()


@problem
class TrajectoryAssoc(Problem):
    """Serving BS per slot along a trajectory: throughput minus lambda x slots under threshold (eq. (5))."""

    name = "trajectory-assoc"
    title = "Throughput-constrained trajectory association with handover and beam-tracking overheads"
    paper = ("S. Khosravi, H. S. Ghadikolaei, J. Zander, M. Petrova, \"Reinforcement learning-based joint "
             "handover and beam tracking in millimeter-wave networks\", arXiv:2301.05305 (2023), "
             "eqs. (3), (5), Algorithm 2, Table I.")
    statement = STATEMENT
    instance_keys = (
        Key("rate", "float64", ("M", "NB"), "bit/s/Hz",
            "log2(1+SNR) with BS j at slot i after full beam training (best codebook beam)"),
        Key("rate_track", "float64", ("M", "NB"), "bit/s/Hz",
            "log2(1+SNR) when staying with BS j at slot i, after beam tracking (Algorithm 2); "
            "equal to `rate` when absent", required=False),
        Key("tau_track", "float64", ("M", "NB"), "s",
            "beam-tracking time beta x (x beam pairs tested) when staying with BS j at slot i"),
        Key("tau_ho", "float64", (), "s", "handover (initial beam training) time, tau_c / 3"),
        Key("tau_c", "float64", (), "s", "coherence time / slot frame of eq. (3)"),
        Key("gamma_thr", "float64", (), "bit/s/Hz", "throughput threshold Gamma_thr"),
        Key("lam", "float64", (), "-", "penalty lambda per slot with Gamma_i <= Gamma_thr"),
        Key("initial_bs", "int64", (), "-",
            "BS serving before slot 1; -1: slot 1 is an initial access (counted as a handover)"),
        Key("snr_thr", "float64", (), "-",
            "SNR_thr as a linear ratio (2 dB); a link whose rate_track < log2(1+snr_thr) is blocked "
            "(used by online baselines)", required=False),
        Key("beta", "float64", (), "s", "time per tested beam pair (tau_track = beta x)", required=False),
        Key("train_rate", "float32", ("R", "M", "NB"), "bit/s/Hz",
            "`rate` in R other channel realisations of the same trajectory (other blockers), "
            "for offline learning", required=False),
        Key("train_rate_track", "float32", ("R", "M", "NB"), "bit/s/Hz",
            "`rate_track` in the training realisations", required=False),
        Key("train_tau_track", "float32", ("R", "M", "NB"), "s",
            "`tau_track` in the training realisations", required=False),
        Key("ue_xy", "float64", ("M", 2), "m", "UE position at slot i (street grid frame)", required=False),
        Key("bs_xy", "float64", ("NB", 2), "m", "BS position (6 m above ground)", required=False),
        Key("bs_normal", "float64", ("NB", 2), "-", "outward wall normal = UPA boresight", required=False),
    )
    solution_keys = (
        Key("serving", "int64", ("M",), "-", "serving BS j_i of slot i (0-based)"),
    )
    suites = {
        "smoke": Suite("smoke", 8, {"M": 20, "NB": 3, "n_train": 2, "bs_placement": "box",
                                    "sweep": [{"initial_access": True}, {"initial_access": False}]},
                       seed=4001, doc="M = 20 slots, NB = 3 BSs; even indices start with an initial access, "
                                      "odd ones served by the best BS before slot 1"),
        "small": Suite("small", 20, {"M": 100, "NB": 6, "n_train": 4}, seed=4002,
                       doc="M = 100 slots, NB = 6 BSs"),
        "paper": Suite("paper", 48, {"n_train": 4, "sweep": _PAPER_SWEEP}, seed=4003,
                       doc="the paper's Figs. 3-5: trajectory lengths 100..500 slots with NB = 10, and "
                           "NB = 3..9 at 300 slots (instance i uses sweep entry i mod 12; 4 realisations each)"),
    }
    metric_docs = {
        "aggregate_gamma": "F1 = sum_i Gamma_i, aggregate throughput per Hz along the trajectory (bit/s/Hz)",
        "handovers": "number of slots with j_i != j_{i-1}, the initial access (initial_bs = -1) not counted",
        "slots_below_thr": "F2 = number of slots with Gamma_i <= Gamma_thr",
    }

    # -- generation (suites with a "sweep" vary M and NB by index: Problem.instance_params) --
    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return simulate(params, rng)

    # -- validation -------------------------------------------------------
    def validate_instance(self, instance, dims) -> None:
        NB = dims["NB"]
        tau_c, tau_ho = _scalar(instance, "tau_c"), _scalar(instance, "tau_ho")
        if not tau_c > 0:
            raise InputError(f"instance of '{self.name}': tau_c must be > 0, got {tau_c}")
        if not 0 <= tau_ho <= tau_c:
            raise InputError(f"instance of '{self.name}': tau_ho must be in [0, tau_c], got {tau_ho}")
        tt = instance["tau_track"]
        if tt.size and (tt.min() < 0 or tt.max() > tau_c):
            raise InputError(f"instance of '{self.name}': tau_track must be in [0, tau_c]")
        for k in ("rate", "rate_track"):
            if k in instance and instance[k].size and instance[k].min() < 0:
                raise InputError(f"instance of '{self.name}': '{k}' must be >= 0")
        ib = int(instance["initial_bs"])
        if not -1 <= ib < NB:
            raise InputError(f"instance of '{self.name}': initial_bs must be -1 or a BS index < {NB}, got {ib}")
        if _scalar(instance, "lam") < 0:
            raise InputError(f"instance of '{self.name}': lam must be >= 0")

    # -- feasibility and value --------------------------------------------
    def constraints(self, instance, solution, tol, report) -> None:
        NB = instance["rate"].shape[1]
        s = solution["serving"]
        bad = np.nonzero((s < 0) | (s >= NB))[0]
        for i in bad:
            size = float(-s[i]) if s[i] < 0 else float(s[i] - NB + 1)
            report.add("serving BS in 0..NB-1 (5b)-(5c)", size, f"slot {i}: serving = {int(s[i])}")

    def objective(self, instance, solution) -> float:
        g, _ = gamma_of(instance, solution["serving"])
        return float(g.sum() - _scalar(instance, "lam") * np.count_nonzero(g <= _scalar(instance, "gamma_thr")))

    def metrics(self, instance, solution) -> dict[str, float]:
        g, ho = gamma_of(instance, solution["serving"])
        n_ho = int(ho.sum()) - int(int(instance["initial_bs"]) < 0 and len(ho) > 0)
        return {"aggregate_gamma": float(g.sum()), "handovers": float(n_ho),
                "slots_below_thr": float(np.count_nonzero(g <= _scalar(instance, "gamma_thr")))}

r"""Scenario of ``trajectory-assoc``: Manhattan street grid, BSs, walk, blockers, rates (Table I).

Khosravi et al., Sec. II and Table I; the model is stated in
:mod:`mmopt.problems.trajectory_assoc.problem`.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.sparse as sp

from mmopt import phy
from mmopt.api import InputError, MmoptError


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
    "n_train": 50,             # stored training realisations (train_* keys) for offline learning
    "n_val": 1,                # stored validation realisations (val_* keys) for model selection
}


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
    ok = front & ~phy.segments_hit_rects(A, B, rects)
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
        blocked = phy.segments_hit_rects(bs[bi], R, rects) | phy.segments_hit_rects(R, U, rects)
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


def _codebook(p: Mapping) -> tuple[np.ndarray, np.ndarray, int, int]:
    step = p["beam_step"]
    az = np.arange(-p["az_max"], p["az_max"] + 1e-9, step)
    el = np.arange(p["el_min"], 1e-9, step)
    EL, AZ = np.meshgrid(np.deg2rad(el), np.deg2rad(az), indexing="ij")  # beam b = iel * nAz + iaz
    u = (np.cos(EL) * np.sin(AZ)).ravel()
    v = np.sin(EL).ravel()
    return u, v, len(el), len(az)


def _tracking(snr: np.ndarray, p: Mapping, n_el: int, n_az: int, snr_thr: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full training and Algorithm 2 for every (point, BS).

    ``snr``: (n_pts, NB, n_beams) linear SNR of every codebook beam. Returns,
    for points 1..n_pts-1: best SNR (full training), SNR after tracking from
    the previous point's best beam, the number of beams tested, and the SNR of
    the previous point's best beam itself (before tracking: what the UE
    measures on the beam it keeps, Alg. 1's trigger).
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
    return best_snr, np.maximum(snr_tr, 0.0), x, np.maximum(cand[..., 0], 0.0)


def _params(params: Mapping | None) -> dict:
    p = dict(DEFAULTS)
    p.update(params or {})
    return p


def _geometry(walk: np.ndarray, bs: np.ndarray, nrm: np.ndarray, p: Mapping) -> dict:
    """Everything of a trajectory that no realisation changes: buildings, paths, their blocker-free gains.

    ``walk`` (M + 1, 2) includes the point before slot 1. Deterministic (no
    random draw), so :func:`draw_realisations` rebuilds it from an instance's
    stored positions.
    """
    P = p["block"] + p["street"]
    nodes = int(p["grid_nodes"])
    lam_c = phy.wavelength(p["fc"])
    rects_all = _blocks(P, p["block"], nodes)
    pts = np.vstack([walk, bs])
    box = np.concatenate([pts.min(0) - P, pts.max(0) + P])
    keep = ((rects_all[:, 2] > box[0]) & (rects_all[:, 0] < box[2])
            & (rects_all[:, 3] > box[1]) & (rects_all[:, 1] < box[3]))
    rects = rects_all[keep]
    paths = _paths(walk, bs, nrm, rects, p["h_bs"], p["h_ue"])
    g0 = phy.fspl_amplitude(paths["d"], lam_c) ** 2 * phy.db2lin(-p["refl_loss_db"] * paths["refl"])
    return {"walk": walk, "bs": bs, "nrm": nrm, "rects": rects, "paths": paths, "g0": g0,
            "box_st": np.concatenate([walk.min(0) - P, walk.max(0) + P])}


def _snr_scale(p: Mapping) -> float:
    noise = phy.thermal_noise_w(p["bandwidth"], p["noise_figure_db"], p["n0_dbm_hz"])
    n_ant = int(p["n_ant"])
    return float(phy.dbm2w(p["p_tx_dbm"])) * n_ant ** 2 / noise  # full array gain n_ant^2 times |a^H w|^2 <= 1


def _draw_blockers(geom: dict, p: Mapping, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """The temporary blockers of ``count`` channel realisations (one draw each)."""
    return [_blockers(rng, geom["box_st"], geom["rects"], p["blocker_density"], p["blocker_h"], p["blocker_w"],
                      geom["walk"]) for _ in range(count)]


def _realise(geom: dict, blk: list[np.ndarray], p: Mapping) -> dict[str, np.ndarray]:
    """Rates of every realisation ``blk[r]``: full training, Algorithm 2, the kept beam (each (R, M, NB)).

    Also ``best0`` (R, NB): best-beam SNR at the point before slot 1.
    """
    paths, walk = geom["paths"], geom["walk"]
    M, NB, R = len(walk) - 1, len(geom["bs"]), len(blk)
    npaths = len(paths["d"])
    lam_c = phy.wavelength(p["fc"])
    n_ant = int(p["n_ant"])
    snr_scale = _snr_scale(p)
    # realisation-independent part of every path: free-space amplitude, phase, wall loss
    c0 = np.sqrt(geom["g0"]) * np.exp(-2j * np.pi * paths["d"] / lam_c)
    snr_thr = float(phy.db2lin(p["snr_thr_db"]))
    u_b, v_b, n_el, n_az = _codebook(p)
    loss_blk = float(phy.db2amp(-p["blocker_loss_db"]))
    amps = c0[None, :] * loss_blk ** _blocked_count(paths, blk, npaths)
    out = {k: np.zeros((R, M, NB)) for k in ("rate", "rate_track", "tau_track", "rate_keep")}
    best0 = np.zeros((R, NB))
    for j in range(NB):
        sel = np.nonzero(paths["bs"] == j)[0] if npaths else np.zeros(0, dtype=int)
        if len(sel):
            Dv = phy.ula_array_factor(v_b[None, ::n_az] - paths["vz"][sel, None], n_ant)  # (L, n_el)
            K = phy.ula_array_factor(u_b[None, :] - paths["ux"][sel, None], n_ant) * np.repeat(Dv, n_az, axis=1)
            rows = paths["ue"][sel].astype(int)
        for r in range(R):
            if len(sel):
                S = sp.csr_matrix((amps[r, sel], (rows, np.arange(len(sel)))), shape=(M + 1, len(sel)))
                snr = snr_scale * np.abs(S @ K) ** 2  # (M + 1, beams)
            else:
                snr = np.zeros((M + 1, len(u_b)))
            best_snr, snr_tr, x, snr_keep = _tracking(snr[:, None, :], p, n_el, n_az, snr_thr)
            out["rate"][r, :, j] = np.log2(1 + best_snr[1:, 0])
            out["rate_track"][r, :, j] = np.log2(1 + snr_tr[:, 0])
            out["tau_track"][r, :, j] = p["beta"] * x[:, 0]
            out["rate_keep"][r, :, j] = np.log2(1 + snr_keep[:, 0])
            best0[r, j] = best_snr[0, 0]
    out["best0"] = best0
    return out


#: instance keys of one realisation, and their prefixes for the stored training / validation realisations
REALISATION_KEYS = ("rate", "rate_track", "tau_track", "rate_keep")


def simulate(params: Mapping, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw one trajectory scenario and ``1 + n_train + n_val`` channel realisations of it.

    Realisation 0 is the instance (``rate``, ``rate_track``, ``tau_track``,
    ``rate_keep``); the next ``n_train`` are the ``train_*`` keys and the last
    ``n_val`` the ``val_*`` keys (same streets, BSs and walk, other blockers).
    Returns rates, tracking results and geometry; see :class:`TrajectoryAssoc`
    for the keys. Deterministic given ``rng``.
    """
    p = _params(params)
    M, NB, R, V = int(p["M"]), int(p["NB"]), int(p["n_train"]), int(p["n_val"])
    if M < 1 or NB < 1 or R < 0 or V < 0:
        raise MmoptError(f"trajectory-assoc: need M >= 1, NB >= 1, n_train >= 0, n_val >= 0 "
                         f"(got {M}, {NB}, {R}, {V})")
    P = p["block"] + p["street"]
    step = p["speed"] * p["t_slot"]
    nodes = int(p["grid_nodes"])

    walk = _street_walk(M + 1, step, rng, P, nodes, p["ue_offset"])  # point 0: just before slot 1
    snr_scale = _snr_scale(p)
    cover_snr = float(phy.db2lin(p["coverage_snr_db"]))
    best = None
    for attempt in range(int(p["placement_tries"])):
        bs, nrm = _place_bs(walk, NB, rng, P, p["street"], p["bs_placement"])
        geom = _geometry(walk, bs, nrm, p)
        paths = geom["paths"]
        # coverage without blockers: some path of some BS reaches coverage_snr at every point
        good = snr_scale * geom["g0"] >= cover_snr
        covered = np.zeros(M + 1, dtype=bool)
        covered[paths["ue"][good].astype(int)] = True
        if best is None or covered.sum() > best[0]:
            best = (covered.sum(), geom)
        if covered.all():
            break
    geom = best[1]

    # blockers of every realisation (0: the instance, 1..R: training, R+1..R+V: validation)
    real = _realise(geom, _draw_blockers(geom, p, rng, R + V + 1), p)
    snr_thr = float(phy.db2lin(p["snr_thr_db"]))
    init = -1 if p["initial_access"] else int(np.argmax(real["best0"][0]))
    out = {
        "rate": real["rate"][0], "rate_track": real["rate_track"][0], "tau_track": real["tau_track"][0],
        "rate_keep": real["rate_keep"][0],
        "tau_ho": np.array(p["tau_c"] / 3), "tau_c": np.array(float(p["tau_c"])),
        "gamma_thr": np.array(float(p["gamma_thr"])), "lam": np.array(float(p["lam"])),
        "initial_bs": np.array(init, dtype=np.int64), "snr_thr": np.array(float(snr_thr)),
        "beta": np.array(float(p["beta"])),
    }
    for prefix, sl in (("train_", slice(1, R + 1)), ("val_", slice(R + 1, R + V + 1))):
        for k in REALISATION_KEYS:
            out[prefix + k] = real[k][sl].astype(np.float32)
    out.update({"ue_xy": walk[1:].copy(), "ue_start": walk[0].copy(), "bs_xy": geom["bs"],
                "bs_normal": geom["nrm"]})
    return out


def trajectory_geometry(instance: Mapping[str, np.ndarray], params: Mapping | None = None) -> dict:
    """The realisation-independent geometry of an instance's trajectory (buildings, paths), for
    :func:`draw_realisations`; rebuilt from the stored ``ue_start``, ``ue_xy``, ``bs_xy``, ``bs_normal``.

    ``params``: the generator parameters (default: the instance's
    ``meta["params"]`` where it has one, else :data:`DEFAULTS`).
    """
    for k in ("ue_start", "ue_xy", "bs_xy", "bs_normal"):
        if k not in instance:
            raise MmoptError(f"trajectory-assoc: drawing realisations needs the geometry key '{k}' "
                             "(instances generated by this version of the scenario have it)")
    if params is None:
        meta = getattr(instance, "meta", None) or {}
        params = meta.get("params") if isinstance(meta.get("params"), Mapping) else None
    p = _params(params)
    walk = np.vstack([np.asarray(instance["ue_start"], dtype=np.float64).reshape(1, 2),
                      np.asarray(instance["ue_xy"], dtype=np.float64)])
    geom = _geometry(walk, np.asarray(instance["bs_xy"], dtype=np.float64),
                     np.asarray(instance["bs_normal"], dtype=np.float64), p)
    geom["params"] = p
    return geom


def draw_realisations(instance: Mapping[str, np.ndarray], seed, count: int = 1, params: Mapping | None = None,
                      geometry: dict | None = None) -> dict[str, np.ndarray]:
    """New channel realisations of an instance's trajectory (same streets, BSs and walk; new blockers).

    The geometry is rebuilt from the instance's stored positions (see
    :func:`trajectory_geometry`; pass ``geometry`` to reuse one); the blockers
    are drawn from ``numpy.random.default_rng(seed)`` (an int, a
    ``SeedSequence`` or a ``Generator``), so a seed always gives the same
    realisations. Seeds are independent of the suite seeds that drew the
    instance's own realisations (the evaluated one, ``train_*`` and ``val_*``):
    a drawn realisation equals one of them only by chance (probability zero,
    the blockers being continuous random variables).

    Returns
    -------
    dict
        ``rate``, ``rate_track``, ``tau_track``, ``rate_keep``: float64 arrays
        (count, M, NB), the instance keys of each realisation.
    """
    geom = geometry if geometry is not None else trajectory_geometry(instance, params)
    p = geom["params"]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    real = _realise(geom, _draw_blockers(geom, p, rng, int(count)), p)
    return {k: real[k] for k in REALISATION_KEYS}

r"""The paper's highway layout of ``highway-sector-beams`` (MACOL, Kose et al.).

A. Kose, H. Lee, C. H. Foh, M. Shojafar, "Multi-agent context learning
strategy for interference-aware beam allocation in mmWave vehicular
communications" (MACOL, arXiv:2401.02323): the highway of 6 base stations
with 3 sector beams each (18 beams) over 6 lanes, and the arrays of a
problem instance that describe it. Built on the sector geometry of
:mod:`mmopt.problems.highway_sector_beams.analysis`:

* :func:`paper_layout`, :func:`layout_beams`, :func:`layout_road` -- the
  road, lanes, base stations and beams as instance arrays, and as the
  :class:`~mmopt.problems.highway_sector_beams.analysis.Beam` and
  :class:`~mmopt.problems.highway_sector_beams.analysis.Road` of the analysis;
* :func:`layout_neighbours` -- the beams that can interfere with each beam,
  the mask of eq. (14) (``on="road"``: a positive eq. (8) overlap area);
* :func:`layout_service_distance_cdf`, :func:`layout_mean_service_distance`
  -- the road-area-weighted mixture over the beams of the service-distance
  CDF, eqs. (3)-(4) for p = 0 and (10)-(12) otherwise, and of its mean;
* :func:`lane_coverage` -- the length of each lane inside each beam;
* :func:`analysed_beam`, :func:`analysed_service_distance_cdf`,
  :func:`analysed_mean_service_distance` -- the one beam Figs. 4-5 analyse
  and its eq. (10)-(12) CDF against its neighbours. Every CDF here assumes
  that a connection starts uniformly on the road part of the beam
  (eq. (12)); simulated connections start where the beam picks the
  vehicle, often at the beam's entrance;
* ``LAYOUTS`` -- the named layouts, ``GENERATOR_VERSION`` -- the version
  of the instances they generate;
* ``RADIO_DEFAULTS`` -- the radio parameters (Table II) and the eq. (1)
  path loss; ``MOBILITY_DEFAULTS`` -- vehicle speeds and the time step.

The default layout, ``layout="paper"``, is the authors' own: the highway of
their published numerical code (C. H. Foh, https://github.com/cfoh/beam-analysis,
``numerical-check.py``, ``test10``/``test11``, the code cited under Fig. 3
of the paper): south BSs at x = 100, 220, 360 m and north BSs at x = 90,
210, 340 m, 40 m from the centre line (``D_k`` = 28 m from the road edge),
a 24 m road of 6 lanes of 4 m (3 per direction, lane centres at
|y| = 2, 6, 10 m; north lanes drive towards +x), beams of 80 m and 60
degrees pointing at 150, 90, 30 degrees (south BSs) and 210, 270, 330
degrees (north BSs). The section is 480 m long (x from 0 to 480 m; the
numerical code fixes no section, 480 m holds every beam's stretch of lane,
x = 16..434 m). Every beam covers about 46 m of a
lane on average (:func:`lane_coverage`). The paper analyses one beam, the
north-pointing beam of the middle south BS (``beam[1][1]`` in the authors'
code), against the 3 beams of the BS opposite it (``beam[4][0..2]``):
:func:`analysed_beam`.

``layout="mmopt-v1"`` is the layout of generator version 1, a guess made
before the authors' code was found (BS spacing 150 m per side, staggered
by 75 m, BSs 4.5 m from the road edge, 3.5 m lanes, a 600 m section); its
north-pointing beams cover 17 m of a lane against 70 m for the diagonal
ones. It is kept for comparison only.

Beams are numbered as in the authors' code: the south BSs first, then the
north ones, each BS's 3 beams from west to east (beam ``3 s + j`` is beam
``j`` of BS ``s``). Radio: the eq. (1) path loss is the 3GPP TR 38.901 UMi
line-of-sight form :math:`PL = 32.4 + 20\log_{10} f_{GHz} + 21\log_{10} d`
(61.34 dB at 1 m, 21 dB/decade at 28 GHz), no shadowing; ideal sector
antennas (9 dB inside, nothing outside).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .analysis import TWO_PI, Beam, Road, beam_road_area, chord, mean_service_distance, service_distance_cdf

__all__ = [
    "GENERATOR_VERSION", "LAYOUTS", "LAYOUT_DEFAULTS", "RADIO_DEFAULTS", "MOBILITY_DEFAULTS", "paper_layout",
    "layout_beams", "layout_road", "layout_neighbours", "lane_coverage", "analysed_beam",
    "layout_service_distance_cdf", "layout_mean_service_distance", "analysed_service_distance_cdf",
    "analysed_mean_service_distance",
]

#: generator version of ``highway-sector-beams``: 1 = the ``mmopt-v1`` layout (a guess), BSs listed north
#: first; 2 = the authors' layout (``paper``), beams numbered as in the authors' code
GENERATOR_VERSION = 2

#: named layouts: ``paper`` (the authors' code, the default) and ``mmopt-v1`` (generator version 1)
LAYOUTS = {
    "paper": {
        "section_m": 480.0,
        "lanes_per_direction": 3,
        "lane_width_m": 4.0,
        "bs_offset_m": 28.0,  # D_k: from the BS to the road edge
        "bs_x_south_m": [100.0, 220.0, 360.0],
        "bs_x_north_m": [90.0, 210.0, 340.0],
        "beam_radius_m": 80.0,
        "beam_width_deg": 60.0,
        "beams_per_bs": 3,
    },
    "mmopt-v1": {
        "section_m": 600.0,
        "lanes_per_direction": 3,
        "lane_width_m": 3.5,
        "bs_offset_m": 4.5,
        "bs_x_south_m": [187.5, 337.5, 487.5],
        "bs_x_north_m": [112.5, 262.5, 412.5],
        "beam_radius_m": 80.0,
        "beam_width_deg": 60.0,
        "beams_per_bs": 3,
    },
}
LAYOUT_DEFAULTS = LAYOUTS["paper"]
RADIO_DEFAULTS = {
    "tx_power_dbm": 20.0,
    "beam_gain_db": 9.0,
    "noise_figure_db": 7.0,
    "bandwidth_mhz": 50.0,
    "sinr_threshold_db": -5.0,
    "carrier_ghz": 28.0,
    "pl_slope_db": 21.0,
}
MOBILITY_DEFAULTS = {"speed_kmh": [80.0, 110.0], "dt_s": 0.1}


def _layout_params(params: Mapping | None) -> dict:
    params = dict(params or {})
    name = str(params.get("layout", "paper"))
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout '{name}' (choose from {', '.join(LAYOUTS)})")
    return {**LAYOUTS[name], **params}


def paper_layout(params: Mapping | None = None) -> dict[str, np.ndarray]:
    """Layout arrays (road, lanes, BSs, beams) of the paper's highway.

    ``params["layout"]`` names a preset of ``LAYOUTS`` (default ``"paper"``,
    the authors' layout); the keys of the preset may be overridden one by one.
    Lanes with ``y >= 0`` (north) drive towards +x, the others towards -x.
    BSs are listed south first, then north, each side from west to east;
    each BS's beams from west to east: south BSs (facing north) at 150, 90,
    30 degrees, north BSs (facing south) at -150, -90, -30 degrees (for 3
    beams of 60 degrees), as in the authors' code.
    """
    P = _layout_params(params)
    nl = int(P["lanes_per_direction"])
    lw = float(P["lane_width_m"])
    half = nl * lw
    lane_y = np.concatenate([-(np.arange(nl)[::-1] + 0.5) * lw, (np.arange(nl) + 0.5) * lw])
    lane_dir = np.concatenate([-np.ones(nl, dtype=np.int64), np.ones(nl, dtype=np.int64)])
    yb = half + float(P["bs_offset_m"])
    bs = [(x, -yb) for x in sorted(P["bs_x_south_m"])] + [(x, yb) for x in sorted(P["bs_x_north_m"])]
    bs_xy = np.array(bs, dtype=float)
    k = int(P["beams_per_bs"])
    width = math.radians(float(P["beam_width_deg"]))
    offs = (np.arange(k) - (k - 1) / 2) * width
    theta, beam_bs = [], []
    for s, (_, y) in enumerate(bs):
        # west to east: a south BS (facing +90 deg) turns clockwise, a north BS (facing -90 deg) anticlockwise
        facing, turn = (math.pi / 2, -1.0) if y < 0 else (-math.pi / 2, 1.0)
        for o in offs:
            theta.append(math.remainder(facing + turn * o, TWO_PI))
            beam_bs.append(s)
    B = len(theta)
    return {
        "section": np.array([0.0, float(P["section_m"])]),
        "road_y": np.array([-half, half]),
        "lane_y": lane_y,
        "lane_dir": lane_dir,
        "bs_xy": bs_xy,
        "beam_bs": np.array(beam_bs, dtype=np.int64),
        "beam_theta": np.array(theta),
        "beam_radius": np.full(B, float(P["beam_radius_m"])),
        "beam_width": np.full(B, width),
    }


def layout_beams(instance: Mapping[str, np.ndarray]) -> list[Beam]:
    """The :class:`Beam` objects of an instance (or layout dict)."""
    xy = np.asarray(instance["bs_xy"])[np.asarray(instance["beam_bs"])]
    return [Beam(float(x), float(y), float(t), float(r), float(w)) for (x, y), t, r, w in
            zip(xy, instance["beam_theta"], instance["beam_radius"], instance["beam_width"])]


def layout_road(instance: Mapping[str, np.ndarray]) -> Road:
    """The :class:`Road` of an instance: ``y_split`` between the two directions' lanes."""
    ly = np.asarray(instance["lane_y"], dtype=float)
    ld = np.asarray(instance["lane_dir"])
    if (ld > 0).all() or (ld < 0).all():
        split = float(ly.min()) if (ld > 0).all() else float(ly.max()) + 1.0
    else:
        lo_pos, hi_neg = ly[ld > 0].min(), ly[ld < 0].max()
        if not lo_pos > hi_neg:
            raise ValueError("the +x lanes must all lie north of the -x lanes")
        split = 0.5 * (lo_pos + hi_neg)
    ry = np.asarray(instance["road_y"], dtype=float)
    return Road(float(ry[0]), float(ry[1]), split)


def layout_neighbours(instance: Mapping[str, np.ndarray], *, on: str = "lanes") -> list[list[int]]:
    """Beams that can interfere with each beam (the mask of eq. (14)).

    ``on="lanes"``: some point of a lane centre line is inside both sectors
    (what matters for the simulation); ``on="road"``: the chords overlap at
    some of 401 heights across the road band, i.e. a positive eq. (8)
    overlap area (what the analysis uses).
    """
    beams = layout_beams(instance)
    B = len(beams)
    out: list[list[int]] = [[] for _ in range(B)]
    if on == "road":
        road = layout_road(instance)
        ys = np.linspace(road.y_low, road.y_high, 401)  # both sectors' chords overlap on some y
        ch = [chord(bm, ys) for bm in beams]
    elif on == "lanes":
        ch = [chord(bm, np.asarray(instance["lane_y"], dtype=float)) for bm in beams]
    else:
        raise ValueError("on must be 'lanes' or 'road'")
    for b in range(B):
        for k in range(B):
            if k == b:
                continue
            lo = np.fmax(ch[b][0], ch[k][0])
            hi = np.fmin(ch[b][1], ch[k][1])
            if np.any(np.nan_to_num(hi - lo, nan=-1.0) > 1e-9):
                out[b].append(k)
    return out


def lane_coverage(instance: Mapping[str, np.ndarray]) -> np.ndarray:
    """Length (m) of each lane's centre line inside each beam, ``(B, K)``.

    In the authors' layout every beam covers 34.6 to 57.7 m of a lane, 46.2 m
    on average over the 6 lanes (north-pointing beams: ``2 tan(30 deg) d`` at
    distance ``d`` = 30..50 m from the BS).
    """
    ly = np.asarray(instance["lane_y"], dtype=float)
    out = []
    for bm in layout_beams(instance):
        lo, hi = chord(bm, ly)
        out.append(np.nan_to_num(hi - lo, nan=0.0))
    return np.array(out)


def analysed_beam(instance: Mapping[str, np.ndarray]) -> tuple[int, list[int]] | None:
    """The beam the paper analyses in Figs. 4-5 and the beams that can interfere with it.

    The north-pointing beam (pointing angle nearest to +90 degrees) of the
    middle BS south of the road (by x; of an even number, the western one of
    the middle two), with its eq. (8) neighbours (``layout_neighbours(on="road")``).
    In the authors' layout these are the authors' ``beam[1][1]`` and the 3
    beams of the BS opposite it, ``beam[4][0..2]`` (their ``test10``): beams
    4 and 12, 13, 14 here. ``None`` when no BS lies south of the road.
    """
    xy = np.asarray(instance["bs_xy"], dtype=float)
    bb = np.asarray(instance["beam_bs"])
    th = np.asarray(instance["beam_theta"], dtype=float)
    yc = float(np.mean(instance["road_y"]))
    south = np.flatnonzero(xy[:, 1] < yc)
    if south.size == 0:
        return None
    s = int(south[np.argsort(xy[south, 0], kind="stable")[(south.size - 1) // 2]])
    own = np.flatnonzero(bb == s)
    if own.size == 0:
        return None
    k = int(own[np.argmin([abs(math.remainder(float(t) - math.pi / 2, TWO_PI)) for t in th[own]])])
    return k, layout_neighbours(instance, on="road")[k]


def layout_service_distance_cdf(instance: Mapping[str, np.ndarray], l, p=0.0, beams: Sequence[int] | None = None,
                                *, model: str = "eq10") -> np.ndarray:
    """Road-area-weighted mixture over beams of :func:`service_distance_cdf`.

    Each beam uses its eq. (8) neighbours (``layout_neighbours(on="road")``)
    with activity probability ``p``; a start uniform on the road part of the
    union of beams, counted once per beam that covers it.
    """
    allb = layout_beams(instance)
    road = layout_road(instance)
    nbr = layout_neighbours(instance, on="road")
    idx = range(len(allb)) if beams is None else beams
    tot = 0.0
    acc = 0.0
    for b in idx:
        try:
            A = beam_road_area(allb[b], road)
        except ValueError:
            continue
        acc = acc + A * service_distance_cdf(allb[b], road, l, [allb[k] for k in nbr[b]], p, model=model)
        tot += A
    return acc / tot


def layout_mean_service_distance(instance: Mapping[str, np.ndarray], p=0.0, *, model: str = "eq10") -> float:
    """Mean of :func:`layout_service_distance_cdf` (road-area-weighted over beams), m."""
    allb = layout_beams(instance)
    road = layout_road(instance)
    nbr = layout_neighbours(instance, on="road")
    tot = acc = 0.0
    for b, bm in enumerate(allb):
        try:
            A = beam_road_area(bm, road)
        except ValueError:
            continue
        acc += A * mean_service_distance(bm, road, [allb[k] for k in nbr[b]], p, model=model)
        tot += A
    return acc / tot


def analysed_service_distance_cdf(instance: Mapping[str, np.ndarray], l, p=0.0, *, model: str = "eq10") -> np.ndarray:
    """:func:`service_distance_cdf` of the :func:`analysed_beam` against its neighbours (Fig. 4's curves).

    Like every CDF of the analysis it assumes a connection starts uniformly
    on the road part of the beam (eq. (12)); a simulated connection starts
    where its beam picks the vehicle, often at the beam's entrance.
    """
    kb = analysed_beam(instance)
    if kb is None:
        raise ValueError("the layout has no BS south of the road (no analysed beam)")
    beams = layout_beams(instance)
    return service_distance_cdf(beams[kb[0]], layout_road(instance), l, [beams[i] for i in kb[1]], p, model=model)


def analysed_mean_service_distance(instance: Mapping[str, np.ndarray], p=0.0, *, model: str = "eq10") -> float:
    """Mean of :func:`analysed_service_distance_cdf` (m)."""
    kb = analysed_beam(instance)
    if kb is None:
        raise ValueError("the layout has no BS south of the road (no analysed beam)")
    beams = layout_beams(instance)
    return mean_service_distance(beams[kb[0]], layout_road(instance), [beams[i] for i in kb[1]], p, model=model)

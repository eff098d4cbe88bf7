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
* ``RADIO_DEFAULTS`` -- the radio parameters (Table II) and the eq. (1)
  path loss; ``MOBILITY_DEFAULTS`` -- vehicle speeds and the time step.

Modelling choices not fixed by the paper's text available to us (stated so
that they can be changed): BS spacing 150 m per side, the two sides
staggered by 75 m, BSs 4.5 m from the road edge, lanes 3.5 m wide, a 600 m
section; the eq. (1) path loss is the 3GPP TR 38.901 UMi line-of-sight form
:math:`PL = 32.4 + 20\log_{10} f_{GHz} + 21\log_{10} d` (61.34 dB at 1 m,
21 dB/decade at 28 GHz), no shadowing; ideal sector antennas (9 dB inside,
nothing outside).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .analysis import TWO_PI, Beam, Road, beam_road_area, chord, mean_service_distance, service_distance_cdf

__all__ = [
    "LAYOUT_DEFAULTS", "RADIO_DEFAULTS", "MOBILITY_DEFAULTS", "paper_layout", "layout_beams", "layout_road",
    "layout_neighbours", "layout_service_distance_cdf", "layout_mean_service_distance",
]

LAYOUT_DEFAULTS = {
    "section_m": 600.0,
    "lanes_per_direction": 3,
    "lane_width_m": 3.5,
    "bs_offset_m": 4.5,  # from the road edge
    "bs_x_north_m": [112.5, 262.5, 412.5],
    "bs_x_south_m": [187.5, 337.5, 487.5],
    "beam_radius_m": 80.0,
    "beam_width_deg": 60.0,
    "beams_per_bs": 3,
}
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


def paper_layout(params: Mapping | None = None) -> dict[str, np.ndarray]:
    """Layout arrays (road, lanes, BSs, beams) of the paper's highway.

    Lanes with ``y >= 0`` (north) drive towards +x, the others towards -x.
    North BSs face south: beams pointing at -150, -90, -30 degrees; south
    BSs face north: 30, 90, 150 degrees (for 3 beams of 60 degrees).
    """
    P = {**LAYOUT_DEFAULTS, **(params or {})}
    nl = int(P["lanes_per_direction"])
    lw = float(P["lane_width_m"])
    half = nl * lw
    lane_y = np.concatenate([-(np.arange(nl)[::-1] + 0.5) * lw, (np.arange(nl) + 0.5) * lw])
    lane_dir = np.concatenate([-np.ones(nl, dtype=np.int64), np.ones(nl, dtype=np.int64)])
    yb = half + float(P["bs_offset_m"])
    bs = [(x, yb) for x in P["bs_x_north_m"]] + [(x, -yb) for x in P["bs_x_south_m"]]
    bs_xy = np.array(bs, dtype=float)
    k = int(P["beams_per_bs"])
    width = math.radians(float(P["beam_width_deg"]))
    offs = (np.arange(k) - (k - 1) / 2) * width
    theta, beam_bs = [], []
    for s, (_, y) in enumerate(bs):
        facing = -math.pi / 2 if y > 0 else math.pi / 2
        for o in offs:
            theta.append(math.remainder(facing + o, TWO_PI))
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

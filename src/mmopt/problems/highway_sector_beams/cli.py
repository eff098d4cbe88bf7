"""``mmopt highway-cdf``: the analytic service-distance CDF of the MACOL paper from the command line.

A. Kose, H. Lee, C. H. Foh, M. Shojafar, "Multi-agent context learning
strategy for interference-aware beam allocation in mmWave vehicular
communications" (MACOL, arXiv:2401.02323): :func:`highway_cdf_json`
evaluates the service-distance CDF of eqs. (3)-(4) (p = 0) and (10)-(12)
(p > 0) with :mod:`mmopt.problems.highway_sector_beams.analysis` and
:mod:`mmopt.problems.highway_sector_beams.layout`; :func:`highway_cdf` is the
``highway-cdf`` command the problem contributes to the ``mmopt`` CLI.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence

import click
import numpy as np

from mmopt.api import MmoptError
from mmopt.cli_util import dump_json

from .analysis import Beam, Road, mean_service_distance, service_distance_cdf
from .layout import (layout_beams, layout_mean_service_distance, layout_neighbours, layout_road,
                     layout_service_distance_cdf, paper_layout)

__all__ = ["highway_cdf", "highway_cdf_json"]


def _floats(text: str | None, what: str, n: int | None = None):
    if text is None:
        return None
    try:
        vals = [float(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise MmoptError(f"{what}: expected numbers separated by commas, got '{text}'") from None
    if n is not None and len(vals) != n:
        raise MmoptError(f"{what}: expected {n} numbers, got {len(vals)}")
    return vals


@click.command("highway-cdf")
@click.option("--l", "dist", default=None, help="Distances in m (comma separated; default a grid).")
@click.option("--p", "p", default="0", show_default=True, help="Neighbour activity probabilities (comma separated).")
@click.option("--beam-index", type=int, default=None,
              help="A beam of the paper's layout (0..17; 4: the beam Figs. 4-5 analyse).")
@click.option("--beam", default=None, help="Explicit beam x,y,theta,radius,width (m, rad).")
@click.option("--road", default=None, help="Explicit road y_low,y_high,y_split (m).")
@click.option("--neighbour", "neighbours", multiple=True, help="Neighbour beam x,y,theta,radius,width (repeatable).")
@click.option("--points", type=int, default=41, show_default=True)
def highway_cdf(dist, p, beam_index, beam, road, neighbours, points):
    """Analytic service-distance CDF of a highway sector beam (Kose et al., eqs. (3)-(12)) as JSON."""
    ps = _floats(p, "--p")
    if any(not 0 <= x <= 1 for x in ps):
        raise MmoptError("--p: probabilities must lie in [0, 1]")
    if (road or neighbours) and beam is None:
        raise MmoptError("--road and --neighbour need an explicit --beam")
    out = highway_cdf_json(_floats(dist, "--l"), p=ps, beam_index=beam_index, beam=_floats(beam, "--beam", 5),
                           road=_floats(road, "--road", 3),
                           neighbours=[_floats(nb, "--neighbour", 5) for nb in neighbours] or None,
                           points=points)
    click.echo(dump_json(out))


def highway_cdf_json(l: Sequence[float] | None = None, *, p: float | Sequence[float] = 0.0,
                     beam_index: int | None = None, beam: Sequence[float] | None = None,
                     road: Sequence[float] | None = None, neighbours: Sequence[Sequence[float]] | None = None,
                     points: int = 41) -> dict:
    """JSON-able analytic service-distance CDFs (for the ``mmopt`` CLI).

    Parameters
    ----------
    l : sequence of float, optional
        Distances (m); default ``points`` values from 0 to the longest chord.
    p : float or sequence of float
        One curve per value: every neighbour active with probability ``p``.
    beam_index : int, optional
        A beam of the paper's layout (0..17; 4 is the beam Figs. 4-5 analyse) with its eq. (8) neighbours.
        Without it (and without ``beam``) the road-area-weighted mixture over
        the 18 beams is returned.
    beam : (x, y, theta, radius, width), optional
        An explicit beam (m, rad); then ``road`` = (y_low, y_high, y_split)
        and ``neighbours`` = list of (x, y, theta, radius, width) apply
        (default: the paper's road, no neighbours).
    points : int
        Number of default distances.

    Returns
    -------
    dict
        ``{"problem", "what", "beam", "road", "neighbours", "l", "curves":
        [{"p", "cdf", "mean_m"}]}``.
    """
    lay = paper_layout()
    ps = [float(v) for v in np.atleast_1d(np.asarray(p, dtype=float))]
    if beam is not None:
        bm = Beam(*[float(v) for v in beam])
        rd = Road(*[float(v) for v in road]) if road is not None else layout_road(lay)
        nbs = [Beam(*[float(v) for v in nb]) for nb in (neighbours or [])]
        what = "beam"
    else:
        rd = layout_road(lay)
        if beam_index is not None:
            allb = layout_beams(lay)
            if not 0 <= beam_index < len(allb):
                raise MmoptError(f"beam_index must be in 0..{len(allb) - 1}")
            bm = allb[beam_index]
            nbs = [allb[k] for k in layout_neighbours(lay, on="road")[beam_index]]
            what = f"paper layout beam {beam_index}"
        else:
            bm, nbs, what = None, [], "paper layout, road-area-weighted mixture over all beams"
    if l is None:
        lmax = 2 * float(lay["beam_radius"].max()) if bm is None else 2 * bm.radius
        l = np.linspace(0.0, lmax, int(points))
    l = np.asarray(l, dtype=float)
    curves = []
    for pv in ps:
        if bm is None:
            F = layout_service_distance_cdf(lay, l, pv)
            mean = layout_mean_service_distance(lay, pv)
        else:
            F = service_distance_cdf(bm, rd, l, nbs, pv)
            mean = mean_service_distance(bm, rd, nbs, pv)
        curves.append({"p": pv, "cdf": [round(float(v), 6) for v in F], "mean_m": round(mean, 4)})
    out = {
        "problem": "highway-sector-beams",
        "what": what,
        "equations": "MACOL (Kose et al.) eqs. (3)-(4) for p = 0, (11)-(12) otherwise",
        "beam": None if bm is None else asdict(bm),
        "road": asdict(rd),
        "neighbours": [asdict(nb) for nb in nbs],
        "l": [round(float(v), 6) for v in l],
        "curves": curves,
    }
    json.dumps(out)  # JSON-able by construction
    return out

"""``mmopt highway-cdf``: the analytic service-distance CDF from the command line (contributed to the CLI)."""
from __future__ import annotations

import click

from mmopt.api import MmoptError
from mmopt.cli_util import dump_json


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
@click.option("--beam-index", type=int, default=None, help="A beam of the paper's layout (0..17).")
@click.option("--beam", default=None, help="Explicit beam x,y,theta,radius,width (m, rad).")
@click.option("--road", default=None, help="Explicit road y_low,y_high,y_split (m).")
@click.option("--neighbour", "neighbours", multiple=True, help="Neighbour beam x,y,theta,radius,width (repeatable).")
@click.option("--points", type=int, default=41, show_default=True)
def highway_cdf(dist, p, beam_index, beam, road, neighbours, points):
    """Analytic service-distance CDF of a highway sector beam (Kose et al., eqs. (3)-(12)) as JSON."""
    from .analysis import highway_cdf_json

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

"""``highway-sector-beams``: interference-aware highway sector-beam allocation (Kose et al., MACOL).

Modules: :mod:`.analysis` (sector geometry and service distances, eqs. (2)-(12)),
:mod:`.layout` (the paper's highway layout), :mod:`.scenario` (the time-stepped
highway), :mod:`.problem` (the problem), :mod:`.figures` and :mod:`.cli` (the
paper's figures and the ``highway-cdf`` command). The package re-exports the
analysis and layout API that the statement documents (``from
mmopt.problems.highway_sector_beams import Beam, Road, service_distance_cdf``)
and the problem class with its solver helpers.
"""
from .analysis import (CASE_ARC, CASE_LEFT, CASE_RIGHT, Beam, Road, beam_road_area, interfered_area,
                       interference_free_distance, interference_probability, mean_service_distance,
                       sector_distance_cdf, service_distance_cdf, travel_distance, verify_case_geometry)
from .layout import (GENERATOR_VERSION, analysed_beam, lane_coverage, layout_beams, layout_neighbours, layout_road,
                     paper_layout)
from .problem import HighwaySectorBeams, analysed_connections, connection_distances, empty_solution

__all__ = [
    "CASE_ARC", "CASE_LEFT", "CASE_RIGHT", "Beam", "Road", "beam_road_area", "interference_free_distance",
    "interference_probability", "interfered_area", "mean_service_distance", "sector_distance_cdf",
    "service_distance_cdf", "travel_distance", "verify_case_geometry",
    "GENERATOR_VERSION", "analysed_beam", "lane_coverage", "layout_beams", "layout_neighbours", "layout_road",
    "paper_layout", "HighwaySectorBeams", "analysed_connections", "connection_distances", "empty_solution",
]

#: the problem's solvers, imported on first use (Gymnasium-style entry points, ``module:function``);
#: ``kind`` is metadata on each ``@solver``: reference, baseline, distributed
SOLVERS = {
    "oracle-bound": "mmopt.problems.highway_sector_beams.solvers.oracle:oracle_bound",
    "random": "mmopt.problems.highway_sector_beams.solvers.baselines:random_allocation",
    "best-snr": "mmopt.problems.highway_sector_beams.solvers.baselines:best_snr_allocation",
    "macol": "mmopt.problems.highway_sector_beams.solvers.macol:macol",
}

"""``highway-sector-beams``: interference-aware highway sector-beam allocation (Kose et al., MACOL)."""
from .analysis import *  # noqa: F401,F403
from .problem import HighwaySectorBeams, connection_distances, empty_solution  # noqa: F401

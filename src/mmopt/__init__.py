"""mmopt: certified-optimum benchmark suite for mmWave user association and beam management."""
from .api import (FeasibilityReport, InputError, Instance, Key, MmoptError, Problem, Solver, Suite,  # noqa: F401
                  problem, solver)
from .evaluate import gap  # noqa: F401
from ._version import __version__  # noqa: F401

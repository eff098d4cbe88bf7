"""mmopt: certified-optimum benchmark suite for mmWave user association and beam management."""
from .api import (FeasibilityReport, InputError, Instance, Key, MmoptError, Problem, Solver, Suite,  # noqa: F401
                  problem, solver)
from .evaluate import gap  # noqa: F401

__version__ = "0.1.0"

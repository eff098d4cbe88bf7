"""mmopt: certified-optimum benchmark suite for mmWave user association and beam management.

The package re-exports the plugin API of :mod:`mmopt.api` (the ``@problem``
and ``@solver`` decorators and the classes they use), :func:`mmopt.evaluate.gap`
and the package version.
"""
from .api import (FeasibilityReport, InputError, Instance, Key, MmoptError, Problem, Solver, Suite,  # noqa: F401
                  problem, solver)
from .evaluate import gap  # noqa: F401
from ._version import __version__  # noqa: F401

__all__ = ["FeasibilityReport", "InputError", "Instance", "Key", "MmoptError", "Problem", "Solver", "Suite",
           "problem", "solver", "gap", "__version__"]

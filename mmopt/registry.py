"""Plugin discovery: every module of ``mmopt.problems`` and ``mmopt.solvers.*``.

Third-party packages add problems or solvers with an entry point in the
``mmopt.plugins`` group pointing at a module that uses the decorators, or
name importable modules in the ``MMOPT_PLUGINS`` environment variable
(space or comma separated; ``mmopt run --plugin MODULE`` sets it, and Dask
workers inherit it).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import pkgutil

from .api import PROBLEMS, SOLVERS, MmoptError, Problem, Solver

_loaded = False
PLUGIN_PACKAGES = ("mmopt.problems", "mmopt.solvers.reference", "mmopt.solvers.baselines",
                   "mmopt.solvers.distributed", "mmopt.solvers.learned")


def load_plugins() -> None:
    """Import every plugin module once (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for pkg_name in PLUGIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")
    for ep in importlib.metadata.entry_points(group="mmopt.plugins"):
        ep.load()
    for mod in filter(None, os.environ.get("MMOPT_PLUGINS", "").replace(",", " ").split()):
        try:
            importlib.import_module(mod)
        except ImportError as e:
            raise MmoptError(f"cannot import plugin module '{mod}' (from MMOPT_PLUGINS): {e}") from None


def add_plugin_modules(modules) -> None:
    """Import user plugin modules here and in every worker started later (via MMOPT_PLUGINS)."""
    modules = [m for m in modules if m]
    if not modules:
        return
    have = os.environ.get("MMOPT_PLUGINS", "").replace(",", " ").split()
    os.environ["MMOPT_PLUGINS"] = " ".join(dict.fromkeys(have + modules))
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError as e:
            raise MmoptError(f"cannot import plugin module '{mod}': {e}") from None


def get_problem(name: str) -> Problem:
    load_plugins()
    if name not in PROBLEMS:
        raise MmoptError(f"unknown problem '{name}' (available: {', '.join(sorted(PROBLEMS))})")
    return PROBLEMS[name]


def get_solver(name: str, problem: str | None = None) -> Solver:
    load_plugins()
    if name not in SOLVERS:
        raise MmoptError(f"unknown solver '{name}' (available: {', '.join(sorted(SOLVERS))})")
    s = SOLVERS[name]
    if problem is not None and problem not in s.problems:
        raise MmoptError(f"solver '{name}' does not solve '{problem}' (it solves: {', '.join(s.problems)})")
    return s


def problems() -> dict[str, Problem]:
    load_plugins()
    return dict(sorted(PROBLEMS.items()))


def solvers_for(problem: str) -> list[Solver]:
    load_plugins()
    return [s for s in SOLVERS.values() if problem in s.problems]

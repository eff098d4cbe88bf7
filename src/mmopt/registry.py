"""Plugin discovery: every problem folder ``mmopt.problems.<id>`` and its ``solvers`` package.

Problems are packages ``mmopt.problems.<id>`` (the problem id with
underscores) whose ``__init__`` registers the problem; their solvers are the
modules of ``mmopt.problems.<id>.solvers``. Third-party
packages add problems or solvers with an entry point in the ``mmopt.plugins``
group pointing at a module that uses the decorators, or name importable
modules (or ``.py`` files) in the ``MMOPT_PLUGINS`` environment variable
(space or comma separated; ``mmopt run --plugin MODULE`` sets it, and the
runner ships the files to Dask workers).

A plugin module that fails to import because an optional dependency
(``torch``, ``gymnasium``) is missing is recorded in :data:`UNAVAILABLE` and
listed by ``mmopt list``; it never breaks loading of the other plugins.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path
from typing import Callable

from .api import EXTRAS, PROBLEMS, SOLVERS, MmoptError, Problem, Solver

_loaded = False
PLUGIN_PACKAGES = ("mmopt.problems",)
#: plugin module -> reason it could not be loaded (a missing optional dependency)
UNAVAILABLE: dict[str, str] = {}
#: (problem, solver) -> ``"module:function"``: the solvers a problem folder declares in its ``SOLVERS``
#: table, imported on first use
ENTRY_POINTS: dict[tuple[str, str], str] = {}


def _import_optional(mod: str) -> None:
    try:
        importlib.import_module(mod)
    except ModuleNotFoundError as e:
        root = (e.name or "").split(".")[0]
        if root in EXTRAS:
            UNAVAILABLE[mod] = f'needs {root} (pip install "mmopt[{EXTRAS[root]}]")'
            return
        raise


def _load_problem_package(name: str) -> None:
    """Import a problem folder; record its ``SOLVERS`` table, or import its ``solvers`` package if it has none."""
    before = set(PROBLEMS)
    _import_optional(name)
    mod = sys.modules.get(name)
    if mod is None:
        return
    new = [p for p in PROBLEMS if p not in before]
    table = getattr(mod, "SOLVERS", None)
    if table is not None and len(new) == 1:
        for solver_name, ep in table.items():
            if ":" not in ep:
                raise MmoptError(f"{name}.SOLVERS['{solver_name}']: expected 'module:function', got '{ep}'")
            ENTRY_POINTS[(new[0], solver_name)] = ep
        return
    solvers_pkg = f"{name}.solvers"
    if importlib.util.find_spec(solvers_pkg) is not None:  # a folder without a table: import every module
        sp = importlib.import_module(solvers_pkg)
        for info in pkgutil.iter_modules(sp.__path__):
            if not info.name.startswith("_"):
                _import_optional(f"{solvers_pkg}.{info.name}")


def load_plugins() -> None:
    """Register every problem (once; idempotent) and note the entry points of their solvers.

    Problem folders are imported; their solver modules are not, until a
    solver is asked for (:func:`get_solver`, :func:`solvers_for`,
    :func:`all_solvers`). Third-party plugins (entry points, ``MMOPT_PLUGINS``)
    are imported here.
    """
    global _loaded
    if _loaded:
        return
    _loaded = True
    for pkg_name in PLUGIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                _load_problem_package(f"{pkg_name}.{info.name}")
    for ep in importlib.metadata.entry_points(group="mmopt.plugins"):
        ep.load()
    for mod in plugin_specs():
        import_plugin(mod)


def _resolve(problem: str, name: str) -> Solver | None:
    """The registered solver (problem, name), importing its module from the entry point if needed."""
    key = (problem, name)
    if key not in SOLVERS and key in ENTRY_POINTS:
        mod, _, attr = ENTRY_POINTS[key].partition(":")
        _import_optional(mod)
        if mod in UNAVAILABLE:
            return None
        s = SOLVERS.get(key)
        if s is None or getattr(sys.modules[mod], attr, None) is not s.fn:
            raise MmoptError(f"entry point {ENTRY_POINTS[key]} does not register solver '{name}' of '{problem}'")
    return SOLVERS.get(key)


def plugin_specs() -> list[str]:
    return list(filter(None, os.environ.get("MMOPT_PLUGINS", "").replace(",", " ").split()))


def import_plugin(spec: str):
    """Import a plugin given as a module name (found from the current directory too) or a ``.py`` path."""
    try:
        if spec.endswith(".py") or os.sep in spec:
            path = Path(spec).resolve()
            name = path.stem
            if not path.is_file():
                if name in sys.modules:  # shipped to this worker by the runner
                    return sys.modules[name]
                raise MmoptError(f"no such file: {spec}")
            if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
                return sys.modules[name]
            s = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(s)
            sys.modules[name] = mod
            s.loader.exec_module(mod)
            return mod
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.append(os.getcwd())
        return importlib.import_module(spec)
    except MmoptError:
        raise
    except ImportError as e:
        raise MmoptError(f"cannot import '{spec}': {e}") from None
    except (Exception, SystemExit) as e:  # the module's own code failed while importing
        raise MmoptError(f"cannot import '{spec}': {type(e).__name__}: {e}") from None


def load_callable(spec: str) -> Callable:
    """``package.module:function`` or ``path/to/file.py:function`` (a module in the current directory too)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise MmoptError(f"expected MODULE:CALLABLE, got '{spec}'")
    mod_name, _, attr = spec.rpartition(":")
    mod = import_plugin(mod_name)
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise MmoptError(f"'{mod_name}' has no callable '{attr}'")
    return fn


def add_plugin_modules(modules) -> list[Path]:
    """Import user plugins here and name them in MMOPT_PLUGINS; returns their source files.

    A module name is resolved to its file, so that the runner can ship it to
    Dask workers that do not share this process's current directory.
    """
    modules = [m for m in modules if m]
    files = []
    for spec in modules:
        mod = import_plugin(spec)
        f = getattr(mod, "__file__", None)
        if f:
            files.append(Path(f).resolve())
    have = plugin_specs()
    os.environ["MMOPT_PLUGINS"] = " ".join(dict.fromkeys(have + [str(f) for f in files]))
    return files


def get_problem(name: str) -> Problem:
    load_plugins()
    if not isinstance(name, str) or name not in PROBLEMS:
        raise MmoptError(f"unknown problem '{name}' (available: {', '.join(sorted(PROBLEMS))})")
    return PROBLEMS[name]


def get_solver(name: str, problem: str | None = None) -> Solver:
    """The solver (problem, name); ``problem`` may be omitted when the name serves one problem only.

    Parameters
    ----------
    name : str
        Solver name.
    problem : str, optional
        Problem name.

    Returns
    -------
    Solver

    Raises
    ------
    MmoptError
        Unknown name, a name serving several problems without ``problem``, or a
        solver of another problem; the message names what exists.
    """
    load_plugins()
    serving = sorted({p for (p, n) in list(SOLVERS) + list(ENTRY_POINTS) if n == name})
    if not serving:
        names = sorted({n for (_, n) in list(SOLVERS) + list(ENTRY_POINTS)})
        raise MmoptError(f"unknown solver '{name}' (available: {', '.join(names)})")
    if problem is None:
        if len(serving) > 1:
            raise MmoptError(f"solver '{name}' serves several problems ({', '.join(serving)}): name the problem")
        problem = serving[0]
    s = _resolve(problem, name) if problem in serving else None
    if s is None:
        if (problem, name) in ENTRY_POINTS:
            mod = ENTRY_POINTS[(problem, name)].partition(":")[0]
            raise MmoptError(f"solver '{name}' is unavailable: it {UNAVAILABLE.get(mod, 'cannot be imported')}")
        raise MmoptError(f"solver '{name}' does not solve '{problem}' (it solves: {', '.join(serving)})")
    return s


def problems() -> dict[str, Problem]:
    """Every registered problem by name (sorted).

    Returns
    -------
    dict
        Problem name -> :class:`~mmopt.api.Problem`.
    """
    load_plugins()
    return dict(sorted(PROBLEMS.items()))


def solvers_for(problem: str, available_only: bool = False) -> list[Solver]:
    """Solvers of a problem: its folder's table in order, then plugins' in registration order.

    Parameters
    ----------
    problem : str
        Problem name.
    available_only : bool
        Leave out solvers whose optional dependencies are missing.

    Returns
    -------
    list of Solver
    """
    load_plugins()
    out = [_resolve(p, n) for (p, n) in list(ENTRY_POINTS) if p == problem]
    out = [s for s in out if s is not None]
    out += [s for (p, _), s in SOLVERS.items() if p == problem and s not in out]
    return [s for s in out if s.available or not available_only]


def all_solvers() -> list[tuple[tuple[str, str], Solver]]:
    """Every solver of every problem, keyed by (problem, name).

    Returns
    -------
    list of ((str, str), Solver)
    """
    load_plugins()
    return [((p, s.name), s) for p in sorted(PROBLEMS) for s in solvers_for(p)]

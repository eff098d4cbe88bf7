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

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path
from typing import Callable

from .api import EXTRAS, PROBLEMS, SOLVERS, MmoptError, Problem, Solver
from .sandbox import run_limited

__all__ = ["PLUGIN_PACKAGES", "PLUGIN_FILES_ENV", "UNAVAILABLE", "ENTRY_POINTS", "load_plugins", "plugin_specs",
           "import_plugin",
           "load_callable", "add_plugin_modules", "get_problem", "get_solver", "problems", "solvers_for",
           "all_solvers"]

_loaded = False
#: packages whose sub-packages (not starting with ``_``) are problem folders, imported by :func:`load_plugins`
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
    _import_optional(name)
    mod = sys.modules.get(name)
    if mod is None:
        return
    # the problems this package defines (whether or not it was imported before the registry loaded it)
    new = [n for n, p in PROBLEMS.items() if type(p).__module__ == name or type(p).__module__.startswith(name + ".")]
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
    :func:`all_solvers`). A folder without a ``SOLVERS`` table has every
    module of its ``solvers`` package imported here. Third-party plugins
    (``mmopt.plugins`` entry points, then :func:`plugin_specs`) are imported
    here too. A problem folder or solver module that misses an optional
    dependency (a module of :data:`~mmopt.api.EXTRAS`) is recorded in
    :data:`UNAVAILABLE` instead of failing.

    Only the first call does anything, even when it raised: later calls
    return at once.

    Raises
    ------
    MmoptError
        When a folder's ``SOLVERS`` entry is not ``'module:function'``, or a
        ``MMOPT_PLUGINS`` entry cannot be imported (:func:`import_plugin`).
    ModuleNotFoundError
        When a problem folder or solver module needs a module that is not an
        optional extra. Whatever else a problem folder or an ``mmopt.plugins``
        entry point raises while importing passes through too.
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


#: where :func:`add_plugin_modules` names plugin files for this process and the workers it starts
#: (separated by ``os.pathsep``, so that a path may hold spaces and commas)
PLUGIN_FILES_ENV = "MMOPT_PLUGIN_FILES"


def plugin_specs() -> list[str]:
    """The plugins named in ``MMOPT_PLUGINS`` and, after them, ``MMOPT_PLUGIN_FILES``.

    Returns
    -------
    list of str
        Module names or paths, in order, without duplicates: ``MMOPT_PLUGINS``
        split at commas and whitespace, then ``MMOPT_PLUGIN_FILES`` (written
        by :func:`add_plugin_modules`) split at ``os.pathsep`` (its entries
        may hold spaces); empty entries dropped (``[]`` when neither is set).
    """
    out = list(filter(None, os.environ.get("MMOPT_PLUGINS", "").replace(",", " ").split()))
    out += list(filter(None, os.environ.get(PLUGIN_FILES_ENV, "").split(os.pathsep)))
    return list(dict.fromkeys(out))


@contextlib.contextmanager
def _stdout_to_stderr():
    """What a plugin prints while it is imported goes to stderr (file descriptor 1 too), never into mmopt's output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


def _shadowing(name: str, path: Path) -> str | None:
    """Which module a plugin file named ``name`` would hide (a standard or an installed one), if any."""
    if name in _STDLIB:
        return "the Python standard library"
    mod = sys.modules.get(name)
    if mod is not None:
        f = getattr(mod, "__file__", None)
        return None if f and Path(f).resolve() == path else f"the imported module {name}"
    return None


def import_plugin(spec: str):
    """Import a plugin given as a module name (found from the current directory too), a ``.py`` path or a package folder.

    A spec ending in ``.py`` or holding a path separator is a file: it is
    executed as a module named after its stem and registered in
    ``sys.modules`` under that name (a module of that name already imported
    from the same file is returned as it is; so is one of that name when
    the file does not exist here, as on a Dask worker the runner shipped it
    to). A package's ``__init__.py`` or folder is imported as the package,
    from its parent folder. Any other spec is imported with
    :func:`importlib.import_module`, the current directory appended to
    ``sys.path`` first if it is not there. What the module prints while it
    is imported goes to stderr. A module whose import fails is removed from
    ``sys.modules`` (the next call imports it again).

    Parameters
    ----------
    spec : str
        ``package.module``, ``path/to/file.py``, ``path/to/pkg`` or ``path/to/pkg/__init__.py``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MmoptError
        ``no such file: SPEC`` for a missing file; a file named like a
        standard-library or already imported module; ``cannot import 'SPEC': ...``
        when the import fails or the module's own code raises (or calls
        ``sys.exit``) while importing; an :class:`~mmopt.api.MmoptError`
        raised by the module passes through unchanged.
    """
    before = set(sys.modules)
    try:
        with _stdout_to_stderr():
            return _import_plugin(spec)
    except BaseException as e:
        for name in set(sys.modules) - before:  # nothing half-loaded stays behind
            sys.modules.pop(name, None)
        if isinstance(e, MmoptError):
            raise
        if isinstance(e, ImportError):
            raise MmoptError(f"cannot import '{spec}': {e}") from None
        if isinstance(e, (Exception, SystemExit)):  # the module's own code failed while importing
            raise MmoptError(f"cannot import '{spec}': {type(e).__name__}: {e}") from None
        raise


def _import_plugin(spec: str):
    if spec.endswith(".py") or os.sep in spec or (os.altsep and os.altsep in spec):
        path = Path(spec).resolve()
        if path.is_dir() or path.name == "__init__.py":
            pkg = path if path.is_dir() else path.parent
            if not (pkg / "__init__.py").is_file():
                if pkg.name in sys.modules:  # a package shipped to this worker by the runner
                    return sys.modules[pkg.name]
                try:
                    return importlib.import_module(pkg.name)
                except ImportError:
                    raise MmoptError(f"no such package: {spec}") from None
            mod = sys.modules.get(pkg.name)
            f = getattr(mod, "__file__", None) or ""
            if mod is not None and pkg.name not in _STDLIB and hasattr(mod, "__path__") and (
                    Path(f).resolve() == pkg / "__init__.py" or not f.startswith((sys.prefix, sys.base_prefix))):
                return mod  # this package, or the copy of it the runner shipped to this worker
            why = _shadowing(pkg.name, pkg / "__init__.py")
            if why:
                raise MmoptError(f"plugin package {spec}: the name '{pkg.name}' is taken by {why}; rename it")
            if str(pkg.parent) not in sys.path:
                sys.path.append(str(pkg.parent))
            return importlib.import_module(pkg.name)
        name = path.stem
        if not path.is_file():
            have = getattr(sys.modules.get(name), "__file__", None) or ""
            if name in sys.modules and name not in _STDLIB and not have.startswith((sys.prefix, sys.base_prefix)):
                return sys.modules[name]  # shipped to this worker by the runner
            found = importlib.util.find_spec(name) if name.isidentifier() and name not in _STDLIB else None
            if found is not None and not str(found.origin or "").startswith((sys.prefix, sys.base_prefix)):
                return importlib.import_module(name)  # shipped (a package as a zip) but not imported yet
            raise MmoptError(f"no such file: {spec}")
        have = getattr(sys.modules.get(name), "__file__", None)
        if have and (have == str(path) or (Path(have).name == path.name and name not in _STDLIB)):
            return sys.modules[name]  # this file, or the copy of it the runner shipped to this worker
        if not name.isidentifier():
            raise MmoptError(f"plugin file {spec}: '{name}' is not a valid module name; rename it")
        why = _shadowing(name, path)
        if why:
            raise MmoptError(f"plugin file {spec}: the name '{name}' is taken by {why}; rename it")
        s = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        s.loader.exec_module(mod)
        return mod
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    return importlib.import_module(spec)


def load_callable(spec: str) -> Callable:
    """``package.module:function`` or ``path/to/file.py:function`` (a module in the current directory too).

    Parameters
    ----------
    spec : str
        ``MODULE:CALLABLE``; split at the last colon, ``MODULE`` as in
        :func:`import_plugin`.

    Returns
    -------
    callable
        The module's attribute ``CALLABLE``.

    Raises
    ------
    MmoptError
        When ``spec`` is not a string holding a colon, the module cannot be
        imported (:func:`import_plugin`), or it has no callable of that name.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise MmoptError(f"expected MODULE:CALLABLE, got '{spec}'")
    mod_name, _, attr = spec.rpartition(":")
    mod = import_plugin(mod_name)
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise MmoptError(f"'{mod_name}' has no callable '{attr}'")
    return fn


def _probe_import(spec: str) -> tuple[dict, dict]:
    """Child body: import a plugin; its one-line error, if any."""
    try:
        import_plugin(spec)
    except MmoptError as e:
        return {}, {"error": str(e)}
    return {}, {}


def add_plugin_modules(modules, probe_seconds: float | None = 120.0) -> list[Path]:
    """Import user plugins here and name them in ``MMOPT_PLUGIN_FILES``; returns their source files.

    Each plugin is first imported in a forked, time-limited child
    (:func:`mmopt.sandbox.run_limited`): one that hangs, kills its process
    or calls ``os._exit`` while importing is an error naming it, and mmopt
    itself goes on. A module name is resolved to its file (a package to its
    folder), so that the runner can ship it to Dask workers that do not
    share this process's current directory. The files are appended to
    ``MMOPT_PLUGIN_FILES`` (separated by ``os.pathsep``; in this process's
    environment, inherited by workers it starts), without duplicates.

    Parameters
    ----------
    modules : iterable of str
        Module names, ``.py`` paths or package folders (:func:`import_plugin`); empty entries are skipped.
    probe_seconds : float or None
        Time limit of the import in the child (``None``: no child, import here directly).

    Returns
    -------
    list of pathlib.Path
        The resolved source file of each module that has one (a package's
        ``__init__.py``), in order.

    Raises
    ------
    MmoptError
        When a module cannot be imported (:func:`import_plugin`), or its
        import does not finish in the child.
    """
    modules = [m for m in modules if m]
    files = []
    for spec in modules:
        if probe_seconds is not None:
            out = run_limited(lambda: _probe_import(spec), probe_seconds)
            if out.status != "ok":
                what = "took longer than {:g} s".format(probe_seconds) if out.status == "timeout" else \
                    f"failed ({out.message})"
                raise MmoptError(f"cannot import plugin '{spec}': importing it {what}")
            if out.info.get("error"):
                raise MmoptError(out.info["error"])
        mod = import_plugin(spec)
        f = getattr(mod, "__file__", None)
        if f:
            files.append(Path(f).resolve())
    entries = [str(f.parent) if f.name == "__init__.py" else str(f) for f in files]
    have = list(filter(None, os.environ.get(PLUGIN_FILES_ENV, "").split(os.pathsep)))
    os.environ[PLUGIN_FILES_ENV] = os.pathsep.join(dict.fromkeys(have + entries))
    return files


def get_problem(name: str) -> Problem:
    """The registered problem called ``name`` (plugins loaded first: :func:`load_plugins`).

    Parameters
    ----------
    name : str
        Problem name.

    Returns
    -------
    Problem

    Raises
    ------
    MmoptError
        When no problem has that name (or it is not a string); the message
        lists the registered problems.
    """
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
        solver of another problem; the message names what exists. Also a
        solver whose module misses an optional dependency (``is unavailable:
        it needs ...``), or a ``SOLVERS`` entry point whose module does not
        register that solver with that function.
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
    """Every registered problem by name (sorted); plugins are loaded first (:func:`load_plugins`).

    Returns
    -------
    dict
        Problem name -> :class:`~mmopt.api.Problem`.
    """
    load_plugins()
    return dict(sorted(PROBLEMS.items()))


def solvers_for(problem: str, available_only: bool = False) -> list[Solver]:
    """Solvers of a problem: its folder's table in order, then plugins' in registration order.

    The modules of the folder's table are imported here. A solver whose
    module cannot be imported for a missing optional dependency is never
    listed (its module is in :data:`UNAVAILABLE`); one that registered but
    lists missing modules in ``requires`` is listed unless ``available_only``.

    Parameters
    ----------
    problem : str
        Problem name (an unknown name gives ``[]``).
    available_only : bool
        Leave out solvers whose optional dependencies are missing.

    Returns
    -------
    list of Solver

    Raises
    ------
    MmoptError
        When a ``SOLVERS`` entry point's module does not register that solver
        with that function.
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
        Problems sorted by name, each with its solvers in the order of
        :func:`solvers_for` (unavailable ones included).

    Raises
    ------
    MmoptError
        As :func:`solvers_for`.
    """
    load_plugins()
    return [((p, s.name), s) for p in sorted(PROBLEMS) for s in solvers_for(p)]

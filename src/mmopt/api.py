"""The plugin contracts: problems, instances, solvers, feasibility reports.

A *problem* is a subclass of :class:`Problem` registered with
:func:`problem`; a *solver* is a function registered with :func:`solver`.
Plugins live in ``mmopt.problems.<id>`` (the problem) and
``mmopt.problems.<id>.solvers`` (its solvers) and are found
by :func:`mmopt.registry.load_plugins`; third-party packages can add their own
through the ``mmopt.plugins`` entry-point group.

Instances and solutions are plain ``dict[str, numpy.ndarray]``. An
:class:`Instance` is such a dict with a ``meta`` attribute (problem, suite,
index, seed, generator parameters) and a content hash.
"""
from __future__ import annotations

import abc
import contextvars
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
import time
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

__all__ = [
    "SCHEMA_VERSION", "KINDS", "EXTRAS", "PROBLEMS", "SOLVERS",
    "MmoptError", "InputError", "Key", "Instance", "Violation", "FeasibilityReport", "Suite", "Problem", "Solver",
    "problem", "solver", "instance_hash", "check_structure", "bind_dims", "key_table", "rst_to_markdown",
    "coerce_param", "json_default", "json_safe", "params_key", "WEIGHTS_OVERRIDE",
]

#: the file named by a learned solver's ``weights`` parameter while its hooks run (``""``: the shipped
#: files); :func:`mmopt.learned.weights_path` resolves every weight name to it
WEIGHTS_OVERRIDE: contextvars.ContextVar[str] = contextvars.ContextVar("mmopt_weights", default="")

#: version of the instance / solution file metadata (``meta["schema"]``)
SCHEMA_VERSION = 1
#: the solver kinds accepted by :func:`solver`
KINDS = ("reference", "learned", "distributed", "baseline")


class MmoptError(Exception):
    """An error meant for the user: printed as one line, no traceback."""


class InputError(MmoptError):
    """Malformed input: a missing key, a wrong shape or dtype, an unreadable file."""


# ---------------------------------------------------------------------------
# Keys: one row of a problem's instance or solution table
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One array of an instance or solution.

    Parameters
    ----------
    name : str
        Key in the dict / file.
    dtype : str
        Exact NumPy dtype name (``float64``, ``complex128``, ``int64``, ``bool``).
    shape : tuple
        Dimension symbols (``"K"``) or integers; ``()`` for a scalar. A symbol
        is bound by the first required instance key that uses it.
    unit : str
        Physical unit, ``"-"`` when dimensionless.
    doc : str
        One-line meaning.
    required : bool
        Optional keys may be absent; when present they are checked.
    finite : bool
        Whether NaN / inf are violations.
    """

    name: str
    dtype: str
    shape: tuple
    unit: str = "-"
    doc: str = ""
    required: bool = True
    finite: bool = True

    def shape_str(self) -> str:
        """The shape as a Python tuple literal.

        Returns
        -------
        str
            ``"(K, N)"``, ``"(K,)"`` for one dimension, ``"()"`` for a scalar.
        """
        return "(" + ", ".join(str(s) for s in self.shape) + ("," if len(self.shape) == 1 else "") + ")"


def rst_to_markdown(text: str) -> str:
    """Convert docstring math and headings from reStructuredText to markdown.

    ``:math:`x``` becomes ``$x$``; a ``.. math::`` block (its lines indented by
    four spaces) becomes a ``$$`` block; ``:sub:`x``` (with an optional
    preceding ``\\ `` escape) becomes ``_x``; a line underlined with ``-``,
    ``=`` or ``~`` becomes a bold heading.

    Parameters
    ----------
    text : str
        RST-flavoured text, e.g. a :attr:`Problem.statement`.

    Returns
    -------
    str
        The markdown text (LaTeX math kept between ``$`` / ``$$``).
    """

    text = re.sub(r":math:`([^`]*)`", r"$\1$", text)
    text = re.sub(r"\\? ?:sub:`([^`]*)`", r"_\1", text)
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == ".. math::":
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:] if lines[i].startswith("    ") else "")
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            out += ["$$", *block, "$$", ""]
            continue
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) <= set("-=~") \
                and len(lines[i + 1].strip()) >= max(3, len(line.strip()) - 2):
            out.append(f"**{line.strip()}**")
            i += 2
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def key_table(keys: Iterable[Key]) -> str:
    """Markdown table of keys: name, dtype, shape, unit and meaning.

    Parameters
    ----------
    keys : iterable of Key
        The rows, in order; optional keys get "(optional)" after their meaning.

    Returns
    -------
    str
        The table (header, separator and one line per key), without a final newline.
    """
    rows = ["| key | dtype | shape | unit | meaning |", "|---|---|---|---|---|"]
    for k in keys:
        opt = "" if k.required else " (optional)"
        rows.append(f"| `{k.name}` | {k.dtype} | {k.shape_str()} | {k.unit} | {k.doc}{opt} |")
    return "\n".join(rows)


def bind_dims(keys: Iterable[Key], arrays: Mapping[str, np.ndarray], dims: dict | None = None) -> dict:
    """Bind dimension symbols from the shapes of the present arrays.

    A key whose array is absent, or has another number of dimensions than its
    :attr:`Key.shape`, binds nothing; a symbol keeps its first binding.

    Parameters
    ----------
    keys : iterable of Key
        The keys whose symbols are bound, in order.
    arrays : mapping of str to array_like
        The arrays by key name.
    dims : dict, optional
        Symbols already bound (copied, never modified).

    Returns
    -------
    dict of str to int
        ``dims`` plus every newly bound symbol and its size.
    """
    dims = dict(dims or {})
    for k in keys:
        if k.name not in arrays:
            continue
        a = np.asarray(arrays[k.name])
        if a.ndim != len(k.shape):
            continue
        for sym, n in zip(k.shape, a.shape):
            if isinstance(sym, str) and sym not in dims:
                dims[sym] = int(n)
    return dims


def check_structure(keys: Iterable[Key], arrays: Mapping[str, Any], what: str,
                    dims: dict | None = None) -> dict:
    """Check the presence, dtype and shape of every key.

    Unknown extra keys are allowed (they are documented by the problem when
    it adds them).

    Parameters
    ----------
    keys : iterable of Key
        The expected keys.
    arrays : mapping of str to numpy.ndarray
        The instance or solution.
    what : str
        Name of the checked dict in error messages (``"instance of 'p'"``).
    dims : dict, optional
        Dimension symbols already bound (by the instance when a solution is checked).

    Returns
    -------
    dict of str to int
        The bound dimension symbols (``dims`` plus those bound by ``arrays``).

    Raises
    ------
    InputError
        When a required key is missing, or a present key is not a
        ``numpy.ndarray``, has another dtype or another shape.
    """
    keys = list(keys)
    for k in keys:
        if k.name not in arrays:
            if k.required:
                raise InputError(f"{what}: missing key '{k.name}' (expected {k.dtype} {k.shape_str()})")
            continue
        a = arrays[k.name]
        if not isinstance(a, np.ndarray):
            raise InputError(f"{what}: key '{k.name}' must be a numpy array, got {type(a).__name__}")
        if a.dtype != np.dtype(k.dtype):
            raise InputError(f"{what}: key '{k.name}' has dtype {a.dtype}, expected {k.dtype}")
    dims = bind_dims(keys, arrays, dims)
    for k in keys:
        if k.name not in arrays:
            continue
        a = arrays[k.name]
        expected = tuple(dims.get(s, s) if isinstance(s, str) else s for s in k.shape)
        if a.ndim != len(expected) or any(not isinstance(e, str) and e != n for e, n in zip(expected, a.shape)):
            raise InputError(f"{what}: key '{k.name}' has shape {tuple(a.shape)}, expected "
                             f"{k.shape_str()} = {expected}")
    return dims


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------


class Instance(dict):
    """A dict of NumPy arrays with a ``meta`` dict.

    ``meta`` holds at least ``problem``, ``schema``, and for generated
    instances ``suite``, ``index``, ``seed`` and ``params``.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray, optional
        The instance's arrays (the dict's items).
    meta : mapping, optional
        The metadata (copied into :attr:`meta`).

    Attributes
    ----------
    meta : dict
        Problem name, schema version and, for generated instances, suite,
        index, seed and generator parameters.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray] | None = None, meta: Mapping | None = None):
        super().__init__(arrays or {})
        self.meta: dict = dict(meta or {})

    @property
    def problem(self) -> str | None:
        """Name of the problem in :attr:`meta` (``None`` when not recorded)."""
        return self.meta.get("problem")

    @property
    def hash(self) -> str:
        """Content hash: :func:`instance_hash` of the recorded problem name and the arrays (64 hex digits)."""
        return instance_hash(self.meta.get("problem", ""), self)

    @property
    def id(self) -> str:
        """Human id: ``suite/index`` for generated instances, else the short hash."""
        if "suite" in self.meta and "index" in self.meta:
            return f"{self.meta['suite']}/{int(self.meta['index']):04d}"
        return self.hash[:12]

    def readonly(self) -> "Instance":
        """A copy whose arrays cannot be written (what solvers receive).

        Returns
        -------
        Instance
            Copies of the arrays with the ``writeable`` flag cleared, and the same meta.
        """
        arrs = {}
        for k, v in self.items():
            v = np.array(v, copy=True)
            v.setflags(write=False)
            arrs[k] = v
        return Instance(arrs, self.meta)


def instance_hash(problem: str, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the problem name and every array (name, dtype, shape, bytes).

    Parameters
    ----------
    problem : str
        The problem's name (the same arrays hash differently for another problem).
    arrays : mapping of str to array_like
        The arrays, hashed in sorted name order as C-contiguous bytes.

    Returns
    -------
    str
        The hex digest (64 characters).
    """
    h = hashlib.sha256()
    h.update(problem.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(b"\0" + name.encode() + b"\0" + a.dtype.str.encode() + repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Feasibility reports
# ---------------------------------------------------------------------------


@dataclass
class Violation:
    """One broken constraint: what, where, and by how much (>0).

    Attributes
    ----------
    constraint : str
        What is broken (the constraint's name or formula).
    size : float
        By how much, in the constraint's unit (> 0).
    where : str
        Where (an index, a user), or ``""``.
    """

    constraint: str
    size: float
    where: str = ""

    def __str__(self) -> str:
        loc = f" at {self.where}" if self.where else ""
        return f"{self.constraint}{loc}: {self.size:.3g}"


@dataclass
class FeasibilityReport:
    """Every violation found by :meth:`Problem.check`, with its size.

    Attributes
    ----------
    violations : list of Violation
        The violations in the order they were found.
    tol : float
        The tolerance the constraints were checked with.
    """

    violations: list[Violation] = field(default_factory=list)
    tol: float = 1e-6

    @property
    def feasible(self) -> bool:
        """Whether no violation was found."""
        return not self.violations

    @property
    def max_violation(self) -> float:
        """The largest violation size (0.0 when feasible)."""
        return max((v.size for v in self.violations), default=0.0)

    def add(self, constraint: str, size: float, where: str = "") -> None:
        """Record one violation.

        Parameters
        ----------
        constraint : str
            What is broken.
        size : float
            By how much (converted to ``float``).
        where : str, optional
            Where it is broken.
        """
        self.violations.append(Violation(constraint, float(size), where))

    def to_dict(self) -> dict:
        """The report as JSON-able data.

        Returns
        -------
        dict
            ``feasible``, ``max_violation`` and ``violations`` (a list of dicts
            with ``constraint``, ``size`` and ``where``).
        """
        return {"feasible": self.feasible, "max_violation": self.max_violation,
                "violations": [dataclasses.asdict(v) for v in self.violations]}

    def summary(self, n: int = 3) -> str:
        """The first violations on one line.

        Parameters
        ----------
        n : int, optional
            How many violations to show; the rest are counted ("and 4 more").

        Returns
        -------
        str
            The violations joined by ``"; "`` (``""`` when feasible).
        """
        s = "; ".join(str(v) for v in self.violations[:n])
        more = len(self.violations) - n
        return s + (f"; and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------
# Suites and problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A reproducible family of instances: instance ``i`` is always the same.

    Instance ``i`` is drawn with ``numpy.random.SeedSequence([seed, i])``.

    Attributes
    ----------
    name : str
        The suite's name (its key in :attr:`Problem.suites`).
    count : int
        Number of instances (indices ``0 .. count - 1``).
    params : mapping
        The generator parameters (JSON-able); a ``sweep`` list varies them
        with the index (see :meth:`Problem.instance_params`).
    seed : int
        The base seed.
    doc : str
        One-line description.
    role : str
        ``eval`` (scored) or ``train`` (training data of learned solvers).
    """

    name: str
    count: int
    params: Mapping[str, Any]
    seed: int = 0
    doc: str = ""
    #: ``eval`` (scored by ``mmopt run``) or ``train`` (training data of learned solvers; its seeds
    #: must be disjoint from every evaluation suite's, which ``mmopt.testing.check_problem`` asserts)
    role: str = "eval"


class Problem(abc.ABC):
    """Base class of a benchmark problem (maximisation).

    Subclasses set the class attributes and implement :meth:`make_instance`,
    :meth:`constraints` and :meth:`objective`; :meth:`check` and
    :meth:`generate` are provided.

    Attributes
    ----------
    name : str
        The problem id (``"sumrate-bs-beam"``), unique in the registry.
    sense : str
        ``"max"``: every problem is a maximisation.
    title : str
        One-line title.
    paper : str
        The citation of the paper the problem comes from.
    statement : str
        The formal statement (markdown + LaTeX, RST math roles allowed).
    instance_keys, solution_keys : tuple of Key
        The arrays of an instance and of a solution.
    suites : mapping of str to Suite
        The instance suites by name.
    param_docs : mapping of str to str
        Generator parameter name -> one-line meaning (unit included).
    metric_docs : mapping of str to str
        Extra table column -> one-line meaning (values from :meth:`metrics`).
    headline_metrics : tuple of str
        At most two names of :attr:`metric_docs` shown in the compact tables
        (``mmopt table``'s terminal and LaTeX output); empty: none.
    value_tol : float
        Relative tolerance of values compared with references.
    empty_dims : tuple of str
        Dimension symbols of the instance keys that may be 0 (every other one must be >= 1).
    max_instance_elements : int or None
        Largest total size of the instance arrays, in elements (``None``: no limit).
    """

    name: str = ""
    sense: str = "max"
    title: str = ""
    paper: str = ""
    statement: str = ""  # the formal statement (markdown + LaTeX)
    instance_keys: tuple[Key, ...] = ()
    solution_keys: tuple[Key, ...] = ()
    suites: Mapping[str, Suite] = {}
    #: generator parameters: name -> one-line meaning (unit included)
    param_docs: Mapping[str, str] = {}
    #: extra table columns: name -> one-line meaning (values from :meth:`metrics`)
    metric_docs: Mapping[str, str] = {}
    #: at most two metric names shown in the compact tables (terminal, LaTeX); the rest with --metrics all
    headline_metrics: tuple[str, ...] = ()
    #: relative tolerance of values compared with references
    value_tol: float = 1e-6
    #: dimension symbols of the instance keys that may be 0 (every other one must be >= 1)
    empty_dims: tuple[str, ...] = ()
    #: largest total size of the instance arrays, in elements (``None``: no limit); checked up front
    max_instance_elements: int | None = None

    @property
    def folder(self) -> Path:
        """The problem's folder: the package (or plugin file's folder) that defines the class.

        Its ``references/`` holds the reference records and suite manifests and
        its ``weights/`` the shipped weights of its learned solvers. Raises
        :class:`MmoptError` when the defining module has no file.
        """
        mod = sys.modules.get(type(self).__module__)
        f = getattr(mod, "__file__", None)
        if f is None:
            raise MmoptError(f"problem '{self.name}' has no folder (its module has no file)")
        return Path(f).resolve().parent

    # -- generation -------------------------------------------------------
    def eval_suites(self) -> list[str]:
        """Names of the suites that are scored (every suite but the training ones).

        Returns
        -------
        list of str
            The names of the suites whose ``role`` is ``eval``, in definition order.
        """
        return [n for n, s in self.suites.items() if s.role == "eval"]

    def cli_commands(self) -> list:
        """Extra ``click`` commands this problem contributes to the ``mmopt`` CLI (none by default).

        Returns
        -------
        list of click.Command
            The commands; empty unless a subclass overrides this.
        """
        return []

    def _figures_module(self):
        """The module ``figures`` beside the problem's own module, if its package has one (else ``None``)."""
        pkg = getattr(sys.modules.get(type(self).__module__), "__package__", None)
        if not pkg or importlib.util.find_spec(f"{pkg}.figures") is None:
            return None
        return importlib.import_module(f"{pkg}.figures")

    @property
    def figure_docs(self) -> dict:
        """File stem -> description of the figures :meth:`plot` writes (the index ``figures.md``): the
        ``FIGURE_DOCS`` of the problem package's ``figures`` module (empty without one)."""
        mod = self._figures_module()
        return dict(getattr(mod, "FIGURE_DOCS", None) or {}) if mod is not None else {}

    def plot(self, frame, out_dir, suite: str) -> list:
        """Write the paper's figures for ``suite`` from the store rows.

        The problem package's ``figures`` module, when it has one, draws them
        (its ``plot(problem, frame, out_dir, suite)``); none otherwise.

        Parameters
        ----------
        frame : pandas.DataFrame
            The store rows of every suite of this problem (a figure may sweep over suites).
        out_dir : str or pathlib.Path
            The folder the figures are written to.
        suite : str
            The suite whose figures are drawn.

        Returns
        -------
        list of pathlib.Path
            The files written; empty without a ``figures`` module or an override.
        """
        mod = self._figures_module()
        return list(mod.plot(self, frame, out_dir, suite)) if mod is not None and hasattr(mod, "plot") else []

    def reproduction(self, frame, suite: str) -> list[dict]:
        """Rows of ``mmopt reproduce`` for ``suite`` (none by default).

        Parameters
        ----------
        frame : pandas.DataFrame
            The store rows of every suite of this problem.
        suite : str
            The suite the rows are computed on.

        Returns
        -------
        list of dict
            One dict per paper quantity with ``quantity``, ``where`` (figure/table
            of the paper), ``paper``, ``mmopt``, ``optimum`` (the certified
            optimum) and ``gap`` (strings or numbers); empty unless a subclass
            overrides this.
        """
        return []

    def suite(self, name: str) -> Suite:
        """The suite called ``name``.

        Parameters
        ----------
        name : str
            The suite's name.

        Returns
        -------
        Suite
            The suite.

        Raises
        ------
        MmoptError
            When the problem has no suite of that name.
        """
        if not isinstance(name, str) or name not in self.suites:
            raise MmoptError(f"problem '{self.name}' has no suite '{name}' "
                             f"(available: {', '.join(self.suites)})")
        return self.suites[name]

    def instance_params(self, suite: str, index: int) -> dict:
        """Generator parameters of instance ``index``.

        A suite whose params hold a ``sweep`` list varies parameters with the
        index: instance ``i`` uses the suite's params updated by
        ``sweep[i % len(sweep)]``.

        Parameters
        ----------
        suite : str
            The suite's name.
        index : int
            The instance index (not checked against the suite's count here).

        Returns
        -------
        dict
            The suite's parameters without ``sweep``, updated by the sweep entry.

        Raises
        ------
        MmoptError
            When the problem has no such suite.
        """
        s = self.suite(suite)
        params = {k: v for k, v in s.params.items() if k != "sweep"}
        sweep = s.params.get("sweep")
        if sweep:
            params.update(sweep[index % len(sweep)])
        return params

    def generate(self, suite: str, index: int) -> Instance:
        """Instance ``index`` of ``suite`` (deterministic).

        The arrays come from :meth:`make_instance` with the generator
        ``numpy.random.default_rng(SeedSequence([suite.seed, index]))`` and are
        checked by :meth:`check_instance`.

        Parameters
        ----------
        suite : str
            The suite's name.
        index : int
            The instance index, ``0 <= index < count``.

        Returns
        -------
        Instance
            The instance, its meta holding problem, schema, suite, index, seed and params.

        Raises
        ------
        MmoptError
            When the suite does not exist or ``index`` is out of range.
        InputError
            When the generated instance fails :meth:`check_instance` (a generator bug).
        """
        s = self.suite(suite)
        if not 0 <= index < s.count:
            raise MmoptError(f"suite '{suite}' of '{self.name}' has instances 0..{s.count - 1}, not {index}")
        params = self.instance_params(suite, index)
        rng = np.random.default_rng(np.random.SeedSequence([s.seed, index]))
        arrays = self.make_instance(dict(params), rng)
        meta = {"problem": self.name, "schema": SCHEMA_VERSION, "suite": suite, "index": index,
                "seed": [s.seed, index], "params": params}
        inst = Instance(arrays, meta)
        self.check_instance(inst)
        return inst

    @abc.abstractmethod
    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The arrays of one instance drawn with ``rng`` from the suite's ``params``.

        Parameters
        ----------
        params : dict
            The instance's generator parameters (a copy: it may be modified).
        rng : numpy.random.Generator
            The instance's random generator, the only source of randomness.

        Returns
        -------
        dict of str to numpy.ndarray
            The instance arrays, matching :attr:`instance_keys`.
        """

    # -- validation -------------------------------------------------------
    def check_instance(self, instance: Mapping[str, np.ndarray]) -> dict:
        """Check an instance: structure, dimensions, size limit, finiteness, problem rules.

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance arrays.

        Returns
        -------
        dict of str to int
            The dimension symbols bound by the instance.

        Raises
        ------
        InputError
            When a key is missing or has another dtype or shape, a dimension
            is 0 outside :attr:`empty_dims`, the arrays hold more than
            :attr:`max_instance_elements` elements, a finite float key holds
            NaN or inf, or :meth:`validate_instance` rejects the instance.
        """
        dims = check_structure(self.instance_keys, instance, f"instance of '{self.name}'")
        for sym, n in dims.items():
            if n < 1 and sym not in self.empty_dims:
                raise InputError(f"instance of '{self.name}': dimension {sym} is {n}; it must be >= 1")
        if self.max_instance_elements is not None:
            size = sum(int(np.asarray(instance[k.name]).size) for k in self.instance_keys if k.name in instance)
            if size > self.max_instance_elements:
                raise InputError(f"instance of '{self.name}': {size} array elements, more than the problem's "
                                 f"limit of {self.max_instance_elements}")
        for k in self.instance_keys:
            if k.name in instance and k.finite and instance[k.name].dtype.kind in "fc":
                if not np.all(np.isfinite(instance[k.name])):
                    raise InputError(f"instance of '{self.name}': key '{k.name}' contains NaN or inf")
        self.validate_instance(instance, dims)
        return dims

    def validate_instance(self, instance: Mapping[str, np.ndarray], dims: dict) -> None:
        """Problem-specific instance checks beyond structure (none by default).

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance, structurally checked already.
        dims : dict of str to int
            The bound dimension symbols.

        Raises
        ------
        InputError
            When the instance breaks a rule of the problem (subclasses).
        """

    def check_solution_structure(self, instance, solution) -> dict:
        """Check that ``solution`` is a dict with the keys, dtypes and shapes of :attr:`solution_keys`.

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance, which binds the dimension symbols.
        solution : mapping of str to numpy.ndarray
            The solution to check.

        Returns
        -------
        dict of str to int
            The dimension symbols bound by the instance and the solution.

        Raises
        ------
        InputError
            When ``solution`` is not a mapping or a key is missing or malformed.
        """
        dims = bind_dims(self.instance_keys, instance)
        if not isinstance(solution, Mapping):
            raise InputError(f"solution of '{self.name}' must be a dict of arrays, got {type(solution).__name__}")
        return check_structure(self.solution_keys, solution, f"solution of '{self.name}'", dims)

    def check(self, instance: Mapping[str, np.ndarray], solution: Mapping[str, np.ndarray],
              tol: float = 1e-6) -> FeasibilityReport:
        """Every violation of the solution, with its size.

        Non-finite values and broken constraints are reported as violations;
        :meth:`constraints` runs only when no key marked ``finite`` holds NaN or inf.

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        solution : mapping of str to numpy.ndarray
            The solution.
        tol : float, optional
            Tolerance of the constraints (passed to :meth:`constraints`).

        Returns
        -------
        FeasibilityReport
            The violations (none: feasible).

        Raises
        ------
        InputError
            On a structural problem: a missing key, a wrong dtype or shape.
        """
        self.check_solution_structure(instance, solution)
        rep = FeasibilityReport(tol=tol)
        finite_ok = True
        for k in self.solution_keys:
            if k.name in solution and k.finite and solution[k.name].dtype.kind in "fc":
                bad = ~np.isfinite(solution[k.name])
                if bad.any():
                    finite_ok = False
                    rep.add(f"finite values of '{k.name}'", float(bad.sum()), "count of NaN/inf entries")
        if finite_ok:
            self.constraints(instance, solution, tol, rep)
        return rep

    @abc.abstractmethod
    def constraints(self, instance, solution, tol: float, report: FeasibilityReport) -> None:
        """Add every constraint violation to ``report``.

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        solution : mapping of str to numpy.ndarray
            The solution, structurally checked and finite.
        tol : float
            Tolerance below which a violation is not reported.
        report : FeasibilityReport
            Receives each violation through :meth:`FeasibilityReport.add`.
        """

    # -- value ------------------------------------------------------------
    @abc.abstractmethod
    def objective(self, instance: Mapping[str, np.ndarray], solution: Mapping[str, np.ndarray]) -> float:
        """The value of a feasible solution (maximised).

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        solution : mapping of str to numpy.ndarray
            A feasible solution.

        Returns
        -------
        float
            The objective value, in the problem's unit.
        """

    def metrics(self, instance: Mapping[str, np.ndarray], solution: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Extra per-cell quantities shown as table columns (see ``metric_docs``).

        A problem whose metrics need the solver's stats (a ranked beam list)
        declares ``metrics(self, instance, solution, stats=None)``; the engine
        then passes them (see :func:`mmopt.evaluate.problem_metrics`).

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        solution : mapping of str to numpy.ndarray
            A feasible solution.

        Returns
        -------
        dict of str to float
            Metric name -> value (empty by default).
        """
        return {}

    def cell_data(self, instance: Mapping[str, np.ndarray], solution: Mapping[str, np.ndarray]) -> dict:
        """Small JSON-able per-cell data kept in the store (``stats["problem_data"]``) for figures.

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        solution : mapping of str to numpy.ndarray
            The solution.

        Returns
        -------
        dict
            JSON-able data (empty by default).
        """
        return {}

    def parameter_summary(self) -> tuple[dict, dict]:
        """Each generator parameter's most common value, and each suite's differing values.

        Returns
        -------
        common : dict
            Parameter -> the value most suites give it (the first seen on a tie).
        overrides : dict of str to dict
            Suite name -> the parameters whose value differs from ``common``.
        """

        suites = list(self.suites.values())
        common = {}
        for k in dict.fromkeys(k for s in suites for k in s.params):
            vals = [json.dumps(s.params[k], sort_keys=True) for s in suites if k in s.params]
            common[k] = json.loads(Counter(vals).most_common(1)[0][0])
        overrides = {s.name: {k: v for k, v in s.params.items() if v != common[k]} for s in suites}
        return common, overrides

    def describe(self) -> str:
        """Markdown description: statement, key tables, generator parameters.

        Returns
        -------
        str
            A ``##`` section with the title, the paper, the statement, the
            instance and solution key tables and, when :attr:`param_docs` is
            set, the generator parameters with their common values.
        """
        text = (f"## `{self.name}` — {self.title}\n\n{self.paper}\n\n{rst_to_markdown(self.statement)}\n\n"
                f"### Instance keys\n\n{key_table(self.instance_keys)}\n\n"
                f"### Solution keys\n\n{key_table(self.solution_keys)}\n")
        if self.param_docs and self.suites:
            common, _ = self.parameter_summary()
            rows = ["| parameter | meaning | value (unless a suite says otherwise) |", "|---|---|---|"]
            rows += [f"| `{k}` | {doc} | {common.get(k, '')} |" for k, doc in self.param_docs.items()]
            text += "\n### Generator parameters\n\n" + "\n".join(rows) + "\n"
        return text


# ---------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------

#: optional dependency -> the extra that installs it
EXTRAS = {"torch": "learned", "gymnasium": "learned"}


@dataclass
class Solver:
    """A registered solver function ``solve(instance, **params) -> (solution, stats)``.

    A solver is identified by (problem, name): the same name may serve several
    problems with different code. See ``docs/architecture.md`` for the contract.
    Built by the :func:`solver` decorator.

    Attributes
    ----------
    name : str
        The solver's name.
    fn : callable
        ``fn(instance, **params) -> (solution, stats)``.
    problems : tuple of str
        The problems it is registered for.
    kind : str
        One of :data:`KINDS`.
    version : int
        Bumped when the answers change (part of the cache key).
    params : dict
        Parameter name -> default (the keyword-only arguments of ``fn``).
    doc : str
        The docstring of ``fn``.
    certifies : bool
        Whether its answer is a certified reference (value + bound).
    imports, requires : tuple of str
        Heavy modules imported per worker; optional modules it needs.
    applies_fn, setup_fn, weights_fn, train_fn : callable or None
        The ``applies``, ``setup``, ``weights`` and ``train`` hooks of :func:`solver`.
    module : str
        The module that registered it.
    choices : dict
        Parameter -> the values it accepts.
    check_params_fn : callable or None
        The ``check_params`` hook of :func:`solver`.
    """

    name: str
    fn: Callable
    problems: tuple[str, ...]
    kind: str
    version: int
    params: dict[str, Any]
    doc: str = ""
    #: whether the solver's answer is a certified reference (value + bound)
    certifies: bool = False
    #: heavy modules imported once per worker before cells are forked (e.g. pyomo, torch)
    imports: tuple[str, ...] = ()
    #: optional modules the solver needs; missing ones make it unavailable, never break loading
    requires: tuple[str, ...] = ()
    #: ``applies(instance, **params) -> None | reason``: decline an instance (cell status ``skipped``)
    applies_fn: Callable | None = None
    #: ``setup(**params)``: load what the solver needs (weights); timed apart from the solve, memoised
    #: by the solver itself, run in the worker before each cell is forked
    setup_fn: Callable | None = None
    #: learned solvers: ``weights(**params) -> file name`` in the ``weights/`` folder of the solver's problem
    weights_fn: Callable | None = None
    #: learned solvers: ``train(*, epochs, seed, count, progress, **params) -> (state_dict, info)``
    train_fn: Callable | None = None
    #: module that registered the solver (named in duplicate-registration errors)
    module: str = ""
    #: parameter -> the values it accepts (``choices=`` of :func:`solver`, or a ``Literal`` annotation)
    choices: dict = field(default_factory=dict)
    #: ``check_params(**params) -> None | reason``: refuse parameter values before any cell runs
    check_params_fn: Callable | None = None
    #: the engine's ``weights`` parameter (every learned solver): a weight file replacing the shipped
    #: ones; stripped before the solver's own functions are called, which then see it through
    #: :data:`WEIGHTS_OVERRIDE`
    engine_weights: bool = False

    # -- availability -----------------------------------------------------
    def missing(self) -> list[str]:
        """Modules of :attr:`requires` that cannot be imported here.

        Returns
        -------
        list of str
            The missing modules, in :attr:`requires` order, without duplicates.
        """

        out = []
        for m in dict.fromkeys(self.requires):
            try:
                if importlib.util.find_spec(m) is None:
                    out.append(m)
            except (ImportError, ValueError):
                out.append(m)
        return out

    @property
    def available(self) -> bool:
        """Whether every module of :attr:`requires` can be imported."""
        return not self.missing()

    def install_hint(self) -> str:
        """The ``pip install`` command that provides the missing modules.

        Returns
        -------
        str
            ``pip install "mmopt[learned]"`` with the extras of :data:`EXTRAS` (or
            the module names themselves), or ``""`` when nothing is missing.
        """
        extras = sorted({EXTRAS.get(m, m) for m in self.missing()})
        return f'pip install "mmopt[{",".join(extras)}]"' if extras else ""

    def unavailable_reason(self) -> str | None:
        """Why the solver cannot run here.

        Returns
        -------
        str or None
            ``"needs torch (pip install ...)"``, or ``None`` when it is available.
        """
        miss = self.missing()
        if not miss:
            return None
        return f"needs {', '.join(miss)} ({self.install_hint()})"

    # -- parameters -------------------------------------------------------
    def warm_up(self) -> None:
        """Import :attr:`imports` in this process so forked cells inherit them.

        Returns
        -------
        None
        """

        for m in self.imports:
            importlib.import_module(m)

    def canonical_params(self, params: Mapping[str, Any] | None = None) -> dict:
        """The solver's defaults overridden by ``params``, checked.

        Parameters
        ----------
        params : mapping, optional
            Parameter values; strings (from the command line) are converted to
            the default's type by :func:`coerce_param`.

        Returns
        -------
        dict
            Every parameter with its value.

        Raises
        ------
        MmoptError
            When a name is not a parameter of the solver, a string cannot be
            converted, a number is NaN or infinite, a number whose default is
            not negative is negative, a value is not one of the parameter's
            :attr:`choices`, or the ``check_params`` hook refuses the values.
        """
        params = dict(params or {})
        unknown = set(params) - set(self.params)
        if unknown:
            raise MmoptError(f"solver '{self.name}' has no parameter {', '.join(sorted(unknown))} "
                             f"(parameters: {', '.join(self.params) or 'none'})")
        out = dict(self.params)
        for k, v in params.items():
            what = f"{self.name}.{k}"
            v = out[k] = coerce_param(v, self.params[k], what)
            d = self.params[k]
            if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                if not math.isfinite(float(v)):
                    raise MmoptError(f"parameter {what}: must be a finite number, got {v!r}")
                if isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0 and v < 0:
                    raise MmoptError(f"parameter {what}: must be >= 0, got {v!r}")
            if k in self.choices and v not in self.choices[k]:
                raise MmoptError(f"parameter {what}: {v!r} is not one of "
                                 f"{', '.join(repr(c) for c in self.choices[k])}")
        if self.engine_weights and out.get("weights"):
            w = Path(str(out["weights"])).expanduser()
            if not w.is_file():
                raise MmoptError(f"parameter {self.name}.weights: no such file {w}")
            out["weights"] = str(w.resolve())
        if self.check_params_fn is not None and params:
            why = self.check_params_fn(**self.own_params(out))
            if why:
                raise MmoptError(f"solver '{self.name}': {why}")
        return out

    def own_params(self, params: Mapping[str, Any]) -> dict:
        """``params`` without the engine's ``weights`` parameter (what the solver's functions take).

        Parameters
        ----------
        params : mapping
            Canonical parameters (:meth:`canonical_params`).

        Returns
        -------
        dict
            The parameters the solver's own functions declare.
        """
        return {k: v for k, v in params.items() if not (self.engine_weights and k == "weights")}

    def call(self, fn: Callable, params: Mapping[str, Any] | None, *args):
        """Call one of the solver's functions with its canonical parameters; a ``weights`` file is
        made the :data:`WEIGHTS_OVERRIDE` for the call.

        Parameters
        ----------
        fn : callable
            The solve function or a hook.
        params : mapping or None
            Solver parameters (defaults filled in by :meth:`canonical_params`).
        *args
            Positional arguments (the instance).

        Returns
        -------
        object
            What ``fn`` returns.

        Raises
        ------
        MmoptError
            When ``params`` holds an unknown or unconvertible parameter.
        """
        p = self.canonical_params(params)
        token = WEIGHTS_OVERRIDE.set(str(p.get("weights") or "") if self.engine_weights else "")
        try:
            return fn(*args, **self.own_params(p))
        finally:
            WEIGHTS_OVERRIDE.reset(token)

    # -- the hooks ----------------------------------------------------------
    def applies(self, instance: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None) -> str | None:
        """Whether the solver takes the instance (its ``applies`` hook).

        Parameters
        ----------
        instance : mapping of str to numpy.ndarray
            The instance.
        params : mapping, optional
            Solver parameters (defaults filled in by :meth:`canonical_params`).

        Returns
        -------
        str or None
            ``None`` if the solver takes the instance, else the reason it declines.

        Raises
        ------
        MmoptError
            When ``params`` holds an unknown or unconvertible parameter.
        """
        if self.applies_fn is None:
            return None
        reason = self.call(self.applies_fn, params, instance)
        return None if not reason else str(reason)

    def setup(self, params: Mapping[str, Any] | None = None) -> float:
        """Run the set-up hook (weight loading).

        Parameters
        ----------
        params : mapping, optional
            Solver parameters (defaults filled in by :meth:`canonical_params`).

        Returns
        -------
        float
            Wall-clock seconds of the hook (0.0 without one).

        Raises
        ------
        MmoptError
            When ``params`` holds an unknown or unconvertible parameter.
        """
        if self.setup_fn is None:
            return 0.0

        t0 = time.perf_counter()
        self.call(self.setup_fn, params)
        return time.perf_counter() - t0

    def solve(self, instance: Instance, **params) -> tuple[dict, dict]:
        """Call the solver function in this process (no time or memory limit).

        Parameters
        ----------
        instance : Instance
            The instance (the engine passes a :meth:`Instance.readonly` copy).
        **params
            Solver parameters overriding the defaults.

        Returns
        -------
        solution : dict of str to numpy.ndarray
            The solution arrays as the solver returned them.
        stats : dict
            The solver's stats (``{}`` when it returned ``None``).

        Raises
        ------
        MmoptError
            When ``params`` holds an unknown or unconvertible parameter.
        """
        sol, stats = self.call(self.fn, params, instance)
        return sol, dict(stats or {})


def coerce_param(value: Any, default: Any, what: str) -> Any:
    """Convert a string from the command line to the type of the default.

    Non-strings pass unchanged (an ``int`` becomes a ``float`` when the default
    is a float), and so does anything whose default is a string or ``None``.
    Booleans accept ``1/true/yes/on`` and ``0/false/no/off``; other
    non-numeric defaults (lists, dicts) are read as JSON.

    Parameters
    ----------
    value : Any
        The given value.
    default : Any
        The parameter's default, whose type is the target.
    what : str
        The parameter's name in error messages (``solver.param``).

    Returns
    -------
    Any
        The converted value.

    Raises
    ------
    MmoptError
        When the string cannot be read as the default's type.
    """
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return json.loads(value)
    except ValueError:
        raise MmoptError(f"parameter {what}: cannot read {value!r} as {type(default).__name__}") from None


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback: NumPy scalars and arrays as Python values, anything else as text.

    Parameters
    ----------
    o : Any
        An object ``json`` cannot serialise.

    Returns
    -------
    Any
        ``o.item()`` for a NumPy scalar, ``o.tolist()`` for an array, else ``str(o)``.
    """
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def json_safe(obj: Any, max_array: int | None = None) -> Any:
    """``obj`` made JSON-safe, recursively: the one sanitiser of stats, rows and CLI output.

    Parameters
    ----------
    obj : Any
        Mappings, sequences, NumPy scalars and arrays, numbers, strings.
    max_array : int, optional
        Arrays larger than this become a short ``"<array dtype shape>"`` text
        (stats stay small); by default every array becomes a list.

    Returns
    -------
    Any
        Dicts with string keys, lists, finite floats (NaN and inf become
        ``None``), ints, bools, strings and ``None``; anything else as text.
    """
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, np.ndarray):
        if max_array is not None and obj.size > max_array:
            return f"<array {obj.dtype} {obj.shape}>"
        obj = obj.tolist()
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, max_array) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, max_array) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, complex):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def params_key(params: Mapping[str, Any]) -> str:
    """Canonical JSON of parameters (sorted keys) used in cache keys.

    Parameters
    ----------
    params : mapping
        The parameters (NumPy values allowed, see :func:`json_default`).

    Returns
    -------
    str
        Compact JSON with sorted keys.
    """
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=json_default)


# registries (filled by decorators at plugin import time)
#: problem name -> the registered Problem instance
PROBLEMS: dict[str, Problem] = {}
#: (problem, name) -> Solver
SOLVERS: dict[tuple[str, str], Solver] = {}


def problem(cls: type[Problem]) -> type[Problem]:
    """Class decorator registering a :class:`Problem` subclass (one instance).

    The instance is stored in :data:`PROBLEMS` under ``cls.name``; registering
    again from the same module replaces it.

    Parameters
    ----------
    cls : type
        The :class:`Problem` subclass.

    Returns
    -------
    type
        ``cls`` itself.

    Raises
    ------
    TypeError
        When ``cls.name`` is empty.
    MmoptError
        When another module has registered a problem of the same name.
    """
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    old = PROBLEMS.get(cls.name)
    if old is not None and type(old).__module__ != cls.__module__:
        raise MmoptError(f"problem '{cls.name}' is registered twice: by {type(old).__module__} "
                         f"and by {cls.__module__}")
    PROBLEMS[cls.name] = cls()
    return cls


def solver(name: str, *, problems: Iterable[str], kind: str, version: int = 1,
           certifies: bool | None = None, imports: Iterable[str] = (), requires: Iterable[str] = (),
           applies: Callable | None = None, setup: Callable | None = None,
           weights: Callable | str | None = None, train: Callable | None = None,
           choices: Mapping[str, Iterable] | None = None, check_params: Callable | None = None
           ) -> Callable[[Callable], Callable]:
    """Register ``fn(instance, *, p1=default, ...) -> (solution, stats)`` as a solver.

    Parameters and their defaults are read from the keyword-only arguments.

    Parameters
    ----------
    name : str
        The solver's name.
    problems : iterable of str
        The solver is registered as (problem, name) for each problem; the same
        (problem, name) twice is an error naming both modules.
    kind : str
        ``reference``, ``learned``, ``distributed`` or ``baseline``.
    version : int, optional
        Bumped whenever the solver's answers change (part of the cache key).
    certifies : bool, optional
        Whether its answers are certified references; ``None``: only for ``reference`` solvers.
    imports : iterable of str, optional
        Heavy modules imported once per worker before cells are forked.
    requires : iterable of str, optional
        Optional modules (``("torch",)``); when one is missing the solver is
        listed as unavailable with the extra to install, and never breaks
        loading of other plugins. Import them inside functions, not at the top
        of the module.
    applies : callable, optional
        ``applies(instance, **params) -> None | reason``: decline instances
        (exhaustive search on a large suite, a model trained for another size).
    setup : callable, optional
        ``setup(**params)``: memoised loading (weights) timed apart from the solve.
    weights, train : str or callable, optional
        Learned solvers (required for them): the weight file name (or
        ``weights(**params) -> name``) in the ``weights/`` folder of the
        solver's problem and the training entry used by ``mmopt train``.
        Every learned solver also gets the parameter ``weights`` (default
        ``""``: the shipped files): a weight file, for instance one written
        by ``mmopt train``, used in place of every shipped file; its sha256
        is part of the cache key like the shipped files'.
    choices : mapping, optional
        Parameter -> the values it accepts (a parameter annotated
        ``typing.Literal[...]`` gets its values from the annotation); another
        value is refused before any cell runs.
    check_params : callable, optional
        ``check_params(**params) -> None | reason``: refuse parameter values
        (a batch size below 1) before any cell runs.

    Returns
    -------
    callable
        The decorator: it registers ``fn`` in :data:`SOLVERS`, sets
        ``fn.mmopt_solver`` to its :class:`Solver` and returns ``fn``; it
        raises :class:`MmoptError` when another module or function already
        registered the same (problem, name).

    Raises
    ------
    ValueError
        When ``kind`` is not in :data:`KINDS`, or a learned solver lacks ``weights`` or ``train``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if kind == "learned" and (weights is None or train is None):
        raise ValueError(f"learned solver '{name}' needs weights= and train=")

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = {p.name: p.default for p in sig.parameters.values()
                  if p.kind == p.KEYWORD_ONLY and p.default is not p.empty}
        allowed = {}
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - an annotation that does not resolve declares nothing
            hints = {}
        for k in params:
            if typing.get_origin(hints.get(k)) is typing.Literal:
                allowed[k] = tuple(typing.get_args(hints[k]))
        allowed.update({k: tuple(v) for k, v in (choices or {}).items()})
        for k in allowed:
            if k not in params:
                raise ValueError(f"solver '{name}': choices for '{k}', which is not a parameter")
        doc = inspect.getdoc(fn) or ""
        engine_weights = kind == "learned" and "weights" not in params
        if engine_weights:   # every learned solver takes a weight file replacing the shipped ones
            params["weights"] = ""
        wfn = (lambda **_: weights) if isinstance(weights, str) else weights
        s = Solver(name=name, fn=fn, problems=tuple(problems), kind=kind, version=version,
                   params=params, doc=doc,
                   certifies=(kind == "reference") if certifies is None else certifies,
                   imports=tuple(imports), requires=tuple(requires), applies_fn=applies, setup_fn=setup,
                   weights_fn=wfn, train_fn=train, module=fn.__module__, choices=allowed,
                   check_params_fn=check_params, engine_weights=engine_weights)
        for p in s.problems:
            old = SOLVERS.get((p, name))
            if old is not None and (old.module, old.fn.__qualname__) != (s.module, fn.__qualname__):
                raise MmoptError(f"solver '{name}' for problem '{p}' is registered twice: by {old.module} "
                                 f"and by {s.module}")
            SOLVERS[(p, name)] = s
        fn.mmopt_solver = s
        return fn

    return deco

"""The engine's public API is documented: every module lists its public names in ``__all__``, and every
public function, class and method listed there has a NumPy-style docstring (``Parameters`` when it takes
arguments, ``Returns`` or ``Yields`` when it returns a value)."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap

import pytest

#: modules whose documentation is complete
DOCUMENTED = [
    "mmopt", "mmopt.api", "mmopt.io", "mmopt.evaluate", "mmopt.references", "mmopt.report", "mmopt.reproduce",
    "mmopt.sandbox", "mmopt.docs", "mmopt.distributed", "mmopt.learned", "mmopt.certify", "mmopt.cli_util",
    "mmopt.cli", "mmopt.registry", "mmopt.cell", "mmopt.runner", "mmopt.store", "mmopt.validate",
    "mmopt.schema", "mmopt.progress",
    "mmopt.phy", "mmopt.phy.arrays", "mmopt.phy.blockage", "mmopt.phy.cqi", "mmopt.phy.pathloss",
    "mmopt.phy.reflections", "mmopt.phy.units", "mmopt.envs",
]
#: modules being documented by someone else right now: checked the same way; extend as needed
IN_PROGRESS = [
    "mmopt.testing",
]
MODULES = DOCUMENTED + IN_PROGRESS
#: module -> the optional dependency it needs at import time (skipped without it)
OPTIONAL = {"mmopt.envs": "gymnasium"}
#: public dunder methods that are part of an API (``progress(advance=1, loss=...)``)
PUBLIC_DUNDERS = {"__call__"}


def _section(doc: str, *names: str) -> bool:
    """Whether ``doc`` has a NumPy-style section (a heading underlined with dashes) of one of ``names``."""
    return any(re.search(rf"^[ \t]*{name}[ \t]*\n[ \t]*-{{3,}}[ \t]*$", doc, re.M) for name in names)


def _own_doc(obj) -> str:
    """The object's own docstring (``inspect.getdoc`` would inherit a base class's)."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def _returns_value(fn) -> bool:
    """Whether ``fn`` is annotated to return something other than None, or has a ``return <value>``
    or a ``yield`` in its own body (nested functions and lambdas excluded)."""
    ann = inspect.signature(fn).return_annotation
    if ann not in (inspect.Signature.empty, None, "None", type(None)):
        return True
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    func = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None:
        return False
    todo = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None \
                and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def _function_problems(where: str, fn) -> list[str]:
    fn = inspect.unwrap(fn)
    doc = _own_doc(fn)
    if not doc:
        return [f"{where}: no docstring"]
    out = []
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.name not in ("self", "cls") and p.kind is not p.VAR_KEYWORD]
    except (TypeError, ValueError):  # a builtin without a signature
        return out
    if params and not _section(doc, "Parameters"):
        out.append(f"{where}: takes {', '.join(p.name for p in params)} but its docstring has no Parameters section")
    if _returns_value(fn) and not _section(doc, "Returns", "Yields"):
        out.append(f"{where}: returns a value but its docstring has no Returns section")
    return out


def _class_problems(where: str, cls: type) -> list[str]:
    out = []
    doc = _own_doc(cls)
    if doc.startswith(cls.__name__ + "("):  # the signature @dataclass writes when there is no docstring
        doc = ""
    if not doc:
        out.append(f"{where}: no class docstring")
    init = vars(cls).get("__init__")
    if doc and inspect.isfunction(init):
        args = [p for p in inspect.signature(init).parameters.values() if p.name != "self"]
        if args and not _section(doc, "Parameters", "Attributes") and not _section(_own_doc(init), "Parameters"):
            out.append(f"{where}: takes {', '.join(p.name for p in args)} but its docstring has no "
                       "Parameters or Attributes section")
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in PUBLIC_DUNDERS:
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            if not _own_doc(member.fget):
                out.append(f"{where}.{name}: property without a docstring")
        elif inspect.isfunction(member):
            out += _function_problems(f"{where}.{name}", member)
    return out


def _ours(obj, module) -> bool:
    mod = getattr(obj, "__module__", None) or ""
    return mod == module.__name__ or mod == "mmopt" or mod.startswith("mmopt.")


def doc_problems(module) -> list[str]:
    """Every way ``module`` breaks the documentation rules (empty: none)."""
    name = module.__name__
    names = getattr(module, "__all__", None)
    if names is None:
        return [f"{name}: no __all__"]
    out = [f"{name}.{n}: listed in __all__ but not defined" for n in names if not hasattr(module, n)]
    for n in names:
        obj = getattr(module, n, None)
        if obj is None or not _ours(obj, module):
            continue
        if inspect.isclass(obj):
            out += _class_problems(f"{name}.{n}", obj)
        elif inspect.isfunction(inspect.unwrap(obj)):
            out += _function_problems(f"{name}.{n}", obj)
    return out


def unlisted(module) -> list[str]:
    """Public functions and classes defined in ``module`` that its ``__all__`` does not list."""
    listed = set(getattr(module, "__all__", ()))
    return [f"{module.__name__}.{n}" for n, obj in vars(module).items()
            if not n.startswith("_") and n not in listed and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", None) == module.__name__]


def _import(name: str):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_public_names_are_documented(name):
    problems = doc_problems(_import(name))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_every_public_definition(name):
    missing = unlisted(_import(name))
    assert not missing, "public but not in __all__ (add it, or rename it with a leading _): " + ", ".join(missing)


# ---------------------------------------------------------------------------
# The checker finds what it is meant to find
# ---------------------------------------------------------------------------

BAD_MODULE = '''
from dataclasses import dataclass

__all__ = ["undocumented", "no_params", "no_returns", "generator", "DC", "Klass", "fine", "kwargs_only", "ghost"]


def undocumented(x):
    return x


def no_params(x):
    """Summary only."""


def no_returns(x):
    """Add one.

    Parameters
    ----------
    x : int
        A number.
    """
    return x + 1


def generator(n):
    """Count.

    Parameters
    ----------
    n : int
        How far.
    """
    yield from range(n)


@dataclass
class DC:
    a: int


class Klass:
    """A class without a Parameters section."""

    def __init__(self, a):
        self.a = a

    def method(self) -> int:
        """Summary."""
        return self.a

    @property
    def prop(self):
        return 1

    def _private(self, x):
        return x


def fine(x: int) -> int:
    """Add one.

    Parameters
    ----------
    x : int
        A number.

    Returns
    -------
    int
        ``x + 1``.
    """
    return x + 1


def kwargs_only(**kwargs) -> None:
    """Take anything; return nothing."""


def not_listed():
    """Public, but missing from __all__."""
'''


@pytest.fixture
def bad_module(tmp_path):
    path = tmp_path / "mmopt_doc_selftest.py"
    path.write_text(BAD_MODULE)
    spec = importlib.util.spec_from_file_location("mmopt_doc_selftest", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def test_checker_catches_undocumented_code(bad_module):
    found = doc_problems(bad_module)
    prefix = "mmopt_doc_selftest."
    expected = {
        "undocumented: no docstring",
        "no_params: takes x but its docstring has no Parameters section",
        "no_returns: returns a value but its docstring has no Returns section",
        "generator: returns a value but its docstring has no Returns section",
        "DC: no class docstring",
        "Klass: takes a but its docstring has no Parameters or Attributes section",
        "Klass.method: returns a value but its docstring has no Returns section",
        "Klass.prop: property without a docstring",
        "ghost: listed in __all__ but not defined",
    }
    assert sorted(found) == sorted(prefix + e for e in expected)
    assert unlisted(bad_module) == [prefix + "not_listed"]


def test_checker_needs_all(bad_module):
    del bad_module.__all__
    assert doc_problems(bad_module) == ["mmopt_doc_selftest: no __all__"]

"""The layout's promises, checked on the source: one folder per problem, an engine that knows no problem,
no import cycles, problem definitions that never run a solver, and lazy solver registration."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

import mmopt
from mmopt.registry import ENTRY_POINTS, all_solvers, problems

SRC = Path(mmopt.__file__).resolve().parent          # src/mmopt
PROBLEMS_DIR = SRC / "problems"
#: what an in-function import may load: optional or slow-to-import dependencies (the reason to defer them)
DEFERRED_OK = {"torch", "matplotlib", "dask", "distributed", "pandas", "rich", "click", "sumo", "resource", "cvxpy",
               "pyomo", "sympy", "scipy", "pytest"}
#: engine modules the CLI imports inside its commands so that `mmopt --help` does not load Dask and pandas
CLI_DEFERRED = {"mmopt.runner", "mmopt.report", "mmopt.store", "mmopt.validate", "mmopt.certify",
                "mmopt.reproduce", "mmopt.cell", "mmopt.docs", "mmopt.learned", "mmopt.io", "mmopt.evaluate",
                "mmopt.references", "mmopt.registry", "mmopt.sandbox", "mmopt.schema", "numpy"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(path: Path):
    """(imported module, line, inside a function) for every import statement of a file, resolved."""
    mod = _module_name(path)
    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    tree = ast.parse(path.read_text())
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inside = {id(x) for f in funcs for x in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, id(node) in inside
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(pkg[:len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            for a in node.names:
                cand = f"{base}.{a.name}"
                yield (cand if cand in MODULES else base), node.lineno, id(node) in inside


def _internal(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph(prefix: str) -> nx.DiGraph:
    g = nx.DiGraph()
    for m, p in MODULES.items():
        if not m.startswith(prefix):
            continue
        g.add_node(m)
        for name, _, _ in _imports(p):
            t = _internal(name)
            if t and t != m and t.startswith(prefix):
                g.add_edge(m, t)
    return g


def _engine_modules():
    return {m: p for m, p in MODULES.items() if not m.startswith("mmopt.problems.")}


def test_the_engine_imports_no_problem():
    bad = [f"{p.relative_to(SRC)}:{line} imports {name}" for m, p in _engine_modules().items()
           for name, line, _ in _imports(p) if name.startswith("mmopt.problems.")]
    assert not bad, bad


def test_no_import_cycles_in_the_engine_or_in_a_problem():
    engine = _graph("mmopt").subgraph([m for m in _graph("mmopt") if not m.startswith("mmopt.problems.")])
    cycles = list(nx.simple_cycles(engine))
    for pdir in sorted(d for d in PROBLEMS_DIR.iterdir() if (d / "__init__.py").is_file()):
        cycles += list(nx.simple_cycles(_graph(f"mmopt.problems.{pdir.name}")))
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_a_problem_definition_never_imports_its_solvers():
    """problem.py, scenario.py, figures, analysis and CLI never run a solver: metrics that need the optimum
    read the reference record handed to them."""
    bad = []
    for m, p in MODULES.items():
        if not m.startswith("mmopt.problems.") or ".solvers" in m:
            continue
        bad += [f"{m}:{line} imports {name}" for name, line, _ in _imports(p) if ".solvers" in name]
    assert not bad, bad


def test_in_function_imports_only_defer_optional_or_slow_dependencies():
    bad = []
    for m, p in MODULES.items():
        for name, line, inside in _imports(p):
            if not inside or name.split(".")[0] in DEFERRED_OK:
                continue
            if m == "mmopt.cli" and (_internal(name) in CLI_DEFERRED or name in CLI_DEFERRED):
                continue
            target = _internal(name)
            if target and target in MODULES and (
                    "gnn_net" in target or "gbpn_net" in target or target.endswith(("figures", ".cli"))):
                continue  # modules that import torch, matplotlib or click at their top
            bad.append(f"{m}:{line} imports {name} inside a function")
    assert not bad, bad


@pytest.mark.parametrize("pdir", sorted(d.name for d in PROBLEMS_DIR.iterdir() if (d / "__init__.py").is_file()))
def test_each_problem_folder_holds_all_of_its_problem(pdir):
    folder = PROBLEMS_DIR / pdir
    name = pdir.replace("_", "-")
    assert name in problems(), f"the folder {pdir} is the id {name} with underscores"
    p = problems()[name]
    assert p.folder == folder
    for f in ("problem.py", "scenario.py", "solvers/__init__.py"):
        assert (folder / f).is_file(), f"{pdir}/{f} missing"
    for suite in p.eval_suites():
        assert (folder / "references" / f"{suite}.manifest.json").is_file(), f"{pdir}: no manifest for {suite}"
        assert (folder / "references" / f"{suite}.jsonl").is_file(), f"{pdir}: no references for {suite}"
    solvers = [s for (q, _), s in all_solvers() if q == name]
    for s in solvers:
        assert s.module.startswith(f"mmopt.problems.{pdir}.solvers."), f"{s.name} lives outside the folder"
    learned = [s for s in solvers if s.kind == "learned"]
    assert (folder / "weights").is_dir() == bool(learned)
    # the folder's SOLVERS table names every solver its modules register, and nothing else
    import importlib

    table = importlib.import_module(f"mmopt.problems.{pdir}").SOLVERS
    assert set(table) == {s.name for s in solvers}
    assert {k: v for (q, k), v in ENTRY_POINTS.items() if q == name} == table


def test_references_and_weights_exist_only_inside_problem_folders():
    root = SRC.parent.parent
    stray = [str(p.relative_to(root)) for pat in ("*.jsonl", "*.pt") for p in root.rglob(pat)
             if ".venv" not in p.parts and ".git" not in p.parts and "problems" not in p.parts
             and "paper" not in p.parts and "tests" not in p.parts]
    assert not stray, stray


def _imported_after(argv: list[str]) -> dict:
    code = ("import sys, json\nfrom mmopt.cli import main\nsys.argv = ['mmopt'] + %r\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(json.dumps({'solvers': sorted(m for m in sys.modules if '.solvers.' in m), "
            "'torch': 'torch' in sys.modules, 'dask': 'dask' in sys.modules}))" % argv)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_solver_and_list_imports_no_torch():
    h = _imported_after(["--help"])
    assert h == {"solvers": [], "torch": False, "dask": False}, h
    ls = _imported_after(["list"])
    assert ls["solvers"] and not ls["torch"] and not ls["dask"], ls


def test_a_problem_folder_imported_before_the_registry_keeps_its_solver_table():
    code = ("import mmopt.problems.highway_sector_beams as pkg\n"
            "from mmopt.registry import ENTRY_POINTS, load_plugins\nload_plugins()\n"
            "got = {n: e for (p, n), e in ENTRY_POINTS.items() if p == 'highway-sector-beams'}\n"
            "print(got == pkg.SOLVERS and len(got) > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr[-2000:]

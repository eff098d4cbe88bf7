"""Comparison tables: the terminal table fits 80 columns, LaTeX is paper-ready, bounds and skips are explained;
`validate --db` puts a user's method in the store; `run --dry-run` counts the matrix."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mmopt.api import MmoptError
from mmopt.registry import get_problem, get_solver, problems, solvers_for
from mmopt.report import render, summarise
from mmopt.schema import Row
from mmopt.store import Store

RB = "random-beam-config"
MM = "maxmin-assoc-bf"
README = Path(__file__).resolve().parents[2] / "README.md"


def _rows(problem, solvers, n=3, metrics=None, suite="small"):
    """Synthetic store rows: solver name -> dict(kind, gap, status, stats, message) per instance."""
    out = []
    for name, spec in solvers.items():
        for i in range(n):
            status = spec.get("status", "ok")
            gap = spec.get("gap", 0.0) if status == "ok" else None
            out.append(Row(cache_key=f"{name}-{i}", problem=problem, suite=suite, instance=f"{suite}/{i:04d}",
                           instance_index=i, instance_hash=f"h{i}", solver=name, kind=spec.get("kind", "baseline"),
                           solver_version=1, params="{}", seed=0, status=status,
                           objective=None if status != "ok" else 10.0 * (1 - gap), feasible=int(status == "ok"),
                           reference=10.0, reference_status=spec.get("ref", "opt"), gap=gap,
                           abs_gap=None if gap is None else 10.0 * gap, seconds=0.01 * (i + 1),
                           message=spec.get("message", ""), stats=spec.get("stats", {}),
                           metrics={} if status != "ok" else dict(metrics or {})).record())
    return pd.DataFrame(out)


def _width(text):
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("name", sorted(problems()))
def test_text_table_of_every_problem_fits_80_columns(name):
    p = get_problem(name)
    assert len(p.headline_metrics) <= 2 and set(p.headline_metrics) <= set(p.metric_docs), p.headline_metrics
    metrics = {k: 12345.678 for k in p.metric_docs}  # every metric, wide values
    solvers = {s.name: {"kind": s.kind, "gap": 0.123456} for s in solvers_for(name)}
    solvers["a-method-with-a-really-long-name-for-the-table"] = {"gap": 1.0}
    df = _rows(name, solvers, metrics=metrics)
    text = render(summarise(df, details=True), "text", width=80)
    assert _width(text) <= 80, text
    for s in solvers:
        assert s[:10] in text
    for m in p.headline_metrics:  # headers wrap at spaces, so look for the last word
        assert m.replace("_", " ").split()[-1] in text
    for m in set(p.metric_docs) - set(p.headline_metrics):
        assert m.replace("_", " ") not in text
    # every metric with --metrics all, on a wide terminal
    wide = render(summarise(df, details=True), "text", width=3000, metrics="all")
    for m in p.metric_docs:
        assert m.replace("_", " ") in wide


def test_narrow_terminal_leaves_out_metric_columns_and_says_so():
    df = _rows(MM, {"max-gain": {"gap": 0.1}}, metrics={"min_sinr_db": -23.25, "sum_rate": 4.5})
    text = render(summarise(df, details=True), "text", width=50)
    assert _width(text) <= 50 and "left out to fit 50 characters" in text, text


def test_bound_rows_show_their_bound_not_an_identical_gap():
    bound = lambda ub: {"kind": "reference", "gap": 0.2,  # noqa: E731 - both return the same selfish solution
                        "stats": {"value": ub, "bound": ub, "status": "bound"}}
    df = _rows(RB, {"exhaustive": {"kind": "reference", "gap": 0.0}, "cluster-bound": bound(11.0),
                    "interference-free-bound": bound(15.0), "crab": {"kind": "distributed", "gap": 0.05}})
    t = summarise(df, details=True).set_index("solver")
    assert t.loc["cluster-bound", "mean bound"] == pytest.approx(11.0)
    assert t.loc["interference-free-bound", "bound excess"] == pytest.approx(0.5)
    assert pd.isna(t.loc["exhaustive", "mean bound"]) and pd.isna(t.loc["crab", "mean bound"])
    text = render(t.reset_index(), "text", width=80)
    main, _, bounds = text.partition("upper bounds")
    assert "cluster-bound" not in main and "crab" in main and "20.00" not in main
    assert "+10.00" in bounds and "+50.00" in bounds and "11" in bounds and "15" in bounds
    md = render(t.reset_index(), "md")
    line = next(x for x in md.splitlines() if x.startswith("| interference-free-bound "))
    assert "reference (bound)" in line and "bound +50.000 %" in line and "20.000 %" not in line
    tex = render(t.reset_index(), "latex")
    assert re.search(r"cluster-bound & \\multicolumn\{\d\}\{l\}\{\\emph\{upper bound\}: mean 11, \$10\.00\$", tex), tex


def test_a_row_skipped_on_every_instance_shows_the_reason():
    reason = "model trained for L = 4 APs of M = 16 antennas; instance has L = 2, M = 4"
    df = _rows(MM, {"max-gain": {"gap": 0.1}, "gnn-i": {"kind": "learned", "status": "skipped", "message": reason},
                    "gnn-p": {"kind": "learned", "status": "skipped", "message": reason}})
    t = summarise(df, details=True)
    assert t.set_index("solver").loc["gnn-i", "skip reason"] == reason
    text = render(t, "text", width=80)
    assert "gnn-i (1)" in text and "skipped on every instance: model trained for L = 4 APs" in text
    row = next(x for x in text.splitlines() if x.startswith("gnn-i"))
    assert "skipped" in row and "–" not in row, row
    md = render(t, "md")
    row = next(x for x in md.splitlines() if x.startswith("| gnn-i "))
    assert "skipped: model trained for L = 4 APs of M = 16 antennas" in row and "–" not in row.split("skipped")[1]
    tex = render(t, "latex")
    assert r"\emph{Skipped on every instance} (model trained for L = 4 APs of M = 16 antennas): gnn-i, gnn-p" in tex


def test_latex_is_a_booktabs_table_for_a_paper():
    df = _rows(RB, {"exhaustive": {"kind": "reference", "gap": 0.0}, "my_method & 50%": {"gap": 0.02},
                    "crab": {"kind": "distributed", "gap": 0.05}, "random": {"gap": 0.3},
                    "greedy": {"status": "error", "message": "boom"}},
               metrics={"covered": 0.8, "changes_per_s": 2.0, "beams": 5, "cqi_rate": 1e10, "rate_ci95": 0.0})
    tex = render(summarise(df, details=True), "latex")
    for cmd in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\caption{", r"\label{"):
        assert cmd in tex
    head = tex.splitlines()[tex.splitlines().index(r"\toprule") + 1]
    assert head.count("&") + 1 <= 8 and r"Mean gap (\%)" in head and "covered" in head and "cqi" not in head
    assert r"\texttt{random-beam-config}" in tex and r"suite \texttt{small}" in tex
    assert "certified optimum (opt) of every instance" in tex
    # the lowest mean gap among the non-reference rows is bold; names are escaped
    assert re.search(r"my\\_method \\& 50\\% & \\textbf\{2\.00\}", tex), tex
    assert tex.count(r"\textbf") == 1
    assert re.search(r"greedy & 100\.00 & 100\.00 & 0 & 3 ", tex), tex  # failed cells: a 100 % gap
    # best-known references are named as such
    df2 = _rows(RB, {"bnb": {"kind": "reference", "gap": 0.0, "ref": "best"}})
    assert "best known value (best, with a bound) of every instance" in render(summarise(df2, details=True), "latex")


def test_columns_and_metrics_select_what_is_shown():
    df = _rows(MM, {"max-gain": {"gap": 0.1}, "exhaustive": {"kind": "reference"}},
               metrics={"min_sinr_db": 1.0, "sum_rate": 2.0, "assoc_gap": 0.5})
    t = summarise(df, details=True)
    text = render(t, "text", width=120, columns=["opt share", "assoc_gap"])
    header = next(x for x in text.splitlines() if x.startswith("method"))
    assert header.split() == ["method", "opt", "assoc", "gap"], header
    with pytest.raises(MmoptError, match=r"unknown column\(s\) 'nope' \(the table has: kind, instances"):
        render(t, "text", columns=["nope"])
    assert "assoc gap" not in render(t, "text", width=200, metrics="none") and \
        "sum rate" not in render(t, "text", width=200, metrics="none")
    # CSV and markdown stay complete
    csv = render(t, "csv").splitlines()[0].split(",")
    assert {"assoc_gap", "min_sinr_db", "sum_rate", "median gap", "opt share", "references",
            "mean objective"} <= set(csv)
    assert "assoc_gap" in render(t, "md")
    assert render(t, "csv", columns=["mean gap"]).splitlines()[0] == "problem,suite,solver,mean gap"


def mm(*args, cwd, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmopt.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=e, timeout=300)


def _one_line_error(r):
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_table_command_fits_the_terminal(tmp_path):
    df = _rows(RB, {s.name: {"kind": s.kind, "gap": 0.2} for s in solvers_for(RB)},
               metrics={k: 1234.5 for k in get_problem(RB).metric_docs})
    with Store(tmp_path / "t.sqlite") as st:
        for r in df.to_dict("records"):
            st.put({k: (json.loads(v) if k in ("stats", "metrics", "provenance", "params") and v else v)
                    for k, v in r.items()})
    r = mm("table", "--db", "t.sqlite", "--all-versions", cwd=tmp_path, env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    assert _width(r.stdout) <= 80 and "crab-beta" in r.stdout and "covered" in r.stdout and "changes" in r.stdout
    r = mm("table", "--db", "t.sqlite", "--all-versions", cwd=tmp_path, env={"COLUMNS": "200"})
    assert _width(r.stdout) <= 200
    r = mm("table", "--db", "t.sqlite", "--all-versions", "--metrics", "all", cwd=tmp_path,
           env={"COLUMNS": "300"})
    assert "cqi rate" in r.stdout
    assert "unknown column(s) 'bogus'" in _one_line_error(mm("table", "--db", "t.sqlite", "--columns", "bogus",
                                                             "--all-versions", cwd=tmp_path))
    assert "--no-metrics or --metrics all" in _one_line_error(mm("table", "--db", "t.sqlite", "--no-metrics",
                                                                 "--metrics", "all", cwd=tmp_path))
    # --out without --format: the format of its suffix
    r = mm("table", "--db", "t.sqlite", "--all-versions", "--out", "t.tex", cwd=tmp_path)
    assert r.returncode == 0 and r"\bottomrule" in (tmp_path / "t.tex").read_text()
    r = mm("table", "--db", "t.sqlite", "--all-versions", "--out", "t.txt", cwd=tmp_path)
    assert r.returncode == 0 and "reference:" in (tmp_path / "t.txt").read_text()
    assert "must end in .txt, .md" in _one_line_error(mm("table", "--db", "t.sqlite", "--out", "t.html",
                                                         cwd=tmp_path))


def test_validate_db_puts_the_method_in_the_table(tmp_path):
    env = {"PYTHONPATH": str(Path(__file__).parents[1]), "COLUMNS": "80"}
    r = mm("validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--suite", "smoke", "--count", "2",
           "--db", "v.sqlite", "--name", "my-mrt", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stored 2 cells in v.sqlite" in r.stdout
    with Store(tmp_path / "v.sqlite", readonly=True) as st:
        df = st.frame()
    assert list(df["solver"]) == ["my-mrt", "my-mrt"] and set(df["kind"]) == {"user"}
    assert set(df["status"]) == {"ok"} and df["gap"].notna().all() and df["provenance"].notna().all()
    r = mm("table", "--db", "v.sqlite", "--format", "csv", cwd=tmp_path)  # current rows: the method is kept
    assert r.returncode == 0 and ",my-mrt,user,2," in r.stdout, r.stdout + r.stderr
    r = mm("table", "--db", "v.sqlite", cwd=tmp_path, env={"COLUMNS": "80"})
    assert "user:" in r.stdout and "my-mrt" in r.stdout
    r = mm("plot", "--problem", MM, "--suite", "smoke", "--db", "v.sqlite", "--out", "figs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "my-mrt" in (tmp_path / "figs" / "gap_per_method.csv").read_text()
    # validating again replaces the method's cells; a solver's name is refused
    r = mm("validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--suite", "smoke", "--count", "2",
           "--db", "v.sqlite", "--name", "my-mrt", cwd=tmp_path, env=env)
    with Store(tmp_path / "v.sqlite", readonly=True) as st:
        assert len(st.frame()) == 2
    assert "is a solver of maxmin-assoc-bf" in _one_line_error(
        mm("validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--count", "1", "--db", "v.sqlite",
           "--name", "max-gain", cwd=tmp_path, env=env))
    assert "give --db too" in _one_line_error(
        mm("validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--count", "1", "--name", "x",
           cwd=tmp_path, env=env))


def _own_cells(suite: str) -> list:
    """The cells of ``suite`` for the project's own solvers (other test modules register test plugins)."""
    from mmopt.runner import plan

    return [c for c in plan(None, suite) if not get_solver(c.solver, c.problem).module.startswith("mmopt_test")]


def test_run_dry_run_counts_the_matrix_and_runs_nothing(tmp_path):
    from mmopt.runner import plan

    r = mm("run", "--suite", "small", "--dry-run", "--db", "d.sqlite", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    # the total is the sum of the per-problem counts printed above it (plugins loaded or not)
    per_problem = [int(n) for n in re.findall(r"(?m)^[\w-]+: (\d+) cells", r.stdout)]
    assert per_problem and last.startswith(f"{sum(per_problem)} cells on suite small, 0 of them in d.sqlite"), last
    assert sum(per_problem) >= len(_own_cells("small"))
    assert not (tmp_path / "d.sqlite").exists()
    r = mm("run", "--suite", "smoke", "--problems", MM, "--solvers", "max-gain,exhaustive", "--dry-run",
           cwd=tmp_path)
    assert f"{MM}: 10 cells (max-gain 5, exhaustive 5)" in r.stdout or f"{MM}: 10 cells (exhaustive 5, max-gain 5)" \
        in r.stdout, r.stdout


def test_readme_plugin_example_runs_a_small_comparison():
    text = README.read_text()
    section = text[text.index("### Add a solver to the matrix"):text.index("## Python API")]
    cmd = next(line for line in section.split("`") if line.startswith("mmopt run --plugin mysolvers"))
    args = dict(re.findall(r"--(problems|solvers|suite) (\S+)", cmd))
    assert args["problems"] == MM and "my-assoc" in args["solvers"].split(",")
    names = {s.name: s.kind for s in solvers_for(MM)}
    others = [s for s in args["solvers"].split(",") if s != "my-assoc"]
    assert others and all(s in names for s in others) and "reference" in {names[s] for s in others}
    assert "mmopt table" in section and "mmopt plot" in section


def test_readme_cell_counts_are_the_matrix():
    from mmopt.runner import plan

    text = README.read_text()
    quoted = re.search(r"`small` suites\s+\(about ([\d,]+) cells\);.*?papers' scale \(about\s+([\d,]+) cells",
                       text, re.S)
    for suite, q in zip(("small", "paper"), quoted.groups()):
        n = len(_own_cells(suite))
        assert abs(int(q.replace(",", "")) - n) <= 0.1 * n, f"README: about {q} {suite} cells; the matrix: {n:,}"
    section = text[text.index("### Add a solver to the matrix"):text.index("## Python API")]
    cmd = next(line for line in section.split("`") if line.startswith("mmopt run --plugin mysolvers"))
    solvers = re.search(r"--solvers (\S+)", cmd).group(1).split(",")
    n = len(plan([MM], "small", [s for s in solvers if s != "my-assoc"])) + get_problem(MM).suite("small").count
    assert f"{n} cells on the 50 `small` instances" in section

"""Engine figures (mmopt.figures): one colour per method, legends clear of the data, PNG and PDF, the
numbers behind them equal to the store's, an index whose rows match its header, and `mmopt plot` on any
suite of any problem (plugin methods included)."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mmopt.figures as F
from mmopt.cli import main
from mmopt.runner import run
from mmopt.store import Store

HERE = Path(__file__).resolve().parent


def _doc_checker():
    spec = importlib.util.spec_from_file_location("_api_docs_checker", HERE / "test_api_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.doc_problems


@pytest.mark.parametrize("name", ["mmopt.figures", "mmopt.htmlpage"])
def test_new_engine_modules_are_documented(name):
    import importlib

    assert _doc_checker()(importlib.import_module(name)) == []


def test_method_colors_are_distinct_and_stable():
    names = [f"method-{i}" for i in range(75)]
    c = F.method_colors(names)
    assert len(set(c.values())) == 75 and "#000000" not in c.values()
    assert F.method_colors(reversed(names)) == c
    assert F.method_colors(["b", "a"]) == {"a": F.PALETTE[0], "b": F.PALETTE[1]}


def test_pareto_front():
    pts = {"fast-bad": (0.01, 0.5), "slow-exact": (1.0, 0.0), "dominated": (2.0, 0.1), "mid": (0.1, 0.05),
           "exact-noise": (3.0, 1e-12), "nan": (float("nan"), 0.0)}
    assert F.pareto_front(pts) == ["fast-bad", "mid", "slow-exact"]


def _bad_figure(shared_color: bool):
    plt = F.pyplot()
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.ones_like(x), color="k", label="optimum")
    ax.plot(x, 0.98 * np.ones_like(x), color="#1f77b4", label="a")
    ax.plot(x, 0.5 * x, color="#1f77b4" if shared_color else "#ff7f0e", label="b")
    ax.legend(loc="upper right")  # over the optimum line
    return fig


def test_the_audit_catches_a_legend_over_data_and_a_shared_colour(tmp_path):
    fig = _bad_figure(shared_color=True)
    audit = F.figure_audit(fig)
    assert audit["legend_covers"] and audit["shared_colors"] == {"#1f77b4": ["a", "b"]}
    # writing moves the legend outside the axes; PNG and PDF are written
    paths = F.save_figure(fig, tmp_path / "bad")
    assert [p.name for p in paths] == ["bad.png", "bad.pdf"] and all(p.stat().st_size > 1000 for p in paths)
    assert F.AUDITS[str(paths[0])]["legend_covers"] == []
    assert F.AUDITS[str(paths[0])]["shared_colors"]  # a colour clash is reported, never hidden


def _frame():
    """Store-like rows: two instances, a reference, a baseline, a plugin method, a failed cell."""
    rows = []
    for i, h in enumerate(["h0", "h1"]):
        for solver, kind, status, gap, sec in (("exact", "reference", "ok", 0.0, 1.0),
                                               ("fast", "baseline", "ok", 0.10 + 0.1 * i, 0.01),
                                               ("my-plugin", None, "ok" if i == 0 else "error", 0.02, 0.1),
                                               ("slow-bad", "baseline", "ok", 0.3, 2.0),
                                               ("declines", "baseline", "skipped", None, 0.0)):
            rows.append({"problem": "toy", "suite": "s", "solver": solver, "kind": kind, "params": "{}",
                         "status": status, "gap": gap, "seconds": sec, "instance_hash": h, "instance": f"i{i}",
                         "instance_index": i, "objective": 1.0, "reference": 1.0,
                         "reference_status": "opt" if i == 0 else "best", "stats": "{}", "metrics": "{}"})
    return pd.DataFrame(rows)


def test_engine_figures_from_rows_with_a_plugin_method(tmp_path):
    paths = F.engine_figures(_frame(), tmp_path, "toy", "s")
    assert sorted(p.name for p in paths) == ["gap_per_method.csv", "gap_per_method.pdf", "gap_per_method.png",
                                             "gap_vs_time.pdf", "gap_vs_time.png"]
    for p in paths:
        if p.suffix == ".png":
            a = F.AUDITS[str(p)]
            assert a["legend_covers"] == [] and a["shared_colors"] == {}, a
    got = {r["method"]: r for r in csv.DictReader(open(tmp_path / "gap_per_method.csv"))}
    assert set(got) == {"exact", "fast", "my-plugin", "slow-bad"}  # skipped cells are never a gap
    assert float(got["my-plugin"]["mean_gap"]) == pytest.approx((0.02 + 1.0) / 2)  # the error counts 100 %
    assert int(got["my-plugin"]["failed"]) == 1
    assert float(got["fast"]["median_gap"]) == pytest.approx(0.15)
    assert got["exact"]["reference_status"] == "opt 1 · best 1"
    assert {m for m, r in got.items() if r["pareto"] == "1"} == {"exact", "fast"}
    # the time figure's labels are the methods, each in its own colour, and the front
    a = F.AUDITS[str(tmp_path / "gap_vs_time.png")]
    assert set(a["colors"]) == {"exact", "fast", "my-plugin", "slow-bad", "Pareto front"}


def test_engine_figures_label_parameter_sets_apart(tmp_path):
    df = _frame()
    extra = df[df["solver"] == "fast"].copy()
    extra["params"] = '{"k": 2}'
    df = pd.concat([df, extra], ignore_index=True)
    F.engine_figures(df, tmp_path, "toy", "s")
    got = {r["method"] for r in csv.DictReader(open(tmp_path / "gap_per_method.csv"))}
    assert got == {"exact", "fast []", "fast [k=2]", "my-plugin", "slow-bad"}  # the labels of the tables


def test_the_index_has_as_many_cells_in_every_row_as_in_its_header(tmp_path):
    files = [tmp_path / n for n in ("a.png", "a.pdf", "a.csv", "b.png", "notes.md", "c.pdf")]
    for f in files:
        f.write_text("x")
    idx = F.write_index(tmp_path, files, "t", {"a": "first | with a bar"})
    lines = [ln for ln in idx.read_text().splitlines() if ln.startswith("|")]
    widths = {ln.count("|") - ln.count("\\|") for ln in lines}
    assert len(widths) == 1 and len(lines) == 2 + 4
    assert "| `a` | [png](a.png) | [pdf](a.pdf) | [a.csv](a.csv) | first / with a bar |" in lines


def _run(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_plot_draws_the_engine_figures_on_any_suite(tmp_path, capsys):
    """maxmin-assoc-bf has paper figures only for its pilot sweep: on `small` it still gets the engine's."""
    db = str(tmp_path / "r.sqlite")
    run(["maxmin-assoc-bf"], "small", ["max-gain", "los-oracle"], db=db, workers=0, count=2, progress=False)
    try:
        main(["plot", "--problem", "maxmin-assoc-bf", "--suite", "small", "--db", db, "--out", str(tmp_path / "f")])
    except SystemExit as e:
        assert e.code in (0, None)
    out = capsys.readouterr().out
    names = {Path(x.split(" ", 1)[1]).name for x in out.splitlines() if x.startswith("wrote ")}
    assert {"gap_per_method.png", "gap_per_method.pdf", "gap_vs_time.png", "gap_vs_time.pdf",
            "figures.md"} <= names
    with Store(db, readonly=True) as st:
        df = st.frame()
    rows = {r["method"]: r for r in csv.DictReader(open(tmp_path / "f" / "gap_per_method.csv"))}
    for solver in ("max-gain", "los-oracle"):
        g = df[df["solver"] == solver]
        want = np.mean(np.where(g["status"] == "ok", g["gap"].astype(float), 1.0))
        assert float(rows[solver]["mean_gap"]) == pytest.approx(want, rel=1e-5, abs=1e-9)
    # every problem with cells on the suite, one folder each, when --problem is left out
    try:
        main(["plot", "--suite", "small", "--db", db, "--out", str(tmp_path / "all")])
    except SystemExit as e:
        assert e.code in (0, None)
    assert (tmp_path / "all" / "maxmin-assoc-bf" / "gap_vs_time.pdf").is_file()
    # errors: one line, non-zero
    code, _, err = _run(["plot", "--problem", "maxmin-assoc-bf", "--suite", "smoke", "--db", db,
                         "--out", str(tmp_path / "g")], capsys)
    assert code == 2 and "no cells of maxmin-assoc-bf/smoke" in err and len(err.strip().splitlines()) == 1


def test_plot_shows_plugin_methods_from_the_store(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite")
    run(["trajectory-assoc"], "smoke", ["greedy"], db=db, workers=0, count=2, progress=False)
    with Store(db) as st:  # a cell of a plugin solver not loaded here: kept as stored
        row = st.frame().iloc[0].to_dict()
        row.update(cache_key="plugin-cell", solver="my-plugin", kind="baseline", gap=0.25, objective=1.0)
        st.put({k: (json.loads(v) if k in ("stats", "metrics", "provenance") and isinstance(v, str) else v)
                for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))})
    try:
        main(["plot", "--problem", "trajectory-assoc", "--suite", "smoke", "--db", db, "--out", str(tmp_path / "f")])
    except SystemExit as e:
        assert e.code in (0, None)
    rows = {r["method"]: r for r in csv.DictReader(open(tmp_path / "f" / "gap_per_method.csv"))}
    assert set(rows) == {"greedy", "my-plugin"} and float(rows["my-plugin"]["mean_gap"]) == pytest.approx(0.25)
    assert F.AUDITS[str(tmp_path / "f" / "gap_vs_time.png")]["shared_colors"] == {}

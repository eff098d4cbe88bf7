"""The maxmin pilot sweep (Figs. 6(a), 7(b)): one colour per method, the legend clear of the optimum line,
PNG and PDF; on a suite without a sweep, `mmopt plot` still draws the engine figures."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import mmopt.figures as F
from mmopt.registry import get_problem
from mmopt.runner import run
from mmopt.store import Store


def test_pilot_sweep_has_distinct_colours_and_a_legend_clear_of_the_optimum(tmp_path):
    db = str(tmp_path / "r.sqlite")
    for n in (1, 4, 16):
        run(["maxmin-assoc-bf"], f"pilots-{n}", ["max-gain", "los-oracle", "strongest-channel-lmmse"], db=db,
            workers=0, count=2, progress=False)
    p = get_problem("maxmin-assoc-bf")
    with Store(db, readonly=True) as st:
        frame = st.frame(problems=[p.name])
    paths = F.plot_problem(p, frame, tmp_path / "fig", "pilots-1")
    names = {x.name for x in paths}
    assert {"pilot_sweep.png", "pilot_sweep.pdf", "pilot_sweep.csv", "gap_per_method.png", "gap_vs_time.pdf",
            "figures.md"} <= names
    a = F.AUDITS[str(tmp_path / "fig" / "pilot_sweep.png")]
    assert a["legend_covers"] == [] and a["shared_colors"] == {}, a
    assert {"max-gain", "los-oracle", "strongest-channel-lmmse", "certified optimum (perfect CSI)"} <= set(a["colors"])
    assert len(set(a["colors"].values())) == len(a["colors"])
    # the sweep's numbers are the store's
    rows = list(csv.DictReader(open(tmp_path / "fig" / "pilot_sweep.csv")))
    assert [r["n_u"] for r in rows] == ["1", "4", "16"]
    g = frame[(frame["solver"] == "los-oracle") & (frame["suite"] == "pilots-4")]
    want = np.mean(np.where(g["status"] == "ok", g["gap"].astype(float), 1.0))
    assert float(rows[1]["los-oracle gap"]) == pytest.approx(want, abs=1e-4)

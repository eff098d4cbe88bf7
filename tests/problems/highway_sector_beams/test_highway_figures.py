"""Highway Figs. 4-8 from the store: titled by the vehicle count the suite has, the strategies it has,
PNG and PDF, one colour per strategy, legends clear of the data, consistent markdown tables."""
from __future__ import annotations

from pathlib import Path

import pytest

import mmopt.figures as F
from mmopt.registry import get_problem
from mmopt.runner import run
from mmopt.store import Store


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    from mmopt.problems.highway_sector_beams import figures

    tmp = tmp_path_factory.mktemp("hw")
    db = str(tmp / "r.sqlite")
    run(["highway-sector-beams"], "smoke", None, db=db, workers=0, progress=False)  # 6 vehicles, no 30
    p = get_problem("highway-sector-beams")
    with Store(db, readonly=True) as st:
        frame = st.frame(problems=[p.name])
    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "P_VALUES", (0.0, 0.4))  # the analytic curves for more p take long
    try:
        paths = F.plot_problem(p, frame, tmp / "fig", "smoke")
    finally:
        mp.undo()
    return tmp / "fig", paths


def test_fig4_is_titled_by_the_vehicle_count_present_and_draws_its_strategies(drawn):
    out, paths = drawn
    a = F.AUDITS[str(out / "fig4_service_distance_cdf.png")]
    labels = set(a["colors"])
    assert any(x.startswith("best-snr (") for x in labels) and any(x.startswith("macol (") for x in labels)
    assert (out / "fig4_service_distance_cdf.csv").read_text().splitlines()[0] == \
        "l_m,analytic_p0,analytic_p0.4,best-snr_empirical,macol_empirical"
    md = (out / "highway_figures.md").read_text()
    assert "## Fig. 4 (6 vehicles)" in md and "30 vehicles" not in md
    assert a["titles"] == ["Fig. 4: service-distance CDF, analysed beam, 6 vehicles"]


def test_every_figure_has_png_and_pdf_distinct_colours_and_clear_legends(drawn):
    out, paths = drawn
    names = {p.name for p in paths}
    for stem in ("fig4_service_distance_cdf", "fig5_mean_service_distance", "fig6_service_period_ratio",
                 "fig7_interference_ratio", "fig8_service_outage_interference", "gap_per_method", "gap_vs_time"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names, stem
        a = F.AUDITS[str(out / f"{stem}.png")]
        assert a["legend_covers"] == [] and a["shared_colors"] == {}, (stem, a)
    assert "Fig. 8: MACOL, 6 vehicles" in (out / "highway_figures.md").read_text()


def test_markdown_tables_have_as_many_cells_as_their_header(drawn):
    out, _ = drawn
    for f in ("highway_figures.md", "figures.md"):
        block = []
        for line in (out / f).read_text().splitlines() + [""]:
            if line.startswith("|"):
                block.append(line.count("|"))
            elif block:
                assert len(set(block)) == 1, (f, block)
                block = []

"""Handover DQN (Khosravi et al.) Figs. 3-5 on ``trajectory-assoc``, drawn from the results store.

Usage::

    mmopt run --suite paper --problems trajectory-assoc
    mmopt plot --problem trajectory-assoc --suite paper --out paper/trajectory

The ``paper`` suite sweeps the trajectory length M (100..500 slots, one
meter each, NB = 10 BSs) and the number of BSs NB (3..10 at M = 300).
For every method in the store (the certified references dashed):

* Fig. 3 (``fig3_slots_below_threshold.{png,pdf,csv}``): the mean number of
  slots whose throughput misses the threshold (metric ``slots_below_thr``,
  the paper's F2) against M, at the largest NB of the suite;
* Fig. 4 (``fig4_handovers.{png,pdf,csv}``): the mean number of handovers
  (metric ``handovers``) against M, at the same NB;
* Fig. 5 (``fig5_aggregate_throughput.{png,pdf,csv}``): the mean aggregate
  throughput per Hz along the trajectory (metric ``aggregate_gamma``, F1)
  against NB, at M = 300 (or the suite's most common M).

A figure needs at least two values of its parameter in the suite (the
``smoke`` and ``small`` suites have one: ``mmopt plot`` then draws only the
engine figures). Every number comes from checked, scored cells.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmopt.figures import method_colors, method_labels, sweep_figure

__all__ = ["FIGURE_DOCS", "plot"]

#: file stem -> description (the index ``figures.md``)
FIGURE_DOCS = {
    "fig3_slots_below_threshold": "Fig. 3: slots below the throughput threshold against the trajectory length",
    "fig4_handovers": "Fig. 4: handovers against the trajectory length",
    "fig5_aggregate_throughput": "Fig. 5: aggregate throughput per Hz against the number of BSs (M = 300)",
}
FIG5_M = 300


def plot(problem, frame, out: Path, suite: str) -> list[Path]:
    """Figs. 3-5 from the store rows ``frame`` of ``suite``.

    Parameters
    ----------
    problem : mmopt.api.Problem
        The ``trajectory-assoc`` problem (its suites give M and NB per instance).
    frame : pandas.DataFrame
        Store rows (every suite of the problem).
    out : pathlib.Path
        Folder written to.
    suite : str
        The suite drawn.

    Returns
    -------
    list of pathlib.Path
        The files written (none when the suite sweeps neither M nor NB).
    """
    import pandas as pd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame["label"] = method_labels(frame) if len(frame) else []
    colors = method_colors(frame["label"])
    refs = sorted(set(frame.loc[frame["kind"] == "reference", "label"])) if len(frame) else []
    ok = frame[(frame["suite"] == suite) & (frame["status"] == "ok")].copy()
    if ok.empty:
        return []
    P = [problem.instance_params(suite, int(i)) for i in ok["instance_index"]]
    ok["M"] = [int(p["M"]) for p in P]
    ok["NB"] = [int(p["NB"]) for p in P]
    m = [json.loads(x) if isinstance(x, str) and x else {} for x in ok["metrics"]]
    for k in ("slots_below_thr", "handovers", "aggregate_gamma"):
        ok[k] = [x.get(k, np.nan) for x in m]
    paths = []
    nb = ok["NB"].max()
    lm = ok[ok["NB"] == nb]
    if lm["M"].nunique() >= 2:
        for key, stem, ylabel, title in (
                ("slots_below_thr", "fig3_slots_below_threshold", "slots below the throughput threshold",
                 "Fig. 3: slots with unmet throughput threshold"),
                ("handovers", "fig4_handovers", "handovers", "Fig. 4: number of handovers")):
            d = pd.DataFrame({"label": lm["label"], "x": lm["M"], "y": lm[key]})
            paths += sweep_figure(d, out / stem, xlabel="trajectory length M (slots of 1 m)", ylabel=ylabel,
                                  colors=colors, references=refs, title=f"{title} (suite {suite}, NB = {nb})")
    m5 = FIG5_M if (ok["M"] == FIG5_M).any() else int(ok["M"].mode().iloc[0])
    lb = ok[ok["M"] == m5]
    if lb["NB"].nunique() >= 2:
        d = pd.DataFrame({"label": lb["label"], "x": lb["NB"], "y": lb["aggregate_gamma"]})
        paths += sweep_figure(d, out / "fig5_aggregate_throughput", xlabel="number of BSs NB",
                              ylabel="aggregate throughput per Hz (bit/s/Hz)", colors=colors, references=refs,
                              title=f"Fig. 5: aggregate throughput along the trajectory (suite {suite}, M = {m5})")
    return paths

"""The pilot sweep of Li, Liu, Yu, Figs. 6(a) and 7(b), drawn from the results store.

Usage::

    for n in 1 2 4 8 16 32 64 128 256 512 1024; do mmopt run --suite pilots-$n --problems maxmin-assoc-bf; done
    mmopt plot --problem maxmin-assoc-bf --suite pilots-16 --out paper/maxmin

Writes ``pilot_sweep.{csv,png,pdf,md}``: for every solver, the mean min rate and the mean gap to the
certified optimum (failed cells count as 100 %) against the number of pilot symbols N_u, over
every ``pilots-*`` suite in the store. The paper's Fig. 6(a) plots the min rate of the methods
against N_u; Fig. 7(b) that of GNNs trained at one N_u and tested at others (solver parameter
``train_pilots``; cells run with ``--param gnn-p.train_pilots=16`` appear as their own curve).
Every curve has its own colour (:func:`mmopt.figures.method_colors`) and the
legend sits outside the axes, clear of the optimum line. On a suite that is
not a pilot sweep (no ``pilots-*`` cells and no cells on the paper's
instances) nothing is written here; ``mmopt plot`` still draws the engine
figures (:mod:`mmopt.figures`).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from mmopt.figures import legend_outside, method_colors, pyplot, save_figure
from mmopt.references import load_manifest

#: file stem -> description (the index ``figures.md``)
FIGURE_DOCS = {"pilot_sweep": "Figs. 6(a)/7(b): mean min rate against the number of pilot symbols N_u, "
                              "with the certified optimum"}


def plot(problem, frame, out: Path, suite: str) -> list[Path]:
    import pandas as pd

    # a cell belongs to pilots-N when its instance is one of that suite's (by hash): pilots-16 shares its
    # instances, and so its stored cells, with the paper suite
    parts = []
    for name in sorted({s for s in frame["suite"].unique() if s.startswith("pilots-")} | {"pilots-16"}):
        hashes = set(load_manifest("maxmin-assoc-bf", name) or [])
        part = frame[frame["instance_hash"].isin(hashes)].copy()
        part["n_u"] = int(name.split("-")[1])
        parts.append(part)
    sub = pd.concat(parts) if parts else frame.iloc[:0]
    sub = sub[(sub["suite"].str.startswith("pilots-") | (sub["n_u"] == 16)) & (sub["kind"] != "reference")]
    if sub.empty:
        return []
    sub = sub.drop_duplicates(["n_u", "solver", "params", "instance_hash"])
    sub = sub[sub["status"] != "skipped"]
    sub["label"] = [s if json.loads(p or "{}").get("train_pilots", 0) in (0, None)
                    else f"{s} (trained at N_u = {json.loads(p)['train_pilots']})"
                    for s, p in zip(sub["solver"], sub["params"])]
    sub["g"] = np.where(sub["status"].isin(["ok", "mismatch"]), sub["gap"].astype(float), 1.0)
    labels = sorted(sub["label"].unique())
    nus = sorted(sub["n_u"].unique())
    table = {(lab, n): g for (lab, n), g in sub.groupby(["label", "n_u"])}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "pilot_sweep.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_u"] + [f"{lab} {q}" for lab in labels for q in ("min_rate", "gap")])
        for n in nus:
            row = [n]
            for lab in labels:
                g = table.get((lab, n))
                row += ["" if g is None else f"{g['objective'].astype(float).mean():.4f}",
                        "" if g is None else f"{g['g'].mean():.4f}"]
            w.writerow(row)
    ref = sub.groupby("n_u")["reference"].mean()
    lines = ["# `maxmin-assoc-bf`: pilot sweep (Figs. 6(a), 7(b))", "",
             "Mean gap to the certified optimum (failed cells count as 100 %) per number of pilot symbols N_u.", "",
             "| N_u | optimum (bit/s/Hz) | " + " | ".join(f"`{lab}`" for lab in labels) + " |",
             "|---:|---:|" + "---:|" * len(labels)]
    for n in nus:
        cells = [("–" if table.get((lab, n)) is None else f"{100 * table[(lab, n)]['g'].mean():.1f} %")
                 for lab in labels]
        lines.append(f"| {n} | {ref.get(n, float('nan')):.3f} | " + " | ".join(cells) + " |")
    (out / "pilot_sweep.md").write_text("\n".join(lines) + "\n")
    plt = pyplot()
    colors = method_colors(labels)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(nus, [ref.get(n, np.nan) for n in nus], "k-", lw=2, label="certified optimum (perfect CSI)")
    for lab in labels:
        ys = [np.nan if table.get((lab, n)) is None else table[(lab, n)]["objective"].astype(float).mean()
              for n in nus]
        ax.plot(nus, ys, marker="o", ms=3, label=lab, color=colors[lab])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("pilot symbols N_u")
    ax.set_ylabel("mean min rate (bit/s/Hz)")
    ax.set_title("Figs. 6(a)/7(b): min rate against the number of pilots")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    paths = save_figure(fig, out / "pilot_sweep")
    return sorted([out / "pilot_sweep.csv", out / "pilot_sweep.md", *paths])

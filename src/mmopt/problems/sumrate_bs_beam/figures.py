"""BEM-GBPN (Li et al.) Figs. 9-12 on ``sumrate-bs-beam``, drawn from the results store.

Usage::

    mmopt run --suite paper --problems sumrate-bs-beam
    for m in 1 20 100; do mmopt run --suite bsm-$m --problems sumrate-bs-beam; done
    mmopt plot --problem sumrate-bs-beam --suite paper --out paper/sumrate

* Fig. 9 (``fig9_beam_accuracy.{png,pdf,csv}``): BEM-GBPN's beam-prediction
  accuracy against the number of users U on the suite: top-1 per serving BS
  (the cells' ``problem_data``: each user's BS, chosen beam and true best beam
  at that BS; BEM-GBPN picks the best-scored beam, so a user's top-1 hit is
  chosen beam = best beam), and top-1 / top-3 over every BS (metrics ``top1``,
  ``top3``). Top-3 is not split by BS: it needs the full beam scores, which the
  store keeps only summarised. Cells stored before ``problem_data`` existed
  give the pooled panel only.
* Fig. 10 (``fig10_accuracy_vs_epoch.{png,pdf,csv}``): top-1 accuracy against
  the training epoch of BEM-GBPN, BEM-GBPN without MoE, P-GBPN and BB-GBPN, from
  the training history in the shipped weights' sidecars (on the validation
  split of the training suite, every BS: the paper shows BS 1 on its test set),
  for the predictors with cells in the store; a star marks each one's mean
  top-1 on the suite.
* Fig. 11 (``fig11_asrr_vs_bsm.{png,pdf,csv}``): ASRR against the BSM
  feedback interval M with one user, over the ``bsm-*`` suites and the suite
  drawn (M = 60), for every method in the store (references dashed).
* Fig. 12 (``fig12_asrr_vs_users.{png,pdf,csv}``): ASRR against the number of
  users U at the suite's M, for every method in the store.

ASRR is the metric ``asrr`` (sum rate over the genie's, Sec. IV-C-2), the
mean over instances of the per-instance ratio. A figure is drawn when the
store has its data: Figs. 11 and 12 need at least two values of their
parameter. Every number comes from checked, scored cells: the figures never
run a solver.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from mmopt.figures import legend_outside, method_colors, method_labels, pyplot, save_figure, sweep_figure

__all__ = ["FIGURE_DOCS", "PREDICTORS", "plot"]

#: the learned predictors of Fig. 10, in the paper's order
PREDICTORS = ("bem-gbpn", "bem-gbpn-nomoe", "p-gbpn", "bb-gbpn")
#: file stem -> description (the index ``figures.md``)
FIGURE_DOCS = {
    "fig9_beam_accuracy": "Fig. 9: BEM-GBPN top-1 accuracy per BS and top-1 / top-3 over all BSs against U",
    "fig10_accuracy_vs_epoch": "Fig. 10: top-1 accuracy of the GBPN predictors against the training epoch "
                               "(validation split, shipped weights)",
    "fig11_asrr_vs_bsm": "Fig. 11: ASRR against the BSM feedback interval M, one user",
    "fig12_asrr_vs_users": "Fig. 12: ASRR against the number of users U",
}
WEIGHTS = Path(__file__).resolve().parent / "weights"


def _cells(problem, frame):
    """The ``ok`` cells with their U, M, metrics and problem data."""
    import pandas as pd

    ok = frame[frame["status"] == "ok"].copy()
    if ok.empty:
        return ok.assign(U=[], M=[], label=[], m=[], pd=[])
    memo = {}

    def params(suite, i):
        if (suite, i) not in memo:
            try:
                memo[(suite, i)] = problem.instance_params(suite, int(i))
            except Exception:  # noqa: BLE001 - a suite this version does not define: left out
                memo[(suite, i)] = {}
        return memo[(suite, i)]

    P = [params(s, i) for s, i in zip(ok["suite"], ok["instance_index"])]
    ok["U"] = [p.get("U", np.nan) for p in P]
    ok["M"] = [p.get("bsm_interval", np.nan) for p in P]
    ok["m"] = [json.loads(x) if isinstance(x, str) and x else {} for x in ok["metrics"]]
    ok["pd"] = [(json.loads(x) if isinstance(x, str) and x else {}).get("problem_data", {}) for x in ok["stats"]]
    return ok[pd.notna(ok["U"])]


def plot(problem, frame, out: Path, suite: str) -> list[Path]:
    """Figs. 9-12 from the store rows ``frame`` (every suite of the problem) for ``suite``.

    Parameters
    ----------
    problem : mmopt.api.Problem
        The ``sumrate-bs-beam`` problem (its suites give U and M per instance).
    frame : pandas.DataFrame
        Store rows of every suite.
    out : pathlib.Path
        Folder written to.
    suite : str
        The suite drawn.

    Returns
    -------
    list of pathlib.Path
        The files written (none when the store lacks every figure's data).
    """
    import pandas as pd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame["label"] = method_labels(frame) if len(frame) else []
    colors = method_colors(frame["label"])
    refs = sorted(set(frame.loc[frame["kind"] == "reference", "label"])) if len(frame) else []
    cells = _cells(problem, frame)
    here = cells[cells["suite"] == suite]
    paths = []
    paths += _fig9(here, out, suite)
    paths += _fig10(here, frame, out, suite, colors)
    # Fig. 11: one user, M from the bsm-* suites and this suite
    one = cells[(cells["U"] == 1) & (cells["suite"].str.startswith("bsm-") | (cells["suite"] == suite))]
    d11 = pd.DataFrame({"label": one["label"], "x": one["M"],
                        "y": [m.get("asrr", np.nan) for m in one["m"]]})
    if d11["x"].nunique() >= 2:
        paths += sweep_figure(d11, out / "fig11_asrr_vs_bsm", xlabel="BSM feedback interval M (frames of 20 ms)",
                              ylabel="ASRR (%)", scale=100, colors=colors, references=refs,
                              title=f"Fig. 11: ASRR against the BSM interval, U = 1 (bsm-* and {suite})")
    d12 = pd.DataFrame({"label": here["label"], "x": here["U"],
                        "y": [m.get("asrr", np.nan) for m in here["m"]]})
    if d12["x"].nunique() >= 2:
        ms = sorted(set(here["M"].dropna().astype(int)))
        paths += sweep_figure(d12, out / "fig12_asrr_vs_users", xlabel="number of users U", ylabel="ASRR (%)",
                              scale=100, colors=colors, references=refs,
                              title=f"Fig. 12: ASRR against the number of users (suite {suite}, "
                                    f"M = {', '.join(map(str, ms))})")
    return paths


def _fig9(here, out: Path, suite: str) -> list[Path]:
    g = here[here["solver"] == "bem-gbpn"]
    g = g[[("top1" in m) for m in g["m"]]]
    if g.empty:
        return []
    Us = sorted(int(u) for u in g["U"].unique())
    pooled = {u: (float(np.mean([m["top1"] for m in g.loc[g["U"] == u, "m"]])),
                  float(np.mean([m.get("top3", np.nan) for m in g.loc[g["U"] == u, "m"]]))) for u in Us}
    per_bs: dict = {}  # (U, bs) -> hits
    for u, d in zip(g["U"], g["pd"]):
        if not all(k in d for k in ("bs", "beam", "best_beam")):
            continue
        for b, n, best in zip(d["bs"], d["beam"], d["best_beam"]):
            per_bs.setdefault((int(u), int(b)), []).append(float(n == best))
    bss = sorted({b for _, b in per_bs})
    rows = [{"U": u, "bs": "all", "top1": pooled[u][0], "top3": pooled[u][1]} for u in Us]
    rows += [{"U": u, "bs": f"BS{b + 1}", "top1": float(np.mean(per_bs[(u, b)])), "top3": ""}
             for u in Us for b in bss if (u, b) in per_bs]
    with open(out / "fig9_beam_accuracy.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["U", "bs", "top1", "top3"])
        w.writeheader()
        w.writerows(rows)
    plt = pyplot()
    n_ax = 2 if bss else 1
    fig, axes = plt.subplots(n_ax, 1, figsize=(6.2, 3.3 * n_ax), squeeze=False)
    axes = axes[:, 0]
    if bss:
        ax = axes[0]
        bc = method_colors([f"BS{b + 1}" for b in bss])
        width = 0.8 / len(bss)
        for j, b in enumerate(bss):
            xs = [u + (j - (len(bss) - 1) / 2) * width for u in Us if (u, b) in per_bs]
            ys = [100 * np.mean(per_bs[(u, b)]) for u in Us if (u, b) in per_bs]
            ax.bar(xs, ys, width=width, color=bc[f"BS{b + 1}"], label=f"BS{b + 1}")
        ax.set_xticks(Us)
        ax.set_ylim(0, 105)
        ax.set_xlabel("number of users U")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(f"Fig. 9: BEM-GBPN top-1 accuracy per serving BS (suite {suite})", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        legend_outside(ax)
    ax = axes[-1]
    ax.plot(Us, [100 * pooled[u][0] for u in Us], "o-", color="k", label="top-1")
    ax.plot(Us, [100 * pooled[u][1] for u in Us], "s--", color="#555555", label="top-3")
    ax.set_xticks(Us)
    ax.set_ylim(0, 105)
    ax.set_xlabel("number of users U")
    ax.set_ylabel("accuracy, every BS (%)")
    ax.set_title(f"Fig. 9: BEM-GBPN top-1 / top-3 beam accuracy (suite {suite})", fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    fig.tight_layout()
    return save_figure(fig, out / "fig9_beam_accuracy") + [out / "fig9_beam_accuracy.csv"]


def _sidecars() -> dict[str, dict]:
    out = {}
    for f in sorted(WEIGHTS.glob("*.pt.json")):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if d.get("solver") in PREDICTORS and isinstance(d.get("history"), list):
            out[d["solver"]] = d
    return out


def _fig10(here, frame, out: Path, suite: str, colors) -> list[Path]:
    present = [s for s in PREDICTORS if (frame["solver"] == s).any()]
    side = _sidecars()
    present = [s for s in present if s in side and any("top1" in h for h in side[s]["history"])]
    if not present:
        return []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.9))
    rows = []
    for s in present:
        hist = [h for h in side[s]["history"] if "top1" in h and "epoch" in h]
        ep = [int(h["epoch"]) for h in hist]
        ax.plot(ep, [100 * float(h["top1"]) for h in hist], "o-", ms=3, color=colors.get(s, "k"), label=s)
        rows += [{"solver": s, "epoch": e, "val_top1": h["top1"], "val_top3": h.get("top3", "")}
                 for e, h in zip(ep, hist)]
        test = [m["top1"] for lab, m in zip(here["solver"], here["m"]) if lab == s and "top1" in m]
        if test and ep:
            ax.scatter([max(ep)], [100 * float(np.mean(test))], marker="*", s=90, color=colors.get(s, "k"),
                       edgecolors="k", linewidths=0.5, zorder=4)
            rows.append({"solver": s, "epoch": f"suite {suite}", "val_top1": float(np.mean(test)), "val_top3": ""})
    with open(out / "fig10_accuracy_vs_epoch.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["solver", "epoch", "val_top1", "val_top3"])
        w.writeheader()
        w.writerows(rows)
    ax.set_xlabel("training epoch")
    ax.set_ylabel("top-1 beam accuracy (%)")
    ax.set_title(f"Fig. 10: top-1 accuracy against training epoch (validation split, every BS);\n"
                 f"stars: mean top-1 on suite {suite}", fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, out / "fig10_accuracy_vs_epoch") + [out / "fig10_accuracy_vs_epoch.csv"]

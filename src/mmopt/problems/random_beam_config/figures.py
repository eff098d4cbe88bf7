r"""CRAB (Limani Fazliu et al., IEEE TWC 2022) Figs. 7 and 9 on ``random-beam-config``, drawn from the results store.

Usage::

    mmopt run --suite paper --problems random-beam-config
    mmopt plot --problem random-beam-config --suite paper --out paper/random-beam-config

* Fig. 7 (``fig7_rate_coverage_gap.{png,pdf,csv}``), per method, means over
  the suite's instances: (left) the network rate :math:`T` (eq. (10)) each method
  delivers (its objective; a randomised method's mean over its 10 s schedule
  of draws), the part lost to the paper's 23 ms beam-reselection overhead per
  configuration change hatched on top (the paper's orange; metric
  ``rate_overhead_23ms``), :math:`\mathbb E_\pi[T]` (eq. (13)) of a randomised CRAB
  variant as a black tick, the best-known reference and the certified upper
  bound as lines, and each CRAB variant's margin over DBSCAN, CAWBM and UCB
  (the paper's +41 / +20 / +7 %, Sec. VI); (centre) the share of vehicles in
  served zones, with the paper's (CRAB and CAWBM above 80 %, DBSCAN about
  50 %); (right) the mean gap to the best-known value and to the certified
  bound. The paper's Fig. 7 (left) is the data downloaded over its LuST
  trace with the 23 ms reselection and 43 ms handover overheads; here one
  snapshot per instance (no handover), as a rate. Fig. 7 (right), the CDF of
  the per-vehicle rate, is not drawn.
* Fig. 9 (``fig9_config_changes.{png,pdf,csv}``): (left) the CDF over gNBs of
  the expected configuration changes per second, :math:`10 (1 - \sum_{\mathbf b} \pi_g(\mathbf b)^2)`
  at 10 draws per second (the solver's stats ``changes_per_s_gnb``), for
  ``crab``, ``crab-beta`` and ``crab-map`` (deterministic: 0), with the changes
  counted in each 10 s schedule dashed (the cell's ``problem_data``), and the
  paper's two points (half of the gNBs below 0.75 changes per second, 40 %
  above 1); (centre) per gNB, the rate its own beams deliver against its
  expected changes per second (the paper's Fig. 9 centre, data against
  changes); (right) the CDF over gNBs of each variant's gain in a gNB's own
  rate over DBSCAN (solid) and CAWBM (dashed), where the paper reports 30 % /
  55 % of the gNBs gaining at least 100 % / 50 % over DBSCAN and 10 % / 30 %
  over CAWBM (Fig. 9 right). A gNB that DBSCAN or CAWBM leaves without rate
  counts as an infinite gain.

Every number comes from checked, scored cells of the store (``mmopt run``):
the figures never run a solver. Per-gNB rates and counted changes are the
cells' ``problem_data`` (:meth:`RandomBeamConfig.cell_data`); the expected
changes are the CRAB solvers' stats.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from mmopt.figures import method_colors, pyplot, save_figure
from mmopt.references import load_references

#: the paper's methods and the CRAB variants, in the order drawn; other non-reference methods follow
METHODS = ("crab", "crab-beta", "crab-map", "dbscan", "cawbm", "ucb", "ucb-oracle-reward", "random")
#: the CRAB variants, each compared with the paper's three benchmarks
CRAB_VARIANTS = ("crab", "crab-map", "crab-beta")
#: Fig. 9 (left), Sec. VI: CRAB's configuration changes per second per gNB, CDF at 0.75 and at 1
FIG9_CDF = {0.75: 0.5, 1.0: 0.6}
#: the paper's benchmarks (Sec. VI) and CRAB's delivered data relative to each (Fig. 7 left)
BENCHMARKS = ("dbscan", "cawbm", "ucb")
PAPER_MARGIN = {"dbscan": 0.41, "cawbm": 0.20, "ucb": 0.07}
#: Fig. 7 (centre): the share of vehicles covered, lower limits / approximate values read from the text
PAPER_COVERAGE = {"crab": 0.80, "cawbm": 0.80, "dbscan": 0.50}
#: Fig. 9 (right), Sec. VI: share of gNBs whose rate gain over the benchmark is at least 100 % and 50 %
FIG9_GAIN = {"dbscan": {1.0: 0.30, 0.5: 0.55}, "cawbm": {1.0: 0.10, 0.5: 0.30}}
#: one colour per method, the same in every figure
COLORS = method_colors(METHODS)
#: file stem -> description (the index ``figures.md``)
FIGURE_DOCS = {
    "fig7_rate_coverage_gap": "Fig. 7: mean delivered rate (23 ms overhead hatched, E_pi[T] ticks, best-known "
                              "and bound lines, CRAB margins over DBSCAN / CAWBM / UCB), vehicles covered, "
                              "gap to the best-known value and to the bound, per method",
    "fig9_config_changes": "Fig. 9: CDF over gNBs of the configuration changes per second of the CRAB "
                           "variants; a gNB's rate against its changes; CDF of the per-gNB gain over DBSCAN "
                           "and CAWBM",
}


def _loads(x) -> dict:
    return json.loads(x) if isinstance(x, str) and x else {}


def _rows(frame, suite: str):
    """The scored rows of ``suite`` with status ``ok`` of every non-reference method (a solver's rows under
    several parameter sets are pooled)."""
    sub = frame[(frame["suite"] == suite) & (frame["status"] == "ok")]
    return sub[sub["kind"] != "reference"]


def methods_present(sub) -> list[str]:
    """The methods of ``sub``: the paper's first (:data:`METHODS` order), then the others by name."""
    have = set(sub["solver"])
    return [m for m in METHODS if m in have] + sorted(have - set(METHODS))


def margins(sub, variant: str, base: str) -> float:
    """Mean rate of ``variant`` over the mean rate of ``base``, minus 1, over the instances both solved."""
    a = sub[sub["solver"] == variant].groupby("instance_hash")["objective"].mean()
    b = sub[sub["solver"] == base].groupby("instance_hash")["objective"].mean()
    common = a.index.intersection(b.index)
    if not len(common) or not b[common].mean() > 0:
        return float("nan")
    return float(a[common].mean() / b[common].mean() - 1.0)


def method_summary(frame, suite: str, problem_name: str = "random-beam-config") -> dict[str, dict]:
    """Per method: mean rate, rate after the 23 ms overhead, E_pi[T], coverage, gaps to best-known and bound."""
    sub = _rows(frame, suite)
    bounds = {h: float(r["bound"]) for h, r in load_references(problem_name, suite).items()
              if r.get("bound") is not None}
    out = {}
    for m in methods_present(sub):
        g = sub[sub["solver"] == m]
        met = [_loads(x) for x in g["metrics"]]
        obj = g["objective"].astype(float).to_numpy()
        ub = np.array([bounds.get(h, np.nan) for h in g["instance_hash"]], dtype=float)
        ref = g["reference"].astype(float).to_numpy()
        exp = [x.get("expected_rate", np.nan) for x in met]
        out[m] = {
            "cells": len(g),
            "rate": float(np.mean(obj)),
            "rate_overhead_23ms": float(np.nanmean([x.get("rate_overhead_23ms", np.nan) for x in met])),
            "expected_rate": float(np.nanmean(exp)) if np.isfinite(exp).any() else float("nan"),
            "covered": float(np.nanmean([x.get("covered", np.nan) for x in met])),
            "gap": float(g["gap"].astype(float).mean()),
            "gap_bound": float(np.mean((ub - obj) / ub)) if np.isfinite(ub).all() and len(ub) else float("nan"),
            "reference": float(np.mean(ref)),
            "bound": float(np.mean(ub)) if np.isfinite(ub).all() and len(ub) else float("nan"),
        }
    return out


def gnb_series(frame, suite: str) -> dict[str, dict[str, np.ndarray]]:
    """Per method, over the gNBs of every cell: expected and counted changes per second, own rate (bit/s).

    ``expected``: the solver's stats ``changes_per_s_gnb`` (:math:`10 (1 - \\sum \\pi_g^2)`; absent for a
    method without beliefs); ``counted`` and ``rate``: the cell's ``problem_data``. ``key``: (instance hash,
    gNB) of each entry, to pair the gNBs of two methods.
    """
    sub = _rows(frame, suite)
    out = {}
    for m in methods_present(sub):
        exp, cnt, rate, key = [], [], [], []
        for h, s in zip(sub[sub["solver"] == m]["instance_hash"], sub[sub["solver"] == m]["stats"]):
            st = _loads(s)
            pd_ = st.get("problem_data", {})
            r = pd_.get("rate_gnb")
            if r is None:
                continue
            G = len(r)
            e = st.get("changes_per_s_gnb")
            exp += list(e) if isinstance(e, list) and len(e) == G else [np.nan] * G
            cnt += list(pd_.get("changes_per_s_gnb", [np.nan] * G))
            rate += list(r)
            key += [(h, g) for g in range(G)]
        out[m] = {"expected": np.asarray(exp, dtype=float), "counted": np.asarray(cnt, dtype=float),
                  "rate": np.asarray(rate, dtype=float), "key": key}
    return out


def gnb_gains(series: dict, variant: str, base: str) -> np.ndarray:
    """Per gNB present under both methods: own rate of ``variant`` over that of ``base``, minus 1 (inf if 0)."""
    if variant not in series or base not in series:
        return np.zeros(0)
    b = dict(zip(series[base]["key"], series[base]["rate"]))
    out = []
    for k, r in zip(series[variant]["key"], series[variant]["rate"]):
        if k in b:
            out.append(np.inf if b[k] <= 0 and r > 0 else (0.0 if b[k] <= 0 else r / b[k] - 1.0))
    return np.asarray(out, dtype=float)


def plot(problem, frame, out, suite: str) -> list[Path]:
    """Figs. 7 and 9 of the paper from the store rows ``frame`` of ``suite`` (see the module docstring)."""
    out = Path(out)
    sub = _rows(frame, suite)
    if sub.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    written = _fig7(out, sub, method_summary(frame, suite, problem.name))
    written += _fig9(out, gnb_series(frame, suite))
    return written


def _figure_legend(fig, axes, extra, ncol: int) -> None:
    """One legend for the whole figure, below its panels (never over data): every labelled artist, then ``extra``."""
    handles, labels, seen = [], [], set()
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in seen:
                seen.add(lab)
                handles.append(h)
                labels.append(lab)
    handles += list(extra)
    labels += [h.get_label() for h in extra]
    fig.tight_layout()
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=7,
                   frameon=False)


def _ecdf(ax, x, **kw):
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    if x.size:
        ax.step(np.r_[0.0, x], np.r_[0.0, np.arange(1, x.size + 1) / x.size], where="post", **kw)


def _fig7(out: Path, sub, summ: dict) -> list[Path]:
    names = list(summ)
    with open(out / "fig7_rate_coverage_gap.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "cells", "rate_gbps", "rate_overhead_23ms_gbps", "expected_rate_gbps", "covered",
                    "gap_best_known", "gap_bound", "best_known_gbps", "bound_gbps"]
                   + [f"margin_over_{b}" for b in BENCHMARKS])
        for m in names:
            s = summ[m]
            w.writerow([m, s["cells"]] + [f"{s[k] / 1e9:.4f}" for k in ("rate", "rate_overhead_23ms", "expected_rate")]
                       + [f"{s[k]:.6f}" for k in ("covered", "gap", "gap_bound")]
                       + [f"{s[k] / 1e9:.4f}" for k in ("reference", "bound")]
                       + [f"{margins(sub, m, b):.6f}" if m in CRAB_VARIANTS else "" for b in BENCHMARKS])
    plt = pyplot()
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4), gridspec_kw={"width_ratios": [1.5, 1, 1]})
    x = np.arange(len(names))
    colors = {**method_colors(names), **{m: COLORS[m] for m in names if m in COLORS}}
    ax = axes[0]
    rate = np.array([summ[m]["rate"] for m in names]) / 1e9
    after = np.array([summ[m]["rate_overhead_23ms"] for m in names]) / 1e9
    after = np.where(np.isfinite(after), after, rate)
    ax.bar(x, after, color=[colors[m] for m in names], edgecolor="k", linewidth=0.5)
    lost = rate - after
    ax.bar(x, lost, bottom=after, color="white", edgecolor=[colors[m] for m in names], hatch="///",
           linewidth=0.8)
    proxies = [Patch(facecolor="white", edgecolor="0.3", hatch="///",
                     label="Fig. 7 (left): rate lost to the 23 ms reselection overhead (the paper's orange)")]
    exp = np.array([summ[m]["expected_rate"] for m in names]) / 1e9
    if np.isfinite(exp).any():
        ax.plot(x[np.isfinite(exp)], exp[np.isfinite(exp)], "k_", ms=18, mew=2, ls="none",
                label=r"$E_\pi[T]$ (eq. (13))")
    ref = float(np.mean([summ[m]["reference"] for m in names])) / 1e9
    ax.axhline(ref, color="k", lw=1.0, label=f"best-known reference (mean {ref:.1f} Gb/s)")
    bnd = [summ[m]["bound"] for m in names]
    if np.isfinite(bnd).all():
        ax.axhline(float(np.mean(bnd)) / 1e9, color="k", ls="--", lw=1.0,
                   label=f"certified upper bound (mean {np.mean(bnd) / 1e9:.1f} Gb/s)")
    top = max(float(np.nanmax(rate)), ref, float(np.nanmax(np.r_[bnd, 0.0])) / 1e9)
    for i, m in enumerate(names):
        if m in CRAB_VARIANTS and all(b in summ for b in BENCHMARKS):
            txt = " ".join(f"{b[:2].upper()} {100 * margins(sub, m, b):+.0f}%" for b in BENCHMARKS)
            ax.text(i, 0.02 * top, txt, ha="center", va="bottom", rotation=90, fontsize=6.5, color="white",
                    fontweight="bold")
    if all(b in summ for b in BENCHMARKS):
        proxies.append(Patch(facecolor="none", edgecolor="none",
                             label="in a CRAB bar: its rate over DB(SCAN), CA(WBM), UC(B); the paper's CRAB: "
                                   "+41 %, +20 %, about +7 % (Fig. 7 left)"))
    ax.set_ylim(0, 1.12 * top)
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("network rate T (Gb/s), mean over instances")
    ax.set_title("Fig. 7 (left): delivered rate", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1]
    cov = np.array([summ[m]["covered"] for m in names])
    ax.bar(x, 100 * cov, color=[colors[m] for m in names], edgecolor="k", linewidth=0.5)
    px = [i for i, m in enumerate(names) if m in PAPER_COVERAGE]
    if px:
        ax.plot(px, [100 * PAPER_COVERAGE[names[i]] for i in px], "kD", ms=6, ls="none",
                label="paper (CRAB, CAWBM > 80 %; DBSCAN about 50 %)")
    ax.set_ylim(0, 105)
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("vehicles covered (%)")
    ax.set_title("Fig. 7 (centre): vehicles covered", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[2]
    gap = np.array([summ[m]["gap"] for m in names])
    gb = np.array([summ[m]["gap_bound"] for m in names])
    ax.bar(x - 0.2, 100 * gap, width=0.4, color=[colors[m] for m in names], edgecolor="k", linewidth=0.5)
    proxies.append(Patch(facecolor="0.6", edgecolor="k", label="gap to the best-known value (filled)"))
    if np.isfinite(gb).all():
        ax.bar(x + 0.2, 100 * gb, width=0.4, color="white", edgecolor=[colors[m] for m in names], hatch="...",
               linewidth=0.8)
        proxies.append(Patch(facecolor="white", edgecolor="0.3", hatch="...",
                             label="gap to the certified bound (dotted)"))
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("mean optimality gap (%)")
    ax.set_title("mmopt: gap per method", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _figure_legend(fig, axes, proxies, ncol=2)
    return [out / "fig7_rate_coverage_gap.csv"] + save_figure(fig, out / "fig7_rate_coverage_gap")


def _fig9(out: Path, series: dict) -> list[Path]:
    variants = [v for v in ("crab", "crab-beta", "crab-map") if v in series and series[v]["rate"].size]
    if not variants:
        return []
    with open(out / "fig9_config_changes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "instance_hash", "gnb", "expected_changes_per_s", "counted_changes_per_s",
                    "rate_gbps"] + [f"gain_over_{b}" for b in ("dbscan", "cawbm")])
        for v in variants:
            s = series[v]
            gains = {}
            for b in ("dbscan", "cawbm"):
                if b in series:
                    bb = dict(zip(series[b]["key"], series[b]["rate"]))
                    gains[b] = [(r / bb[k] - 1.0 if bb.get(k, 0) > 0 else float("nan")) for k, r in
                                zip(s["key"], s["rate"])]
            for i, k in enumerate(s["key"]):
                w.writerow([v, k[0][:12], k[1], f"{s['expected'][i]:.4f}", f"{s['counted'][i]:.4f}",
                            f"{s['rate'][i] / 1e9:.4f}"]
                           + [f"{gains[b][i]:.4f}" if b in gains else "" for b in ("dbscan", "cawbm")])
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    ax = axes[0]
    xmax = 1.0
    for v in variants:
        s = series[v]
        e = s["expected"] if np.isfinite(s["expected"]).any() else np.zeros_like(s["rate"])
        _ecdf(ax, e, color=COLORS[v], lw=1.6,
              label=f"{v}: expected, 10 (1 - sum pi^2)" + (" (deterministic: 0)" if v == "crab-map" else ""))
        if np.isfinite(s["counted"]).any() and v != "crab-map":
            _ecdf(ax, s["counted"], color=COLORS[v], lw=1.0, ls="--", label=f"{v}: counted over 10 s")
        xmax = max(xmax, float(np.nanmax(np.r_[e, s["counted"], 0.0])))
    ax.plot(list(FIG9_CDF), list(FIG9_CDF.values()), "kD", ms=6, ls="none",
            label="paper, CRAB: 50 % below 0.75, 40 % above 1")
    ax.set_xlim(0, min(10.0, 1.05 * xmax))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("configuration changes per second per gNB")
    ax.set_ylabel("CDF over gNBs")
    ax.set_title("Fig. 9 (left): configuration changes", fontsize=9)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for v in variants:
        s = series[v]
        e = s["expected"] if np.isfinite(s["expected"]).any() else np.zeros_like(s["rate"])
        ax.plot(e, s["rate"] / 1e9, "o", ms=3.5, alpha=0.7, color=COLORS[v], label=v)
    ax.set_xlabel("expected configuration changes per second")
    ax.set_ylabel("rate of the gNB's beams (Gb/s)")
    ax.set_title("Fig. 9 (centre): gNB rate against its changes", fontsize=9)
    ax.grid(alpha=0.3)
    ax = axes[2]
    drawn = False
    for v in variants:
        for b, ls in (("dbscan", "-"), ("cawbm", "--")):
            gains = gnb_gains(series, v, b)
            if gains.size:
                gg = np.where(np.isinf(gains), 1e9, gains)
                x = np.sort(100 * gg)
                ax.step(np.r_[-1e9, x, 1e12], np.r_[1.0, 1.0 - np.arange(x.size) / x.size, 0.0], where="post",
                        color=COLORS[v], ls=ls, lw=1.3, label=f"{v} over {b}")
                drawn = True
    if drawn:
        for b, mk in (("dbscan", "D"), ("cawbm", "s")):
            pts = FIG9_GAIN[b]
            ax.plot([100 * k for k in pts], list(pts.values()), mk, color="k", mfc="none" if b == "cawbm" else "k",
                    ms=6, ls="none", label=f"paper, CRAB over {b}")
    ax.set_xlim(-100, 300)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("gain in the gNB's rate (%)")
    ax.set_ylabel("share of gNBs with at least this gain")
    ax.set_title("Fig. 9 (right): per-gNB gain", fontsize=9)
    ax.grid(alpha=0.3)
    _figure_legend(fig, axes, [], ncol=3)
    return [out / "fig9_config_changes.csv"] + save_figure(fig, out / "fig9_config_changes")

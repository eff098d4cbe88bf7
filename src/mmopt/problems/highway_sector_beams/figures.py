"""MACOL (Kose et al.) Figs. 4-8 on ``highway-sector-beams``, drawn from the results store.

Usage::

    mmopt run --suite paper --problems highway-sector-beams
    mmopt plot --problem highway-sector-beams --suite paper --out paper/highway

As in the paper, the service distances of Figs. 4-5 are those of one beam,
the north-pointing beam of the middle south BS
(:func:`~mmopt.problems.highway_sector_beams.layout.analysed_beam`), over
the connections that finished and started in the exploitation phase of a
learning strategy (after ``explore_until``; every connection of a strategy
without one); a connection's interference-free distance is the total
distance driven during its interference-free steps (eq. (10)). Time shares
(Figs. 7-8) are shares of the whole time vehicles spend on the section.

* Fig. 4 (``fig4_service_distance_cdf.{png,pdf,csv}``): empirical CDFs of the
  interference-free service distance of MACOL and Best SNR, those of the two
  the suite has (the cells' ``problem_data``, pooled over the instances with
  30 vehicles, or with the largest vehicle count of the suite when it has no
  instance with 30; the title says which) next to the
  analytic :math:`\\breve F^*_L` of the same beam against its neighbours
  (the 3 beams of the BS opposite it) for p = 0, 0.2, ..., 0.8
  (:func:`~mmopt.problems.highway_sector_beams.layout.analysed_service_distance_cdf`).
  The analysis assumes connection starts uniform on the beam's road area
  (eq. (12)); simulated connections start where the beam picks the vehicle,
  often at its entrance, so they are longer than the analysis at the same p.
* Fig. 5 (``fig5_mean_service_distance.{png,pdf,csv}``): the mean of the same
  distances against the number of vehicles, for MACOL and Best SNR.
* Fig. 6 (``fig6_service_period_ratio.{png,pdf,csv}``): service period ratio
  (interference-free service time / time on the section) against the number
  of vehicles for random, best-snr and macol, with the oracle bound.
* Fig. 7 (``fig7_interference_ratio.{png,pdf,csv}``): interference ratio
  (interfered service time / time on the section) against the number of
  vehicles for random, best-snr and macol.
* Fig. 8 (``fig8_service_outage_interference.{png,pdf,csv}``): MACOL's shares
  of service, interference and outage over time with 20 vehicles (or the
  vehicle count of the suite nearest to 20; the cells' timelines, averaged
  over seeds), with the end of its exploration phase.

Each strategy keeps one colour in every figure
(:func:`mmopt.figures.method_colors`); legends sit outside the axes.
* ``highway_figures.md`` and ``highway_runs.csv``: every number, with the
  objective, its gap to the oracle bound and generator version 1's metrics.

Every number comes from checked, scored cells of the store (``mmopt run``):
the figures never run a solver themselves.
"""
from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from mmopt.figures import legend_outside, method_colors, pyplot, save_figure

from .layout import analysed_mean_service_distance, analysed_service_distance_cdf

STRATEGIES = ("random", "best-snr", "macol")
DISTANCE_STRATEGIES = ("best-snr", "macol")  # the strategies of Figs. 4-5
P_VALUES = (0.0, 0.2, 0.4, 0.6, 0.8)
FIG4_VEHICLES = 30
FIG8_VEHICLES = 20
#: one colour per strategy, the same in every figure
COLORS = method_colors(("oracle-bound",) + STRATEGIES)
#: file stem -> description (the index ``figures.md``)
FIGURE_DOCS = {
    "fig4_service_distance_cdf": "Fig. 4: CDF of the analysed beam's interference-free service distance, "
                                 "simulated strategies against the analysis",
    "fig5_mean_service_distance": "Fig. 5: mean interference-free service distance against the number of vehicles",
    "fig6_service_period_ratio": "Fig. 6: service period ratio against the number of vehicles",
    "fig7_interference_ratio": "Fig. 7: interference ratio against the number of vehicles",
    "fig8_service_outage_interference": "Fig. 8: MACOL's service, interference and outage shares over time",
    "highway_figures": "every number of Figs. 4-8", "highway_runs": "one row per scored cell"}
RUN_KEYS = ("objective", "gap", "service_period_ratio", "interference_ratio", "outage_ratio",
            "interference_ratio_service", "service_period_ratio_covered", "mean_free_distance_m",
            "zero_free_connections", "analysed_connections", "mean_service_distance_m", "interfered_connections",
            "mean_free_distance_all_beams_m", "mean_free_distance_first_m", "zero_free_connections_first",
            "interference_ratio_explore", "free_ratio_explore", "outage_ratio_explore",
            "interference_ratio_exploit", "free_ratio_exploit", "outage_ratio_exploit", "seconds")


def plot(problem, frame, out: Path, suite: str, fig4_n: int | None = None) -> list[Path]:
    """Figs. 4-8, ``highway_figures.md`` and ``highway_runs.csv`` from the store rows ``frame`` of ``suite``.

    Fig. 4 pools the instances with ``fig4_n`` vehicles (default 30, or the
    largest count of the suite with distances when none has 30); Fig. 8 those
    with 20 vehicles, or the count nearest to 20.
    """
    rows = []
    dist = defaultdict(list)  # (strategy, n) -> arrays of free distances
    timelines = defaultdict(list)  # n -> (bin_s, service, interference, outage, explore_until) of macol
    ok = frame[frame["status"].isin(["ok", "mismatch"]) & (frame["suite"] == suite)]
    for r in ok.itertuples(index=False):
        if r.solver not in ("oracle-bound",) + STRATEGIES:
            continue
        n = int(problem.instance_params(suite, int(r.instance_index))["n_vehicles"])
        metrics = json.loads(r.metrics) if r.metrics else {}
        stats = json.loads(r.stats) if r.stats else {}
        row = {"instance": r.instance, "n": n, "strategy": r.solver, "objective": r.objective,
               "gap": 0.0 if r.solver == "oracle-bound" else r.gap, **metrics, "seconds": r.seconds}
        if r.solver == "macol":
            row["explore_decisions"] = stats.get("decisions_explore")
            row["exploit_decisions"] = stats.get("decisions_exploit")
            row["backoffs"] = stats.get("backoff")
        rows.append(row)
        data = stats.get("problem_data", {})
        if r.solver in DISTANCE_STRATEGIES and "free_distance" in data:
            dist[(r.solver, n)].append(np.asarray(data["free_distance"], float))
        if r.solver == "macol" and "timeline" in data:
            timelines[n].append((data["timeline"], data.get("explore_until")))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda x: (x["n"], x["instance"], x["strategy"]))
    dist = {k: np.concatenate(v) for k, v in dist.items()}
    written = []
    if not rows:
        return written
    _runs(out, rows)
    written.append(out / "highway_runs.csv")
    written += _fig_ratio(out, rows, "service_period_ratio", "fig6_service_period_ratio",
                          "service time / time on the section (%)", "Fig. 6: service period ratio (geometric model)",
                          ("oracle-bound",) + STRATEGIES)
    written += _fig_ratio(out, rows, "interference_ratio", "fig7_interference_ratio",
                          "interference time / time on the section (%)", "Fig. 7: interference ratio (geometric model)",
                          STRATEGIES)
    n_dist = sorted({n for _, n in dist})
    if fig4_n is None:
        fig4_n = FIG4_VEHICLES if FIG4_VEHICLES in n_dist or not n_dist else n_dist[-1]
    layout = problem.generate(suite, 0)
    lgrid = np.linspace(0, 100, 101)
    analytic = {p: analysed_service_distance_cdf(layout, lgrid, p) for p in P_VALUES}
    means = {p: analysed_mean_service_distance(layout, p) for p in P_VALUES}
    emp = {s: dist[(s, fig4_n)] for s in DISTANCE_STRATEGIES if (s, fig4_n) in dist}
    written += _fig4(out, lgrid, analytic, emp, fig4_n)
    written += _fig5(out, dist, means)
    n8 = min(timelines, key=lambda n: (abs(n - FIG8_VEHICLES), n)) if timelines else FIG8_VEHICLES
    fig8 = _fig8(out, timelines.get(n8, []), n8)
    if fig8 is not None:
        written += fig8["paths"]
    _markdown(out, rows, lgrid, analytic, means, emp, fig4_n, dist, fig8, suite, n8)
    written.append(out / "highway_figures.md")
    return sorted(written)


def _agg(rows, key):
    by = defaultdict(list)
    for r in rows:
        if key in r and r[key] is not None and not (isinstance(r[key], float) and math.isnan(r[key])):
            by[(r["strategy"], r["n"])].append(r[key])
    return {k: (float(np.mean(v)), float(np.min(v)), float(np.max(v))) for k, v in by.items()}


def _runs(out: Path, rows) -> None:
    with open(out / "highway_runs.csv", "w", newline="") as f:
        cols = ["instance", "n", "strategy", *RUN_KEYS, "explore_decisions", "exploit_decisions", "backoffs"]
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def _fig_ratio(out: Path, rows, key: str, stem: str, ylabel: str, title: str, strategies) -> list[Path]:
    """A time share against the number of vehicles (mean over seeds, min-max bars): Figs. 6 and 7."""
    ir = _agg(rows, key)
    ns = sorted({r["n"] for r in rows})
    present = [s for s in strategies if any((s, n) in ir for n in ns)]
    if not present:
        return []
    with open(out / f"{stem}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_vehicles"] + [f"{s}_{q}" for s in present for q in ("mean", "min", "max")])
        for n in ns:
            w.writerow([n] + [f"{v:.6f}" for s in present for v in ir.get((s, n), (np.nan,) * 3)])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for s, mk in zip(present, "Dsov"):
        y = np.array([ir.get((s, n), (np.nan,) * 3) for n in ns])
        ax.errorbar(ns, 100 * y[:, 0], yerr=100 * np.abs(y[:, 1:].T - y[:, 0]), marker=mk, capsize=3, label=s,
                    color=COLORS[s], ls="--" if s == "oracle-bound" else "-")
    ax.set_xlabel("number of vehicles")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return [out / f"{stem}.csv"] + save_figure(fig, out / stem)


def _ecdf(x, grid):
    x = np.sort(x)
    return np.searchsorted(x, grid, side="right") / max(x.size, 1)


def _fig4(out: Path, lgrid, analytic, emp, n) -> list[Path]:
    with open(out / "fig4_service_distance_cdf.csv", "w", newline="") as f:
        w = csv.writer(f)
        names = list(emp)
        w.writerow(["l_m"] + [f"analytic_p{p:g}" for p in analytic] + [f"{k}_empirical" for k in names])
        for j, l in enumerate(lgrid):
            w.writerow([f"{l:g}"] + [f"{analytic[p][j]:.6f}" for p in analytic]
                       + [f"{_ecdf(emp[k], lgrid)[j]:.6f}" for k in names])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    greys = plt.get_cmap("Greys")
    for i, (p, F) in enumerate(analytic.items()):
        ax.plot(lgrid, F, "--", lw=1, color=greys(0.35 + 0.6 * i / max(len(analytic) - 1, 1)),
                label=f"analysis p = {p:g}")
    for k, st in zip(emp, ("-", "-.")):
        ax.plot(lgrid, _ecdf(emp[k], lgrid), st, lw=2, color=COLORS[k], label=f"{k} ({emp[k].size} conn.)")
    ax.set_xlabel("interference-free service distance l (m)")
    ax.set_ylabel("CDF")
    what = "" if emp else " (no simulated connections)"
    ax.set_title(f"Fig. 4: service-distance CDF, analysed beam, {n} vehicles{what}", fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return [out / "fig4_service_distance_cdf.csv"] + save_figure(fig, out / "fig4_service_distance_cdf")


def _fig5(out: Path, dist, means) -> list[Path]:
    ns = sorted({n for _, n in dist})
    with open(out / "fig5_mean_service_distance.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_vehicles"] + [f"{s}_{q}" for s in DISTANCE_STRATEGIES for q in ("mean_m", "connections")])
        for n in ns:
            cells = []
            for s in DISTANCE_STRATEGIES:
                d = dist.get((s, n))
                cells += [f"{d.mean():.3f}" if d is not None and d.size else "", d.size if d is not None else 0]
            w.writerow([n] + cells)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for s, mk in zip(DISTANCE_STRATEGIES, "so"):
        if not any((s, n) in dist for n in ns):
            continue
        y = [dist[(s, n)].mean() if (s, n) in dist and dist[(s, n)].size else np.nan for n in ns]
        ax.plot(ns, y, marker=mk, label=s, color=COLORS[s])
    for p, ls, c in ((0.0, ":", "k"), (0.2, "--", "#555555")):
        if p in means:
            ax.axhline(means[p], ls=ls, color=c, lw=1, label=f"analysis p = {p:g} (uniform starts)")
    ax.set_xlabel("number of vehicles")
    ax.set_ylabel("mean interference-free distance (m)")
    ax.set_title("Fig. 5: mean service distance, analysed beam")
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return [out / "fig5_mean_service_distance.csv"] + save_figure(fig, out / "fig5_mean_service_distance")


def _fig8(out: Path, cells, n: int = FIG8_VEHICLES) -> dict | None:
    """Mean timeline of MACOL's cells (equal bins), or None without cells."""
    if not cells:
        return None
    k = min(len(tl["service"]) for tl, _ in cells)
    bin_s = float(cells[0][0]["bin_s"])
    series = {q: np.mean([np.asarray(tl[q][:k], float) for tl, _ in cells], axis=0)
              for q in ("service", "interference", "outage")}
    t = (np.arange(k) + 0.5) * bin_s
    explore = [e for _, e in cells if e is not None]
    t_ex = float(np.mean(explore)) if explore else None
    with open(out / "fig8_service_outage_interference.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_mid_s", "service", "interference", "outage"])
        for j in range(k):
            w.writerow([f"{t[j]:g}"] + [f"{series[q][j]:.6f}" for q in ("service", "interference", "outage")])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for q, mk, c in (("service", "o", "#2ca02c"), ("interference", "s", "#d62728"), ("outage", "v", "#7f7f7f")):
        ax.plot(t, 100 * series[q], marker=mk, ms=3, label=q, color=c)
    if t_ex is not None:
        ax.axvline(t_ex, color="k", lw=1, ls="--", label=f"end of exploration ({t_ex:g} s)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("share of vehicle time (%)")
    ax.set_title(f"Fig. 8: MACOL, {n} vehicles ({len(cells)} seeds)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    paths = [out / "fig8_service_outage_interference.csv"] + save_figure(fig, out / "fig8_service_outage_interference")
    return {"t": t, "series": series, "explore_until": t_ex, "seeds": len(cells), "n": n, "paths": paths}


def _markdown(out: Path, rows, lgrid, analytic, means, emp, n4, dist, fig8, suite, n8=FIG8_VEHICLES) -> None:
    ns = sorted({r["n"] for r in rows})
    A = {k: _agg(rows, k) for k in RUN_KEYS}

    def g(k, s, n, fmt):
        v = A[k].get((s, n), (float("nan"),))[0]
        return format(v, fmt)

    lines = [f"# `highway-sector-beams`: MACOL Figs. 4-8 (suite `{suite}`, geometric model)", "",
             "Means over seeds. Time shares are shares of the whole time vehicles spend on the section (T_E): "
             "service (T_S / T_E, interference-free) + interference + outage = 1; service equals the objective. "
             "gap = (oracle - value) / oracle against `oracle-bound` (exact per-step optimum, an upper bound for "
             "every strategy). Distances: the analysed beam (north-pointing beam of the middle south BS), its "
             "finished connections started after the exploration phase; free distance = total distance driven "
             "during interference-free steps (eq. (10)). v1: generator version 1's definitions (interference / "
             "service time; free distance until the first interfered step, all beams and phases).", "",
             "| vehicles | strategy | objective | gap | service | interference | outage | interference / service "
             "time (v1) | mean free distance (m) | zero-distance share | connections | mean free distance v1 (m) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        for s in ("oracle-bound",) + STRATEGIES:
            lines.append(f"| {n} | {s} | {g('objective', s, n, '.4f')} | {g('gap', s, n, '.3f')} "
                         f"| {g('service_period_ratio', s, n, '.3f')} | {g('interference_ratio', s, n, '.3f')} "
                         f"| {g('outage_ratio', s, n, '.3f')} | {g('interference_ratio_service', s, n, '.3f')} "
                         f"| {g('mean_free_distance_m', s, n, '.1f')} | {g('zero_free_connections', s, n, '.3f')} "
                         f"| {g('analysed_connections', s, n, '.0f')} "
                         f"| {g('mean_free_distance_first_m', s, n, '.1f')} |")
    lines += ["", "MACOL by phase (interference / service / outage): " + "; ".join(
        f"{n}: {g('interference_ratio_explore', 'macol', n, '.3f')} / {g('free_ratio_explore', 'macol', n, '.3f')}"
        f" / {g('outage_ratio_explore', 'macol', n, '.3f')} -> {g('interference_ratio_exploit', 'macol', n, '.3f')}"
        f" / {g('free_ratio_exploit', 'macol', n, '.3f')} / {g('outage_ratio_exploit', 'macol', n, '.3f')}"
        for n in ns), ""]
    lines += [f"## Fig. 4 ({n4} vehicles): interference-free service distance, analysed beam", "",
              "The analysis assumes connection starts uniform on the beam's road area (eq. (12)); simulated "
              "connections start where the beam picks the vehicle, often at its entrance.", "",
              "| " + " | ".join(["l (m)"] + [f"analysis p={p:g}" for p in analytic]
                                + [f"{k} (sim.)" for k in emp]) + " |",
              "|" + "---:|" * (1 + len(analytic) + len(emp))]
    for l in (0, 5, 10, 20, 30, 40, 50, 60):
        j = int(np.argmin(np.abs(lgrid - l)))
        lines.append("| " + " | ".join([str(l)] + [f"{analytic[p][j]:.3f}" for p in analytic]
                                       + [f"{_ecdf(emp[k], lgrid)[j]:.3f}" for k in emp]) + " |")
    lines += ["", "Analytic means (m): " + ", ".join(f"p={p:g}: {m:.1f}" for p, m in means.items())
              + "; simulated means (m): " + ", ".join(f"{k}: {emp[k].mean():.1f} ({emp[k].size} connections)"
                                                     for k in emp if emp[k].size), ""]
    lines += ["## Fig. 5: mean interference-free service distance (m), analysed beam", "",
              "| vehicles | " + " | ".join(DISTANCE_STRATEGIES) + " |", "|---:|" + "---:|" * len(DISTANCE_STRATEGIES)]
    for n in sorted({n for _, n in dist}):
        lines.append(f"| {n} | " + " | ".join(
            f"{dist[(s, n)].mean():.1f} ({dist[(s, n)].size})" if (s, n) in dist and dist[(s, n)].size else "–"
            for s in DISTANCE_STRATEGIES) + " |")
    lines.append("")
    if fig8 is not None:
        t, S, t_ex = fig8["t"], fig8["series"], fig8["explore_until"]
        lines += [f"## Fig. 8: MACOL, {n8} vehicles ({fig8['seeds']} seeds)", ""]
        if t_ex is not None:
            for name, m in (("exploration", t < t_ex), ("exploitation", t >= t_ex)):
                if m.any():
                    lines.append(f"- {name} (bins {t[m].min():g}-{t[m].max():g} s): service "
                                 f"{S['service'][m].mean():.3f}, interference {S['interference'][m].mean():.3f}, "
                                 f"outage {S['outage'][m].mean():.3f}")
        lines.append("")
    (out / "highway_figures.md").write_text("\n".join(lines))

"""MACOL (Kose et al.) Figs. 4 and 7 on ``highway-sector-beams``, drawn from the results store.

Usage::

    mmopt run --suite paper --problems highway-sector-beams
    mmopt plot --problem highway-sector-beams --suite paper --out paper/highway

* Fig. 4 (``fig4_service_distance_cdf.{png,csv}``): empirical CDFs of the
  interference-free service distance of the finished connections of MACOL
  and Best SNR (the cells' ``problem_data``, pooled over the instances with
  30 vehicles) next to the analytic :math:`\\breve F^*_L` for p = 0, 0.2,
  ..., 0.8 (road-area-weighted mixture over the 18 beams,
  :func:`layout_service_distance_cdf`). The analysis starts a connection
  uniformly on the road part of the beam; in the simulation most
  connections start where the vehicle enters the beam, so simulated
  distances are longer.
* Fig. 7 (``fig7_interference_ratio.{png,csv}``): interference ratio
  (interfered service time / service time) against the number of vehicles
  for random, best-snr and macol, with the objective and its gap to the
  oracle bound in ``highway_figures.md``.

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

from .layout import layout_service_distance_cdf

STRATEGIES = ("random", "best-snr", "macol")
P_VALUES = (0.0, 0.2, 0.4, 0.6, 0.8)
FIG4_VEHICLES = 30


def plot(problem, frame, out: Path, suite: str, fig4_n: int | None = None) -> list[Path]:
    """Figs. 4 and 7 and ``highway_figures.md`` from the store rows ``frame`` of ``suite``."""
    fig4_n = FIG4_VEHICLES if fig4_n is None else fig4_n
    rows, fig4 = [], defaultdict(list)
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
        if n == fig4_n and r.solver in ("macol", "best-snr"):
            fig4[r.solver].append(np.asarray(stats.get("problem_data", {}).get("free_distance", []), float))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda x: (x["n"], x["instance"], x["strategy"]))
    _fig7(out, rows)
    lgrid = np.linspace(0, 100, 101)
    analytic = {p: layout_service_distance_cdf(problem.generate(suite, 0), lgrid, p) for p in P_VALUES}
    emp = {k: np.concatenate(v) for k, v in fig4.items() if v}
    _fig4(out, lgrid, analytic, emp, fig4_n)
    _markdown(out, rows, lgrid, analytic, emp, fig4_n, suite)
    return sorted(p for p in out.iterdir() if p.is_file())


def _agg(rows, key):
    by = defaultdict(list)
    for r in rows:
        if key in r and r[key] is not None and not (isinstance(r[key], float) and math.isnan(r[key])):
            by[(r["strategy"], r["n"])].append(r[key])
    return {k: (float(np.mean(v)), float(np.min(v)), float(np.max(v))) for k, v in by.items()}


def _fig7(out: Path, rows) -> None:
    keys = ("objective", "gap", "interference_ratio", "outage_ratio", "service_period_ratio",
            "mean_free_distance_m", "mean_service_distance_m", "interfered_connections", "seconds")
    with open(out / "highway_runs.csv", "w", newline="") as f:
        cols = ["instance", "n", "strategy", *keys, "interference_ratio_exploit", "explore_decisions",
                "exploit_decisions", "backoffs"]
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    ir = _agg(rows, "interference_ratio")
    ns = sorted({r["n"] for r in rows})
    with open(out / "fig7_interference_ratio.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_vehicles"] + [f"{s}_{q}" for s in STRATEGIES for q in ("mean", "min", "max")])
        for n in ns:
            w.writerow([n] + [f"{v:.6f}" for s in STRATEGIES for v in ir.get((s, n), (np.nan,) * 3)])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for s, mk in zip(STRATEGIES, "sov"):
        y = np.array([ir.get((s, n), (np.nan,) * 3) for n in ns])
        ax.errorbar(ns, 100 * y[:, 0], yerr=100 * np.abs(y[:, 1:].T - y[:, 0]), marker=mk, capsize=3, label=s)
    ax.set_xlabel("number of vehicles")
    ax.set_ylabel("interference ratio (%)")
    ax.set_title("Fig. 7: interference ratio (geometric model)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fig7_interference_ratio.png", dpi=150)
    plt.close(fig)


def _ecdf(x, grid):
    x = np.sort(x)
    return np.searchsorted(x, grid, side="right") / max(x.size, 1)


def _fig4(out: Path, lgrid, analytic, emp, n) -> None:
    with open(out / "fig4_service_distance_cdf.csv", "w", newline="") as f:
        w = csv.writer(f)
        names = list(emp)
        w.writerow(["l_m"] + [f"analytic_p{p:g}" for p in analytic] + [f"{k}_empirical" for k in names])
        for j, l in enumerate(lgrid):
            w.writerow([f"{l:g}"] + [f"{analytic[p][j]:.6f}" for p in analytic]
                       + [f"{_ecdf(emp[k], lgrid)[j]:.6f}" for k in names])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for p, F in analytic.items():
        ax.plot(lgrid, F, "--", lw=1, label=f"analysis p = {p:g}")
    for k, st in zip(emp, ("-", "-.")):
        ax.plot(lgrid, _ecdf(emp[k], lgrid), st, lw=2, label=f"{k} ({emp[k].size} conn.)")
    ax.set_xlabel("interference-free service distance l (m)")
    ax.set_ylabel("CDF")
    ax.set_title(f"Fig. 4: service-distance CDF, {n} vehicles")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig4_service_distance_cdf.png", dpi=150)
    plt.close(fig)


def _markdown(out: Path, rows, lgrid, analytic, emp, n4, suite) -> None:
    ns = sorted({r["n"] for r in rows})
    A = {k: _agg(rows, k) for k in ("objective", "gap", "interference_ratio", "mean_free_distance_m",
                                     "mean_service_distance_m", "outage_ratio", "service_period_ratio",
                                     "interference_ratio_exploit")}
    lines = [f"# `highway-sector-beams`: MACOL Figs. 4 and 7 (suite `{suite}`, geometric model)", "",
             "Means over seeds. objective = share of vehicle time served without interference; gap = "
             "(oracle - value) / oracle against `oracle-bound` (exact per-step optimum, an upper bound for "
             "every strategy).", "",
             "| vehicles | strategy | objective | gap | interference ratio | outage ratio | T_S/T_E "
             "| mean free distance (m) | mean service distance (m) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        for s in ("oracle-bound",) + STRATEGIES:
            g = lambda k: A[k].get((s, n), (float("nan"),))[0]  # noqa: E731
            lines.append(f"| {n} | {s} | {g('objective'):.4f} | {g('gap'):.3f} | {g('interference_ratio'):.3f} "
                         f"| {g('outage_ratio'):.3f} | {g('service_period_ratio'):.3f} "
                         f"| {g('mean_free_distance_m'):.1f} | {g('mean_service_distance_m'):.1f} |")
    lines += ["", "MACOL after its exploration phase (interference ratio of the exploitation steps): "
              + ", ".join(f"{n}: {A['interference_ratio_exploit'].get(('macol', n), (float('nan'),))[0]:.3f}"
                          for n in ns), ""]
    lines += [f"## Fig. 4 ({n4} vehicles): interference-free service distance", "",
              "| l (m) | " + " | ".join(f"analysis p={p:g}" for p in analytic) + " | "
              + " | ".join(f"{k} (sim.)" for k in emp) + " |",
              "|---:|" + "---:|" * (len(analytic) + len(emp))]
    for l in (5, 10, 20, 30, 40, 60, 80):
        j = int(np.argmin(np.abs(lgrid - l)))
        lines.append(f"| {l} | " + " | ".join(f"{analytic[p][j]:.3f}" for p in analytic) + " | "
                     + " | ".join(f"{_ecdf(emp[k], lgrid)[j]:.3f}" for k in emp) + " |")
    lines += ["", "Analytic means (m): " + ", ".join(
        f"p={p:g}: {float(np.trapezoid(1 - analytic[p], lgrid)):.1f}" for p in analytic)
        + "; simulated means (m): " + ", ".join(f"{k}: {emp[k].mean():.1f}" for k in emp), ""]
    (out / "highway_figures.md").write_text("\n".join(lines))

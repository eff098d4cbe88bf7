"""Figures every problem gets from the results store, and the helpers the problems' own figures share.

Two engine figures are drawn for any problem and suite, from the store rows
(so methods loaded as plugins appear too):

* ``gap_per_method.{png,pdf}``: the distribution over instances of each
  method's optimality gap (a box per method, every cell as a dot), failed
  cells (``infeasible``, ``timeout``, ``error``) counted as a gap of 100 % as
  in the tables (:mod:`mmopt.report`); each method's tick label says against
  how many ``opt`` (certified optimal) and ``best`` (best-known) references it
  was scored.
* ``gap_vs_time.{png,pdf}``: each method's mean gap against its median solve
  time, with the Pareto front (no other method both faster and closer to the
  optimum) drawn and its methods ringed.

``gap_per_method.csv`` holds the numbers of both. :func:`plot_problem` draws
them, then the problem's own figures (:meth:`mmopt.api.Problem.plot`), and
writes ``figures.md``, the index of every file written.

:func:`html_report` gathers the tables, these figures, the reproduction rows
and the provenance of a store into one self-contained static page
(:mod:`mmopt.htmlpage`; ``mmopt report --html``).

Every figure is written as PNG and PDF (:func:`save_figure`), with one
colour per method (:func:`method_colors`), and legends that never cover
data: :func:`save_figure` checks each legend (:func:`figure_audit`) and moves
one that covers a data point outside the axes before writing.

matplotlib is imported inside the functions, with the Agg backend.
"""
from __future__ import annotations

import colorsys
import csv
import datetime
import json
import math
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from .api import MmoptError
from .cli_util import atomic_write
from .htmlpage import Figure, Section, Table, external_references, render_page
from .registry import problems
from .report import FAILED, current_rows, summarise
from .reproduce import COLUMNS as REPRODUCTION_COLUMNS
from .reproduce import collect as reproduction_rows
from .store import Store, provenance

__all__ = ["PALETTE", "AUDITS", "pyplot", "method_colors", "method_labels", "cell_gaps", "pareto_front",
           "legend_outside", "figure_audit", "save_figure", "sweep_figure", "gap_figure", "time_figure", "engine_figures",
           "write_index", "plot_problem", "PROVENANCE_KEYS", "html_report"]

#: distinct method colours, in the order they are handed out (black is kept for references and optima)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#9edae5", "#dbdb8d", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
           "#e6ab02", "#a6761d", "#393b79", "#637939", "#8c6d31", "#843c39")

#: path of each figure written by :func:`save_figure` (PNG) -> its :func:`figure_audit`
AUDITS: dict[str, dict] = {}


def pyplot():
    """matplotlib's pyplot with the non-interactive Agg backend.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def method_colors(names: Iterable[str]) -> dict[str, str]:
    """One distinct colour per method name, stable for a given set of names.

    Parameters
    ----------
    names : iterable of str
        Method labels (duplicates are ignored).

    Returns
    -------
    dict of str to str
        Name -> ``#rrggbb``; names sorted, colours taken from :data:`PALETTE`
        in order, then spread over the hue circle beyond it: no two names share
        a colour.
    """
    names = sorted({str(n) for n in names})
    out, used = {}, set()
    extra = max(0, len(names) - len(PALETTE))
    generated = []
    for i in range(extra):
        h = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, 0.55 + 0.4 * ((i // 7) % 2), 0.85 - 0.3 * ((i // 3) % 2))
        generated.append("#%02x%02x%02x" % (round(255 * r), round(255 * g), round(255 * b)))
    for n, c in zip(names, list(PALETTE) + generated):
        while c in used:  # a generated colour equal to one handed out: nudge it
            c = "#%06x" % ((int(c[1:], 16) + 0x010203) % 0xFFFFFF)
        used.add(c)
        out[n] = c
    return out


def method_labels(frame) -> list[str]:
    """The method label of each row: ``solver``, or ``solver [k=v]`` where a solver ran with several parameter sets.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows (columns ``problem``, ``suite``, ``solver``, ``params``).

    Returns
    -------
    list of str
        One label per row, in the frame's order (the labels of the tables of
        :func:`mmopt.report.summarise`).
    """
    labels = [str(s) for s in frame["solver"]]
    if "params" not in frame.columns:
        return labels
    params = [p if isinstance(p, str) and p else "{}" for p in frame["params"]]
    groups: dict = {}
    for i, key in enumerate(zip(frame["problem"], frame["suite"], frame["solver"])):
        groups.setdefault(key, []).append(i)
    for idx in groups.values():
        sets = sorted({params[i] for i in idx})
        if len(sets) < 2:
            continue
        parsed = {ps: json.loads(ps) for ps in sets}
        common = {k: v for k, v in parsed[sets[0]].items() if all(parsed[o].get(k) == v for o in sets)}
        for i in idx:
            diff = ", ".join(f"{k}={v}" for k, v in sorted(parsed[params[i]].items()) if k not in common)
            labels[i] = f"{labels[i]} [{diff}]"
    return labels


def cell_gaps(frame):
    """The scored cells of ``frame`` with their gap as the tables count it.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows.

    Returns
    -------
    pandas.DataFrame
        The rows with status ``ok`` and a gap, or a failed status
        (:data:`mmopt.report.FAILED`), with columns ``label`` (the method,
        :func:`method_labels`) and ``g`` (the gap; 1.0 for a failed cell).
        ``mismatch`` and ``skipped`` cells are left out, as in the tables.
    """
    df = frame.copy()
    df["label"] = method_labels(df) if len(df) else []
    st = df["status"]
    df = df[st.isin(FAILED) | ((st == "ok") & df["gap"].notna())].copy()
    df["g"] = np.where(df["status"].isin(FAILED), 1.0, df["gap"].astype(float))
    return df


def pareto_front(points: dict[str, tuple[float, float]], tol: float = 1e-6) -> list[str]:
    """The names whose (time, gap) no other point improves in both.

    Parameters
    ----------
    points : dict of str to (float, float)
        Name -> (median seconds, mean gap); both are minimised.
    tol : float, optional
        Gaps closer than this are equal (a gap of 1e-12 does not beat 0).

    Returns
    -------
    list of str
        The non-dominated names, by increasing time.
    """
    front = []
    for n, (t, g) in points.items():
        if not (math.isfinite(t) and math.isfinite(g)):
            continue
        dominated = any((t2 <= t and g2 <= g + tol) and (t2 < t or g2 < g - tol)
                        for m, (t2, g2) in points.items() if m != n and math.isfinite(t2) and math.isfinite(g2))
        if not dominated:
            front.append(n)
    return sorted(front, key=lambda n: (points[n][0], points[n][1]))


def legend_outside(ax, **kw):
    """A legend to the right of ``ax``, outside it (never over the data).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    **kw
        Passed to ``ax.legend`` (``fontsize`` defaults to 7).

    Returns
    -------
    matplotlib.legend.Legend or None
        The legend; ``None`` when no artist has a label.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    kw = {"fontsize": 7, "frameon": False, **kw, "loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
          "borderaxespad": 0.0}
    return ax.legend(handles, labels, **kw)


def _data_points(ax) -> np.ndarray:
    """Display coordinates of the data drawn in ``ax`` (line vertices and points between them, markers, patches)."""
    pts = []
    for ln in ax.get_lines():
        xy = np.asarray(ln.get_xydata(), float)
        if xy.size == 0:
            continue
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy) == 0:
            continue
        d = ln.get_transform().transform(xy)
        if len(d) > 1 and ln.get_linestyle() not in ("None", "none", "", " "):
            t = np.linspace(0, 1, 25)[:, None]
            d = np.concatenate([d[i] + t * (d[i + 1] - d[i]) for i in range(len(d) - 1)] + [d])
        pts.append(d)
    for col in ax.collections:
        off = np.asarray(col.get_offsets(), float)
        if off.size:
            off = off[np.isfinite(off).all(axis=1)]
            if len(off):
                pts.append(col.get_offset_transform().transform(off))
    for p in ax.patches:
        if p.get_label() == "_nolegend_" and not p.get_visible():
            continue
        try:
            bb = p.get_window_extent()
        except Exception:  # noqa: BLE001 - a patch without an extent covers nothing
            continue
        if bb.width > 0 and bb.height > 0:
            pts.append(np.array([[bb.x0, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1], [bb.x1, bb.y0],
                                 [(bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2]]))
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def _label_color(artist) -> str | None:
    from matplotlib.colors import to_hex

    for getter in ("get_color", "get_facecolor", "get_edgecolor"):
        f = getattr(artist, getter, None)
        if f is None:
            continue
        c = f()
        try:
            arr = np.asarray(c, float)
            if arr.ndim == 2:
                if not len(arr):
                    continue
                arr = arr[0]
            return to_hex(arr if arr.size in (3, 4) else c)
        except (TypeError, ValueError):
            try:
                return to_hex(c)
            except (TypeError, ValueError):
                continue
    return None


def figure_audit(fig) -> dict:
    """What makes a figure hard to read: legends over data, methods sharing a colour.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A drawn figure.

    Returns
    -------
    dict
        ``legend_covers``: one line per legend that covers a data point of
        the axes it overlaps (empty when none does); ``colors``: label ->
        colour of every labelled artist (lines, markers, patches);
        ``shared_colors``: colour -> labels, for the colours given to more than
        one label; ``titles``: the axes' titles.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    covers, colors = [], {}
    axes = fig.get_axes()
    legends = [(ax, ax.get_legend()) for ax in axes if ax.get_legend() is not None]
    legends += [(None, lg) for lg in fig.legends]
    for owner, lg in legends:
        bb = lg.get_window_extent(renderer)
        for ax in axes:
            if not bb.overlaps(ax.bbox):
                continue
            pts = _data_points(ax)
            inside = ((pts[:, 0] >= bb.x0) & (pts[:, 0] <= bb.x1) & (pts[:, 1] >= bb.y0) & (pts[:, 1] <= bb.y1)) \
                if len(pts) else np.zeros(0, bool)
            if inside.any():
                covers.append(f"legend of '{(owner or ax).get_title()}' covers {int(inside.sum())} data points")
    for ax in axes:
        for a in list(ax.get_lines()) + list(ax.collections) + list(ax.patches):
            lab = a.get_label()
            if not lab or lab.startswith("_"):
                continue
            c = _label_color(a)
            if c is not None:
                colors.setdefault(lab, c)
        for cont in ax.containers:  # errorbar and bar containers carry the label, their children the colour
            lab = cont.get_label()
            first = next((x for x in cont if x is not None and not isinstance(x, tuple)), None) \
                if len(cont) else None
            if lab and not lab.startswith("_") and first is not None:
                c = _label_color(first)
                if c is not None:
                    colors.setdefault(lab, c)
    by_color: dict = {}
    for lab, c in colors.items():
        by_color.setdefault(c, set()).add(lab)
    return {"legend_covers": covers, "colors": colors,
            "shared_colors": {c: sorted(v) for c, v in by_color.items() if len(v) > 1},
            "titles": [ax.get_title() for ax in axes]}


def save_figure(fig, stem: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.pdf`` (folders created), then close it.

    A legend that covers data is moved to the right of its axes first; the
    figure's final :func:`figure_audit` is kept in :data:`AUDITS` under the
    PNG's path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    stem : str or pathlib.Path
        The path without suffix.
    dpi : int, optional
        Resolution of the PNG.

    Returns
    -------
    list of pathlib.Path
        The PNG and the PDF.
    """
    plt = pyplot()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    audit = figure_audit(fig)
    if audit["legend_covers"]:
        for ax in fig.get_axes():
            lg = ax.get_legend()
            if lg is not None:
                kw = {"fontsize": lg.get_texts()[0].get_fontsize() if lg.get_texts() else 7}
                if lg.get_title().get_text():
                    kw["title"] = lg.get_title().get_text()
                legend_outside(ax, **kw)
        audit = figure_audit(fig)
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    fig.savefig(png, dpi=dpi, bbox_inches="tight")
    fig.savefig(pdf, bbox_inches="tight")
    plt.close(fig)
    AUDITS[str(png)] = audit
    return [png, pdf]


def sweep_figure(data, out: str | Path, *, xlabel: str, ylabel: str, title: str, colors: dict[str, str],
                 scale: float = 1.0, references: Iterable[str] = (), xscale: str | None = None,
                 ylim: tuple | None = None) -> list[Path]:
    """One curve per method of the mean of a quantity against a swept parameter, with its CSV.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``label`` (the method), ``x`` (the parameter) and ``y`` (one
        value per cell); the curves are the means over cells per (label, x),
        with min-max bars.
    out : str or pathlib.Path
        Path without suffix: ``.png``, ``.pdf`` and ``.csv`` (label, x,
        mean, min, max, cells) are written.
    xlabel, ylabel, title : str
        Axis labels and title.
    colors : dict of str to str
        Method label -> colour (:func:`method_colors`).
    scale : float, optional
        Factor applied to the plotted values (100 for percentages); the CSV
        keeps the values unscaled.
    references : iterable of str, optional
        Labels drawn dashed (certified references).
    xscale : str, optional
        ``"log"`` for a logarithmic x axis.
    ylim : tuple, optional
        y-axis limits (in plotted units).

    Returns
    -------
    list of pathlib.Path
        The PNG, PDF and CSV; empty when ``data`` has no finite value.
    """
    data = data[np.isfinite(data["y"].astype(float))]
    if data.empty:
        return []
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    agg = data.groupby(["label", "x"])["y"].agg(["mean", "min", "max", "count"]).reset_index()
    csv_path = out.with_name(out.name + ".csv")
    agg.rename(columns={"label": "method", "count": "cells"}).to_csv(csv_path, index=False)
    refs = set(references)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 3.9))
    markers = "osD^v<>ph*X"
    for i, (lab, g) in enumerate(sorted(agg.groupby("label"), key=lambda t: (t[0] not in refs, t[0]))):
        g = g.sort_values("x")
        y = scale * g["mean"].to_numpy(float)
        err = scale * np.abs(np.vstack([g["min"], g["max"]]).astype(float) - g["mean"].to_numpy(float))
        ax.errorbar(g["x"].to_numpy(float), y, yerr=err, marker=markers[i % len(markers)], ms=4, capsize=2,
                    lw=1.2, color=colors.get(lab, "k"), ls="--" if lab in refs else "-", label=lab)
    if xscale:
        ax.set_xscale(xscale)
    if ylim:
        ax.set_ylim(*ylim)
    xs = sorted(agg["x"].unique())
    if len(xs) <= 12 and not xscale:
        ax.set_xticks(xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, out) + [csv_path]


def _ref_status(g) -> str:
    """``opt 8 · best 2`` from the reference statuses of a method's scored cells."""
    if "reference_status" not in g.columns:
        return ""
    st = g["reference_status"].fillna("none")
    parts = [f"{k} {int((st == k).sum())}" for k in ("opt", "best", "bound", "none") if (st == k).any()]
    return " · ".join(parts)


def _headroom(top: float) -> float:
    """Upper limit of a symlog gap axis (%) that leaves room above the largest value."""
    return max(0.1, 2.5 * float(top)) if math.isfinite(top) else 100.0


def gap_figure(frame, out: str | Path, title: str, colors: dict[str, str] | None = None) -> list[Path]:
    """Box plot of the gap per method over instances, annotated with the reference status.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows of one problem and suite.
    out : str or pathlib.Path
        Path without suffix (``.png`` and ``.pdf`` are written).
    title : str
        Figure title.
    colors : dict of str to str, optional
        Method label -> colour (default :func:`method_colors` of the labels).

    Returns
    -------
    list of pathlib.Path
        The files written; empty when no cell is scored.
    """
    g = cell_gaps(frame)
    if g.empty:
        return []
    order = sorted(g["label"].unique(), key=lambda m: (g.loc[g["label"] == m, "g"].median(),
                                                       g.loc[g["label"] == m, "g"].mean(), m))
    colors = colors or method_colors(order)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.75 * len(order) + 2.5), 4.2))
    data = [100 * g.loc[g["label"] == m, "g"].to_numpy(float) for m in order]
    bp = ax.boxplot(data, patch_artist=True, widths=0.55, showfliers=False, medianprops={"color": "k"})
    rng = np.random.default_rng(0)
    for i, (m, box, d) in enumerate(zip(order, bp["boxes"], data), start=1):
        box.set_facecolor(colors[m])
        box.set_alpha(0.55)
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=9, color=colors[m], edgecolors="k",
                   linewidths=0.3, zorder=3, label=m, clip_on=False)
    ticks = [f"{m}\n{_ref_status(g[g['label'] == m])}" for m in order]
    ax.set_xticks(range(1, len(order) + 1))
    ax.set_xticklabels(ticks, rotation=35, ha="right", fontsize=7)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(0, _headroom(max((d.max() for d in data if len(d)), default=0.0)))
    ax.set_ylabel("optimality gap (%)")
    n_opt = int(g.drop_duplicates("instance_hash")["reference_status"].eq("opt").sum()) \
        if "reference_status" in g.columns else 0
    n_inst = int(g["instance_hash"].nunique())
    ax.set_title(f"{title}\nreferences: {n_opt} of {n_inst} instances certified optimal (opt), "
                 f"{n_inst - n_opt} best-known or bound; failed cells count 100 %", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, out)


def _method_points(frame) -> dict[str, tuple[float, float]]:
    g = cell_gaps(frame)
    run = frame.copy()
    run["label"] = method_labels(run) if len(run) else []
    run = run[~run["status"].isin(("skipped", "lost"))]
    out = {}
    for m, sub in g.groupby("label"):
        t = run.loc[run["label"] == m, "seconds"].astype(float)
        out[m] = (float(t.median()) if len(t) else math.nan, float(sub["g"].mean()))
    return out


def time_figure(frame, out: str | Path, title: str, colors: dict[str, str] | None = None) -> list[Path]:
    """Mean gap against median solve time per method, the Pareto front drawn and ringed.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows of one problem and suite.
    out : str or pathlib.Path
        Path without suffix.
    title : str
        Figure title.
    colors : dict of str to str, optional
        Method label -> colour.

    Returns
    -------
    list of pathlib.Path
        The files written; empty when no cell is scored.
    """
    pts = _method_points(frame)
    pts = {m: (max(t, 1e-6), g) for m, (t, g) in pts.items() if math.isfinite(t)}
    if not pts:
        return []
    colors = colors or method_colors(pts)
    front = pareto_front(pts)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for m in sorted(pts):
        t, g = pts[m]
        ax.scatter([t], [100 * g], s=36, color=colors[m], edgecolors="k", linewidths=0.4, zorder=3, label=m,
                   clip_on=False)
    if front:
        ft = [pts[m][0] for m in front]
        fg = [100 * pts[m][1] for m in front]
        ax.step(ft, fg, where="post", color="k", lw=1, ls="--", zorder=2, label="Pareto front")
        ax.scatter(ft, fg, s=130, facecolors="none", edgecolors="k", linewidths=1.0, zorder=4, clip_on=False)
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(0, _headroom(max(100 * g for _, g in pts.values())))
    ax.set_xlabel("median solve time per instance (s)")
    ax.set_ylabel("mean optimality gap (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    return save_figure(fig, out)


def _write_csv(frame, path: Path) -> Path:
    g = cell_gaps(frame)
    pts = _method_points(frame)
    front = set(pareto_front({m: v for m, v in pts.items() if math.isfinite(v[0])}))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "kind", "cells", "failed", "median_gap", "mean_gap", "worst_gap", "median_seconds",
                    "pareto", "reference_status"])
        for m, sub in sorted(g.groupby("label"), key=lambda x: x[0]):
            kind = sub["kind"].dropna().iloc[0] if "kind" in sub.columns and sub["kind"].notna().any() else ""
            w.writerow([m, kind, len(sub), int(sub["status"].isin(FAILED).sum()), f"{sub['g'].median():.6g}",
                        f"{sub['g'].mean():.6g}", f"{sub['g'].max():.6g}", f"{pts[m][0]:.6g}", int(m in front),
                        _ref_status(sub)])
    return path


def engine_figures(frame, out_dir: str | Path, problem: str, suite: str) -> list[Path]:
    """The engine figures of one problem and suite: gap per method, gap against time, their CSV.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows (any problems and suites; those of ``problem`` and ``suite`` are used).
    out_dir : str or pathlib.Path
        Folder written to (created).
    problem : str
        The problem's name.
    suite : str
        The suite.

    Returns
    -------
    list of pathlib.Path
        The files written (none when the suite has no scored cell).
    """
    sub = frame[(frame["problem"] == problem) & (frame["suite"] == suite)] if len(frame) else frame
    if sub.empty:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colors = method_colors(method_labels(sub))
    paths = gap_figure(sub, out / "gap_per_method", f"{problem}, suite {suite}: gap per method", colors)
    paths += time_figure(sub, out / "gap_vs_time", f"{problem}, suite {suite}: gap against solve time", colors)
    if paths:
        paths.append(_write_csv(sub, out / "gap_per_method.csv"))
    return paths


#: file stem -> description of the engine figures, for the index
_ENGINE_DOCS = {"gap_per_method": "optimality gap per method over instances (box and cells), with the "
                                  "reference status (opt: certified optimal, best: best-known)",
                "gap_vs_time": "mean gap against median solve time per method, Pareto front marked"}


def write_index(out_dir: str | Path, paths: Iterable[Path], title: str, docs: dict[str, str] | None = None) -> Path:
    """``figures.md``: one row per figure (PNG, PDF, data) or other file written.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        The folder of the files; the index is written there.
    paths : iterable of pathlib.Path
        The files written.
    title : str
        The index's heading.
    docs : dict of str to str, optional
        File stem -> description.

    Returns
    -------
    pathlib.Path
        The index file.
    """
    out = Path(out_dir)
    docs = {**_ENGINE_DOCS, **(docs or {})}
    by_stem: dict = {}
    for p in sorted({Path(p) for p in paths}):
        if p.name == "figures.md":
            continue
        by_stem.setdefault(p.stem, []).append(p)
    cols = ["figure", "PNG", "PDF", "data", "description"]
    lines = [f"# {title}", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for stem, ps in sorted(by_stem.items()):
        suf = {p.suffix.lower(): p.name for p in ps}
        data = ", ".join(f"[{p.name}]({p.name})" for p in ps if p.suffix.lower() not in (".png", ".pdf"))
        cells = [f"`{stem}`", f"[png]({suf['.png']})" if ".png" in suf else "–",
                 f"[pdf]({suf['.pdf']})" if ".pdf" in suf else "–", data or "–",
                 docs.get(stem, "").replace("|", "/") or "–"]
        assert len(cells) == len(cols)
        lines.append("| " + " | ".join(cells) + " |")
    idx = out / "figures.md"
    idx.write_text("\n".join(lines) + "\n")
    return idx


def plot_problem(problem, frame, out_dir: str | Path, suite: str) -> list[Path]:
    """Every figure of ``problem`` on ``suite``: the engine's, the problem's own, and the index ``figures.md``.

    Parameters
    ----------
    problem : mmopt.api.Problem
        The problem.
    frame : pandas.DataFrame
        Its store rows, every suite (a problem figure may sweep over suites).
    out_dir : str or pathlib.Path
        Folder written to (created).
    suite : str
        The suite drawn.

    Returns
    -------
    list of pathlib.Path
        The files written, the index last.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = engine_figures(frame, out, problem.name, suite)
    own = problem.plot(frame, out, suite) or []
    paths += [Path(p) for p in own]
    docs = dict(getattr(problem, "figure_docs", None) or {})
    idx = write_index(out, paths, f"`{problem.name}`: figures of suite `{suite}`", docs)
    return sorted(set(paths), key=lambda p: p.name) + [idx]


#: provenance keys shown on the HTML page, in order
PROVENANCE_KEYS = ("mmopt", "git", "host", "python", "torch", "numpy", "scipy", "platform")


def _anchor(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "-" for c in p) for p in parts)


def _results_table(sub) -> Table | None:
    t = summarise(sub)
    if t.empty:
        return None
    problem, suite = t["problem"].iloc[0], t["suite"].iloc[0]
    t = t.dropna(axis=1, how="all").drop(columns=["problem", "suite"])
    rows = [[None if (isinstance(v, float) and math.isnan(v)) else (v.item() if hasattr(v, "item") else v)
             for v in r] for r in t.itertuples(index=False)]
    return Table(f"{problem}, suite {suite}: optimality gap against the reference (failed cells count 100 %)",
                 list(t.columns), rows, kind="results", attrs={"problem": problem, "suite": suite})


def _provenance_table(frame) -> Table:
    counts: dict = {}
    for x in frame["provenance"] if "provenance" in frame.columns else ():
        try:
            d = json.loads(x) if isinstance(x, str) and x else (x or {})
        except ValueError:
            d = {}
        for k in PROVENANCE_KEYS:
            v = d.get(k) if isinstance(d, dict) else None
            counts.setdefault(k, {}).setdefault("–" if v in (None, "") else str(v), 0)
            counts[k]["–" if v in (None, "") else str(v)] += 1
    here = provenance()
    rows = []
    for k in PROVENANCE_KEYS:
        vals = counts.get(k, {})
        stored = "; ".join(f"{v} ({n} cells)" for v, n in sorted(vals.items(), key=lambda t: (-t[1], t[0])))
        rows.append([k, stored or "–", "–" if here.get(k) in (None, "") else str(here.get(k))])
    return Table("Provenance: the versions and hosts the stored cells were computed with, and this page's",
                 ["item", "stored cells", "this page"], rows, kind="provenance")


def _figures_of(problem_obj, name: str, frame, suite: str, folder: Path) -> tuple[list, list]:
    """Draw a (problem, suite)'s figures into ``folder``; (Figure list, notes)."""
    notes = []
    try:
        if problem_obj is not None:
            paths = plot_problem(problem_obj, frame, folder, suite)
        else:
            paths = engine_figures(frame, folder, name, suite)
    except Exception as e:  # noqa: BLE001 - a problem figure that fails is reported on the page, not fatal
        notes.append(f"figures of {name}/{suite} could not be drawn: {type(e).__name__}: {e}".splitlines()[0])
        paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    docs = {**_ENGINE_DOCS, **dict(getattr(problem_obj, "figure_docs", None) or {})}
    order = {"gap_per_method": 0, "gap_vs_time": 1}
    figs = [Figure(f"{name}, suite {suite}: {docs.get(p.stem, p.stem)}", p.read_bytes(), p.stem)
            for p in sorted((Path(p) for p in paths if str(p).endswith(".png")),
                            key=lambda p: (order.get(p.stem, 2), p.name))]
    return figs, notes


def html_report(db: str | Path, out_dir: str | Path, suites: Iterable[str] | None = None,
                problem_names: Iterable[str] | None = None, all_versions: bool = False,
                reproduction_suite: str = "paper", figures: bool = True) -> Path:
    """Write ``out_dir/index.html``: tables, figures, reproduction rows and provenance of a store, self-contained.

    Parameters
    ----------
    db : str or pathlib.Path
        The results store (opened read-only).
    out_dir : str or pathlib.Path
        The folder of the page (created).
    suites : iterable of str, optional
        Only these suites (default: every suite with rows).
    problem_names : iterable of str, optional
        Only these problems (default: every problem with rows).
    all_versions : bool, optional
        Also rows of older solver versions, weights and suites
        (:func:`mmopt.report.current_rows` otherwise).
    reproduction_suite : str, optional
        The suite of the reproduction rows (:mod:`mmopt.reproduce`), shown when
        the store has rows on it.
    figures : bool, optional
        Draw and embed the figures (:func:`plot_problem`).

    Returns
    -------
    pathlib.Path
        The page.

    Raises
    ------
    MmoptError
        When ``db`` is not a store, ``out_dir`` is a file, or nothing is selected.
    """
    path = Path(db)
    if not path.is_file():
        raise MmoptError(f"{path}: no results store (run `mmopt run` first or pass --db)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MmoptError(f"{out}: exists and is not a folder")
    names = list(problem_names or [])
    suites = list(suites or [])
    with Store(path, readonly=True) as st:
        frame = st.frame(names or None, None, None)
    if not all_versions:
        frame = current_rows(frame)
    shown = frame[frame["suite"].isin(suites)] if suites and not frame.empty else frame
    if shown.empty:
        what = f" on suite {', '.join(suites)}" if suites else ""
        raise MmoptError(f"{path}: no results{what} to report (run `mmopt run` first)")
    registered = problems()
    sections = []
    pairs = sorted(set(zip(shown["problem"], shown["suite"])))
    n_cells = len(shown)
    overview = Table("Problems and suites on this page", ["problem", "suite", "methods", "instances", "cells"],
                     [[p, s, int(g["solver"].nunique()), int(g["instance_hash"].nunique()), int(len(g))]
                      for (p, s), g in shown.groupby(["problem", "suite"], sort=True)], kind="overview")
    sections.append(Section("Overview", "overview", [
        "Gap = (reference - value) / |reference| against the certified reference of each instance; failed cells "
        "(infeasible, timeout, error) count as a gap of 100 %, mismatch and skipped cells are counted apart. "
        "opt share: cells within 1e-4 of the reference. Reference status: opt = certified optimal, best = "
        "best known. Click a column heading to sort a table."], [overview]))
    with tempfile.TemporaryDirectory(prefix="mmopt-report-") as tmp:
        for problem in sorted({p for p, _ in pairs}):
            pobj = registered.get(problem)
            pframe = frame[frame["problem"] == problem]
            sec = Section(f"{problem}", _anchor("problem", problem),
                          [pobj.title] if pobj is not None and getattr(pobj, "title", None) else [])
            for p, suite in pairs:
                if p != problem:
                    continue
                t = _results_table(pframe[pframe["suite"] == suite])
                if t is not None:
                    sec.tables.append(t)
                if figures:
                    figs, notes = _figures_of(pobj, problem, pframe, suite, Path(tmp) / _anchor(problem, suite))
                    sec.figures += figs
                    sec.text += notes
            sections.append(sec)
    repro = reproduction_rows(frame, reproduction_suite, names or None) if not frame.empty else []
    if repro:
        tables = [Table(f"{getattr(p, 'name', p)}: {getattr(p, 'paper', '')}".strip(": "),
                        [h for _, h in REPRODUCTION_COLUMNS], [[r.get(k) for k, _ in REPRODUCTION_COLUMNS] for r in rows],
                        kind="reproduction", attrs={"problem": getattr(p, "name", str(p))})
                  for p, rows in repro]
        sections.append(Section(f"Reproduction (suite {reproduction_suite})", "reproduction",
                                ["Each paper's headline numbers next to mmopt's and the certified optimum."], tables))
    sections.append(Section("Provenance", "provenance", [f"Store: {path.name}, {n_cells} cells shown."],
                            [_provenance_table(shown)]))
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = render_page("mmopt results", f"store {path.name} · {len(pairs)} problem/suite pairs · {n_cells} cells · "
                                        f"mmopt {provenance().get('mmopt')} · {when}", sections)
    bad = external_references(page)
    if bad:
        raise MmoptError(f"the report would load external resources: {bad[0]!r}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MmoptError(f"{out}: cannot create the folder ({e.strerror or e})") from None
    return atomic_write(out / "index.html", lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))

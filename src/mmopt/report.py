"""Comparison tables from the store (markdown, LaTeX, CSV).

One row per (problem, suite, solver). Gap statistics count every cell that
did not return a usable answer (``infeasible``, ``timeout``, ``error``) as a
gap of 1 (100 %), so failures are never silently dropped from averages;
``mismatch`` cells (a value above an ``opt`` reference) are counted in their
own column and left out of the gap statistics, because they signal a wrong
reference or checker, not a good solver. ``skipped`` cells (the solver
declined the instance through ``applies()``) are counted in their own column
and never averaged. Learned solvers get a median inference-time column (the
solve without the weight loading), distributed solvers the mean ``rounds``
and ``messages`` of their message-passing runtime.

Formats: ``text`` (a compact table that fits the terminal: gaps, feasibility,
failures, time and the problem's :attr:`~mmopt.api.Problem.headline_metrics`),
``md`` (every column), ``latex`` (a booktabs table for a paper, at most eight
columns) and ``csv`` (every column, raw numbers). Bound rows (a reference
solver whose cells report status ``bound``: an upper bound, not a solution)
show their bound and how far it lies above the reference instead of a gap; a
row whose cells were all skipped shows the skip reason.
"""
from __future__ import annotations

import io
import json
import math
import re
from collections import Counter

import numpy as np

from .api import PROBLEMS, MmoptError, params_key
from .learned import fingerprint
from .references import load_manifest
from .registry import get_problem, get_solver
from .store import cache_key

__all__ = ["FAILED", "FORMATS", "METRICS_CHOICES", "OPT_WITHIN", "current_rows", "summarise", "render",
           "table_columns"]

#: cell statuses counted as a gap of 1 (100 %)
FAILED = ("infeasible", "timeout", "error")
#: relative gap up to which a cell counts as optimal (``opt share``)
OPT_WITHIN = 1e-4
#: table formats of :func:`render`
FORMATS = ("text", "md", "latex", "csv")
#: metric selections of :func:`render`: the problem's headline metrics, every metric, none
METRICS_CHOICES = ("headline", "all", "none")
#: columns of :func:`summarise` that are not problem metrics
_CORE = ("problem", "suite", "solver", "kind", "instances", "cells", "mean gap", "median gap", "worst gap",
         "opt share", "feasible", "failed", "mismatch", "skipped", "lost", "mean objective", "median seconds",
         "median inference seconds")
#: columns added by ``summarise(details=True)``
_DETAILS = ("references", "mean bound", "bound excess", "skip reason")
#: order of kinds in the compact tables
_KIND_ORDER = {"reference": 0, "baseline": 1, "learned": 2, "distributed": 3, "user": 4}


def current_rows(df):
    """The rows of the current plan: those a run with today's solvers, weights and suites would serve.

    A row is dropped when its solver is registered and the cache key that
    solver gives the row's instance and parameters today (version, weights
    sha256, canonical parameters) is not the row's own (an older version or
    other weights), or when its instance is not in the suite's shipped
    manifest (an older generator). Rows of solvers or problems not
    registered here (a plugin not loaded) are kept.

    Parameters
    ----------
    df : pandas.DataFrame
        Store rows (:meth:`mmopt.store.Store.frame`).

    Returns
    -------
    pandas.DataFrame
        The rows kept, index reset.
    """
    if df.empty:
        return df
    keep, memo, manifests = [], {}, {}
    for r in df.itertuples(index=False):
        ok = True
        if r.problem in PROBLEMS and r.suite is not None:
            mk = (r.problem, r.suite)
            if mk not in manifests:
                try:
                    manifests[mk] = set(load_manifest(r.problem, r.suite) or []) or None
                except Exception:  # noqa: BLE001 - a malformed manifest filters nothing
                    manifests[mk] = None
            if manifests[mk] is not None and r.instance_hash not in manifests[mk]:
                ok = False
        sk = (r.problem, r.solver, r.params)
        if ok and sk not in memo:
            try:
                s = get_solver(r.solver, r.problem)
                prm = s.canonical_params({k: v for k, v in json.loads(r.params or "{}").items() if k in s.params})
                memo[sk] = (s.name, s.version, params_key(prm), fingerprint(s, prm))
            except Exception:  # noqa: BLE001 - not registered here: kept as stored
                memo[sk] = None
        if ok and memo.get(sk) is not None:
            name, version, pk, fp = memo[sk]
            ok = r.cache_key == cache_key(r.instance_hash, name, version, pk, fp)
        keep.append(ok)
    return df[np.array(keep, dtype=bool)].reset_index(drop=True)


def _labels(df):
    """``solver`` where a (problem, suite, solver) has one parameter set; ``solver [k=v, ...]`` where it has several."""
    out = df["solver"].astype(object).copy()
    for _, g in df.groupby(["problem", "suite", "solver"], sort=False):
        sets = g["params"].fillna("{}").unique()
        if len(sets) < 2:
            continue
        parsed = {ps: json.loads(ps) for ps in sets}
        common = {k: v for k, v in parsed[sets[0]].items() if all(parsed[o].get(k) == v for o in sets)}
        for i, ps in zip(g.index, g["params"].fillna("{}")):
            diff = ", ".join(f"{k}={v}" for k, v in sorted(parsed[ps].items()) if k not in common)
            out[i] = f"{g.loc[i, 'solver']} [{diff}]"
    return out


def summarise(df, metrics: bool = True, details: bool = False):
    """Aggregate store rows into the comparison table.

    Parameters
    ----------
    df : pandas.DataFrame
        Store rows (columns ``problem``, ``suite``, ``solver``, ``kind``,
        ``status``, ``gap``, ``objective``, ``seconds``, ``instance_hash``,
        ``stats`` and ``metrics``, the last two JSON text; ``reference``,
        ``reference_status`` and ``message`` for ``details``).
    metrics : bool, optional
        Add one column per problem metric: its mean over the ``ok`` cells.
    details : bool, optional
        Add ``references`` (the reference statuses of the row's instances:
        ``opt``, ``opt 3, best 2``, ``none``), and where they apply ``mean
        bound`` and ``bound excess`` (bound rows: a ``reference`` solver whose
        scored cells all report status ``bound``; the mean of its stats'
        ``bound`` and of ``(bound - reference) / |reference|``) and ``skip
        reason`` (the most common message of the skipped cells).

    Returns
    -------
    pandas.DataFrame
        One row per (problem, suite, solver, parameters), sorted; a solver
        run with several parameter sets gets one row per set, labelled
        ``solver [k=v]`` with the parameters that differ: kind, instances, cells,
        mean / median / worst gap and opt share (fractions; failed cells count
        1), feasible share, failed / mismatch / skipped counts, mean objective,
        median seconds, plus the median inference seconds of learned solvers
        and the mean rounds and messages of distributed ones; then the
        ``details`` columns. Empty for an empty ``df``.
    """
    import pandas as pd

    if df.empty:
        return pd.DataFrame()
    df = df.copy()
    if "params" in df.columns:
        df["solver"] = _labels(df)
    refstat = {}
    if details and "reference_status" in df.columns:  # per instance: failed cells may not carry it
        for h, rs in zip(df["instance_hash"], df["reference_status"]):
            if isinstance(rs, str) and rs:
                refstat.setdefault(h, rs)
    out = []
    for (problem, suite, solver), g in df.groupby(["problem", "suite", "solver"], sort=True):
        st = g["status"]
        kind = g["kind"].dropna().iloc[0] if g["kind"].notna().any() else None
        scored = g[st.isin(("ok",) + FAILED) & (g["gap"].notna() | st.isin(FAILED))]
        run = g[~st.isin(("skipped", "lost"))]
        gaps = np.where(scored["status"].isin(FAILED), 1.0, scored["gap"].astype(float))
        row = {"problem": problem, "suite": suite, "solver": solver, "kind": kind,
               "instances": int(g["instance_hash"].nunique()), "cells": int(len(g)),
               "mean gap": float(np.mean(gaps)) if len(gaps) else math.nan,
               "median gap": float(np.median(gaps)) if len(gaps) else math.nan,
               "worst gap": float(np.max(gaps)) if len(gaps) else math.nan,
               "opt share": float(np.mean(gaps <= OPT_WITHIN)) if len(gaps) else math.nan,
               "feasible": float((run["status"] == "ok").sum() + (run["status"] == "mismatch").sum()) / len(run)
               if len(run) else math.nan,
               "failed": int(st.isin(FAILED).sum()), "mismatch": int((st == "mismatch").sum()),
               "skipped": int((st == "skipped").sum()),
               **({"lost": int((st == "lost").sum())} if (st == "lost").any() else {}),
               "mean objective": float(g.loc[st == "ok", "objective"].mean()) if (st == "ok").any() else math.nan,
               "median seconds": float(run["seconds"].median()) if len(run) else math.nan}
        stats = [json.loads(x) for x in g.loc[st.isin(("ok", "infeasible", "mismatch")), "stats"] if x]
        if kind == "learned":
            row["median inference seconds"] = float(run.loc[run["status"] != "error", "seconds"].median()) \
                if len(run) else math.nan
        if kind == "distributed":
            for col in ("rounds", "messages"):
                vals = [float(x[col]) for x in stats if isinstance(x.get(col), (int, float))]
                row[col] = float(np.mean(vals)) if vals else math.nan
        if metrics:
            ms = [json.loads(m) for m in g.loc[st == "ok", "metrics"] if m]
            for k in sorted({k for m in ms for k in m}):
                row[k] = float(np.mean([m[k] for m in ms if k in m]))
        if details:
            row.update(_details(g, kind, refstat))
        out.append(row)
    return pd.DataFrame(out)


def _details(g, kind, refstat: dict) -> dict:
    """The ``details`` columns of :func:`summarise` for one group of store rows."""
    out = {}
    refs = Counter(refstat.get(h, "none") for h in g["instance_hash"].unique())
    out["references"] = ", ".join(f"{k} {v}" if len(refs) > 1 else k for k, v in
                                  sorted(refs.items(), key=lambda kv: ("opt", "best", "bound").index(kv[0])
                                         if kv[0] in ("opt", "best", "bound") else 3)) or "none"
    ok = g[g["status"] == "ok"]
    stats = [json.loads(x) if isinstance(x, str) and x else {} for x in ok["stats"]]
    if kind == "reference" and stats and all(x.get("status") == "bound" for x in stats):
        bounds = [float(x["bound"]) if isinstance(x.get("bound"), (int, float)) else math.nan for x in stats]
        out["mean bound"] = float(np.nanmean(bounds)) if not all(map(math.isnan, bounds)) else math.nan
        refv = ok["reference"].astype(float).to_numpy() if "reference" in ok.columns else np.full(len(ok), np.nan)
        ex = [(b - r) / max(abs(r), 1e-9) for b, r in zip(bounds, refv) if math.isfinite(b) and math.isfinite(r)]
        out["bound excess"] = float(np.mean(ex)) if ex else math.nan
    skipped = g.loc[g["status"] == "skipped", "message"] if "message" in g.columns else []
    reasons = Counter(str(m) for m in skipped if isinstance(m, str) and m.strip())
    if reasons:
        out["skip reason"] = reasons.most_common(1)[0][0]
    elif len(skipped):
        out["skip reason"] = "declined by the solver"
    return out


def _fmt(v, col: str) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if "gap" in col or col == "bound excess":
        return f"{100 * v:.3f} %" if abs(v) >= 5e-6 else "0.000 %"
    if col in ("opt share", "feasible"):
        return f"{100 * v:.0f} %"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if col.endswith("seconds"):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _is_bound(r: dict) -> bool:
    """A bound row: a reference solver whose cells report only a bound (``summarise(details=True)``)."""
    return not _nan(r.get("mean bound"))


def _all_skipped(r: dict) -> bool:
    return bool(r.get("skipped")) and r.get("skipped") == r.get("cells")


def _short(text: str, n: int = 40) -> str:
    """One line of at most ``n`` characters (the first clause; an ellipsis when cut)."""
    text = " ".join(str(text).split())
    first = re.split(r"(?<=[;:(])\s|\s\(", text)[0].rstrip(";:( ")
    text = first if len(first) >= 12 else text
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def _metric_columns(cols) -> list[str]:
    """The problem-metric columns of a summarised table (distributed solvers' rounds and messages last)."""
    ms = [c for c in cols if c not in _CORE and c not in _DETAILS and c not in ("rounds", "messages")]
    return ms + [c for c in ("rounds", "messages") if c in cols]


def _problem(name: str):
    try:
        return get_problem(name)
    except MmoptError:
        return None


def table_columns(table, problem: str, fmt: str = "text", metrics: str | None = None,
                  columns=None) -> list[str]:
    """The columns of ``table`` that :func:`render` shows for one problem, in order.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`summarise` (the rows of one problem, or more).
    problem : str
        Problem name (its :attr:`~mmopt.api.Problem.headline_metrics`).
    fmt : str, optional
        One of :data:`FORMATS`: ``text`` and ``latex`` show instances, mean /
        worst gap, feasibility, failures and skips, time and the metrics
        selected; ``md`` and ``csv`` every column.
    metrics : str, optional
        One of :data:`METRICS_CHOICES`; ``None``: ``headline`` for ``text`` and
        ``latex``, ``all`` for ``md`` and ``csv``.
    columns : sequence of str, optional
        Exactly these columns after the solver's (any column of ``table``).

    Returns
    -------
    list of str
        Column names (``solver`` first; ``problem`` and ``suite`` only for CSV).

    Raises
    ------
    MmoptError
        When ``fmt`` or ``metrics`` is unknown, or ``columns`` names a column
        the table does not have (the message lists those it has).
    """
    if fmt not in FORMATS:
        raise MmoptError(f"unknown table format '{fmt}' ({', '.join(FORMATS)})")
    if metrics is not None and metrics not in METRICS_CHOICES:
        raise MmoptError(f"unknown --metrics '{metrics}' ({', '.join(METRICS_CHOICES)})")
    cols = [c for c in table.columns if c not in ("problem", "suite")]
    lead = ["problem", "suite"] if fmt == "csv" else []
    if columns:
        columns = [c if c in cols or c.replace("_", " ") not in cols else c.replace("_", " ") for c in columns]
        unknown = [c for c in columns if c not in cols]
        if unknown:
            raise MmoptError(f"unknown column(s) {', '.join(repr(c) for c in unknown)} "
                             f"(the table has: {', '.join(c for c in cols if c != 'solver')})")
        return lead + ["solver"] + [c for c in dict.fromkeys(columns) if c != "solver"]
    metrics = metrics or ("headline" if fmt in ("text", "latex") else "all")
    ms = _metric_columns(cols)
    if metrics == "none":
        ms = [c for c in ms if c in ("rounds", "messages")] if fmt in ("md", "csv") else []
    elif metrics == "headline":
        p = _problem(problem)
        ms = [m for m in tuple(getattr(p, "headline_metrics", ()) or ())[:2] if m in cols]
    if fmt in ("md", "csv"):
        return lead + [c for c in cols if c not in _metric_columns(cols)] + ms
    present = [c for c in ("instances", "mean gap", "worst gap", "feasible", "failed", "mismatch", "skipped",
                           "lost", "median seconds") if c in cols]
    return ["solver", "kind"] + present + ms


def _reference_text(refs: Counter) -> str:
    """What the gaps are measured against, from the reference statuses of a block's instances."""
    n = sum(refs.values())
    opt, best = refs.get("opt", 0), refs.get("best", 0) + refs.get("bound", 0)
    if not n:
        return "the stored reference"
    if opt == n:
        return "the certified optimum (opt) of every instance"
    if not opt and best == n:
        return "the best known value (best, with a bound) of every instance"
    parts = [f"the certified optimum (opt) on {opt}"] if opt else []
    parts += [f"the best known value (best, with a bound) on {best}"] if best else []
    none = n - opt - best
    parts += [f"no reference on {none} (no gap)"] if none else []
    return ", ".join(parts) + f" of {n} instances"


def _block_refs(g) -> Counter:
    refs: Counter = Counter()
    if "references" not in g.columns:
        return refs
    best = max((x for x in g["references"] if isinstance(x, str)), default="",
               key=lambda x: sum(int(n) for n in re.findall(r"\d+", x)) or 1)
    for part in best.split(","):
        k, _, n = part.strip().partition(" ")
        if k:
            refs[k] = refs.get(k, 0) + (int(n) if n else int(g["instances"].max()))
    return refs


def _sorted_rows(g) -> list[dict]:
    recs = g.to_dict("records")
    return sorted(recs, key=lambda r: (_is_bound(r), _KIND_ORDER.get(r.get("kind"), 5), _all_skipped(r),
                                       str(r["solver"])))


_TEXT_HEAD = {"instances": "inst", "mean gap": "gap", "median gap": "median", "worst gap": "worst",
              "feasible": "feas", "failed": "fail", "mismatch": "mism", "skipped": "skip", "lost": "lost",
              "median seconds": "sec", "median inference seconds": "infer s", "mean objective": "objective",
              "opt share": "opt", "cells": "cells", "mean bound": "bound", "bound excess": "above ref"}


def _text_cell(v, col: str) -> str:
    if _nan(v):
        return "–"
    if isinstance(v, str):
        return v
    if "gap" in col or col == "bound excess":
        return f"{100 * v:.2f}" if abs(v) >= 5e-5 else "0.00"
    if col in ("opt share", "feasible"):
        return f"{100 * v:.0f}"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if col.endswith("seconds"):
        return "<0.01" if v < 0.01 else f"{v:.2g}" if v < 1 else f"{v:.3g}" if v < 1000 else f"{v:.0f}"
    return f"{v:.3g}"


def _fit(heads: list[str], rows: list[list[str]], flexible: list[int], width: int, keep: int) -> list[int] | None:
    """Column widths that fit ``width`` (one space between columns): flexible columns shrink, longest first.

    A flexible column never gets narrower than its longest header word and
    its longest cell (its header wraps at spaces); column 0 (the names)
    shrinks last, not below ``keep`` characters; the others keep their
    natural width. ``None`` when even that is too wide.
    """
    nat = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(heads)]
    low = [max([max((len(w) for w in h.split()), default=1)] + [len(r[i]) for r in rows if i]) if i in flexible
           else nat[i] for i, h in enumerate(heads)]
    low[0] = min(nat[0], keep)
    w = list(nat)
    excess = sum(w) + len(w) - 1 - width
    while excess > 0:  # the other flexible columns (headers wrap) first, then the names
        i = max((j for j in flexible if j and w[j] > low[j]), key=lambda j: w[j], default=None)
        if i is None:
            i = 0 if 0 in flexible and w[0] > low[0] else None
        if i is None:
            break
        w[i] -= 1
        excess -= 1
    return None if excess > 0 else w


def _render_text(blocks, width: int | None) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = width or 80
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False,
                  emoji=False, legacy_windows=False)
    blank = ("mean gap", "median gap", "worst gap", "opt share", "feasible", "median seconds", "mean objective",
             "median inference seconds")

    def draw(heads, rows, flexible, keep, sections=(), droppable=()):
        """Print the table; names shrink to ``keep``, then to 10 characters, then droppable columns go."""
        droppable, dropped = list(droppable), []
        while True:
            widths = _fit(heads, rows, flexible, width, keep) or _fit(heads, rows, flexible, width, 10)
            if widths is not None or not droppable:
                break
            i = droppable.pop()
            dropped.insert(0, heads[i])
            heads = heads[:i] + heads[i + 1:]
            rows = [r[:i] + r[i + 1:] for r in rows]
            flexible = [j - (j > i) for j in flexible if j != i]
            droppable = [j - (j > i) for j in droppable]
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0), expand=False)
        for i, (h, w) in enumerate(zip(heads, widths)):
            t.add_column(h, justify="left" if i == 0 else "right", width=w, overflow="fold",
                         no_wrap=i not in flexible)
        for k, r in enumerate(rows):
            if k in sections:
                t.add_row(Text(r[0], style="italic"), *r[1:])
            else:
                t.add_row(*r)
        con.print(t)
        if dropped:
            con.print(f"left out to fit {width} characters: {', '.join(dropped)}")

    for (problem, suite), g, cols in blocks:
        refs = _block_refs(g)
        rows = _sorted_rows(g)
        main = [r for r in rows if not _is_bound(r)]
        bounds = [r for r in rows if _is_bound(r)]
        cols = [c for c in cols if c != "kind" and not (c in ("mismatch", "lost") and not g[c].fillna(0).any())]
        metric_cols = set(_metric_columns(cols)) | {c for c in cols if c not in _TEXT_HEAD and c != "solver"}
        notes: dict = {}
        for r in main:
            if _all_skipped(r):
                notes.setdefault(_short(r.get("skip reason") or "declined by the solver", 70), []).append(r["solver"])
        marks = {reason: i + 1 for i, reason in enumerate(notes)}
        con.print(Text(f"{problem} · suite {suite}", style="bold"))
        heads = [_TEXT_HEAD.get(c, c.replace("_", " ")) if c != "solver" else "method" for c in cols]
        cells, sections, prev = [], set(), None
        for r in main:
            kind = r.get("kind") or "other"
            if kind != prev:
                sections.add(len(cells))
                cells.append([f"{kind}:"] + [""] * (len(cols) - 1))
                prev = kind
            skip = _all_skipped(r)
            line = []
            for c in cols:
                if c == "solver":
                    reason = _short(r.get("skip reason") or "declined by the solver", 70)
                    line.append(f"{r['solver']} ({marks[reason]})" if skip else str(r["solver"]))
                elif skip and c == "mean gap":
                    line.append("skipped")
                elif skip and (c in blank or c in metric_cols):
                    line.append("")
                else:
                    line.append(_text_cell(r.get(c), c))
            cells.append(line)
        draw(heads, cells, [i for i, c in enumerate(cols) if c in metric_cols or c == "solver"], 22, sections,
             [i for i, c in enumerate(cols) if c in metric_cols])
        con.print("gaps in % below " + (_reference_text(refs) if refs else "the reference")
                  + "; failed cells count 100 %")
        for reason, i in marks.items():
            con.print(f"({i}) skipped on every instance: {reason} — {', '.join(notes[reason])}")
        if bounds:
            con.print()
            con.print(Text(f"{problem} · suite {suite}: upper bounds (not methods)", style="bold"))
            heads = ["bound", "inst", "mean bound", "above ref %", "objective of its solution", "sec"]
            cells = []
            for r in bounds:
                ex = r.get("bound excess")
                cells.append([str(r["solver"]), _text_cell(r.get("instances"), "instances"),
                              _text_cell(r.get("mean bound"), "mean bound"),
                              ("+" if not _nan(ex) and ex >= 0 else "") + _text_cell(ex, "bound excess"),
                              _text_cell(r.get("mean objective"), "mean objective"),
                              _text_cell(r.get("median seconds"), "median seconds")])
            draw(heads, cells, [0, 2, 3, 4], 22)
        con.print()
    con.print("gap = (reference - value) / |reference|; more columns: --metrics all, --columns a,b, --format md")
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def _tex(s) -> str:
    """``s`` escaped for LaTeX text."""
    rep = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
           "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "—": "---",
           "…": r"\ldots{}", "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
    return "".join(rep.get(ch, ch) for ch in str(s))


_TEX_HEAD = {"instances": "Inst.", "mean gap": r"Mean gap (\%)", "median gap": r"Median gap (\%)",
             "worst gap": r"Worst gap (\%)", "opt share": r"Opt.\ (\%)", "feasible": r"Feasible (\%)",
             "failed": "Failed", "mismatch": "Mismatch", "skipped": "Skipped", "lost": "Lost",
             "median seconds": "Time (s)", "median inference seconds": "Inference (s)",
             "mean objective": "Objective", "kind": "Kind", "solver": "Method", "mean bound": "Bound",
             "bound excess": r"Bound excess (\%)"}


def _tex_num(v: float) -> str:
    """Three significant digits; powers of ten as ``$a\\times10^{b}$``."""
    txt = f"{v:.3g}"
    if "e" not in txt:
        return txt
    m, e = txt.split("e")
    return f"${m}\\times10^{{{int(e)}}}$"


def _tex_cell(v, col: str) -> str:
    if _nan(v):
        return "--"
    if isinstance(v, str):
        return _tex(v)
    if col in ("opt share", "feasible"):
        return f"{100 * v:.0f}"
    if "gap" in col or col == "bound excess":
        return f"{100 * v:.2f}" if abs(v) >= 5e-5 else "0.00"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if col.endswith("seconds"):
        return "$<$0.01" if v < 0.01 else f"{v:.2g}" if v < 1 else _tex_num(v)
    return _tex_num(v)


def _render_latex(blocks) -> str:
    out = []
    for (problem, suite), g, cols in blocks:
        rows = _sorted_rows(g)
        listed = [r for r in rows if not _is_bound(r) and not _all_skipped(r)]
        cols = [c for c in cols if c != "kind"]
        for c in ("skipped", "failed", "mismatch", "lost"):  # failures are in the gaps and the feasibility share
            if c in cols and not any(r.get(c) for r in listed):
                cols.remove(c)
        if "instances" in cols and len({r.get("instances") for r in listed}) <= 1:
            cols.remove("instances")  # the caption gives the count
        cols = cols[:8]
        scored = [r for r in rows if r.get("kind") != "reference" and not _is_bound(r) and not _all_skipped(r)
                  and not _nan(r.get("mean gap"))]
        best = min((round(100 * r["mean gap"], 2) for r in scored), default=None)
        p = _problem(problem)
        title = getattr(p, "title", "") if p is not None else ""
        refs = _block_refs(g)
        n = int(g["instances"].max())
        caption = (rf"\texttt{{{_tex(problem)}}}" + (f" ({_tex(title)})" if title else "")
                   + rf", suite \texttt{{{_tex(suite)}}}, {n} instances: optimality gap in \% against "
                   + _tex(_reference_text(refs))
                   + r"; failed cells (infeasible, timeout, error) count as 100\,\%; best mean gap in bold.")
        if any(_is_bound(r) for r in rows):
            caption += r" Upper bounds give their mean bound and its excess over the reference."
        lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{caption}}}",
                 rf"\label{{tab:{re.sub(r'[^A-Za-z0-9]+', '-', problem + '-' + suite)}}}",
                 r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule",
                 " & ".join(_TEX_HEAD.get(c, _tex(c.replace("_", " "))) for c in cols) + r" \\", r"\midrule"]
        prev, done = None, {}
        for r in rows:
            grp = (_is_bound(r), _KIND_ORDER.get(r.get("kind"), 5))
            if prev is not None and grp != prev and not _all_skipped(r):
                lines.append(r"\midrule")
            prev = grp
            name = _tex(r["solver"])
            span = len(cols) - 1
            if _is_bound(r):
                ex = r.get("bound excess")
                txt = rf"\emph{{upper bound}}: mean {_tex_cell(r['mean bound'], 'mean bound')}" + (
                    "" if _nan(ex) else rf", ${_tex_cell(ex, 'bound excess')}$\,\% above the reference")
                lines.append(rf"{name} & \multicolumn{{{span}}}{{l}}{{{txt}}} \\")
                continue
            if _all_skipped(r):  # listed under the table, with the reason
                done.setdefault(_short(r.get("skip reason") or "declined by the solver", 80), []).append(r["solver"])
                continue
            cells = [name]
            for c in cols[1:]:
                x = _tex_cell(r.get(c), c)
                if c == "mean gap" and best is not None and r in scored and round(100 * r["mean gap"], 2) == best:
                    x = rf"\textbf{{{x}}}"
                cells.append(x)
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if done:
            lines.append(r"\par\smallskip{\footnotesize " + "; ".join(
                rf"\emph{{Skipped on every instance}} ({_tex(reason)}): {', '.join(_tex(n) for n in names)}"
                for reason, names in done.items()) + ".}")
        lines.append(r"\end{table}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def render(table, fmt: str = "md", *, metrics: str | None = None, columns=None, width: int | None = None) -> str:
    """The table as terminal text, markdown (one block per problem/suite), LaTeX (booktabs) or CSV.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`summarise` (with ``details=True`` for bound rows,
        skip reasons and the reference status in the LaTeX caption).
    fmt : str, optional
        One of :data:`FORMATS`: ``text`` (a rich table per problem and suite,
        as wide as ``width``), ``md``, ``latex`` or ``csv``.
    metrics : str, optional
        One of :data:`METRICS_CHOICES` (see :func:`table_columns`).
    columns : sequence of str, optional
        Show exactly these columns after the solver (see :func:`table_columns`).
    width : int, optional
        Characters per line of the ``text`` format (default 80).

    Returns
    -------
    str
        The text; gaps and shares are printed as percentages (except in CSV),
        and markdown and text end with a note on how gaps are computed.

    Raises
    ------
    MmoptError
        When ``fmt`` or ``metrics`` is unknown or ``columns`` names a column
        the table does not have (and the table is not empty).
    """
    if table.empty:
        return "(no results in the store)\n"
    if fmt not in FORMATS:
        raise MmoptError(f"unknown table format '{fmt}' ({', '.join(FORMATS)})")
    if fmt == "csv":
        if columns or metrics:
            keep = list(dict.fromkeys(c for p in table["problem"].unique()
                                      for c in table_columns(table[table["problem"] == p], p, fmt, metrics,
                                                             columns)))
            table = table[keep]
        return table.to_csv(index=False)
    if columns:  # checked against the whole table; a block shows those it has
        columns = table_columns(table, "", fmt, metrics, columns)[1:]
    blocks = []
    for (problem, suite), g in table.groupby(["problem", "suite"], sort=True):
        g = g.dropna(axis=1, how="all")
        mine = [c for c in columns if c in g.columns] if columns else None
        blocks.append(((problem, suite), g, ["solver"] + mine if columns else
                       table_columns(g, problem, fmt, metrics, None)))
    if fmt == "text":
        return _render_text(blocks, width)
    if fmt == "latex":
        return _render_latex(blocks)
    out = []
    for (problem, suite), g, cols in blocks:
        rows = []
        for r in g.to_dict("records"):
            cells = []
            for c in cols:
                v = r.get(c)
                if _is_bound(r) and c in ("mean gap", "median gap", "worst gap", "opt share"):
                    v = f"bound +{_fmt(r.get('bound excess'), 'bound excess')}" if c == "mean gap" else ""
                elif _all_skipped(r) and c == "mean gap":
                    v = "skipped: " + _short(r.get("skip reason") or "declined", 60)
                elif _all_skipped(r) and c not in ("solver", "kind", "instances", "cells", "failed", "mismatch",
                                                   "skipped", "references", "skip reason"):
                    v = ""
                elif c == "kind" and _is_bound(r):
                    v = "reference (bound)"
                cells.append(_fmt(v, c).replace("|", r"\|"))
            rows.append(cells)
        lines = [f"### {problem} — suite `{suite}`", "",
                 "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        out.append("\n".join(lines))
    note = ("\nGap = (reference - value) / |reference|; failed cells (infeasible, timeout, error) count "
            "as 100 %; opt share = cells within 1e-4 of the reference; a bound row gives its mean bound and "
            "how far it lies above the reference (bound excess).\n")
    return "\n\n".join(out) + "\n" + note

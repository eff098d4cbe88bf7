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
"""
from __future__ import annotations

import json
import math

import numpy as np

from .api import PROBLEMS, MmoptError, params_key
from .learned import fingerprint
from .references import load_manifest
from .registry import get_solver
from .store import cache_key

__all__ = ["FAILED", "OPT_WITHIN", "current_rows", "summarise", "render"]

#: cell statuses counted as a gap of 1 (100 %)
FAILED = ("infeasible", "timeout", "error")
#: relative gap up to which a cell counts as optimal (``opt share``)
OPT_WITHIN = 1e-4


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


def summarise(df, metrics: bool = True):
    """Aggregate store rows into the comparison table.

    Parameters
    ----------
    df : pandas.DataFrame
        Store rows (columns ``problem``, ``suite``, ``solver``, ``kind``,
        ``status``, ``gap``, ``objective``, ``seconds``, ``instance_hash``,
        ``stats`` and ``metrics``, the last two JSON text).
    metrics : bool, optional
        Add one column per problem metric: its mean over the ``ok`` cells.

    Returns
    -------
    pandas.DataFrame
        One row per (problem, suite, solver, parameters), sorted; a solver
        run with several parameter sets gets one row per set, labelled
        ``solver [k=v]`` with the parameters that differ: kind, instances, cells,
        mean / median / worst gap and opt share (fractions; failed cells count
        1), feasible share, failed / mismatch / skipped counts, mean objective,
        median seconds, plus the median inference seconds of learned solvers
        and the mean rounds and messages of distributed ones. Empty for an
        empty ``df``.
    """
    import pandas as pd

    if df.empty:
        return pd.DataFrame()
    df = df.copy()
    if "params" in df.columns:
        df["solver"] = _labels(df)
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
        out.append(row)
    return pd.DataFrame(out)


def _fmt(v, col: str) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if "gap" in col:
        return f"{100 * v:.3f} %" if abs(v) >= 5e-6 else "0.000 %"
    if col in ("opt share", "feasible"):
        return f"{100 * v:.0f} %"
    if isinstance(v, (int, np.integer)):
        return str(v)
    if col.endswith("seconds"):
        return f"{v:.3g}"
    return f"{v:.4g}"


def render(table, fmt: str = "md") -> str:
    """The table as markdown (one block per problem/suite), LaTeX (booktabs) or CSV.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`summarise`.
    fmt : str, optional
        ``md``, ``latex`` or ``csv``.

    Returns
    -------
    str
        The text; gaps and shares are printed as percentages (except in CSV),
        and markdown ends with a note on how gaps are computed.

    Raises
    ------
    MmoptError
        When ``fmt`` is none of the three (and the table is not empty).
    """
    if table.empty:
        return "(no results in the store)\n"
    if fmt == "csv":
        return table.to_csv(index=False)
    blocks = []
    for (problem, suite), g in table.groupby(["problem", "suite"], sort=True):
        g = g.dropna(axis=1, how="all").drop(columns=["problem", "suite"])
        cols = list(g.columns)
        rows = [[_fmt(v, c) for c, v in zip(cols, r)] for r in g.itertuples(index=False)]
        if fmt == "md":
            lines = [f"### {problem} — suite `{suite}`", "",
                     "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
            blocks.append("\n".join(lines))
        elif fmt == "latex":
            esc = lambda s: s.replace("%", r"\%").replace("_", r"\_").replace("–", "--")  # noqa: E731
            lines = [r"\begin{table}[t]", r"\centering", r"\small",
                     rf"\caption{{{esc(problem)}, suite \texttt{{{esc(suite)}}}: optimality gap against the "
                     r"certified reference (failed cells count as 100\,\%).}",
                     r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}", r"\toprule",
                     " & ".join(esc(c) for c in cols) + r" \\", r"\midrule"]
            lines += [" & ".join(esc(x) for x in r) + r" \\" for r in rows]
            lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
            blocks.append("\n".join(lines))
        else:

            raise MmoptError(f"unknown table format '{fmt}' (md, latex or csv)")
    note = ("\nGap = (reference - value) / |reference|; failed cells (infeasible, timeout, error) count "
            "as 100 %; opt share = cells within 1e-4 of the reference.\n") if fmt == "md" else "\n"
    return "\n\n".join(blocks) + "\n" + note

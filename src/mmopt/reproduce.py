"""``mmopt reproduce``: each paper's headline numbers next to mmopt's, from the results store.

Every problem contributes its own rows through :meth:`mmopt.api.Problem.reproduction` (the
paper's quantity, where the paper states it, the paper's value, mmopt's value for the same
quantity on the same kind of scenario, the certified optimum and the gap to it); this module
collects them and renders one markdown table per paper.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

COLUMNS = (("quantity", "paper quantity"), ("where", "where in the paper"), ("paper", "paper value"),
           ("mmopt", "mmopt value"), ("optimum", "certified optimum"), ("gap", "gap to the optimum"))


def fmt(v) -> str:
    """A table cell: strings as they are, numbers with 4 significant digits, missing as '–'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def pct(v) -> str:
    """A share or gap as a percentage ('–' when missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{100 * float(v):.1f} %"


def collect(frame, suite: str, problem_names: Iterable[str] | None = None) -> list[tuple[object, list[dict]]]:
    """(problem, rows) for every registered problem (or those named) with rows in ``frame``."""
    from .registry import problems

    out = []
    names = set(problem_names) if problem_names else None
    for name, p in problems().items():
        if names is not None and name not in names:
            continue
        sub = frame[frame["problem"] == name] if not frame.empty else frame
        if sub.empty:
            continue
        rows = p.reproduction(sub, suite)
        if rows:
            out.append((p, rows))
    return out


def render(sections: list[tuple[object, list[dict]]], suite: str, source: str = "") -> str:
    """Markdown: one section and table per paper."""
    lines = ["# Reproduction report", "",
             f"Each paper's headline numbers next to mmopt's on the `{suite}` suites"
             + (f" (store `{source}`)" if source else "") + ", with the certified optimum that none of the "
             "papers had and each method's mean gap to it. Regenerate with "
             f"`mmopt reproduce --suite {suite}`.", ""]
    if not sections:
        lines += ["No rows: the store holds no results for these suites.", ""]
    for p, rows in sections:
        lines += [f"## {p.title} (`{p.name}`)", "", f"Paper: {p.paper}", ""]
        lines.append("| " + " | ".join(h for _, h in COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        for r in rows:
            lines.append("| " + " | ".join(fmt(r.get(k)).replace("|", "/") for k, _ in COLUMNS) + " |")
        lines.append("")
    return "\n".join(lines)


def reproduce(db: str | Path, suite: str = "paper", out: str | Path | None = None,
              problem_names: Iterable[str] | None = None) -> str:
    """Render the report from the store ``db``; write it to ``out`` when given; return the text."""
    from .api import MmoptError
    from .store import Store

    path = Path(db)
    if not path.is_file():
        raise MmoptError(f"{path}: no results store (run `mmopt run` first or pass --db)")
    with Store(path) as st:
        frame = st.frame(list(problem_names) if problem_names else None, None, None)
    text = render(collect(frame, suite, problem_names), suite, path.name)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
    return text

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

from .api import MmoptError
from .registry import problems
from .cli_util import atomic_write
from .report import current_rows
from .store import Store

__all__ = ["COLUMNS", "fmt", "pct", "collect", "render", "reproduce"]

#: (row key, column heading) of the report's tables, in order
COLUMNS = (("quantity", "paper quantity"), ("where", "where in the paper"), ("paper", "paper value"),
           ("mmopt", "mmopt value"), ("optimum", "certified optimum"), ("gap", "gap to the optimum"))


def fmt(v) -> str:
    """A table cell: strings as they are, numbers with 4 significant digits, missing as '–'.

    Parameters
    ----------
    v : str, int, float or None
        The value; ``None`` and NaN are missing, integers are printed in full.

    Returns
    -------
    str
        The cell text.
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def pct(v) -> str:
    """A share or gap as a percentage ('–' when missing).

    Parameters
    ----------
    v : float or None
        A fraction (0.05 is 5 %); ``None`` and NaN are missing.

    Returns
    -------
    str
        ``"5.0 %"`` (one decimal), or ``"–"``.
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{100 * float(v):.1f} %"


def collect(frame, suite: str, problem_names: Iterable[str] | None = None) -> list[tuple[object, list[dict]]]:
    """The report rows of every registered problem (or those named) with rows in ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Store rows.
    suite : str
        The suite passed to each problem's :meth:`~mmopt.api.Problem.reproduction`.
    problem_names : iterable of str, optional
        Only these problems (default: every registered one).

    Returns
    -------
    list of tuple
        ``(problem, rows)`` pairs, ``problem`` a :class:`~mmopt.api.Problem` and
        ``rows`` its non-empty list of row dicts.
    """

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
    """Markdown: one section and table per paper.

    Parameters
    ----------
    sections : list of tuple
        The ``(problem, rows)`` pairs of :func:`collect`.
    suite : str
        The suite named in the introduction.
    source : str, optional
        The store's file name, named in the introduction when given.

    Returns
    -------
    str
        The report, a title and introduction then one section per problem.
    """
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
              problem_names: Iterable[str] | None = None, all_versions: bool = False) -> str:
    """Render the report from the store ``db`` (opened read-only); write it to ``out`` when given (atomically).

    The report regenerates: an existing ``out`` is replaced (a symbolic link
    there is replaced, its target never written).

    Parameters
    ----------
    db : str or pathlib.Path
        The results store (SQLite file).
    suite : str, optional
        The suite whose rows are reported.
    out : str or pathlib.Path, optional
        A file to write the report to (folders created).
    problem_names : iterable of str, optional
        Only these problems.
    all_versions : bool, optional
        Also rows of older solver versions, weights and suites
        (:func:`mmopt.report.current_rows` otherwise).

    Returns
    -------
    str
        The report's markdown text.

    Raises
    ------
    MmoptError
        When ``db`` is not a file or not a readable store, ``out`` is not a
        ``.md`` file or cannot be written, or the store has no rows on ``suite``
        to write (an existing report is never replaced by an empty one).
    """

    path = Path(db)
    if not path.is_file():
        raise MmoptError(f"{path}: no results store (run `mmopt run` first or pass --db)")
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in (".md", ".markdown", ".txt"):
            raise MmoptError(f"{out}: the report is markdown; --out must end in .md")
        if out.is_dir():
            raise MmoptError(f"{out}: is a directory")
    with Store(path, readonly=True) as st:
        frame = st.frame(list(problem_names) if problem_names else None, None, None)
    if not all_versions:
        frame = current_rows(frame)
    sections = collect(frame, suite, problem_names)
    if not sections and out is not None:
        raise MmoptError(f"{path}: no results on suite '{suite}' to report; run `mmopt run --suite {suite}` first "
                         f"({out} left as it is)")
    text = render(sections, suite, path.name)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MmoptError(f"{out}: cannot create its folder ({e.strerror or e})") from None
        atomic_write(out, lambda tmp: Path(tmp).write_text(text))
    return text

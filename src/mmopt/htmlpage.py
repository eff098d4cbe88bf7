"""The self-contained static HTML page of ``mmopt report --html``.

This module only renders: it turns tables, figures (PNG bytes), the
reproduction rows and the provenance into one HTML document with its style
and its small script inline, and the figures embedded as base64 ``data:``
URIs, so the page works offline and loads nothing from anywhere
(:func:`external_references` lists what would be loaded, and must be empty).
:func:`mmopt.figures.html_report` gathers the content from the store.

Every table cell keeps the exact value in ``data-value`` (numbers as
``repr`` of the float, empty when missing) next to the formatted text, so a
reader (or a test) can compare the page with the store; clicking a column
heading sorts the table by it.
"""
from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field

__all__ = ["Table", "Figure", "Section", "format_value", "render_table", "render_page", "external_references"]


@dataclass
class Table:
    """A table of the page.

    Parameters
    ----------
    caption : str
        Its caption.
    columns : list of str
        Column headings.
    rows : list of list
        One list per row: strings or numbers (``None`` or NaN missing).
    kind : str, optional
        A class name (``results``, ``reproduction``, ``provenance``) the page
        styles and tests find it by.
    attrs : dict of str to str, optional
        Extra ``data-`` attributes of the table (``problem``, ``suite``).
    """

    caption: str
    columns: list
    rows: list
    kind: str = "results"
    attrs: dict = field(default_factory=dict)


@dataclass
class Figure:
    """A figure of the page: a PNG embedded as a ``data:`` URI.

    Parameters
    ----------
    caption : str
        Its caption.
    png : bytes
        The PNG file's bytes.
    name : str, optional
        The figure's file stem (an ``id`` on the page).
    """

    caption: str
    png: bytes
    name: str = ""


@dataclass
class Section:
    """A section of the page: a heading, paragraphs, tables, figures.

    Parameters
    ----------
    title : str
        The heading.
    anchor : str
        The ``id`` the table of contents links to.
    text : list of str, optional
        Paragraphs (plain text, escaped).
    tables : list of Table, optional
        Its tables.
    figures : list of Figure, optional
        Its figures.
    """

    title: str
    anchor: str
    text: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)


def format_value(v, col: str = "") -> str:
    """A cell's text: gaps and shares as percentages, seconds with 3 digits, missing as '–'.

    Parameters
    ----------
    v : object
        The value.
    col : str, optional
        Its column heading (``gap``, ``share``, ``feasible`` and ``seconds``
        columns get their units).

    Returns
    -------
    str
        The text (the same conventions as the markdown tables of :mod:`mmopt.report`).
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu"):
        return str(int(v))
    v = float(v)
    if "gap" in col:
        return f"{100 * v:.3f} %" if abs(v) >= 5e-6 else "0.000 %"
    if col in ("opt share", "feasible"):
        return f"{100 * v:.0f} %"
    if col.endswith("seconds"):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _raw(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, str):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return repr(int(f)) if f.is_integer() and abs(f) < 2 ** 53 and not isinstance(v, float) else repr(f)


def render_table(t: Table) -> str:
    """One table as HTML (escaped), each cell with its exact value in ``data-value``.

    Parameters
    ----------
    t : Table
        The table.

    Returns
    -------
    str
        The ``<table>`` element.
    """
    e = html.escape
    attrs = "".join(f' data-{e(k)}="{e(str(v))}"' for k, v in t.attrs.items())
    out = [f'<table class="{e(t.kind)}"{attrs}>', f"<caption>{e(t.caption)}</caption>",
           "<thead><tr>" + "".join(f'<th scope="col">{e(str(c))}</th>' for c in t.columns) + "</tr></thead>",
           "<tbody>"]
    for r in t.rows:
        cells = []
        for c, v in zip(t.columns, r):
            num = not isinstance(v, str) and v is not None
            cls = ' class="num"' if num else ""
            cells.append(f'<td{cls} data-col="{e(str(c))}" data-value="{e(_raw(v))}">{e(format_value(v, str(c)))}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#fff}
header{background:#23395d;color:#fff;padding:1rem 2rem}
header h1{margin:0;font-size:1.4rem} header p{margin:.3rem 0 0;font-size:.9rem;opacity:.9}
nav{padding:.5rem 2rem;border-bottom:1px solid #ddd;font-size:.85rem;line-height:1.7}
nav a{margin-right:1rem;color:#23395d}
main{padding:0 2rem 3rem}
h2{border-bottom:2px solid #23395d;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.8rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#eef2f7;cursor:pointer;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
tbody tr:nth-child(even){background:#fafafa}
figure{display:inline-block;margin:1rem 1rem 1rem 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.8rem;color:#444;max-width:46rem}
.note{font-size:.85rem;color:#444;max-width:60rem}
"""

_SCRIPT = """
(function () {
  "use strict";
  function key(td) {
    var v = td.getAttribute("data-value");
    if (v === null || v === "") { return [1, ""]; }
    var f = Number(v);
    return isNaN(f) ? [0, v.toLowerCase()] : [0, f];
  }
  function sortBy(table, col) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = table.getAttribute("data-sort-col") !== String(col) || table.getAttribute("data-sort-dir") !== "asc";
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x[0] !== y[0]) { return x[0] - y[0]; }
      if (x[1] < y[1]) { return asc ? -1 : 1; }
      if (x[1] > y[1]) { return asc ? 1 : -1; }
      return 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.setAttribute("data-sort-col", String(col));
    table.setAttribute("data-sort-dir", asc ? "asc" : "desc");
  }
  document.querySelectorAll("table").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, i) {
      th.title = "sort by " + th.textContent;
      th.addEventListener("click", function () { sortBy(table, i); });
    });
  });
  document.body.setAttribute("data-ready", "1");
})();
"""


def render_page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page: style, table of contents, sections, script; nothing loaded from elsewhere.

    Parameters
    ----------
    title : str
        The page title.
    subtitle : str
        A line under it (the store, the date).
    sections : list of Section
        The sections in order.

    Returns
    -------
    str
        The HTML document.
    """
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>",
             "<nav>" + "".join(f'<a href="#{e(s.anchor)}">{e(s.title)}</a>' for s in sections) + "</nav>",
             "<main>"]
    for s in sections:
        parts.append(f'<section id="{e(s.anchor)}"><h2>{e(s.title)}</h2>')
        parts += [f'<p class="note">{e(t)}</p>' for t in s.text]
        parts += [f'<div class="scroll">{render_table(t)}</div>' for t in s.tables]
        for f in s.figures:
            data = base64.b64encode(f.png).decode("ascii")
            fid = f' id="{e(s.anchor + "-" + f.name)}"' if f.name else ""
            parts.append(f'<figure{fid}><img alt="{e(f.caption)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{e(f.caption)}</figcaption></figure>")
        parts.append("</section>")
    parts += ["</main>", f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


_EXTERNAL = re.compile(r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?!data:|#)([a-z][a-z0-9+.-]*:|//)"""
                       r"""|url\(\s*["']?\s*(?!data:)[a-z][a-z0-9+.-]*:|@import)""", re.I)


def external_references(page: str) -> list[str]:
    """What a page would load from elsewhere: ``src``/``href`` to another URL, CSS ``url()`` or ``@import``.

    Parameters
    ----------
    page : str
        The HTML text.

    Returns
    -------
    list of str
        The offending snippets (empty for a self-contained page).
    """
    return [page[max(0, m.start() - 20):m.end() + 40] for m in _EXTERNAL.finditer(page)]

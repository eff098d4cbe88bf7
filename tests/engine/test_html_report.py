"""`mmopt report --html`: one self-contained page (nothing loaded from elsewhere) whose tables, once
rendered by a real browser (headless Chromium), show the store's numbers, with no console error."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mmopt.cli import main
from mmopt.htmlpage import Figure, Section, Table, external_references, render_page
from mmopt.runner import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")


class _Tables(HTMLParser):
    """Tables of a DOM: class, data- attributes and cells (data-col, data-value, text)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self.imgs, self.ready = [], None, [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "table":
            self.tables.append({"class": a.get("class"), "attrs": a, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag == "td" and self.tables:
            self._cell = {"col": a.get("data-col"), "value": a.get("data-value"), "text": ""}
            self.tables[-1]["rows"][-1].append(self._cell)
        elif tag == "img":
            self.imgs.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def _parse(text: str) -> _Tables:
    p = _Tables()
    p.feed(text)
    return p


def test_external_references_are_found():
    assert external_references('<img src="https://cdn.example/x.png">')
    assert external_references('<link rel="stylesheet" href="//cdn.example/x.css">')
    assert external_references("<style>body{background:url(http://x/y.png)}</style>")
    assert external_references("<style>@import 'x.css';</style>")
    assert external_references('<script src="file:///etc/x.js"></script>')
    page = render_page("t", "s", [Section("A", "a", ["see https://example.org"],
                                          [Table("c", ["x", "gap"], [["a", 0.5], ["b", None]])],
                                          [Figure("f", b"\x89PNG\r\n", "f")])])
    assert external_references(page) == []
    t = _parse(page).tables[0]
    assert [(c["value"], c["text"]) for c in t["rows"][1]] == [("a", "a"), ("0.5", "50.000 %")]
    assert [(c["value"], c["text"]) for c in t["rows"][2]] == [("b", "b"), ("", "–")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    db = str(tmp / "r.sqlite")
    run(["trajectory-assoc"], "smoke", ["dp", "greedy", "reactive-max-snr"], db=db, workers=0, count=4,
        progress=False)
    run(["maxmin-assoc-bf"], "smoke", ["max-gain", "los-oracle"], db=db, workers=0, count=2, progress=False)
    out = tmp / "site"
    try:
        main(["report", "--html", str(out), "--db", db])
    except SystemExit as e:
        assert e.code in (0, None)
    return Path(db), out / "index.html", tmp


def _store_means(db: Path) -> dict:
    """(problem, suite, solver) -> (cells, mean gap with failed cells as 1), straight from SQLite."""
    con = sqlite3.connect(db)
    out = {}
    for p, s, solver in con.execute("SELECT DISTINCT problem, suite, solver FROM cells"):
        rows = con.execute("SELECT status, gap FROM cells WHERE problem=? AND suite=? AND solver=?",
                           (p, s, solver)).fetchall()
        gaps = [1.0 if st in ("infeasible", "timeout", "error") else g for st, g in rows
                if st in ("infeasible", "timeout", "error") or (st == "ok" and g is not None)]
        out[(p, s, solver)] = (len(rows), float(np.mean(gaps)))
    con.close()
    return out


def test_the_page_is_self_contained(report):
    db, page, _ = report
    text = page.read_text()
    assert external_references(text) == []
    assert "http://" not in text and "https://" not in text
    p = _parse(text)
    assert p.imgs and all(src.startswith("data:image/png;base64,") for src in p.imgs)
    kinds = {t["class"] for t in p.tables}
    assert {"overview", "results", "provenance"} <= kinds
    prov = next(t for t in p.tables if t["class"] == "provenance")
    items = {r[0]["text"]: r for r in prov["rows"] if r}
    con = sqlite3.connect(db)
    stored = {json.loads(x)["host"] for (x,) in con.execute("SELECT provenance FROM cells")}
    con.close()
    assert all(h in items["host"][1]["text"] for h in stored)
    assert {"mmopt", "git", "python", "torch"} <= set(items)


def test_report_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["report", "--html", str(tmp_path / "o"), "--db", str(tmp_path / "none.sqlite")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "no results store" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@needs_chromium
def test_chromium_renders_the_store_numbers_without_console_errors(report):
    db, page, tmp = report
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp / 'profile'}"]
    dom = subprocess.run(cmd + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln or "net::ERR" in ln]
    assert console == [], console
    p = _parse(dom.stdout)
    assert p.ready, "the page's script did not run to its end"
    want = _store_means(db)
    seen = set()
    for t in p.tables:
        if t["class"] != "results":
            continue
        problem, suite = t["attrs"]["data-problem"], t["attrs"]["data-suite"]
        for row in t["rows"]:
            if not row:
                continue
            cell = {c["col"]: c for c in row}
            key = (problem, suite, cell["solver"]["text"])
            cells, mean_gap = want[key]
            assert int(cell["cells"]["value"]) == cells
            assert float(cell["mean gap"]["value"]) == pytest.approx(mean_gap, rel=1e-9, abs=1e-12)
            assert cell["mean gap"]["text"] == (f"{100 * mean_gap:.3f} %" if abs(mean_gap) >= 5e-6 else "0.000 %")
            seen.add(key)
    assert seen == set(want)
    shot = tmp / "report.png"
    r = subprocess.run(cmd + ["--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, r.stderr[-2000:]

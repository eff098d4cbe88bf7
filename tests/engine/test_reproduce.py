"""``mmopt reproduce`` on the smoke suites: one table per paper, rows from each problem, numbers that
agree with the store."""
import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest


def mm(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mmopt.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=dict(os.environ), timeout=600)


@pytest.fixture(scope="module")
def smoke_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("repro")
    r = mm("run", "--suite", "smoke", "--problems", "maxmin-assoc-bf,highway-sector-beams,trajectory-assoc",
           "--solvers", "exhaustive,max-gain,oracle-bound,best-snr,macol,dp,greedy", "--count", "1",
           "--db", "r.sqlite", "--workers", "1", "--quiet", cwd=d)
    assert r.returncode == 0, r.stderr
    return d


def test_reproduce_smoke(smoke_db):
    r = mm("reproduce", "--suite", "smoke", "--db", "r.sqlite", "--out", "out/REPRODUCTION.md", cwd=smoke_db)
    assert r.returncode == 0, r.stderr
    text = (smoke_db / "out" / "REPRODUCTION.md").read_text()
    # one section per paper, each with a table
    for title in ("Max-min fair user association", "MACOL", "trajectory association"):
        assert title in text, title
    assert text.count("| paper quantity | where in the paper |") == 3
    # the maxmin row reports the store's mean reference next to the paper's 3.28
    con = sqlite3.connect(smoke_db / "r.sqlite")
    refs = [row[1] for row in con.execute(
        "select instance_hash, reference from cells where problem = 'maxmin-assoc-bf' group by instance_hash")]
    line = next(x for x in text.splitlines() if "exhaustive search, perfect CSI" in x)
    assert "| 3.28 |" in line and f"{np.mean(refs):.3f}" in line
    # the max-gain gap row equals the store's mean gap
    gaps = [g for (g,) in con.execute("select gap from cells where problem = 'maxmin-assoc-bf' and "
                                      "solver = 'max-gain'")]
    line = next(x for x in text.splitlines() if "`max-gain`" in x)
    assert f"{100 * np.mean(gaps):.1f} %" in line
    # the highway rows quote the paper's 10 % and 75 % statements
    assert "around 10 %" in text and "over 30 m" in text
    metrics = [json.loads(m) for (m,) in con.execute(
        "select metrics from cells where problem = 'highway-sector-beams' and solver = 'macol' and status = 'ok'")]
    line = next(x for x in text.splitlines() if "`macol` interference ratio" in x)
    assert f"{100 * np.mean([m['interference_ratio'] for m in metrics]):.1f} %" in line


def test_reproduce_without_store_is_one_line(tmp_path):
    r = mm("reproduce", "--db", "missing.sqlite", "--out", "x.md", cwd=tmp_path)
    assert r.returncode != 0 and "no results store" in r.stderr and not (tmp_path / "x.md").exists()


def test_reproduce_never_replaces_a_report_with_an_empty_one(tmp_path):
    """A store without rows on the suite: one line, exit 2, the existing report untouched."""
    import subprocess
    import sys

    from mmopt.store import Store

    db = tmp_path / "empty.sqlite"
    with Store(db):
        pass
    out = tmp_path / "REPRODUCTION.md"
    out.write_text("kept\n")
    r = subprocess.run([sys.executable, "-m", "mmopt.cli", "reproduce", "--db", str(db), "--suite", "small",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no results" in r.stderr
    assert out.read_text() == "kept\n"

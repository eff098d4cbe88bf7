"""The runner on a real 2-worker LocalCluster: errors, time limits, dying
solvers, the store cache, and Ctrl-C keeping finished cells."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from mmopt.registry import add_plugin_modules
from mmopt.runner import make_client, run
from mmopt.store import Store


@pytest.fixture(scope="module")
def client():
    add_plugin_modules(["mmopt_test_plugins"])
    c = make_client(workers=2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def test_failures_are_recorded_and_the_run_continues(tmp_path, client):
    db = tmp_path / "r.sqlite"
    t0 = time.perf_counter()
    s = run(["maxmin-assoc-bf"], "smoke", ["test-raises", "test-sleeps", "test-dies", "test-mrt", "test-cheat",
                                             "exhaustive"],
            db=str(db), time_limit=3.0, count=2, progress=False, client=client,
            params={"exhaustive": {"inner": "socp"}})
    assert time.perf_counter() - t0 < 40          # the sleeping solver did not hold the run
    assert s.planned == 12 and s.cached == 0
    with Store(db) as st:
        df = st.frame()
    by = {r.solver: r for r in df.itertuples() if r.instance == "smoke/0000"}
    assert by["test-raises"].status == "error" and "deliberate failure" in by["test-raises"].message
    assert by["test-sleeps"].status == "timeout" and "time limit of 3 s" in by["test-sleeps"].message
    assert by["test-dies"].status == "error" and "signal 9" in by["test-dies"].message
    assert by["test-cheat"].status == "infeasible" and by["test-cheat"].max_violation == pytest.approx(3.0)
    assert by["test-mrt"].status == "ok" and 0 < by["test-mrt"].gap < 1
    assert by["exhaustive"].status == "ok" and abs(by["exhaustive"].gap) < 1e-6
    prov = json.loads(by["exhaustive"].provenance)
    assert {"mmopt", "python", "host", "numpy", "dask"} <= set(prov)
    assert json.loads(by["exhaustive"].stats)["status"] == "opt"
    # second run: finished cells served from the store, stored errors retried (unless keep_failed); --force re-runs
    s2 = run(["maxmin-assoc-bf"], "smoke", ["test-mrt", "test-raises"], db=str(db), time_limit=3.0, count=2,
             progress=False, client=client)
    assert s2.cached == 2 and s2.retried == 2 and s2.counts == {"error": 2}
    s2 = run(["maxmin-assoc-bf"], "smoke", ["test-mrt", "test-raises"], db=str(db), time_limit=3.0, count=2,
             progress=False, client=client, keep_failed=True)
    assert s2.cached == 4 and s2.ran == 0 and s2.retried == 0
    # a stored timeout is re-run only under a larger time limit
    s2 = run(["maxmin-assoc-bf"], "smoke", ["test-sleeps"], db=str(db), time_limit=3.0, count=2, progress=False,
             client=client)
    assert s2.cached == 2 and s2.retried == 0
    s3 = run(["maxmin-assoc-bf"], "smoke", ["test-mrt"], db=str(db), time_limit=3.0, count=2, progress=False,
             client=client, force=True)
    assert s3.ran == 2
    # a different parameter is a different cell
    # an existing cluster by address: same result, nothing else changes
    s4 = run(["maxmin-assoc-bf"], "smoke", ["test-mrt"], db=str(db), time_limit=3.0, count=2, progress=False,
             scheduler=client.cluster.scheduler_address, params={"test-mrt": {"delay": "0.01"}})
    assert s4.ran == 2 and s4.cached == 0


def test_ctrl_c_keeps_finished_cells(tmp_path):
    db = tmp_path / "r.sqlite"
    env = {**os.environ, "MMOPT_PLUGINS": "mmopt_test_plugins"}
    proc = subprocess.Popen([sys.executable, "-m", "mmopt.cli", "run", "--suite", "small", "--problems",
                             "maxmin-assoc-bf", "--solvers", "test-mrt", "--param", "delay=0.4", "--workers", "2",
                             "--db", str(db), "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline and n < 4:
        time.sleep(0.5)
        if db.exists():
            try:
                n = sqlite3.connect(db).execute("SELECT COUNT(*) FROM cells").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
    assert n >= 4, "no cell finished in time"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    kept = sqlite3.connect(db).execute("SELECT COUNT(*), SUM(status = 'ok') FROM cells").fetchone()
    assert proc.returncode == 130, err
    assert 4 <= kept[0] < 50 and kept[0] == kept[1]

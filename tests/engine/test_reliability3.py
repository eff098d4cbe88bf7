"""Reliability, round 3: nothing escapes a cell, no finished cell is lost, one memory limit per cell's tree,
the table never mixes versions, and every bad input is one line, exit 2, nothing written."""
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mmopt.cli import main
from mmopt.registry import add_plugin_modules, get_problem
from proc_util import alive as _alive, pids as _pids, wait_dead as _wait_dead, wait_pids as _wait_pids

MM = "maxmin-assoc-bf"
HOWS = ["setsid", "pgroup", "daemon"]
PY = sys.executable


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    add_plugin_modules(["mmopt_test_plugins"])
    monkeypatch.setenv("MMOPT_TEST_PIDS", str(tmp_path))
    return tmp_path


def one_line_exit_2(capsys, argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert e.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _files(folder: Path) -> dict:
    return {str(f.relative_to(folder)): (f.stat().st_size, f.stat().st_mtime_ns) if f.exists() else None
            for f in folder.rglob("*")}


def _cli(*args, cwd=None, env=None, timeout=120, **kw):
    return subprocess.run([PY, "-m", "mmopt.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout, **kw)


# ---------------------------------------------------------------------------
# 1. processes: nothing escapes a cell
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("ends", ["returns", "timeout"])
def test_no_process_escapes_a_cell(plugins, how, ends):
    from mmopt.runner import run

    seconds = 0.0 if ends == "returns" else 30.0
    s = run([MM], "smoke", ["test-escapes"], db=str(plugins / "r.sqlite"), workers=0, time_limit=1.5, count=1,
            progress=False, params={"test-escapes": {"how": how, "seconds": seconds}})
    assert s.counts == ({"ok": 1} if ends == "returns" else {"timeout": 1})
    pids = _pids(plugins)
    assert len(pids) == 1 and not _wait_dead(pids, 3.0), f"the {how} process outlived its cell"


@pytest.mark.parametrize("how", HOWS)
def test_no_process_escapes_validate(plugins, monkeypatch, how):
    from mmopt.validate import validate

    monkeypatch.setenv("MMOPT_TEST_ESCAPE", how)
    res = validate("mmopt_test_plugins:user_escapes", MM, "smoke", count=1, time_limit=10)
    assert [r["status"] for r in res.rows] == ["ok"]
    pids = _pids(plugins)
    assert len(pids) >= 2 and not _wait_dead(pids, 3.0), f"the {how} process outlived validate"


def test_sandbox_kills_escapees_when_its_caller_is_interrupted(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM raised as it) in the caller: the whole tree, other sessions included, is gone."""
    import mmopt_test_plugins as tp
    from mmopt.sandbox import run_limited

    monkeypatch.setenv("MMOPT_TEST_PIDS", str(tmp_path))

    def body():
        tp.escape("setsid")
        tp.escape("daemon")
        time.sleep(30)
        return {}, {}

    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_limited(body, 20)
    timer.cancel()
    pids = _pids(tmp_path)
    assert len(pids) == 2 and not _wait_dead(pids, 3.0)


def test_memory_limit_covers_the_cells_process_tree(plugins):
    from mmopt.runner import run
    from mmopt.store import Store

    t0 = time.time()
    s = run([MM], "smoke", ["test-tree-hog"], db=str(plugins / "r.sqlite"), workers=0, time_limit=30, count=1,
            progress=False, memory_limit=0.5, params={"test-tree-hog": {"mb": 300, "n": 3}})
    assert s.counts == {"error": 1}
    assert time.time() - t0 < 15
    with Store(plugins / "r.sqlite") as st:
        msg = st.frame()["message"][0]
    assert msg.startswith("memory limit 0.5 GB exceeded"), msg
    pids = _pids(plugins)
    assert pids and not _wait_dead(pids, 3.0)


def test_default_memory_limit_divides_by_the_cores_even_with_workers_0():
    from mmopt.sandbox import default_memory_limit, machine_memory_gb

    n = os.cpu_count() or 1
    assert default_memory_limit(0) == default_memory_limit(None) == max(0.5, round(machine_memory_gb() / n, 1))


@pytest.mark.skipif(not __import__("mmopt.sandbox", fromlist=["x"]).cgroup_available(),
                    reason="no delegated cgroup v2 memory controller here (the subreaper fallback is tested)")
def test_cells_get_a_cgroup_where_the_machine_allows_it(tmp_path, monkeypatch):
    import mmopt_test_plugins as tp
    from mmopt.sandbox import run_limited

    monkeypatch.setenv("MMOPT_TEST_PIDS", str(tmp_path))

    def body():
        with open("/proc/self/cgroup") as f:
            cg = f.read()
        tp.escape("daemon")
        return {}, {"cgroup": cg}

    out = run_limited(body, 10, memory_limit=1.0)
    assert out.status == "ok" and "mmopt-" in out.info["cgroup"]
    assert not _wait_dead(_pids(tmp_path), 3.0)


def test_result_is_bounded_and_unknown_solution_keys_are_dropped(plugins, tmp_path, capsys):
    from mmopt.cell import run_cell
    from mmopt.sandbox import run_limited
    from mmopt.schema import Cell

    out = run_limited(lambda: ({"x": np.ones(1 << 20)}, {}), 10, max_bytes=1 << 20)
    assert out.status == "error" and "larger than" in out.message
    out = run_limited(lambda: ({"x": np.arange(6.0).reshape(2, 3), "c": np.ones(2, complex)}, {"a": 1}), 10)
    assert out.status == "ok" and out.arrays["x"].shape == (2, 3) and out.arrays["c"].dtype == complex
    inst = get_problem(MM).generate("smoke", 0)
    row = run_cell(Cell(problem=MM, solver="test-extra", suite="smoke", index=0, params={"mb": 64},
                        time_limit=30), keep_solution=True)
    assert row.status == "ok" and set(row.solution) == {"assoc", "V"}
    rec = row.record()
    json.loads(rec["stats"], parse_constant=lambda c: pytest.fail(f"{c} stored in JSON"))
    assert json.loads(rec["stats"])["inf"] is None
    row = run_cell(Cell(problem=MM, solver="test-big-stats", suite="smoke", index=0, time_limit=30))
    assert row.status == "ok" and "stats_dropped" in row.stats
    from mmopt.io import write_instance

    write_instance(tmp_path / "i.npz", inst)
    assert _main_code(capsys, ["solve", "--solver", "test-extra", "--instance", tmp_path / "i.npz", "--out",
                               tmp_path / "s.npz"]) == 0
    assert set(np.load(tmp_path / "s.npz").files) == {"assoc", "V", "mmopt_meta"}


def _start_run(tmp_path, db, solvers, extra=()):
    env = {**os.environ, "MMOPT_PLUGINS": "mmopt_test_plugins", "MMOPT_TEST_PIDS": str(tmp_path)}
    return subprocess.Popen([PY, "-m", "mmopt.cli", "run", "--suite", "smoke", "--problems", MM, "--solvers", solvers,
                             "--workers", "0", "--db", str(db), "--quiet", "--count", "1", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_are_handled_like_ctrl_c(tmp_path, sig):
    db = tmp_path / "r.sqlite"
    proc = _start_run(tmp_path, db, "max-gain,test-spawns")
    pids = _wait_pids(tmp_path)
    assert pids, "the solver never started"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines() == [f"terminated by {signal.Signals(sig).name}, 1 finished cells kept"], err
    assert not _wait_dead(pids), "a process started by the cell survived"
    con = sqlite3.connect(db)
    assert con.execute("SELECT solver, status FROM cells").fetchall() == [("max-gain", "ok")]
    assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0, "claims left behind"


# ---------------------------------------------------------------------------
# 2. no finished cell is lost
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_finished_row_is_committed_while_the_next_cell_runs(tmp_path, sig):
    db = tmp_path / "r.sqlite"
    proc = _start_run(tmp_path, db, "max-gain,test-spawns")
    pids = _wait_pids(tmp_path)  # the first cell (max-gain) has finished; the second one runs
    assert pids, "the second cell never started"
    time.sleep(1.0)              # the bound on committing a finished row
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    rows = sqlite3.connect(db).execute("SELECT solver, status FROM cells").fetchall()
    assert rows == [("max-gain", "ok")]
    assert not _wait_dead(pids)


# ---------------------------------------------------------------------------
# 4. the table is right
# ---------------------------------------------------------------------------

def test_table_shows_only_the_current_versions_and_keys(tmp_path, capsys):
    from mmopt.api import params_key
    from mmopt.runner import run
    from mmopt.store import Store, cache_key

    db = tmp_path / "r.sqlite"
    s = run([MM], "smoke", ["max-gain"], db=str(db), workers=0, count=2, progress=False)
    assert s.ran == 2 and len(s.keys) == 2
    with Store(db) as st:
        rows = st.frame().to_dict("records")
        old = dict(rows[0], solver_version=0, gap=0.9,
                   cache_key=cache_key(rows[0]["instance_hash"], "max-gain", 0, rows[0]["params"]))
        stray = dict(rows[1], instance_hash="f" * 64, cache_key="stray", gap=0.9)
        for r in (old, stray):
            st.put({k: (json.loads(v) if k in ("stats", "metrics", "provenance") and v else v) for k, v in r.items()})
    base = ["table", "--db", db, "--format", "csv", "--no-metrics"]
    capsys.readouterr()
    main([str(a) for a in base])
    cur = capsys.readouterr().out.splitlines()
    main([str(a) for a in base + ["--all-versions"]])
    allv = capsys.readouterr().out.splitlines()
    head = cur[0].split(",")
    assert cur[1].split(",")[head.index("cells")] == "2", cur
    assert allv[1].split(",")[head.index("cells")] == "4", allv
    # a run's table shows that run's plan only
    r = _cli("run", "--suite", "smoke", "--problems", MM, "--solvers", "max-gain", "--workers", "0", "--count", "1",
             "--db", db, "--quiet", "--format", "csv", "--param", "inner=socp")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[1].split(",")[head.index("cells")] == "1", r.stdout
    # two parameter sets of one solver are two rows of the table, never one
    capsys.readouterr()
    main([str(a) for a in base])
    out = capsys.readouterr().out
    assert "max-gain [inner=duality]" in out and "max-gain [inner=socp]" in out, out


def test_a_claim_held_by_another_run_is_named_and_the_wait_is_bounded(tmp_path):
    from rich.console import Console

    from mmopt.runner import plan, run
    from mmopt.store import Store

    db = tmp_path / "r.sqlite"
    keys = [c.key for c in plan([MM], "smoke", ["max-gain"], count=2)]
    with Store(db) as st:
        st.claim(keys, "other-run-42")  # this process is alive: the claims are live
    buf = io.StringIO()
    t0 = time.time()
    s = run([MM], "smoke", ["max-gain"], db=str(db), workers=0, count=2, progress=False, claim_wait=1.0,
            console=Console(file=buf, width=200))
    assert time.time() - t0 < 8
    assert s.by_other_run == 2 and s.ran == 0
    text = buf.getvalue()
    assert "other-run-42" in text and f"pid {os.getpid()}" in text and "waiting up to 1 s" in text, text
    assert s.left_to and s.left_to[0].startswith("other-run-42")


# ---------------------------------------------------------------------------
# 3. bounded evaluate, size limits, workers
# ---------------------------------------------------------------------------

def test_evaluate_runs_the_checker_in_a_limited_child(tmp_path, capsys, monkeypatch):
    from mmopt.io import write_instance

    p = get_problem(MM)
    inst = p.generate("smoke", 0)
    write_instance(tmp_path / "i.npz", inst)
    main_code = _main_code(capsys, ["solve", "--solver", "max-gain", "--instance", tmp_path / "i.npz",
                                    "--out", tmp_path / "s.npz"])
    assert main_code == 0
    monkeypatch.setattr(type(p), "metrics", lambda self, instance, solution: time.sleep(30) or {})
    t0 = time.time()
    line = one_line_exit_2(capsys, ["evaluate", "--instance", tmp_path / "i.npz", "--solution", tmp_path / "s.npz",
                                    "--time-limit", "1"])
    assert "longer than 1 s" in line and time.time() - t0 < 8

    def hog(self, instance, solution):
        raise MemoryError()

    monkeypatch.setattr(type(p), "metrics", hog)
    line = one_line_exit_2(capsys, ["evaluate", "--instance", tmp_path / "i.npz", "--solution", tmp_path / "s.npz"])
    assert "memory" in line.lower()


def _main_code(capsys, argv):
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        return e.code or 0
    return 0


PROBLEM_LIMITS = ["maxmin-assoc-bf", "random-beam-config", "sumrate-bs-beam", "highway-sector-beams",
                  "trajectory-assoc"]


@pytest.mark.parametrize("name", PROBLEM_LIMITS)
def test_each_problem_declares_a_size_limit_and_refuses_beyond_it(name):
    from mmopt.api import InputError

    p = get_problem(name)
    assert p.max_instance_elements is not None, f"{name} declares no max_instance_elements"
    inst = p.generate("smoke", 0)
    p.check_instance(inst)  # a shipped suite fits
    p.max_instance_elements, old = sum(v.size for v in inst.values()) - 1, p.max_instance_elements
    try:
        with pytest.raises(InputError, match="limit"):
            p.check_instance(inst)
    finally:
        p.max_instance_elements = old


# ---------------------------------------------------------------------------
# 5. every bad input: one line, exit 2, nothing written
# ---------------------------------------------------------------------------

class _Server:
    """A TCP server on 127.0.0.1 that greets with ``greeting`` (None: accepts and says nothing)."""

    def __init__(self, greeting: bytes | None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.greeting, self.conns = greeting, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.greeting:
                try:
                    c.sendall(self.greeting)
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_bad_run_inputs_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, plugins):
    foreign = _Server(b"SSH-2.0-OpenSSH_9.6\r\n" + bytes(64))
    silent = _Server(None)
    db = tmp_path / "out" / "r.sqlite"
    run = ["run", "--suite", "smoke", "--problems", MM, "--workers", "0", "--quiet", "--count", "1", "--db", db]
    sched = ["run", "--suite", "smoke", "--problems", MM, "--quiet", "--count", "1", "--db", db]
    (tmp_path / "afile").write_text("x")
    before = _files(tmp_path)
    cases = [
        (sched + ["--scheduler", f"tcp://127.0.0.1:{_free_port()}"], "nothing answers"),
        (sched + ["--scheduler", f"127.0.0.1:{foreign.port}"], "not a Dask scheduler"),
        (sched + ["--scheduler", f"tcp://127.0.0.1:{silent.port}"], "not a Dask scheduler"),
        (sched + ["--scheduler", "foo://x"], "expected tcp://"),
        (sched + ["--scheduler", "not an address"], "expected tcp://"),
        (run + ["--solvers", "test-choices", "--param", "test-choices.inner=bogus"], "not one of"),
        (run + ["--solvers", "exhaustive", "--param", "exhaustive.rel_tol=nan"], "finite"),
        (run + ["--solvers", "test-choices", "--param", "rel_tol=inf"], "finite"),
        (run + ["--solvers", "bnb", "--param", "bnb.batch=-5"], ">= 0"),
        (["run", "--suite", "smoke", "--problems", "highway-sector-beams", "--solvers", "random", "--workers", "0",
          "--db", db, "--param", "random.seed=7"], "--seed"),
        (run + ["--solvers", "max-gain", "--seed", "-1"], "--seed"),
        (run + ["--solvers", "max-gain", "--seed", str(2 ** 63)], "--seed"),
        (run + ["--solvers", "max-gain", "--memory-limit", "1e30"], "--memory-limit"),
        (["run", "--suite", "smoke", "--problems", ",", "--workers", "0", "--db", db], "--problems"),
        (run + ["--solvers", ",", "--workers", "0"], "--solvers"),
        (run + ["--solvers", "max-gain", "--workers", "1000"], "cores"),
        (run + ["--solvers", "max-gain", "--claim-wait", "nan"], "--claim-wait"),
        (["validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--workers", "1000"], "cores"),
        (["validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--scheduler", "foo://x"], "tcp://"),
    ]
    try:
        for argv, what in cases:
            t0 = time.time()
            line = one_line_exit_2(capsys, argv)
            assert what in line, (argv, line)
            assert time.time() - t0 < 8, (argv, "took too long")
        for var, value in (("MMOPT_INSTANCE_CACHE", str(tmp_path / "afile")), ("MMOPT_MAX_INPUT_GB", "nan"),
                           ("MMOPT_MAX_INPUT_GB", "inf"), ("MMOPT_MAX_INPUT_GB", "-1")):
            monkeypatch.setenv(var, value)
            assert var in one_line_exit_2(capsys, run + ["--solvers", "max-gain"])
            monkeypatch.delenv(var)
    finally:
        foreign.close()
        silent.close()
    assert _files(tmp_path) == before


def test_click_usage_errors_are_one_line(capsys):
    for argv in (["run", "--bogus"], ["table", "--format", "xml"], ["solve"], ["nosuchcommand"],
                 ["run", "--workers", "many"]):
        line = one_line_exit_2(capsys, argv)
        assert line.startswith("error: "), line


def test_output_paths_are_safe(tmp_path, capsys):
    from mmopt.runner import run

    db = tmp_path / "r.sqlite"
    run([MM], "smoke", ["max-gain"], db=str(db), workers=0, count=1, progress=False)
    target = tmp_path / "target.md"
    target.write_text("precious")
    (tmp_path / "link.md").symlink_to(target)
    (tmp_path / "inst.npz").write_bytes(b"an instance")
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / f"{MM}_smoke_0000.npz").write_bytes(b"mine")
    before = _files(tmp_path)
    for argv in (["table", "--db", db, "--out", tmp_path / "link.md"],
                 ["table", "--db", db, "--out", tmp_path / "inst.npz"],
                 ["table", "--db", db, "--format", "csv", "--out", tmp_path / "t.md"],
                 ["export", "--db", db, "--out", tmp_path / "adir"],
                 ["export", "--db", db, "--out", tmp_path / "adir.csv" / "x.csv"],
                 ["export", "--db", db, "--out", tmp_path / "missing" / "x.csv"],
                 ["export", "--db", db, "--out", tmp_path / "x.npz"],
                 ["generate", "--problem", MM, "--suite", "smoke", "--count", "1", "--out", tmp_path / "g"],
                 ["generate", "--problem", MM, "--suite", "smoke", "--count", "1", "--out", tmp_path / "afile" / "sub"],
                 ["reproduce", "--db", db, "--out", tmp_path / "inst.npz"]):
        one_line_exit_2(capsys, argv)
    assert _files(tmp_path) == before
    # with --force: the link itself is replaced, never its target
    assert _main_code(capsys, ["table", "--db", db, "--out", tmp_path / "link.md", "--force"]) == 0
    assert target.read_text() == "precious" and not (tmp_path / "link.md").is_symlink()
    assert _main_code(capsys, ["generate", "--problem", MM, "--suite", "smoke", "--count", "1", "--out",
                               tmp_path / "g", "--force"]) == 0
    assert (tmp_path / "g" / f"{MM}_smoke_0000.npz").read_bytes() != b"mine"
    assert not [f for f in tmp_path.rglob("*") if ".tmp" in f.name]


def test_a_file_size_limit_is_one_line_and_leaves_no_temporary_file(tmp_path):
    from mmopt.runner import run

    from mmopt.schema import Row
    from mmopt.store import Store

    db = tmp_path / "r.sqlite"
    with Store(db) as st:  # about 300 kB of CSV
        for i in range(300):
            st.put(Row(cache_key=f"k{i}", problem=MM, suite="smoke", solver="x", status="ok", message="m" * 900),
                   commit=False)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000)); "
            "from mmopt.cli import main; main(sys.argv[1:])")
    out = tmp_path / "o"
    out.mkdir()
    r = subprocess.run([PY, "-c", code, "export", "--db", str(db), "--out", str(out / "x.csv")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot be written" in r.stderr, r.stderr
    assert list(out.iterdir()) == []


def test_reading_commands_open_the_store_read_only(tmp_path, capsys):
    old = tmp_path / "old.sqlite"
    con = sqlite3.connect(old)
    con.execute("CREATE TABLE cells (cache_key TEXT PRIMARY KEY, problem TEXT, suite TEXT, solver TEXT, "
                "params TEXT, status TEXT, objective REAL)")
    con.execute("INSERT INTO cells VALUES ('k', 'maxmin-assoc-bf', 'smoke', 'x', '{}', 'ok', 1.0)")
    con.commit()
    con.close()
    raw = old.read_bytes()
    assert _main_code(capsys, ["table", "--db", old, "--all-versions"]) == 0
    assert _main_code(capsys, ["export", "--db", old, "--out", tmp_path / "e.csv"]) == 0
    assert old.read_bytes() == raw and sorted(f.name for f in tmp_path.iterdir()) == ["e.csv", "old.sqlite"]
    locker = sqlite3.connect(old, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.time()
        line = one_line_exit_2(capsys, ["table", "--db", old])
        assert "locked" in line and "corrupt" not in line and time.time() - t0 < 8, line
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_a_zip_with_two_members_of_one_name_is_refused(tmp_path, capsys):
    from mmopt.io import save_arrays

    inst = get_problem(MM).generate("smoke", 0)
    save_arrays(tmp_path / "ok.npz", inst, {**inst.meta, "kind": "instance"})
    with zipfile.ZipFile(tmp_path / "ok.npz") as z, zipfile.ZipFile(tmp_path / "dup.npz", "w") as d:
        for info in z.infolist():
            d.writestr(info, z.read(info))
        with pytest.warns(UserWarning):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.zeros_like(inst["P"]))
            d.writestr("P.npy", buf.getvalue())
    line = one_line_exit_2(capsys, ["solve", "--solver", "max-gain", "--instance", tmp_path / "dup.npz",
                                    "--out", tmp_path / "s.npz"])
    assert "two members named 'P.npy'" in line


# -- plugins ------------------------------------------------------------------------

SOLVER_SRC = '''
import numpy as np
from mmopt import solver

@solver("{name}", problems=["maxmin-assoc-bf"], kind="baseline")
def fn(instance):
    H = instance["H"]
    K = H.shape[0]
    assoc = np.linalg.norm(H, axis=2).argmax(1).astype(np.int64)
    V = H[np.arange(K), assoc].copy()
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    counts = np.bincount(assoc, minlength=H.shape[1])
    V *= np.sqrt(instance["P"][assoc] / counts[assoc])[:, None]
    return {{"assoc": assoc, "V": V}}, {{}}
'''


def _clean_env():
    return {k: v for k, v in os.environ.items() if k not in ("MMOPT_PLUGINS", "MMOPT_PLUGIN_FILES")}


BASE = ["run", "--suite", "smoke", "--problems", MM, "--count", "1", "--quiet", "--format", "csv"]


def test_plugin_path_with_spaces_and_a_plugin_that_prints(tmp_path):
    spaced = tmp_path / "my plugins, too"
    spaced.mkdir()
    (spaced / "spaced_solver.py").write_text(SOLVER_SRC.format(name="spaced"))
    (tmp_path / "chatty.py").write_text("print('hello from a plugin')\n" + SOLVER_SRC.format(name="chatty"))
    r = _cli(*BASE, "--workers", "0", "--db", "a.sqlite", "--plugin", spaced / "spaced_solver.py", "--solvers",
             "spaced", cwd=tmp_path, env=_clean_env())
    assert r.returncode == 0 and "1 run (ok 1)" in r.stderr, r.stderr
    r = _cli(*BASE, "--workers", "0", "--db", "c.sqlite", "--plugin", "chatty.py", "--solvers", "chatty",
             cwd=tmp_path, env=_clean_env())
    assert r.returncode == 0, r.stderr
    assert "hello" not in r.stdout and r.stdout.startswith("problem,suite,solver"), r.stdout


def test_plugin_named_like_a_standard_module_or_exiting_is_one_line(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "json.py").write_text(SOLVER_SRC.format(name="shadow"))
    (tmp_path / "exits.py").write_text("import os\nos._exit(0)\n")
    for plugin, what in (("sub/json.py", "standard library"), ("exits.py", "exited with code 0")):
        r = _cli(*BASE, "--workers", "0", "--db", "b.sqlite", "--plugin", plugin, "--solvers", "max-gain",
                 cwd=tmp_path, env=_clean_env())
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and what in r.stderr, r.stderr
        assert not (tmp_path / "b.sqlite").exists()


@pytest.mark.parametrize("workers", ["0", "1"])
def test_plugin_package_registers_once(tmp_path, workers):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SOLVER_SRC.format(name="from-pkg"))
    r = _cli(*BASE, "--workers", workers, "--db", "d.sqlite", "--plugin", "mypkg", "--solvers", "from-pkg",
             cwd=tmp_path, env=_clean_env(), timeout=180)
    assert r.returncode == 0 and "1 run (ok 1)" in r.stderr, r.stderr


def test_a_failed_plugin_import_leaves_nothing_half_loaded(tmp_path):
    from mmopt.api import MmoptError
    from mmopt.registry import import_plugin

    bad = tmp_path / "half_loaded_plugin.py"
    bad.write_text("X = 1\nraise RuntimeError('broken at import')\n")
    for _ in range(2):  # the second call fails again: nothing half-loaded is served
        with pytest.raises(MmoptError, match="broken at import"):
            import_plugin(str(bad))
        assert "half_loaded_plugin" not in sys.modules
    for name in ("numpy", "json"):  # a missing file named like an installed module is not that module
        with pytest.raises(MmoptError, match="no such file"):
            import_plugin(str(tmp_path / "gone" / f"{name}.py"))


def test_a_plugin_package_is_imported_as_the_package(tmp_path, monkeypatch):
    from mmopt import registry

    pkg = tmp_path / "pkg_plugin_r3"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SOLVER_SRC.format(name="pkg-r3"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(registry.PLUGIN_FILES_ENV, "")
    files = registry.add_plugin_modules(["pkg_plugin_r3"])
    assert files == [(pkg / "__init__.py").resolve()]
    entry = os.environ[registry.PLUGIN_FILES_ENV]
    assert entry == str(pkg.resolve())
    mod = registry.import_plugin(entry)
    assert mod is sys.modules["pkg_plugin_r3"] and "__init__" not in sys.modules
    assert registry.import_plugin(str(pkg / "__init__.py")) is mod


# ---------------------------------------------------------------------------
# an external Dask scheduler: the driver killed, the scheduler lost
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_external_scheduler_driver_killed_and_scheduler_lost(tmp_path):
    port = _free_port()
    env = {**_clean_env(), "MMOPT_PLUGINS": "mmopt_test_plugins", "MMOPT_TEST_PIDS": str(tmp_path)}
    procs = [subprocess.Popen([PY, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        t = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < t, "the scheduler never started"
                time.sleep(0.1)
        procs.append(subprocess.Popen([PY, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}",
                                       "--nthreads", "1", "--no-dashboard", "--no-nanny", "--local-directory",
                                       str(tmp_path / "w")], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))

        def driver(db):
            return subprocess.Popen([PY, "-m", "mmopt.cli", "run", "--suite", "smoke", "--problems", MM, "--solvers",
                                     "test-spawns", "--scheduler", f"tcp://127.0.0.1:{port}", "--db", str(db),
                                     "--quiet", "--count", "1"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)

        # the driver is killed: its running cell is cancelled, with what it started
        d = driver(tmp_path / "a.sqlite")
        pids = _wait_pids(tmp_path, 1, 60)
        assert pids, "the cell never started"
        d.kill()
        d.communicate()
        assert not _wait_dead(pids, 10), "the cell outlived its driver"
        # the scheduler is lost: the cell is `lost` (retried next time), the run exits non-zero, one error line
        d = driver(tmp_path / "b.sqlite")
        pids = _wait_pids(tmp_path, 2, 60)
        assert len(pids) == 2
        procs[0].kill()
        out, err = d.communicate(timeout=120)
        assert d.returncode == 1, err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: 1 cells lost"), err
        rows = sqlite3.connect(tmp_path / "b.sqlite").execute("SELECT status FROM cells").fetchall()
        assert rows == [("lost",)]
        assert not _wait_dead(pids, 10)
        from mmopt.store import Store

        with Store(tmp_path / "b.sqlite") as st:
            assert st.failed([r[0] for r in st.con.execute("SELECT cache_key FROM cells")])  # retried next time
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _child_cpu_ticks(pid: int) -> dict:
    """CPU clock ticks (user + system) of each child process of ``pid``, from /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parts = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(parts[1]) == pid:
                out[int(d)] = int(parts[11]) + int(parts[12])
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("memory_limit", [None, 1.0])
def test_the_supervisor_sleeps_while_the_cell_runs(memory_limit):
    """The supervising process waits in select(): over a sleeping cell it uses a small share of a core,
    with or without a memory limit (without one it once spun at 100 %)."""
    from mmopt.sandbox import run_limited

    def body():
        time.sleep(1.5)
        return {}, {}

    seen = []
    probe = threading.Thread(target=lambda: (time.sleep(1.2), seen.append(_child_cpu_ticks(os.getpid()))))
    probe.start()
    out = run_limited(body, 30, memory_limit=memory_limit)
    probe.join()
    assert out.status == "ok" and seen and seen[0], seen
    ticks = max(seen[0].values())
    assert ticks < 0.3 * os.sysconf("SC_CLK_TCK"), f"the supervisor used {ticks} ticks in 1.2 s"

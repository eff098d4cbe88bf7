"""Reliability: malformed inputs are one-line errors that write nothing; no process outlives its cell;
the store refuses what is not an mmopt store, retries failures and is shared safely by concurrent runs."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mmopt.cli import main
from mmopt.io import save_arrays, write_instance
from mmopt.registry import get_problem, solvers_for
from proc_util import alive as _alive, pids as _pids, wait_dead as _wait_dead

PROBLEMS = ["maxmin-assoc-bf", "trajectory-assoc", "highway-sector-beams"]
MM = "maxmin-assoc-bf"


def _shared(p, key):
    """Whether a dimension symbol of ``key`` also appears in another key (so changing it is detectable)."""
    out = []
    for i, sym in enumerate(key.shape):
        if isinstance(sym, int) or any(sym in k.shape for k in p.instance_keys if k is not key and k.required):
            out.append(i)
    return out


def malformed_instances():
    """(id, problem, arrays, meta): each key x {missing, wrong dtype, wrong rank, wrong length, NaN, inf, empty}."""
    cases = []
    for name in PROBLEMS:
        p = get_problem(name)
        inst = p.generate("smoke", 0)
        meta = {**inst.meta, "kind": "instance"}
        for k in p.instance_keys:
            if k.name not in inst:
                continue
            a = inst[k.name]
            muts = {}
            if k.required:
                muts["missing"] = None
            muts["dtype"] = (a.real if a.dtype.kind == "c" else a).astype(np.float32 if a.dtype != np.float32 else np.float64)
            muts["rank"] = a[..., None]
            axes = _shared(p, k)
            if axes and a.shape[axes[0]] > 1:
                muts["length"] = np.take(a, range(a.shape[axes[0]] - 1), axis=axes[0])
            if a.dtype.kind in "fc" and k.finite:
                muts["nan"] = a.copy().reshape(-1)
                muts["nan"][0] = np.nan
                muts["nan"] = muts["nan"].reshape(a.shape)
                muts["inf"] = a.copy().reshape(-1)
                muts["inf"][-1] = np.inf
                muts["inf"] = muts["inf"].reshape(a.shape)
            if a.ndim and k.required:
                muts["empty"] = np.take(a, [], axis=0)
            elif not a.ndim:
                muts["empty"] = np.zeros(0, a.dtype)
            for m, v in muts.items():
                arrays = {kk: vv for kk, vv in inst.items() if kk != k.name}
                if v is not None:
                    arrays[k.name] = v
                cases.append((f"{name}-{k.name}-{m}", name, arrays, meta))
    return cases


CASES = malformed_instances()


def _files(folder: Path) -> dict:
    return {str(f.relative_to(folder)): (f.stat().st_size, f.stat().st_mtime_ns) for f in folder.rglob("*")}


def one_line_exit_2(capsys, argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert e.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_enough_distinct_malformed_instances():
    assert len({c[0] for c in CASES}) >= 60
    assert {c[1] for c in CASES} == set(PROBLEMS)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_instance_is_one_line(case, tmp_path, capsys):
    _, name, arrays, meta = case
    save_arrays(tmp_path / "bad.npz", arrays, meta)
    solver = solvers_for(name)[0].name
    before = _files(tmp_path)
    line = one_line_exit_2(capsys, ["solve", "--solver", solver, "--instance", tmp_path / "bad.npz",
                                    "--out", tmp_path / "s.npz"])
    assert line.startswith("error: ")
    assert _files(tmp_path) == before


@pytest.fixture
def inst_file(tmp_path):
    inst = get_problem(MM).generate("smoke", 0)
    return write_instance(tmp_path / "inst.npz", inst), inst


def _file_cases(tmp_path, inst):
    meta = {**inst.meta, "kind": "instance"}
    good = tmp_path / "inst.npz"
    out = {}
    # corrupt deflate data
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("H.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 8
    raw[start:start + 64] = bytes(64)
    (tmp_path / "deflate.npz").write_bytes(bytes(raw))
    out["deflate"] = "deflate.npz"
    for tag, m in (("meta-list", [1, 2]), ("meta-number", 3)):
        np.savez(tmp_path / f"{tag}.npz", **inst, mmopt_meta=np.array(json.dumps(m)))
        out[tag] = f"{tag}.npz"
    with zipfile.ZipFile(tmp_path / "meta-raw.npz", "w") as z:
        for k, v in inst.items():
            with z.open(f"{k}.npy", "w") as f:
                np.lib.format.write_array(f, v)
        z.writestr("mmopt_meta", json.dumps(meta))
    out["meta-raw"] = "meta-raw.npz"
    save_arrays(tmp_path / "problem-list.npz", inst, {**meta, "problem": [MM]})
    out["problem-list"] = "problem-list.npz"
    save_arrays(tmp_path / "evil-suite.npz", inst, {**meta, "suite": "../../evil"})
    out["evil-suite"] = "evil-suite.npz"
    # a header declaring 64 GiB (the data is not there)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        for k, v in inst.items():
            with z.open(f"{k}.npy", "w") as f:
                if k == "H":
                    np.lib.format.write_array_header_1_0(f, {"descr": "<c16", "fortran_order": False,
                                                             "shape": (1 << 20, 64, 64)})
                else:
                    np.lib.format.write_array(f, v)
        z.writestr("mmopt_meta.npy", b"")
    out["huge"] = "huge.npz"
    # 4 MiB of compressed zeros declaring 4 GiB
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("H.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<c16", "fortran_order": False, "shape": (1 << 28,)})
            chunk = bytes(1 << 24)
            for _ in range(4):
                f.write(chunk)
    out["bomb"] = "bomb.npz"
    import scipy.io
    import scipy.sparse

    scipy.io.savemat(tmp_path / "sparse.mat", {**{k: v for k, v in inst.items()}, "P": scipy.sparse.csr_matrix(
        inst["P"].reshape(1, -1)), "mmopt_meta": json.dumps(meta)})
    out["sparse-mat"] = "sparse.mat"
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
    out["garbage"] = "garbage.npz"
    (tmp_path / "garbage.mat").write_bytes(os.urandom(300))
    out["garbage-mat"] = "garbage.mat"
    return out


def test_malformed_files_are_one_line(tmp_path, inst_file, capsys):
    _, inst = inst_file
    cases = _file_cases(tmp_path, inst)
    before = _files(tmp_path)
    t0 = time.perf_counter()
    for tag, f in cases.items():
        line = one_line_exit_2(capsys, ["solve", "--solver", "max-gain", "--problem", MM, "--instance",
                                        tmp_path / f, "--out", tmp_path / "s.npz"])
        assert line.startswith("error: "), tag
        line = one_line_exit_2(capsys, ["evaluate", "--problem", MM, "--instance", tmp_path / "inst.npz",
                                        "--solution", tmp_path / f])
    assert "limit" in one_line_exit_2(capsys, ["solve", "--solver", "max-gain", "--instance", tmp_path / "bomb.npz",
                                               "--problem", MM, "--out", tmp_path / "s.npz"])
    assert "not a suite" in one_line_exit_2(capsys, ["solve", "--solver", "max-gain", "--instance",
                                                     tmp_path / "evil-suite.npz", "--out", tmp_path / "s.npz"])
    assert time.perf_counter() - t0 < 20
    assert _files(tmp_path) == before


def test_bad_arguments_are_one_line(tmp_path, inst_file, capsys):
    path, inst = inst_file
    (tmp_path / "adir.npz").mkdir()
    sol = tmp_path / "sol.npz"
    assert main_ok(["solve", "--solver", "max-gain", "--instance", path, "--out", sol], capsys) == 0
    # 4x over budget: infeasible at any tolerance >= 0; nan and -1 are refused
    from mmopt.io import load_arrays

    a, m = load_arrays(sol)
    save_arrays(tmp_path / "over.npz", {**a, "V": 2 * a["V"]}, m)
    before = _files(tmp_path)
    bad = [
        ["evaluate", "--instance", path, "--solution", tmp_path / "over.npz", "--tol", "nan"],
        ["evaluate", "--instance", path, "--solution", sol, "--tol", "-1"],
        ["evaluate", "--instance", path, "--solution", sol, "--tol", "inf"],
        ["generate", "--problem", MM, "--suite", "smoke", "--out", tmp_path / "g", "--count", "-3"],
        ["run", "--problems", MM, "--suite", "smoke", "--count", "-3", "--db", tmp_path / "r.sqlite"],
        ["run", "--problems", MM, "--suite", "smoke", "--time-limit", "nan", "--db", tmp_path / "r.sqlite"],
        ["run", "--problems", MM, "--suite", "smoke", "--time-limit", "0", "--db", tmp_path / "r.sqlite"],
        ["run", "--problems", MM, "--suite", "smoke", "--memory-limit", "-1", "--db", tmp_path / "r.sqlite"],
        ["validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--time-limit", "0"],
        ["validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--time-limit", "nan"],
        ["validate", "mmopt_test_plugins:user_feasible", "--problem", MM, "--count", "-3"],
        ["solve", "--solver", "max-gain", "--instance", path, "--out", sol, "--time-limit", "-1"],
        ["solve", "--solver", "max-gain", "--instance", path, "--out", sol, "--time-limit", "nan"],
        ["solve", "--solver", "max-gain", "--instance", path, "--out", path],
        ["solve", "--solver", "max-gain", "--instance", path, "--out", tmp_path / "adir.npz"],
        ["solve", "--solver", "max-gain", "--instance", path, "--out", sol / "x.npz"],
    ]
    for argv in bad:
        one_line_exit_2(capsys, argv)
    assert _files(tmp_path) == before


def main_ok(argv, capsys):
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
    except SystemExit as e:
        return e.code
    return 0


def test_validate_import_failure_and_prints(tmp_path, capsys, monkeypatch):
    (tmp_path / "exits3.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "hangs.py").write_text("import time\ntime.sleep(60)\ndef f(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    assert "SystemExit" in one_line_exit_2(capsys, ["validate", f"{tmp_path / 'exits3.py'}:f", "--problem", MM])
    t0 = time.perf_counter()
    one_line_exit_2(capsys, ["validate", f"{tmp_path / 'hangs.py'}:f", "--problem", MM, "--time-limit", "1"])
    assert time.perf_counter() - t0 < 10
    code = main_ok(["validate", "mmopt_test_plugins:user_prints", "--problem", MM, "--count", "2", "--json"], capsys)
    out = capsys.readouterr()
    assert code == 0
    for line in out.out.splitlines():  # nothing but JSON on stdout
        json.loads(line)


def test_umask_is_honoured(tmp_path, inst_file):
    old = os.umask(0o022)
    try:
        path = write_instance(tmp_path / "u.npz", inst_file[1])
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------

def test_store_refuses_what_is_not_an_mmopt_store(tmp_path, capsys):
    (tmp_path / "text.sqlite").write_text("hello, not a database\n" * 10)
    (tmp_path / "dir.sqlite").mkdir()
    con = sqlite3.connect(tmp_path / "foreign.sqlite")
    con.execute("CREATE TABLE cells (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO cells VALUES (1, 'x')")
    con.commit()
    con.close()
    good = tmp_path / "good.sqlite"
    from mmopt.store import Store

    Store(good).close()
    raw = bytearray(good.read_bytes())
    raw[100:4096] = os.urandom(3996)
    (tmp_path / "corrupt.sqlite").write_bytes(bytes(raw))
    before = {f: (tmp_path / f).read_bytes() for f in ("text.sqlite", "foreign.sqlite", "corrupt.sqlite")}
    for name, what in (("text.sqlite", "not a SQLite file"), ("dir.sqlite", "directory"),
                       ("foreign.sqlite", "not an mmopt results table"), ("corrupt.sqlite", "")):
        line = one_line_exit_2(capsys, ["run", "--problems", MM, "--suite", "smoke", "--solvers", "max-gain",
                                        "--count", "1", "--workers", "0", "--quiet", "--db", tmp_path / name])
        assert name in line and what in line
        if name != "dir.sqlite":
            assert one_line_exit_2(capsys, ["table", "--db", tmp_path / name])
    for f, b in before.items():
        assert (tmp_path / f).read_bytes() == b, f


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------


def test_timeout_kills_what_the_solver_started(tmp_path, monkeypatch):
    from mmopt.registry import add_plugin_modules
    from mmopt.runner import run

    add_plugin_modules(["mmopt_test_plugins"])
    monkeypatch.setenv("MMOPT_TEST_PIDS", str(tmp_path))
    s = run([MM], "smoke", ["test-spawns"], db=str(tmp_path / "r.sqlite"), workers=0, time_limit=1.0, count=2,
            progress=False)
    assert s.counts == {"timeout": 2}
    pids = _pids(tmp_path)
    assert len(pids) == 2 and not _wait_dead(pids)


def test_memory_limit_is_an_error_and_the_run_goes_on(tmp_path):
    from mmopt.registry import add_plugin_modules
    from mmopt.runner import run
    from mmopt.store import Store

    add_plugin_modules(["mmopt_test_plugins"])
    s = run([MM], "smoke", ["test-hog", "max-gain"], db=str(tmp_path / "r.sqlite"), workers=0, time_limit=30,
            count=1, progress=False, memory_limit=1.0)
    assert s.counts == {"error": 1, "ok": 1}
    with Store(tmp_path / "r.sqlite") as st:
        df = st.frame()
    assert df.set_index("solver").loc["test-hog", "message"] == "memory limit 1 GB exceeded"


def _start_run(tmp_path, db, solver="test-spawns", extra=()):
    env = {**os.environ, "MMOPT_PLUGINS": "mmopt_test_plugins", "MMOPT_TEST_PIDS": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "mmopt.cli", "run", "--suite", "smoke", "--problems", MM,
                             "--solvers", solver, "--workers", "0", "--db", str(db), "--quiet", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_pids(tmp_path, n=1, seconds=30):
    t = time.time() + seconds
    while time.time() < t and len(_pids(tmp_path)) < n:
        time.sleep(0.1)
    return _pids(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_or_kill_of_the_run_leaves_no_process(tmp_path, sig):
    proc = _start_run(tmp_path, tmp_path / "r.sqlite")
    pids = _wait_pids(tmp_path)
    assert pids, "the solver never started"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert not _wait_dead(pids), "a process started by the cell survived"
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert err.strip().splitlines() == ["interrupted, 0 finished cells kept"], err
    # the store opens and the run resumes after a kill
    r = subprocess.run([sys.executable, "-m", "mmopt.cli", "run", "--suite", "smoke", "--problems", MM, "--solvers",
                        "max-gain", "--workers", "0", "--db", str(tmp_path / "r.sqlite"), "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "5 run" in r.stderr


def test_concurrent_runs_never_compute_a_cell_twice(tmp_path):
    db = tmp_path / "r.sqlite"
    extra = ("--param", "delay=0.3")
    a = _start_run(tmp_path, db, "test-mrt", extra)
    time.sleep(0.3)
    b = _start_run(tmp_path, db, "test-mrt", extra)
    (_, ea), (_, eb) = a.communicate(timeout=120), b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, ea + eb
    rows = sqlite3.connect(db).execute("SELECT run_id, status FROM cells").fetchall()
    assert len(rows) == 5 and all(s == "ok" for _, s in rows)
    ran_a = int(ea.split(" run (")[0].split(", ")[-1])
    ran_b = int(eb.split(" run (")[0].split(", ")[-1])
    assert ran_a + ran_b == 5, ea + eb
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def test_maxmin_objective_in_blocks_equals_the_direct_sum(monkeypatch):
    import importlib

    pm = importlib.import_module("mmopt.problems.maxmin_assoc_bf.problem")
    rng = np.random.default_rng(1)
    K, L, M = 30, 3, 4
    H = rng.normal(size=(K, L, M)) + 1j * rng.normal(size=(K, L, M))
    V = rng.normal(size=(K, M)) + 1j * rng.normal(size=(K, M))
    assoc, noise = rng.integers(0, L, K), rng.uniform(0.5, 1.5, K)
    direct = pm.sinr(H, noise, assoc, V)
    monkeypatch.setattr(pm, "SINR_BLOCK_ELEMENTS", 64)   # forces the blocked path with many blocks
    blocked = pm.sinr(H, noise, assoc, V)
    # hand check of user 0: |h_{0,a_0}^H v_0|^2 / (sum_{i!=0} |h_{0,a_i}^H v_i|^2 + noise_0)
    amp = np.array([abs(H[0, assoc[i]].conj() @ V[i]) ** 2 for i in range(K)])
    assert direct[0] == pytest.approx(amp[0] / (amp[1:].sum() + noise[0]), rel=1e-12)
    assert np.allclose(blocked, direct, rtol=1e-12)


def test_exhaustive_declines_oversized_instances():
    from mmopt.registry import get_solver

    s = get_solver("exhaustive", MM)
    small = {"H": np.zeros((6, 4, 16), complex)}
    big = {"H": np.zeros((11, 4, 16), complex)}
    assert s.applies(small) is None
    assert "exceed" in s.applies(big)


def test_local_cluster_listens_on_localhost_only_without_dashboard():
    from mmopt.runner import make_client

    c = make_client(workers=1)
    try:
        sched = c.cluster.scheduler
        assert c.scheduler.address.startswith("tcp://127.0.0.1:")
        socks = list(sched.http_server._sockets.values()) if sched.http_server is not None else []
        assert all(s.getsockname()[0] == "127.0.0.1" for s in socks)
    finally:
        cluster = c.cluster
        c.close()
        cluster.close()

"""The solver contract and the one data path: identity, applies/skipped, optional dependencies,
learned weights, the message-passing runtime, manifests, plugins on workers, plots from the store."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmopt import api
from mmopt.api import MmoptError
from mmopt.distributed import Network
from mmopt.registry import add_plugin_modules, get_problem, get_solver, problems
from mmopt.references import load_manifest
from mmopt.report import summarise
from mmopt.runner import plan, run
from mmopt.store import Store


@pytest.fixture(scope="module", autouse=True)
def plugins():
    add_plugin_modules(["mmopt_test_v2_plugins"])


def test_same_name_serves_two_problems_and_duplicates_are_errors():
    def f(instance):
        return {}, {}

    def g(instance):
        return {}, {}

    f.__module__, g.__module__ = "pkg_a", "pkg_b"
    api.solver("test-twin", problems=["maxmin-assoc-bf"], kind="baseline")(f)
    api.solver("test-twin", problems=["trajectory-assoc"], kind="baseline")(g)
    assert get_solver("test-twin", "maxmin-assoc-bf").fn is f
    assert get_solver("test-twin", "trajectory-assoc").fn is g
    with pytest.raises(MmoptError, match="serves several problems"):
        get_solver("test-twin")
    with pytest.raises(MmoptError, match="registered twice: by pkg_a and by pkg_b"):
        api.solver("test-twin", problems=["maxmin-assoc-bf"], kind="baseline")(g)
    for p in ("maxmin-assoc-bf", "trajectory-assoc"):
        del api.SOLVERS[(p, "test-twin")]


def test_declined_cells_are_skipped_and_counted_apart(tmp_path):
    db = str(tmp_path / "r.sqlite")
    s = run(["maxmin-assoc-bf"], "smoke", ["test-declines", "test-mrt"], db=db, workers=0, count=4, progress=False)
    assert s.counts == {"ok": 6, "skipped": 2}
    with Store(db) as st:
        df = st.frame()
    sk = df[df.status == "skipped"]
    assert set(sk.instance) == {"smoke/0001", "smoke/0003"} and set(sk.message) == {"odd instances are declined"}
    t = summarise(df).set_index("solver")
    assert t.loc["test-declines", "skipped"] == 2 and t.loc["test-mrt", "skipped"] == 0
    # skipped cells are not averaged: the two scored cells alone make the mean
    ok = df[(df.solver == "test-declines") & (df.status == "ok")]
    assert t.loc["test-declines", "mean gap"] == pytest.approx(ok.gap.mean())
    assert t.loc["test-declines", "feasible"] == 1.0


def test_unavailable_solvers_are_listed_and_left_out():
    s = get_solver("test-unavailable", "maxmin-assoc-bf")
    assert not s.available and "mmopt_no_such_module" in s.unavailable_reason()
    left = []
    cells = plan(["maxmin-assoc-bf"], "smoke", None, count=1, unavailable=left)
    assert "test-unavailable" not in {c.solver for c in cells}
    assert any("test-unavailable" in u for u in left)
    with pytest.raises(MmoptError, match="unavailable"):
        plan(["maxmin-assoc-bf"], "smoke", ["test-unavailable"], count=1)
    out = subprocess.run([sys.executable, "-m", "mmopt.cli", "list"], capture_output=True, text=True,
                         env={**os.environ, "MMOPT_PLUGINS": "mmopt_test_v2_plugins"})
    line = [x for x in out.stdout.splitlines() if "test-unavailable" in x][0]
    assert "UNAVAILABLE" in line and 'pip install "mmopt[mmopt_no_such_module]"' in line


def test_a_plugin_module_missing_an_optional_dependency_does_not_break_loading(monkeypatch):
    from mmopt import registry

    def fake_import(name):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(registry.importlib, "import_module", fake_import)
    registry._import_optional("mmopt.problems.some_problem.solvers.some_model")
    assert "torch" in registry.UNAVAILABLE.pop("mmopt.problems.some_problem.solvers.some_model")


def test_learned_training_writes_weights_and_a_sidecar(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from mmopt.learned import file_sha256, load_weights, read_sidecar, train_solver

    monkeypatch.setenv("MMOPT_WEIGHTS_DIR", str(tmp_path))
    s = get_solver("test-linear", "maxmin-assoc-bf")
    path, side = train_solver(s, epochs=20, seed=3, progress=False)
    assert path == tmp_path / "test_linear.pt"
    for k in ("train_suite", "train_size", "seed", "epochs", "wall_seconds", "train_loss", "val_loss", "mmopt",
              "torch", "sha256"):
        assert k in side, k
    assert side["sha256"] == file_sha256(path) and side["seed"] == 3
    assert side["losses"][-1] < side["losses"][0]
    assert float(load_weights(path)["w"][0]) > 0
    # same seed, same machine: the same weights
    train_solver(s, epochs=20, seed=3, out=tmp_path / "again.pt", progress=False)
    assert file_sha256(tmp_path / "again.pt") == side["sha256"]
    # the weights' hash is in the cell's cache key
    key1 = plan(["maxmin-assoc-bf"], "smoke", ["test-linear"], count=1)[0].key
    train_solver(s, epochs=5, seed=3, progress=False)
    key2 = plan(["maxmin-assoc-bf"], "smoke", ["test-linear"], count=1)[0].key
    assert key1 != key2
    # a learned cell reports set-up apart from inference; the table has the inference column
    db = str(tmp_path / "r.sqlite")
    run(["maxmin-assoc-bf"], "smoke", ["test-linear"], db=db, workers=0, count=2, progress=False)
    with Store(db) as st:
        df = st.frame()
    stats = json.loads(df.stats.iloc[0])
    assert stats["weights_sha256"] == file_sha256(path) and stats["setup_seconds"] >= 0
    assert "median inference seconds" in summarise(df).columns
    # a corrupted weights file is refused against its sidecar
    path.write_bytes(path.read_bytes()[:-4] + b"0000")
    with pytest.raises(MmoptError, match="sha256 differs"):
        load_weights(path)
    assert read_sidecar(path)["sha256"] != file_sha256(path)


def test_message_passing_runtime_counts_rounds_messages_and_payload():
    net = Network(range(3))
    net.send(0, 1, np.ones(4))
    net.send(2, 1, 1.0 + 2.0j)
    net.broadcast(1, [0, 2], np.zeros((2, 3), dtype=complex))
    inbox = net.next_round()
    assert [s for s, _ in inbox[1]] == [0, 2] and len(inbox[0]) == 1 and len(inbox[2]) == 1
    assert net.next_round() == {0: [], 1: [], 2: []}
    assert net.stats() == {"rounds": 2, "messages": 4, "payload_floats": 4 + 2 + 12 + 12}
    with pytest.raises(KeyError):
        net.send(0, 7, 1.0)


def test_macol_counts_its_context_exchange():
    p = get_problem("highway-sector-beams")
    inst = p.generate("smoke", 0)
    sol, st = get_solver("macol", p.name).solve(inst.readonly(), explore_s=30.0)
    assert st["rounds"] == st["decisions"] > 0
    assert st["messages"] == st["payload_floats"] > 0


def test_manifests_match_generation():
    for name, p in problems().items():
        for suite in ("smoke", "small"):
            man = load_manifest(name, suite)
            if man is None:
                continue
            assert len(man) == p.suite(suite).count
            assert all(p.generate(suite, i).hash == man[i] for i in range(min(3, len(man)))), (name, suite)


def test_a_cached_rerun_generates_nothing(tmp_path, monkeypatch):
    db = str(tmp_path / "r.sqlite")
    p = get_problem("trajectory-assoc")
    s1 = run([p.name], "smoke", ["greedy", "dp"], db=db, workers=0, progress=False)
    assert s1.ran == 16 and s1.counts == {"ok": 16}

    def boom(*a, **k):
        raise AssertionError("generated an instance")

    monkeypatch.setattr(type(p), "generate", boom)
    s2 = run([p.name], "smoke", ["greedy", "dp"], db=db, workers=0, progress=False)
    assert s2.cached == 16 and s2.ran == 0


PLUGIN = textwrap.dedent('''
    import numpy as np
    from mmopt import solver

    @solver("cwd-greedy", problems=["trajectory-assoc"], kind="baseline")
    def cwd_greedy(instance):
        return {"serving": np.argmax(instance["rate"], axis=1).astype(np.int64)}, {}
''')


def test_plugin_from_the_current_directory_reaches_local_workers(tmp_path):
    (tmp_path / "mysolvers.py").write_text(PLUGIN)
    env = {k: v for k, v in os.environ.items() if k not in ("MMOPT_PLUGINS", "MMOPT_PLUGIN_FILES", "PYTHONPATH")}
    out = subprocess.run([sys.executable, "-m", "mmopt.cli", "run", "--plugin", "mysolvers", "--suite", "smoke",
                          "--problems", "trajectory-assoc", "--solvers", "cwd-greedy", "--workers", "1",
                          "--db", str(tmp_path / "r.sqlite"), "--quiet", "--format", "csv"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "8 run (ok 8)" in out.stderr


def test_plugin_file_is_shipped_to_an_existing_cluster(tmp_path):
    from mmopt.runner import make_client

    client = make_client(workers=1)  # started before the plugin exists: its workers cannot import it
    try:
        folder = tmp_path / "elsewhere"
        folder.mkdir()
        (folder / "shipped_solvers.py").write_text(PLUGIN.replace("cwd-greedy", "shipped-greedy"))
        files = add_plugin_modules([str(folder / "shipped_solvers.py")])
        s = run(["trajectory-assoc"], "smoke", ["shipped-greedy"], db=str(tmp_path / "r.sqlite"), progress=False,
                scheduler=client.cluster.scheduler_address, plugin_files=files, count=2)
        assert s.counts == {"ok": 2}
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()


def test_plot_draws_highway_figures_from_the_store(tmp_path, monkeypatch):
    from mmopt.problems.highway_sector_beams import figures

    monkeypatch.setattr(figures, "P_VALUES", (0.0,))  # the p > 0 analytic curves take minutes
    monkeypatch.setattr(figures, "FIG4_VEHICLES", 6)
    db = str(tmp_path / "r.sqlite")
    run(["highway-sector-beams"], "smoke", None, db=db, workers=0, progress=False)
    p = get_problem("highway-sector-beams")
    with Store(db) as st:
        frame = st.frame(problems=[p.name], suites=["smoke"])
    paths = p.plot(frame, tmp_path / "fig", "smoke")
    names = {x.name for x in paths}
    assert {"fig4_service_distance_cdf.png", "fig7_interference_ratio.png", "highway_figures.md"} <= names
    csv = (tmp_path / "fig" / "fig7_interference_ratio.csv").read_text().splitlines()
    assert csv[0].startswith("n_vehicles") and csv[1].startswith("6,")
    fig4 = (tmp_path / "fig" / "fig4_service_distance_cdf.csv").read_text().splitlines()
    assert fig4[0] == "l_m,analytic_p0,best-snr_empirical,macol_empirical"
    bad = subprocess.run([sys.executable, "-m", "mmopt.cli", "plot", "--problem", "highway-sector-beams",
                          "--suite", "smoke", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no results store" in bad.stderr and not (tmp_path / "x").exists()


def test_plot_draws_the_maxmin_pilot_sweep_across_suites(tmp_path):
    db = str(tmp_path / "r.sqlite")
    for n in (1, 4):
        run(["maxmin-assoc-bf"], f"pilots-{n}", ["max-gain"], db=db, workers=0, count=2, progress=False)
    p = get_problem("maxmin-assoc-bf")
    with Store(db) as st:
        frame = st.frame(problems=[p.name])
    paths = p.plot(frame, tmp_path / "fig", "pilots-1")
    assert {x.name for x in paths} == {"pilot_sweep.csv", "pilot_sweep.md", "pilot_sweep.png", "pilot_sweep.pdf"}
    rows = (tmp_path / "fig" / "pilot_sweep.csv").read_text().splitlines()
    assert rows[0] == "n_u,max-gain min_rate,max-gain gap" and [r.split(",")[0] for r in rows[1:]] == ["1", "4"]
    # max-gain uses perfect CSI: its gap does not depend on the pilots
    assert rows[1].split(",")[2] == rows[2].split(",")[2]

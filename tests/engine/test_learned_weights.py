"""Training writes to the user's folder, every learned solver takes a ``weights`` file, torch trains on
one thread, and ``--count`` is the number of training instances."""
import json
import os
import subprocess
import sys

import pytest

from mmopt.api import MmoptError
from mmopt.registry import add_plugin_modules, all_solvers, get_solver
from mmopt.runner import plan, run
from mmopt.store import Store

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def plugins():
    add_plugin_modules(["mmopt_test_v2_plugins"])


def test_every_learned_solver_takes_a_weights_file():
    learned = [s for _, s in all_solvers() if s.kind == "learned"]
    assert learned
    for s in learned:
        assert s.engine_weights and s.params["weights"] == "", s.name
        with pytest.raises(MmoptError, match=rf"{s.name}\.weights: no such file"):
            s.canonical_params({"weights": "/no/such/file.pt"})


def test_train_writes_to_the_user_folder_and_the_weights_parameter_scores_it(tmp_path, monkeypatch):
    from mmopt.learned import TRAIN_DIR, file_sha256, fingerprint, train_solver, weights_files

    monkeypatch.delenv("MMOPT_WEIGHTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    s = get_solver("test-linear", "maxmin-assoc-bf")
    shipped = weights_files(s)[0]
    before = file_sha256(shipped)
    path, side = train_solver(s, epochs=3, seed=1, progress=False)
    assert path == (tmp_path / TRAIN_DIR / "maxmin-assoc-bf" / "test_linear.pt").resolve()
    assert file_sha256(shipped) == before      # the shipped file is untouched
    other, _ = train_solver(s, epochs=30, seed=1, out=tmp_path / "other.pt", progress=False)
    # the file's sha256 is in the cache key; a relative path is resolved
    fp = fingerprint(s, {"weights": "other.pt"})
    assert fp == file_sha256(other) != fingerprint(s, {"weights": str(path)})
    k1 = plan(["maxmin-assoc-bf"], "smoke", ["test-linear"], count=1,
              params={"test-linear": {"weights": str(path)}})[0].key
    k2 = plan(["maxmin-assoc-bf"], "smoke", ["test-linear"], count=1,
              params={"test-linear": {"weights": str(other)}})[0].key
    assert k1 != k2
    # the cell uses the named file: the trained scale differs between the two
    db = str(tmp_path / "r.sqlite")
    monkeypatch.setenv("MMOPT_WEIGHTS_DIR", str(tmp_path))   # the plugin's own loader reads a bare name
    for w in (path, other):
        run(["maxmin-assoc-bf"], "smoke", ["test-linear"], db=db, workers=0, count=1, progress=False,
            params={"test-linear": {"weights": str(w)}})
    with Store(db) as st:
        df = st.frame()
    ws = sorted(json.loads(x)["w"] for x in df.stats)
    assert len(ws) == 2 and ws[0] != ws[1]
    assert {json.loads(x)["weights_sha256"] for x in df.stats} == {file_sha256(path), file_sha256(other)}


def test_training_uses_one_thread_by_default(monkeypatch):
    from mmopt.learned import deterministic

    monkeypatch.delenv("MMOPT_TRAIN_THREADS", raising=False)
    old = torch.get_num_threads()
    try:
        deterministic(0)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("MMOPT_TRAIN_THREADS", "2")
        deterministic(0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)


def test_gnn_training_takes_exactly_count_instances_and_records_its_validation_curve(tmp_path, monkeypatch):
    from mmopt.problems.maxmin_assoc_bf.solvers import gnn_net

    monkeypatch.setenv("MMOPT_TRAIN_CACHE", str(tmp_path))
    state, info = gnn_net.train("i", epochs=2, seed=0, count=24, n_pilots=16, val_count=8, batch=8)
    assert info["train_count"] == 24 and info["val_count"] == 8
    assert [h["epoch"] for h in info["history"]] == [1, 2] and info["best_epoch"] in (1, 2)
    assert info["best_val_min_rate"] == max(h["val_min_rate"] for h in info["history"])
    assert list(tmp_path.glob("maxmin_train_*_n32.npz"))   # cached for the next run
    # a CPU budget stops after the epoch that exceeds it
    _, info = gnn_net.train("i", epochs=50, seed=0, count=24, n_pilots=16, val_count=8, batch=8,
                            cpu_budget_s=1e-9)
    assert info["epochs"] == 1 and info["epochs_planned"] == 50


def test_train_command_reports_the_instance_count(tmp_path):
    env = {**os.environ, "MMOPT_TRAIN_CACHE": str(tmp_path)}
    env.pop("MMOPT_WEIGHTS_DIR", None)
    out = subprocess.run([sys.executable, "-m", "mmopt.cli", "train", "--problem", "maxmin-assoc-bf",
                          "--solver", "gnn-i", "--epochs", "1", "--count", "20", "--quiet"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["train_instances"] == 20 and res["train_size"] == 20
    assert res["weights"] == str((tmp_path / "mmopt-weights" / "maxmin-assoc-bf" / "gnn_i.pt").resolve())

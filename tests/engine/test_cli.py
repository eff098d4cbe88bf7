"""The mmopt command line end to end, in a temporary folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmopt.io import load_arrays, save_arrays

P = "maxmin-assoc-bf"


def mm(*args, cwd, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmopt.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=e, timeout=300)


def one_line_error(r):
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr
    return lines[0]


@pytest.mark.parametrize("fmt", ["npz", "mat"])
def test_generate_solve_evaluate(tmp_path, fmt):
    r = mm("generate", "--problem", P, "--suite", "smoke", "--out", "inst", "--count", "2", "--format", fmt,
           cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    inst = tmp_path / "inst" / f"{P}_smoke_0000.{fmt}"
    assert inst.exists() and len(list((tmp_path / "inst").iterdir())) == 2
    r = mm("solve", "--solver", "exhaustive", "--instance", inst, "--out", f"sol.{fmt}", "--param", "inner=socp",
           "--time-limit", "120", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "ok" and out["stats"]["status"] == "opt" and 0 < out["seconds"] < 120
    assert abs(out["gap"]) < 1e-6 and out["objective"] == pytest.approx(out["stats"]["value"])
    r = mm("evaluate", "--instance", inst, "--solution", f"sol.{fmt}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["feasible"] and ev["objective"] == pytest.approx(out["objective"]) and ev["max_violation"] == 0
    # infeasible: twice the amplitude on every beam
    arrays, meta = load_arrays(tmp_path / f"sol.{fmt}")
    arrays["assoc"] = arrays["assoc"].reshape(-1)
    save_arrays(tmp_path / f"bad.{fmt}", {**arrays, "V": 2 * arrays["V"]}, meta)
    r = mm("evaluate", "--instance", inst, "--solution", f"bad.{fmt}", cwd=tmp_path)
    assert r.returncode == 1
    ev = json.loads(r.stdout)
    assert not ev["feasible"] and ev["max_violation"] == pytest.approx(3.0) and ev["violations"]
    # malformed: a key missing
    save_arrays(tmp_path / f"mal.{fmt}", {"assoc": arrays["assoc"]}, meta)
    r = mm("evaluate", "--instance", inst, "--solution", f"mal.{fmt}", cwd=tmp_path)
    assert "missing key 'V'" in one_line_error(r)


def test_run_twice_table_export(tmp_path):
    r = mm("run", "--suite", "smoke", "--problems", P, "--solvers", "exhaustive,max-gain", "--db", "r.sqlite",
           "--workers", "2", "--quiet", "--format", "md", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "| exhaustive | reference | 5 |" in r.stdout and "0 from the store" in r.stderr
    r = mm("run", "--suite", "smoke", "--problems", P, "--solvers", "exhaustive,max-gain", "--db", "r.sqlite",
           "--quiet", cwd=tmp_path, env={"COLUMNS": "80"})
    assert r.returncode == 0 and "10 from the store, 0 run" in r.stderr
    # the default table fits the terminal
    assert "reference:" in r.stdout and max(map(len, r.stdout.splitlines())) <= 80, r.stdout
    r = mm("table", "--db", "r.sqlite", "--format", "csv", cwd=tmp_path)
    rows = {line.split(",")[2]: line for line in r.stdout.splitlines()[1:]}
    header = r.stdout.splitlines()[0].split(",")
    assert {"solver", "mean gap", "median gap", "worst gap", "opt share", "feasible", "median seconds"} <= set(header)
    ex = dict(zip(header, rows["exhaustive"].split(",")))
    assert float(ex["mean gap"]) == pytest.approx(0, abs=1e-6) and float(ex["opt share"]) == 1.0
    r = mm("table", "--db", "r.sqlite", "--format", "latex", cwd=tmp_path)
    assert r.stdout.count(r"\begin{tabular}") == 1 and "max-gain" in r.stdout
    r = mm("export", "--db", "r.sqlite", "--out", "r.csv", cwd=tmp_path)
    assert r.returncode == 0 and len((tmp_path / "r.csv").read_text().splitlines()) >= 11


def test_validate_user_functions(tmp_path):
    env = {"PYTHONPATH": str(Path(__file__).parents[1])}
    r = mm("validate", "mmopt_test_plugins:user_feasible", "--problem", P, "--suite", "smoke", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5/5 feasible" in r.stdout and "PASSED" in r.stdout and "gap" in r.stdout
    r = mm("validate", "mmopt_test_plugins:user_infeasible", "--problem", P, "--suite", "smoke", "--json",
           cwd=tmp_path, env=env)
    assert r.returncode == 1
    last = json.loads(r.stdout.splitlines()[-1])
    assert last["feasible"] == 0 and last["passed"] is False
    r = mm("validate", "mmopt_test_plugins:user_malformed", "--problem", P, "--suite", "smoke", "--count", "1",
           cwd=tmp_path, env=env)
    assert r.returncode == 1 and "dtype int32, expected int64" in r.stdout
    # feasible but not deterministic: the conformance checks of mmopt.testing fail it
    r = mm("validate", "mmopt_test_plugins:user_nondeterministic", "--problem", P, "--suite", "smoke", "--count", "2",
           cwd=tmp_path, env=env)
    assert r.returncode == 1 and "2/2 feasible" in r.stdout and "not deterministic" in r.stdout
    # a file path works too
    r = mm("validate", f"{Path(__file__).parents[1] / 'mmopt_test_plugins.py'}:user_feasible", "--problem", P,
           "--count", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    assert "unknown problem 'nope'" in one_line_error(mm("run", "--problems", "nope", "--db", "x.sqlite",
                                                         cwd=tmp_path))
    assert "unknown solver 'nope'" in one_line_error(mm("run", "--solvers", "nope", "--db", "x.sqlite",
                                                        cwd=tmp_path))
    assert "has no parameter bogus" in one_line_error(mm("run", "--problems", P, "--param", "exhaustive.bogus=1",
                                                         "--db", "x.sqlite", cwd=tmp_path))
    assert not (tmp_path / "x.sqlite").exists()
    np.savez(tmp_path / "evil.npz", H=np.array([None], dtype=object))
    assert "needs pickle" in one_line_error(mm("solve", "--problem", P, "--solver", "max-gain", "--instance",
                                               "evil.npz", "--out", "s.npz", cwd=tmp_path))
    assert not (tmp_path / "s.npz").exists()
    mm("generate", "--problem", P, "--suite", "smoke", "--out", ".", "--count", "1", cwd=tmp_path)
    inst = f"{P}_smoke_0000.npz"
    save_arrays(tmp_path / "other.npz", {"serving": np.zeros(3, np.int64)}, {"problem": "trajectory-assoc",
                                                                             "kind": "solution"})
    assert "for problem 'trajectory-assoc'" in one_line_error(mm("evaluate", "--instance", inst, "--solution",
                                                                 "other.npz", cwd=tmp_path))
    assert "output must end in .npz or .mat" in one_line_error(mm("solve", "--solver", "max-gain", "--instance",
                                                                  inst, "--out", "s.txt", cwd=tmp_path))
    assert "no such file" in one_line_error(mm("evaluate", "--instance", "missing.npz", "--solution", inst,
                                               cwd=tmp_path))
    assert "has no parameter nope" in one_line_error(mm("solve", "--solver", "exhaustive", "--problem", P,
                                                        "--instance", inst, "--out", "s.npz", "--param", "nope=1",
                                                        cwd=tmp_path))
    assert not (tmp_path / "s.npz").exists()
    assert "no results store" in one_line_error(mm("table", "--db", "none.sqlite", cwd=tmp_path))
    assert not (tmp_path / "none.sqlite").exists()


def test_highway_cdf_command_matches_the_python_api(tmp_path):
    from mmopt.problems.highway_sector_beams.analysis import Beam, Road, service_distance_cdf

    r = mm("highway-cdf", "--beam", "0,0,1.5708,80,1.0472", "--road=-10,10,0", "--l", "5,10,20", "--p", "0,0.5",
           cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ref = service_distance_cdf(Beam(0, 0, 1.5708, 80, 1.0472), Road(-10, 10, 0), np.array([5.0, 10.0, 20.0]))
    assert np.allclose(out["curves"][0]["cdf"], ref, atol=1e-5)
    assert [c["p"] for c in out["curves"]] == [0.0, 0.5]
    assert "expected 5 numbers" in one_line_error(mm("highway-cdf", "--beam", "1,2", cwd=tmp_path))

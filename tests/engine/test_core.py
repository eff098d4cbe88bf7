"""Gap, checker, keys, instance files and hashing."""
import json

import numpy as np
import pytest

from mmopt.api import InputError, instance_hash
from mmopt.evaluate import abs_gap, compare, gap, Score
from mmopt.io import read_instance, read_solution, save_arrays, write_instance, write_solution


def test_gap_values():
    assert gap(2.0, 1.5) == pytest.approx(0.25)
    assert abs_gap(2.0, 1.5) == pytest.approx(0.5)
    assert gap(0.0, 0.0) == 0.0
    assert gap(0.0, -1e-3) == pytest.approx(1e-3 / 1e-9)       # zero reference: floor 1e-9
    assert gap(-4.0, -5.0) == pytest.approx(0.25)               # negative reference: |r| in the denominator
    assert gap(-4.0, -3.0) == pytest.approx(-0.25)
    assert gap(1.0, 1.0) == 0.0


def _score(v):
    return Score(status="ok", objective=v, feasible=True, max_violation=0.0)


def test_beating_an_opt_reference_is_a_mismatch():
    ref = {"value": 2.0, "status": "opt", "tolerance": 1e-6}
    s = compare(_score(2.0 + 1e-7), ref, 1e-6)        # within tolerance
    assert s.status == "ok" and s.gap == pytest.approx(-5e-8)
    s = compare(_score(2.1), ref, 1e-6)
    assert s.status == "mismatch" and "beats" in s.message
    s = compare(_score(2.1), {**ref, "status": "best"}, 1e-6)   # only a best-known value: a real improvement
    assert s.status == "ok" and s.gap == pytest.approx(-0.05)


def test_checker_reports_every_violation_with_size(maxmin):
    inst = maxmin.generate("smoke", 0)
    K, L, M = inst["H"].shape
    V = np.zeros((K, M), complex)
    V[:, 0] = np.sqrt(inst["P"][0])                    # every user at AP 0 with full power: 3x over
    rep = maxmin.check(inst, {"assoc": np.zeros(K, np.int64), "V": V})
    assert not rep.feasible and len(rep.violations) == 1
    assert rep.violations[0].size == pytest.approx(K - 1.0)
    assert "AP 0" in rep.violations[0].where
    rep = maxmin.check(inst, {"assoc": np.array([0, 5, -1]), "V": V})
    assert [v.where for v in rep.violations] == ["user 1", "user 2"]
    assert rep.max_violation == pytest.approx(5 - (L - 1))
    bad = V.copy(); bad[1, 1] = np.nan
    rep = maxmin.check(inst, {"assoc": np.zeros(K, np.int64), "V": bad})
    assert rep.violations[0].constraint.startswith("finite") and rep.violations[0].size == 1
    ok = V / np.sqrt(K) * (1 - 1e-9)
    assert maxmin.check(inst, {"assoc": np.zeros(K, np.int64), "V": ok}).feasible
    # within the relative tolerance on power
    assert maxmin.check(inst, {"assoc": np.zeros(K, np.int64), "V": ok * np.sqrt(1 + 5e-7)}).feasible
    assert not maxmin.check(inst, {"assoc": np.zeros(K, np.int64), "V": ok * np.sqrt(1 + 5e-6)}).feasible


@pytest.mark.parametrize("sol, msg", [
    ({"assoc": np.zeros(3, np.int64)}, "missing key 'V'"),
    ({"assoc": np.zeros(3, np.int32), "V": np.zeros((3, 4), complex)}, "dtype int32, expected int64"),
    ({"assoc": np.zeros(3, np.int64), "V": np.zeros((3, 5), complex)}, "key 'V' has shape (3, 5)"),
    ({"assoc": np.zeros(2, np.int64), "V": np.zeros((3, 4), complex)}, "key 'assoc' has shape (2,)"),
])
def test_malformed_solutions_raise_one_line(maxmin, sol, msg):
    inst = maxmin.generate("smoke", 0)
    with pytest.raises(InputError) as e:
        maxmin.check(inst, sol)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_generation_is_deterministic_and_hash_identifies(maxmin):
    a, b = maxmin.generate("small", 3), maxmin.generate("small", 3)
    assert a.hash == b.hash and a.id == "small/0003"
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert maxmin.generate("small", 4).hash != a.hash
    assert instance_hash("other-problem", a) != a.hash
    with pytest.raises(Exception, match="instances 0..49"):
        maxmin.generate("small", 50)


@pytest.mark.parametrize("ext", [".npz", ".mat"])
def test_instance_and_solution_round_trip(tmp_path, maxmin, ext):
    inst = maxmin.generate("smoke", 1)
    p = write_instance(tmp_path / f"i{ext}", inst)
    back = read_instance(p)
    assert back.hash == inst.hash and back.meta["suite"] == "smoke" and back.problem == maxmin.name
    for k in inst:
        assert back[k].dtype == inst[k].dtype and back[k].shape == inst[k].shape
        assert np.array_equal(back[k], inst[k])
    sol = {"assoc": np.array([1, 0, 1], np.int64), "V": np.ones((3, 4), complex) * (0.1 + 0.2j)}
    q = write_solution(tmp_path / f"s{ext}", sol, {"problem": maxmin.name, "solver": "x"})
    arrays, meta = read_solution(q)
    assert meta["problem"] == maxmin.name and meta["kind"] == "solution"
    assert np.array_equal(arrays["assoc"], sol["assoc"]) and arrays["assoc"].shape == (3,)
    assert np.array_equal(arrays["V"], sol["V"])


def test_pickled_npz_is_refused(tmp_path, maxmin):
    path = tmp_path / "evil.npz"
    np.savez(path, H=np.array([{"a": 1}], dtype=object), mmopt_meta=np.array(json.dumps({"problem": maxmin.name})))
    with pytest.raises(InputError, match="needs pickle"):
        read_instance(path)


def test_bad_instances_are_refused(tmp_path, maxmin):
    inst = maxmin.generate("smoke", 0)
    arrays = dict(inst); arrays["H"] = arrays["H"].copy(); arrays["H"][0, 0, 0] = np.nan
    save_arrays(tmp_path / "nan.npz", arrays, {"problem": maxmin.name})
    with pytest.raises(InputError, match="'H' contains NaN"):
        read_instance(tmp_path / "nan.npz")
    arrays = dict(inst); arrays["P"] = arrays["P"].astype(np.float32)
    save_arrays(tmp_path / "f32.npz", arrays, {"problem": maxmin.name})
    with pytest.raises(InputError, match="'P' has dtype float32, expected float64"):
        read_instance(tmp_path / "f32.npz")
    save_arrays(tmp_path / "noprob.npz", dict(inst), {})
    with pytest.raises(InputError, match="pass --problem"):
        read_instance(tmp_path / "noprob.npz")
    assert read_instance(tmp_path / "noprob.npz", maxmin.name).hash == inst.hash
    save_arrays(tmp_path / "other.npz", dict(inst), {"problem": "trajectory-assoc"})
    with pytest.raises(InputError, match="for problem 'trajectory-assoc', not 'maxmin-assoc-bf'"):
        read_instance(tmp_path / "other.npz", maxmin.name)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        read_instance(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="unsupported file type"):
        read_instance(tmp_path / "x.txt")


def test_solvers_receive_read_only_instances(maxmin):
    inst = maxmin.generate("smoke", 0).readonly()
    with pytest.raises(ValueError):
        inst["H"][0, 0, 0] = 0


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(InputError):
        save_arrays(tmp_path / "x.npz", {"a": np.array([object()], dtype=object)})
    assert list(tmp_path.iterdir()) == []

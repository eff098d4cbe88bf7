"""Every registered problem and solver keeps the contract, one named check per test (mmopt.testing)."""
import numpy as np
import pytest

from mmopt.api import Solver
from mmopt.registry import all_solvers, get_problem, problems
from mmopt.testing import check_solver, parametrize_with_checks, solver_checks

TARGETS = sorted(problems()) + sorted((p, s.name) for (p, _), s in all_solvers()
                                      if not s.module.startswith("mmopt_test"))


@parametrize_with_checks(TARGETS)
def test_conformance(check):
    check()


def _solver(fn, applies=None, kind="baseline"):
    return Solver(name="probe", fn=fn, problems=("maxmin-assoc-bf",), kind=kind, version=1, params={},
                  applies_fn=applies)


def _max_gain(inst, **_):
    H, P = inst["H"], inst["P"]
    a = np.linalg.norm(H, axis=2).argmax(axis=1)
    V = H[np.arange(len(a)), a]
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    V = V * np.sqrt(P[a] / np.bincount(a, minlength=len(P))[a])[:, None]
    return {"assoc": a.astype(np.int64), "V": V}, {}


def test_a_solver_that_declines_everything_fails_every_check():
    p = get_problem("maxmin-assoc-bf")
    s = _solver(_max_gain, applies=lambda inst, **_: "never")
    checks = list(solver_checks(p, s, count=1))
    assert len(checks) >= 5
    for c in checks:
        with pytest.raises(AssertionError, match="declined every instance"):
            c()


def test_a_solver_declining_smoke_is_checked_on_the_next_suite():
    p = get_problem("maxmin-assoc-bf")
    s = _solver(_max_gain, applies=lambda inst, **_: "smoke only" if inst.meta.get("suite") == "smoke" else None)
    done = check_solver(p, s, count=1)
    assert done == {"solved": 1, "skipped": 1}


def test_broken_promises_are_named():
    p = get_problem("maxmin-assoc-bf")
    rng = np.random.default_rng(0)

    def random_answer(inst, **_):
        sol, _ = _max_gain(inst)
        sol["V"] = sol["V"] * (1 - 0.1 * rng.random())
        return sol, {}

    failed = []
    for c in solver_checks(p, _solver(random_answer), count=1):
        try:
            c()
        except AssertionError:
            failed.append(c.name)
    assert failed == ["deterministic"]

    def mutates(inst, **_):
        if inst["P"].flags.writeable:
            inst["P"][0] = 0.0
        return _max_gain(inst)

    failed = []
    for c in solver_checks(p, _solver(mutates), count=1):
        try:
            c()
        except AssertionError:
            failed.append(c.name)
    assert "instance-not-mutated" in failed


def test_expected_failures_must_name_a_check():
    with pytest.raises(ValueError, match="name no check"):
        parametrize_with_checks(["maxmin-assoc-bf"], expected_failures={"maxmin-assoc-bf::no-such-check": "x"})


def test_every_text_parameter_declares_its_values():
    """A string parameter takes one of named values: an unknown one is refused before any cell runs.

    A free-text value (a scheduler address, a checkpoint path) is allowed where the solver's
    ``check_params`` hook refuses a malformed one (checked below for ``bnb``)."""
    free = {"scheduler", "checkpoint"}
    missing = [f"{p}:{s.name}.{k}" for (p, _), s in all_solvers() if not s.module.startswith("mmopt_test")
               for k, v in s.params.items() if isinstance(v, str) and k not in s.choices
               and not (s.engine_weights and k == "weights")  # a file path, checked to exist
               and not (k in free and s.check_params_fn is not None)]
    assert not missing, missing


def test_bnb_refuses_a_malformed_scheduler_before_any_cell_runs():
    from mmopt.api import MmoptError
    from mmopt.registry import get_solver

    s = get_solver("bnb", "random-beam-config")
    assert s.canonical_params({"scheduler": "tcp://127.0.0.1:8786"})["scheduler"] == "tcp://127.0.0.1:8786"
    with pytest.raises(MmoptError, match="not a Dask scheduler address"):
        s.canonical_params({"scheduler": "not an address"})
    with pytest.raises(MmoptError, match="slice_s"):
        s.canonical_params({"slice_s": 0})

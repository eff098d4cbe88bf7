"""maxmin-assoc-bf: branch-and-bound against exhaustive search, and its bounds."""
import itertools

import numpy as np
import pytest
from mmopt.problems.maxmin_assoc_bf import DEFAULTS
from mmopt.problems.maxmin_assoc_bf.beamforming import maxmin_socp
from mmopt.problems.maxmin_assoc_bf.solvers.bnb import local_search, subset_bounds

from mmopt.api import Instance
from mmopt.registry import get_solver


def scenario(maxmin, K, L=4, Mr=2, Mc=2, seed=0):
    rng = np.random.default_rng(np.random.SeedSequence([4711, K, L, seed]))
    return Instance(maxmin.make_instance({**DEFAULTS, "K": K, "L": L, "Mr": Mr, "Mc": Mc}, rng),
                    {"problem": maxmin.name})


def check_same_optimum(maxmin, inst):
    ex, bb = get_solver("exhaustive", maxmin.name), get_solver("bnb", maxmin.name)
    sol_e, st_e = ex.solve(inst.readonly())
    sol_b, st_b = bb.solve(inst.readonly())
    for sol, st in ((sol_e, st_e), (sol_b, st_b)):
        assert st["status"] == "opt"
        assert maxmin.check(inst, sol).feasible
        assert maxmin.objective(inst, sol) == pytest.approx(st["value"], rel=1e-12)
        assert st["value"] <= st["bound"] <= st["value"] * (1 + 1e-6) + 1e-12
    # same optimum; each value within the other's certificate
    assert st_b["value"] == pytest.approx(st_e["value"], rel=1e-6)
    assert st_b["value"] <= st_e["bound"] * (1 + 1e-9) and st_e["value"] <= st_b["bound"] * (1 + 1e-9)
    # the proof is reported
    for k in ("nodes", "expanded", "leaves", "bound", "tables_seconds"):
        assert k in st_b
    assert st_b["nodes"] >= st_b["expanded"] >= 0
    return st_e, st_b


def test_bnb_equals_exhaustive_on_smoke(maxmin):
    for i in range(maxmin.suite("smoke").count):
        check_same_optimum(maxmin, maxmin.generate("smoke", i))


@pytest.mark.parametrize("K,L", [(4, 4), (5, 3), (6, 4), (7, 2), (6, 1)])
def test_bnb_equals_exhaustive_on_generated_instances(maxmin, K, L):
    for seed in range(3):
        check_same_optimum(maxmin, scenario(maxmin, K, L, seed=seed))


def test_bnb_equals_exhaustive_at_paper_scale(maxmin):
    for i in range(8):
        _, st_b = check_same_optimum(maxmin, maxmin.generate("paper", i))
        assert 0 <= st_b["nodes"] < 4 ** 6 * 4 / 3        # fewer nodes than the full tree


def test_bnb_single_user_and_single_ap(maxmin):
    check_same_optimum(maxmin, scenario(maxmin, 1, 4))
    check_same_optimum(maxmin, scenario(maxmin, 3, 1))


def test_subset_bounds_are_valid_upper_bounds(maxmin):
    """Each 2- and 3-user table entry bounds that sub-problem's optimum (SOCP), symmetric in users."""
    inst = scenario(maxmin, 4, 3)
    H, P, noise = inst["H"], inst["P"], inst["noise"]
    U2 = subset_bounds(H, P, noise, 2)
    U3 = subset_bounds(H, P, noise, 3)
    rng = np.random.default_rng(0)
    for i, j in itertools.combinations(range(4), 2):
        for li, lj in itertools.product(range(3), repeat=2):
            assert U2[i, j, li, lj] == U2[j, i, lj, li]
        li, lj = rng.integers(0, 3, 2)
        _, info = maxmin_socp(H[[i, j]], P, noise[[i, j]], np.array([li, lj]))
        assert U2[i, j, li, lj] >= info["sinr"] * (1 - 1e-9)
    for S in itertools.combinations(range(4), 3):
        t = rng.integers(0, 3, 3)
        _, info = maxmin_socp(H[list(S)], P, noise[list(S)], t)
        assert U3[S + tuple(t)] >= info["sinr"] * (1 - 1e-9)


def test_dropping_users_is_a_relaxation(maxmin):
    """gamma*(a) <= gamma*(a restricted to any subset): the basis of the bnb bound."""
    inst = scenario(maxmin, 4, 2)
    H, P, noise = inst["H"], inst["P"], inst["noise"]
    a = np.array([0, 1, 1, 0])
    _, full = maxmin_socp(H, P, noise, a)
    for S in ([0, 1], [1, 2, 3], [0, 3]):
        _, sub = maxmin_socp(H[S], P, noise[S], a[S])
        assert full["sinr"] <= sub["sinr_upper"] * (1 + 1e-9)


def test_local_search_incumbent_is_achievable(maxmin):
    from mmopt.problems.maxmin_assoc_bf import sinr
    from mmopt.problems.maxmin_assoc_bf.duality import finish_beamformers

    inst = scenario(maxmin, 5, 3)
    H, P, noise = inst["H"], inst["P"], inst["noise"]
    val, a, z, p = local_search(H, P, noise, np.zeros(5, dtype=np.int64))
    V, achieved = finish_beamformers(H, P, noise, a, z, p)
    assert achieved >= val * (1 - 1e-12)
    assert sinr(H, noise, a, V).min() == pytest.approx(achieved, rel=1e-12)

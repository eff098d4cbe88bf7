"""maxmin-assoc-bf: the uplink-downlink duality fixed point against the SOCP bisection.

Certification: on 200 instances (random Rayleigh channels with unequal budgets
and noise powers, the named edge cases, and square-road-loop instances) the
duality optimum equals the SOCP bisection's within 1e-5 relative, the
returned beamformers meet every budget and achieve the reported value, and
the duality upper bound is never below the SOCP optimum.
"""
import itertools

import numpy as np
import pytest
from mmopt.problems.maxmin_assoc_bf import DEFAULTS, ap_powers, sinr
from mmopt.problems.maxmin_assoc_bf.beamforming import (
    INNER_METHODS,
    maxmin_beamforming,
    maxmin_socp,
)
from mmopt.problems.maxmin_assoc_bf.duality import (
    _directions,
    _Layout,
    maxmin_duality,
    perron_power_control,
    reduced_channels,
    solve_associations,
)

from mmopt.api import Instance
from mmopt.references import load_references
from mmopt.registry import get_solver

KINDS = ("plain", "weak-user", "one-ap", "empty-ap", "collinear", "ill-conditioned", "spread", "single-antenna",
         "single-user")


def random_case(rng, kind):
    """(H, P, noise, assoc) of one certification case; SNRs kept where the SOCP is accurate."""
    K, L, M = int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(2, 6))
    if kind == "single-antenna":
        M = 1
    if kind == "single-user":
        K = 1
    scale = 10 ** rng.uniform(-0.3, 1.0)
    H = scale * (rng.standard_normal((K, L, M)) + 1j * rng.standard_normal((K, L, M))) / np.sqrt(2)
    P = 10 ** rng.uniform(-0.5, 0.5, L)
    noise = 10 ** rng.uniform(-0.3, 0.3, K)
    assoc = rng.integers(0, L, K)
    if kind == "weak-user":                       # a user with a near-zero channel
        H[rng.integers(K)] *= 1e-4
    elif kind == "one-ap":                        # one AP serves every user
        assoc[:] = rng.integers(L)
    elif kind == "empty-ap":                      # an AP serves nobody
        assoc = rng.integers(0, L - 1, K)
    elif kind == "collinear":                     # two users with nearly parallel channels at one AP
        H[1] = H[0] * np.exp(1j * rng.uniform(0, 2 * np.pi)) + 0.03 * scale * rng.standard_normal((L, M))
        assoc[1] = assoc[0]
    elif kind == "ill-conditioned":               # strongly coloured channels: condition number ~1e3
        D = np.diag(np.geomspace(1.0, 1e-3, M))
        H = H @ D
    elif kind == "spread":                        # users 30 dB apart
        H *= 10 ** rng.uniform(-0.75, 0.75, (K, 1, 1))
    return H, P, noise, assoc


def loop_case(rng):
    """A square-road-loop instance (2x2 UPA, K=3, L=2 or 3) with a random association."""
    from mmopt.registry import get_problem

    p = get_problem("maxmin-assoc-bf")
    L = int(rng.integers(2, 4))
    inst = p.make_instance({**DEFAULTS, "K": 3, "L": L, "Mr": 2, "Mc": 2}, rng)
    return inst["H"], inst["P"], inst["noise"], rng.integers(0, L, 3)


def certification_cases():
    rng = np.random.default_rng(20240917)
    cases = []
    for n in range(165):
        kind = KINDS[n % len(KINDS)]
        cases.append((kind,) + random_case(rng, kind))
    for _ in range(35):
        cases.append(("loop",) + loop_case(rng))
    return cases


def _check_duality_matches_socp(cases):
    """Duality == SOCP (1e-5 relative), consistent certificates, feasible beams; the worst relative gap."""
    worst = 0.0
    for kind, H, P, noise, assoc in cases:
        _, s_info = maxmin_socp(H, P, noise, assoc)
        Vd, d_info = maxmin_duality(H, P, noise, assoc)
        assert not d_info["fallback"], kind          # the fixed point closed its own certificate
        rel = abs(d_info["sinr"] - s_info["sinr"]) / s_info["sinr"]
        worst = max(worst, rel)
        assert rel <= 1e-5, (kind, d_info, s_info)
        # certificates are consistent: each method's value below the other's upper bound
        assert d_info["sinr_upper"] >= s_info["sinr"] * (1 - 1e-9), kind
        assert s_info["sinr_upper"] >= d_info["sinr"] * (1 - 1e-5), kind
        assert d_info["sinr"] <= d_info["sinr_upper"] <= d_info["sinr"] * (1 + 1e-6)
        # the returned beams are feasible and achieve the reported value
        assert sinr(H, noise, assoc, Vd).min() == pytest.approx(d_info["sinr"], rel=1e-12)
        assert np.all(ap_powers(assoc, Vd, len(P)) <= P * (1 + 1e-12))
        # beams only at the serving AP: V has one row per user, evaluated through assoc
        assert Vd.shape == (len(assoc), H.shape[2])
    return worst


def test_duality_matches_socp_on_a_few_instances():
    """The fast share of the certification: each kind of random case twice and four loop instances."""
    cases = certification_cases()
    few = cases[:2 * len(KINDS)] + cases[165:169]
    assert {c[0] for c in few} == set(KINDS) | {"loop"}
    _check_duality_matches_socp(few)


@pytest.mark.slow
def test_duality_matches_socp_on_200_instances():
    """The certification: all 200 cases (~10 s)."""
    cases = certification_cases()
    assert len(cases) >= 200
    worst = _check_duality_matches_socp(cases)
    print(f"duality vs SOCP: max relative difference {worst:.2e} over {len(cases)} instances")


def test_upper_bound_valid_at_every_iterate():
    """max_k SINR^UL(q) bounds the per-AP optimum at any q and any noise weights."""
    rng = np.random.default_rng(5)
    for n in range(12):
        H, P, noise, assoc = random_case(rng, KINDS[n % 7])
        _, s_info = maxmin_socp(H, P, noise, assoc)
        for it in (1, 2, 3, 6):
            res = solve_associations(H, P, noise, assoc[None], max_iter=it, tol=0.0)
            assert res.ub[0] >= s_info["sinr"] * (1 - 1e-9)
            assert res.lb[0] <= s_info["sinr_upper"] * (1 + 1e-9)


@pytest.mark.parametrize("K,M", [(4, 5), (5, 3)])
def test_reduced_coordinates_match_antenna_domain_mmse(K, M):
    """u_k = R^{-1} h_k computed with M x M matrices equals V_l u~_k from the reduced form (K > M too)."""
    rng = np.random.default_rng(11)
    L = 3
    H = (rng.standard_normal((K, L, M)) + 1j * rng.standard_normal((K, L, M)))
    assoc = rng.integers(0, L, (1, K))
    q = rng.uniform(0.1, 1.0, (1, K))
    # a tiny weight where K > M (the case the reduced form exists for); with M > K the antenna-domain
    # reference itself would be ill-conditioned off the channels' span
    mu = np.array([[0.7, 0.2, 1e-9 if K > M else 0.05]])
    C, V = reduced_channels(H)
    Gn, u_red, _ = _directions(C, _Layout(assoc, L), q, mu)
    for k in range(K):
        l = assoc[0, k]
        R = mu[0, l] * np.eye(M) + sum(q[0, i] * np.outer(H[i, l], H[i, l].conj()) for i in range(K))
        u = np.linalg.solve(R, H[k, l])
        assert np.allclose(V[l] @ u_red[0, k], u, rtol=1e-8, atol=1e-12 * np.linalg.norm(u))
        w = u / np.linalg.norm(u)
        for j in range(K):
            assert Gn[0, j, k] == pytest.approx(abs(H[j, l].conj() @ w) ** 2, rel=1e-7, abs=1e-12)


def _lp_feasible(t, Gn, sigma, P, E):
    """Is there p >= 0 with SINR_k >= t for all k and per-AP sums E p <= P? (linear program)"""
    from scipy.optimize import linprog

    K = Gn.shape[0]
    g = np.diag(Gn)
    A = -(np.diag(g) - t * (Gn - np.diag(g)))
    res = linprog(np.zeros(K), A_ub=np.vstack([A, E]), b_ub=np.concatenate([-t * sigma, P]),
                  bounds=[(0, None)] * K, method="highs")
    return res.status == 0


def test_perron_power_control_is_exact_for_fixed_beams():
    """1/gamma = max_l rho(D (F + sigma e_l^T / P_l)) (multi-constraint Perron-Frobenius) against an
    LP bisection on the powers."""
    rng = np.random.default_rng(3)
    for _ in range(6):
        K, L = 4, 3
        Gn = rng.uniform(0.01, 0.3, (K, K)) + np.diag(rng.uniform(1, 3, K))
        sigma, P = rng.uniform(0.5, 2, K), rng.uniform(0.5, 2, L)
        assoc = np.array([0, 1, 1, 2])
        gamma, p = perron_power_control(Gn, sigma, P, assoc)
        # achieved: every SINR equals gamma, every budget met, the tightest with equality
        g = np.diag(Gn)
        s = p * g / (Gn @ p - p * g + sigma)
        assert np.allclose(s, gamma, rtol=1e-10)
        pw = np.bincount(assoc, weights=p, minlength=L)
        assert np.all(pw <= P * (1 + 1e-12)) and np.max(pw / P) == pytest.approx(1.0)
        # LP: feasibility of SINR >= t with per-AP budgets, bisection on t
        E = np.zeros((L, K))
        E[assoc, np.arange(K)] = 1.0

        lo, hi = 0.0, 2 * gamma
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _lp_feasible(mid, Gn, sigma, P, E) else (lo, mid)
        assert gamma == pytest.approx(lo, rel=1e-6)


def test_inner_methods_registry_and_dispatch():
    assert set(INNER_METHODS) >= {"duality", "socp"}
    rng = np.random.default_rng(1)
    H, P, noise, assoc = random_case(rng, "plain")
    inst = Instance({"H": H, "P": P, "noise": noise}, {"problem": "maxmin-assoc-bf"})
    _, i1 = maxmin_beamforming(inst, assoc)                  # default: duality
    _, i2 = maxmin_beamforming(inst, assoc, method="socp")
    assert "socp_solves" in i2 and not i1["fallback"]
    assert i1["sinr"] == pytest.approx(i2["sinr"], rel=1e-5)


def test_exhaustive_duality_equals_exhaustive_socp(maxmin):
    ex = get_solver("exhaustive", maxmin.name)
    assert ex.version >= 2 and ex.params["inner"] == "duality"
    for i in range(maxmin.suite("smoke").count):
        inst = maxmin.generate("smoke", i)
        sol_d, st_d = ex.solve(inst.readonly())
        _, st_s = ex.solve(inst.readonly(), inner="socp", prune=False)
        assert st_d["status"] == "opt" and st_d["inner"] == "duality"
        assert maxmin.check(inst, sol_d).feasible
        assert maxmin.objective(inst, sol_d) == pytest.approx(st_d["value"], rel=1e-12)
        assert st_d["value"] == pytest.approx(st_s["value"], rel=2e-6)
        assert st_d["value"] <= st_s["bound"] * (1 + 1e-6) and st_s["value"] <= st_d["bound"] * (1 + 1e-6)
        # every association accounted for
        assert st_d["solved"] + st_d["pruned_by_duality_bound"] + st_d["skipped_by_bound"] == 8


def test_exhaustive_without_pruning_solves_every_association(maxmin):
    ex = get_solver("exhaustive", maxmin.name)
    inst = maxmin.generate("smoke", 1)
    _, st = ex.solve(inst.readonly(), prune=False)
    _, st2 = ex.solve(inst.readonly())
    assert st["solved"] == 8 and st["value"] == pytest.approx(st2["value"], rel=1e-6)


def test_exhaustive_duality_matches_shipped_socp_references(maxmin):
    """The small-suite references were computed by the SOCP path."""
    refs = load_references(maxmin.name, "small")
    if not refs:
        pytest.skip("no shipped small references")
    ex = get_solver("exhaustive", maxmin.name)
    for i in range(0, 50, 5):
        inst = maxmin.generate("small", i)
        rec = refs[inst.hash]
        sol, st = ex.solve(inst.readonly())
        v = maxmin.objective(inst, sol)
        assert v == pytest.approx(rec["value"], rel=2e-6)
        assert v <= rec["bound"] * (1 + 1e-6) and rec["value"] <= st["bound"] * (1 + 1e-6)


def test_all_associations_of_a_batch_agree_with_socp():
    """Batched solve (no pruning) of all 3^3 associations equals per-association SOCP."""
    rng = np.random.default_rng(9)
    K, L, M = 3, 3, 3
    H = 2 * (rng.standard_normal((K, L, M)) + 1j * rng.standard_normal((K, L, M)))
    P, noise = np.array([1.0, 0.5, 2.0]), np.ones(K)
    assocs = np.array(list(itertools.product(range(L), repeat=K)))
    res = solve_associations(H, P, noise, assocs, tol=1e-8, prune=False)
    assert np.all(res.status == 0)
    for j, a in enumerate(assocs):
        _, info = maxmin_socp(H, P, noise, a)
        assert res.lb[j] == pytest.approx(info["sinr"], rel=1e-5)
        assert res.ub[j] >= info["sinr"] * (1 - 1e-9)

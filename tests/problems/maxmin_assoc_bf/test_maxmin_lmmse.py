"""maxmin-assoc-bf: LMMSE channel estimation and the paper's CSI baselines, pilot-sweep suites."""
import numpy as np
import pytest
from mmopt.problems.maxmin_assoc_bf import PILOT_SWEEP
from mmopt.problems.maxmin_assoc_bf.solvers.baselines import (
    channel_statistics,
    estimated_instance,
    lmmse_estimate,
    scenario_params,
)

from mmopt.api import InputError, Instance
from mmopt.registry import get_solver


def test_lmmse_formula_on_a_gaussian_model():
    """Empirical MSE equals tr(C - C (C + I/g)^{-1} C) and beats least squares (M/g)."""
    rng = np.random.default_rng(0)
    M, N, g = 6, 20000, 0.5
    A = rng.standard_normal((M, M)) + 1j * rng.standard_normal((M, M))
    C = A @ A.conj().T / M
    m = rng.standard_normal(M) + 1j * rng.standard_normal(M)
    Lc = np.linalg.cholesky(C)
    h = m + ((rng.standard_normal((N, M)) + 1j * rng.standard_normal((N, M))) / np.sqrt(2)) @ Lc.T
    y = np.sqrt(g) * h + (rng.standard_normal((N, M)) + 1j * rng.standard_normal((N, M))) / np.sqrt(2)
    hh = lmmse_estimate(y[:, None, :], 1, g, m[None], C[None])[:, 0]
    mse = np.mean(np.sum(np.abs(hh - h) ** 2, axis=1))
    theory = np.real(np.trace(C - C @ np.linalg.inv(C + np.eye(M) / g) @ C))
    assert mse == pytest.approx(theory, rel=0.03)
    ls = np.mean(np.sum(np.abs(y / np.sqrt(g) - h) ** 2, axis=1))
    assert ls == pytest.approx(M / g, rel=0.03) and mse < 0.5 * ls


def test_channel_statistics_deterministic_and_cached(maxmin):
    inst = maxmin.generate("smoke", 0)
    params = scenario_params(inst)
    m1, C1 = channel_statistics(params)
    m2, C2 = channel_statistics(dict(params, K=7, n_pilots=3))      # K and pilots do not matter
    assert m1 is m2 and C1 is C2
    L, M = inst["H"].shape[1:]
    assert m1.shape == (L, M) and C1.shape == (L, M, M)
    assert np.allclose(C1, np.conj(np.swapaxes(C1, 1, 2)))
    assert np.all(np.linalg.eigvalsh(C1) > -1e-9)
    # the statistics describe the instances: mean channel power within sampling error
    pw = np.mean([np.sum(np.abs(maxmin.generate("paper", i)["H"]) ** 2, axis=(0, 2)) / 6 for i in range(60)],
                 axis=0)
    m, C = channel_statistics(scenario_params(maxmin.generate("small", 0)))
    expected = np.real(np.einsum("lmm->l", C)) + np.sum(np.abs(m) ** 2, axis=1)
    assert np.allclose(pw, expected, rtol=0.5)


def test_pilot_suites_share_the_paper_channels(maxmin):
    assert {f"pilots-{n}" for n in PILOT_SWEEP} <= set(maxmin.suites)
    assert PILOT_SWEEP[0] == 1 and PILOT_SWEEP[-1] == 1024
    a, b = maxmin.generate("paper", 2), maxmin.generate("pilots-256", 2)
    assert np.array_equal(a["H"], b["H"]) and int(b["n_pilots"]) == 256
    noise_a = a["pilots"] - np.sqrt(a["pilot_snr"] * a["n_pilots"]) * a["H"]
    noise_b = b["pilots"] - np.sqrt(b["pilot_snr"] * b["n_pilots"]) * b["H"]
    assert np.allclose(noise_a, noise_b)
    assert a.hash != b.hash


def test_estimation_error_falls_with_pilots(maxmin):
    nmse = []
    for n in (1, 16, 1024):
        errs = []
        for i in range(3):
            inst = maxmin.generate(f"pilots-{n}", i)
            Hh = estimated_instance(inst)["H"]
            errs.append(np.sum(np.abs(Hh - inst["H"]) ** 2) / np.sum(np.abs(inst["H"]) ** 2))
        nmse.append(np.mean(errs))
    assert nmse[0] > nmse[1] > nmse[2]
    assert nmse[2] < 0.05                  # 5 dBm pilots: about -15 dB at N_u = 1024


def test_csi_baselines_scored_on_true_channels(maxmin):
    ex = get_solver("exhaustive", maxmin.name)
    sc = get_solver("strongest-channel-lmmse", maxmin.name)
    el = get_solver("exhaustive-lmmse", maxmin.name)
    assert sc.kind == el.kind == "baseline"
    gaps = {1: [], 1024: []}
    for i in range(3):
        ref = None
        for n in (1, 1024):
            inst = maxmin.generate(f"pilots-{n}", i)
            if ref is None:
                ref = ex.solve(inst.readonly())[1]["value"]          # same channels for every N_u
            for s in (sc, el):
                sol, st = s.solve(inst.readonly())
                assert maxmin.check(inst, sol).feasible
                v = maxmin.objective(inst, sol)
                assert v <= ref * (1 + 1e-6)                       # never beats the certified optimum
                if s is el:
                    gaps[n].append((ref - v) / ref)
                    assert "value" not in st and "estimated_value" in st
            # strongest channel: association from the estimated gains
            est = estimated_instance(inst)
            sol, _ = sc.solve(inst.readonly())
            assert np.array_equal(sol["assoc"], np.linalg.norm(est["H"], axis=2).argmax(axis=1))
    assert np.mean(gaps[1024]) < np.mean(gaps[1])
    assert np.mean(gaps[1024]) < 0.2


def test_lmmse_baselines_need_pilots(maxmin):
    inst = maxmin.generate("smoke", 0)
    bare = Instance({k: inst[k] for k in ("H", "P", "noise")}, {"problem": maxmin.name})
    with pytest.raises(InputError, match="pilots"):
        get_solver("strongest-channel-lmmse").solve(bare.readonly())


def test_max_gain_default_inner_is_duality(maxmin):
    mg = get_solver("max-gain", maxmin.name)
    assert mg.params["inner"] == "duality" and mg.version >= 2
    inst = maxmin.generate("smoke", 3)
    sol, _ = mg.solve(inst.readonly())
    sol2, _ = mg.solve(inst.readonly(), inner="socp")
    assert maxmin.objective(inst, sol) == pytest.approx(maxmin.objective(inst, sol2), rel=2e-6)

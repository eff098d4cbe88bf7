"""Tests of ``sumrate-bs-beam``: rate by hand, bnb vs exhaustive vs brute force, baselines, generator."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from mmopt import phy
from mmopt.api import InputError, Instance
from mmopt.references import load_references
from mmopt.registry import get_problem, get_solver
from mmopt.references import load_references
from mmopt.problems.sumrate_bs_beam import gain_table, genie_assignment, scenario, sum_rate
from mmopt.problems.sumrate_bs_beam.solvers.baselines import reactive_rule
from mmopt.problems.sumrate_bs_beam.solvers.bnb import branch_and_bound
from mmopt.problems.sumrate_bs_beam.solvers.exhaustive import exhaustive_search

P = get_problem("sumrate-bs-beam")


def make(H, n_rf, codebook=None, **extra) -> Instance:
    H = np.asarray(H, dtype=np.complex128)
    C = H.shape[2]
    arrays = {"H": H, "codebook": np.eye(C, dtype=np.complex128) if codebook is None else codebook,
              "n_rf": np.asarray(n_rf, dtype=np.int64), **extra}
    inst = Instance(arrays, {"problem": P.name})
    P.check_instance(inst)
    return inst.readonly()


def sol(bs, beam):
    return {"bs": np.asarray(bs, dtype=np.int64), "beam": np.asarray(beam, dtype=np.int64)}


def random_instance(rng, U, B, C, n_rf, spread=3.0):
    """Gains over a wide range (lognormal) so interference matters."""
    amp = np.exp(spread * rng.standard_normal((U, B, C)) / 2)
    H = amp * np.exp(2j * np.pi * rng.random((U, B, C)))
    return make(H, n_rf)


def brute_force(G, n_rf):
    U, B, C = G.shape
    best = -np.inf
    for ch in itertools.product(range(B * C), repeat=U):
        bs = np.array(ch) // C
        if np.any(np.bincount(bs, minlength=B) > n_rf):
            continue
        best = max(best, sum_rate(G, bs, np.array(ch) % C))
    return best


# ---------------------------------------------------------------------------
# objective and constraints, by hand
# ---------------------------------------------------------------------------

def test_rate_by_hand_intra_and_inter_bs_interference():
    # identity codebook: |H[u, b]^H f_n|^2 = |H[u, b, n]|^2
    H = np.zeros((2, 2, 2))
    H[0, 0] = [3.0, 1.0]   # user 0 from BS 0: beam 0 gain 9, beam 1 gain 1
    H[0, 1] = [2.0, 0.0]   # user 0 from BS 1: beam 0 gain 4
    H[1, 0] = [1.0, 2.0]   # user 1 from BS 0: gains 1, 4
    H[1, 1] = [0.0, 4.0]   # user 1 from BS 1: gains 0, 16
    inst = make(H, [2, 2])
    # both on BS 0, beams 0 and 1 (intra-BS interference)
    v = P.objective(inst, sol([0, 0], [0, 1]))
    assert v == pytest.approx(np.log2(1 + 9 / (1 + 1)) + np.log2(1 + 4 / (1 + 1)))
    # user 0 on BS 0 beam 0, user 1 on BS 1 beam 1 (inter-BS: user 0 hears BS 1 beam 1 with gain 0)
    v = P.objective(inst, sol([0, 1], [0, 1]))
    assert v == pytest.approx(np.log2(1 + 9 / 1) + np.log2(1 + 16 / (1 + 1)))
    # a shared beam is allowed and charged
    v = P.objective(inst, sol([0, 0], [0, 0]))
    # (user 0 hears user 1's beam with its own gain 9; user 1 hears user 0's with its own gain 1)
    assert v == pytest.approx(np.log2(1 + 9 / (1 + 9)) + np.log2(1 + 1 / (1 + 1)))
    assert P.check(inst, sol([0, 0], [0, 0])).feasible


def test_constraints_load_and_ranges():
    H = np.ones((3, 2, 2))
    inst = make(H, [1, 2])
    rep = P.check(inst, sol([0, 0, 1], [0, 1, 0]))
    assert not rep.feasible and rep.max_violation == 1.0 and "(4b)" in rep.violations[0].constraint
    rep = P.check(inst, sol([0, 2, 1], [0, 1, 5]))
    assert not rep.feasible and len(rep.violations) == 2
    assert P.check(inst, sol([0, 1, 1], [1, 1, 0])).feasible
    with pytest.raises(InputError):
        make(H, [1, 1])  # 3 users, 2 RF chains in all
    with pytest.raises(InputError):
        make(H, [2, 2], codebook=2 * np.eye(2, dtype=np.complex128))


# ---------------------------------------------------------------------------
# references agree
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_bnb_equals_exhaustive_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    U, B, C = 3, 3, 4
    n_rf = [1, 1, 2] if seed % 2 else [3, 3, 3]   # odd seeds: the loads bind
    inst = random_instance(rng, U, B, C, n_rf)
    G = gain_table(inst)
    res = branch_and_bound(G, inst["n_rf"])
    bs, beam, ex = exhaustive_search(G, inst["n_rf"], chunk=97)
    assert res["status"] == "opt"
    assert res["value"] == pytest.approx(ex, rel=1e-12)
    assert ex == pytest.approx(brute_force(G, inst["n_rf"]), rel=1e-12)
    assert res["bound"] >= res["value"] and res["bound"] <= res["value"] * (1 + 1e-9) + 1e-12
    for b_, n_ in ((res["bs"], res["beam"]), (bs, beam)):
        assert P.check(inst, sol(b_, n_)).feasible
        assert P.objective(inst, sol(b_, n_)) == pytest.approx(ex, rel=1e-12)


@pytest.mark.parametrize("suite,index", [("smoke", 0), ("smoke", 2), ("small", 1), ("small", 5)])
def test_bnb_equals_exhaustive_on_suites(suite, index):
    inst = P.generate(suite, index).readonly()
    ex, exs = get_solver("exhaustive", P.name).solve(inst)
    bb, bbs = get_solver("bnb", P.name).solve(inst)
    assert get_solver("exhaustive", P.name).applies(inst) is None
    assert exs["value"] == pytest.approx(bbs["value"], rel=1e-12)
    assert P.objective(inst, bb) == pytest.approx(bbs["value"], rel=1e-12)
    assert bbs["status"] == "opt" and bbs["bound"] >= bbs["value"]


def test_exhaustive_declines_large_and_bnb_time_limit_gives_a_bound():
    inst = P.generate("small", 3).readonly()   # U = 4, B = 4, 64 beams
    assert "joint choices" in get_solver("exhaustive", P.name).applies(inst)
    G = gain_table(inst)
    res = branch_and_bound(G, inst["n_rf"], time_limit=0.0)
    full = branch_and_bound(G, inst["n_rf"])
    assert res["status"] == "best" and full["status"] == "opt"
    assert res["bound"] >= full["value"] - 1e-9 >= res["value"] - 2e-9


def test_shipped_smoke_references_match_bnb():
    refs = load_references(P.name, "smoke")
    assert len(refs) == P.suite("smoke").count
    for i in range(P.suite("smoke").count):
        inst = P.generate("smoke", i)
        rec = refs[inst.hash]
        assert rec["status"] == "opt"
        _, st = get_solver("exhaustive", P.name).solve(inst.readonly())
        assert rec["value"] == pytest.approx(st["value"], rel=1e-9)


# ---------------------------------------------------------------------------
# baselines and metrics
# ---------------------------------------------------------------------------

def test_baselines_feasible_and_below_optimum():
    for i in range(4):
        inst = P.generate("small", i).readonly()
        opt = get_solver("bnb", P.name).solve(inst)[1]["value"]
        G = gain_table(inst)
        for name in ("genie-max-gain", "reactive-handoff", "max-gain-interference-aware"):
            s, st = get_solver(name, P.name).solve(inst)
            assert P.check(inst, s).feasible, name
            assert P.objective(inst, s) <= opt + 1e-9, name
        g, _ = get_solver("genie-max-gain", P.name).solve(inst)
        for u in range(G.shape[0]):
            assert G[u, g["bs"][u], g["beam"][u]] == G[u].max()


def test_reactive_rule_hysteresis_and_serving_keys():
    sweep = np.zeros((1, 2, 3, 4))
    sweep[0, 0, :, 1] = [10, 10, 10]
    sweep[0, 1, :, 2] = [5, 12, 30]       # BS 1 beats BS 0 by 0.8 dB at frame 1, by 4.8 dB at frame 2
    assert reactive_rule(sweep, 0.0) == (np.array([1]), np.array([2]))
    bs, beam = reactive_rule(sweep, 3.0)
    assert bs[0] == 1 and beam[0] == 2
    bs, beam = reactive_rule(sweep, 6.0)
    assert bs[0] == 0 and beam[0] == 1
    inst = P.generate("small", 6).readonly()
    s, st = get_solver("reactive-handoff", P.name).solve(inst)
    assert np.array_equal(s["bs"], inst["serving_bs"]) and np.array_equal(s["beam"], inst["serving_beam"])
    assert st["pilot_beams"] == 4 * 64


def test_metrics_asrr_topk_and_bs_difference():
    inst = P.generate("small", 7).readonly()   # U = 4
    g, gst = get_solver("genie-max-gain", P.name).solve(inst)
    m = P.metrics(inst, g, gst)
    assert m["asrr"] == pytest.approx(1.0) and m["bs_diff_genie"] == 0 and m["top1"] == 1.0
    o, ost = get_solver("bnb", P.name).solve(inst)
    ref = load_references(P.name, "small")[inst.hash]
    assert ref["status"] == "opt" and ref["solution"]["bs"] == ost["reference_solution"]["bs"]
    m = P.metrics(inst, o, reference=ref)   # the optimum's BS choice comes from the record, no solver runs
    assert m["asrr"] >= 1.0 - 1e-12 and m["bs_diff_opt"] == 0
    assert "top1" not in m
    m = P.metrics(inst, g, reference=ref)
    assert m["bs_diff_opt"] == np.count_nonzero(np.asarray(g["bs"]) != np.asarray(ref["solution"]["bs"]))
    assert "bs_diff_opt" not in P.metrics(inst, o)   # no record, no optimum-based metric
    # reversed scores: the best beam is last
    G = gain_table(inst)
    rev = [(-G[u, o["bs"][u]]).tolist() for u in range(4)]
    m = P.metrics(inst, o, {"beam_scores": rev, "pilot_beams": 0})
    assert m["top1"] == 0.0 and m["top3"] == 0.0 and m["pilot_beams"] == 0.0


# ---------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------

def test_generator_keys_deterministic_and_consistent():
    a, b = P.generate("small", 3), P.generate("small", 3)
    assert a.hash == b.hash
    U, B, N = a["H"].shape
    assert (U, B, N) == (4, 4, 64)
    assert a["bem_profile"].shape == (U, B, 20, 2, 320 + 480) and a["bem_profile"].dtype == np.int16
    assert a["box_matrix"].shape == (U, B, 20, 10, 4) and a["sweep_power"].shape == (U, B, 20, 64)
    G = gain_table(a)
    assert np.allclose(a["gain_future"], G.max(axis=2))
    # row and column profiles count the same pixels
    prof = a["bem_profile"].astype(np.int64)
    assert np.array_equal(prof[..., :320].sum(-1), prof[..., 320:].sum(-1))
    # the user's box channel is non-empty exactly where row 0 of the box matrix is
    has_box = a["bem_profile"][:, :, :, 0].any(axis=-1)
    has_row = a["box_matrix"][:, :, :, 0, 2] > 0
    assert np.array_equal(has_box & has_row, has_box)
    assert np.array_equal(a["visible"], has_row[:, :, -1])
    # serving BS / beam: the best measured pair of the sweep at t
    last = a["sweep_power"][:, :, -1]
    for u in range(U):
        assert last[u, a["serving_bs"][u], a["serving_beam"][u]] == last[u].max()
    assert np.all((a["bsm_age"] >= 0) & (a["bsm_age"] < 60))
    assert np.all(np.linalg.norm(a["pos_reported"] - scenario.CENTER, axis=1) < 60)


def test_profiles_match_rendered_maps():
    """``encoding_profiles`` equals the row / column sums of the maps :func:`render_masks` draws."""
    rng = np.random.default_rng(1)
    p = {**scenario.DEFAULTS, "B": 4}
    tr = scenario.simulate_traffic(p, rng, 6)
    cls_h = np.array([c[3] for c in scenario.CLASSES])
    corners = scenario.footprints(tr["pos"][:4], tr["heading"][:4], tr["cls"])
    hm, wm = 64, 96
    boxes, seen = scenario.project_boxes(corners, cls_h[tr["cls"]], 4, hm, wm, 120.0)
    users = np.nonzero(seen[:, -1].any(axis=0))[0][:3]
    prof = scenario.encoding_profiles(boxes, seen, users, hm, wm)
    masks = scenario.render_masks(boxes, seen, hm, wm)
    own = masks[:, :, users].transpose(2, 0, 1, 3, 4)
    others = (masks.sum(axis=2)[None] - own) > 0
    for c, m in ((0, own), (1, others)):
        assert np.array_equal(np.concatenate([m.sum(-1), m.sum(-2)], axis=-1), prof[:, :, :, c])
    assert prof[:, :, :, 1].sum() > 0 and prof[:, :, :, 0].sum() > 0


def test_element_pattern_front_to_back_and_eq6_codebook():
    _, fwd, right, _ = scenario.camera_frames(1)
    f = fwd[0] / np.linalg.norm(fwd[0])
    assert scenario.element_gain_db(f, fwd[0], 20.0, 65.0) == pytest.approx(0.0, abs=1e-9)
    assert scenario.element_gain_db(-f, fwd[0], 20.0, 65.0) == pytest.approx(-20.0)
    assert scenario.element_gain_db(right[0], fwd[0], 20.0, 65.0) == pytest.approx(-20.0)   # endfire: 23 dB, capped
    h = np.cos(np.radians(65.0)) * np.array([f[0], f[1], 0]) / np.hypot(f[0], f[1]) \
        + np.sin(np.radians(65.0)) * right[0]
    assert scenario.element_gain_db(h, fwd[0], 20.0, 65.0) == pytest.approx(-12.0)
    assert scenario.element_gain_db(-f, fwd[0], 0.0, 65.0) == 0.0       # isotropic
    cb = scenario.make_codebook("eq6", 8)
    assert np.allclose(np.linalg.norm(cb, axis=1), 1.0)
    # eq. (6): beam n (1-based) has phase pi n k / N_T on element k, i.e. sin(theta_n) = n / N_T
    k = np.arange(8)
    assert np.allclose(cb[2] * np.sqrt(8), np.exp(1j * np.pi * 3 * k / 8))
    assert np.allclose(scenario.make_codebook("dft", 8), phy.dft_codebook(8))


def test_blockage_and_reflection_paths():
    p = {**scenario.DEFAULTS, "B": 1}
    ue = np.array([[-150.0, -3.0, 1.55]])
    far = np.array([[-1000.0, -1000.0, -999.0, -999.0]])            # a vehicle far away
    bus = np.array([[-157.0, 3.0, -155.0, 9.0]])                    # a truck between BS 0 (-162, 12) and the UE
    h_clear = scenario.channels(p, ue, np.array([0]), np.vstack([far, far]), np.array([1.5, 3.5]),
                                np.array([20.0, 35.0]))
    h_block = scenario.channels(p, ue, np.array([0]), np.vstack([far, bus]), np.array([1.5, 3.5]),
                                np.array([20.0, 35.0]))
    cb = phy.dft_codebook(64)
    g_clear = scenario.beam_gains(h_clear, cb).max()
    g_block = scenario.beam_gains(h_block, cb).max()
    # LoS loses 35 dB; reflections keep the blocked link far above LoS - 35 dB
    assert phy.lin2db(g_clear / g_block) > 3.0
    # free-space check of the LoS: array gain N times |lambda / 4 pi d|^2 P / sigma^2 with the
    # paths' phases: within the reflections' contribution of the LoS-only value
    d = np.linalg.norm(ue[0] - np.array([-162.0, 12.0, 4.5]))
    snr0 = phy.dbm2w(p["p_tx_dbm"]) / phy.thermal_noise_w(p["bandwidth"], p["noise_figure_db"])
    los = 64 * snr0 * phy.fspl_amplitude(d, phy.wavelength(p["fc"])) ** 2
    assert 0.1 * los < g_clear < 4 * los


def test_suites_train_role_and_disjoint_seeds():
    train = P.suite("train")
    assert train.role == "train" and "train" not in P.eval_suites()
    assert train.seed not in {s.seed for s in P.suites.values() if s.role == "eval"}
    assert [P.instance_params("paper", i)["U"] for i in range(4)] == [1, 2, 3, 4]
    assert P.suite("paper").count == 800 and P.suite("bsm-100").params["bsm_interval"] == 100


def test_contract_matches_matmul():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 64)) + 1j * rng.standard_normal((2, 3, 64))
    b = rng.standard_normal((64, 5)) + 1j * rng.standard_normal((64, 5))
    assert np.allclose(phy.contract(a, b), a @ b, rtol=1e-12, atol=1e-12)
    x, v = rng.standard_normal((7, 3)), rng.standard_normal(3)
    assert np.allclose(phy.contract(x, v), x @ v, rtol=1e-13, atol=1e-13)


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


@pytest.mark.skipif(" avx2" not in _cpu_flags(), reason="needs an x86 CPU with AVX2 (two OpenBLAS kernels)")
def test_generation_does_not_depend_on_the_blas_kernel():
    """Instance hashes are the same under two OpenBLAS kernels (``@`` in the generator made them differ)."""
    import os
    import subprocess
    import sys

    code = ("from mmopt.registry import get_problem; p = get_problem('sumrate-bs-beam'); "
            "print(' '.join(p.generate('small', i).hash for i in (0, 1)))")
    out = set()
    for core in ("Sandybridge", "Haswell"):
        env = dict(os.environ, OPENBLAS_CORETYPE=core)
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-500:]
        out.add(r.stdout.strip())
    assert len(out) == 1

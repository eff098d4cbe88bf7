"""maxmin-assoc-bf: structured GNNs (gnn-csi-struct, gnn-p-struct): budgets, power floor, Perron, training."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mmopt.learned import file_sha256, load_weights, read_sidecar, weights_files  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.model import ap_powers, min_rate  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.solvers import gnn_net  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.solvers import gnn_struct as gs  # noqa: E402
from mmopt.registry import get_solver  # noqa: E402

STRUCT = ("gnn-csi-struct", "gnn-p-struct", "gnn-p-lmmse")


def _batch(maxmin, n, suite="smoke", seed=777):
    params = maxmin.instance_params(suite, 0)
    insts = [maxmin.make_instance(dict(params), np.random.default_rng(np.random.SeedSequence([seed, i])))
             for i in range(n)]
    return {"H": np.stack([i["H"] for i in insts]), "P": np.stack([i["P"] for i in insts]),
            "noise": np.stack([i["noise"] for i in insts]), "loc": np.stack([gnn_net.loc_features(i) for i in insts]),
            "rho": np.array([float(i["pilot_snr"]) for i in insts]), "suite": "test", "seed": seed}


def test_structured_beams_meet_budgets_with_an_empty_ap(maxmin):
    """Served power <= P_l for soft and hard associations; an AP without users gives finite beams."""
    d = _batch(maxmin, 4, "small")
    H = torch.tensor(d["H"])
    P = torch.tensor(d["P"])
    B, K, L, M = H.shape
    g = torch.Generator().manual_seed(0)
    p = torch.exp(3 * torch.randn(B, K, L, generator=g, dtype=torch.float64))
    q = torch.exp(torch.randn(B, K, L, generator=g, dtype=torch.float64))
    mu = torch.exp(torch.randn(B, generator=g, dtype=torch.float64))
    hard = torch.zeros(B, K, L, dtype=torch.float64)
    hard[:, :, 0] = 1.0                     # every user at AP 0: APs 1..L-1 serve nobody
    hard[:, 0, 0], hard[:, 0, 2] = 0.0, 1.0
    soft = torch.softmax(torch.randn(B, K, L, generator=g, dtype=torch.float64), -1)
    for a in (hard, soft):
        v, u = gs.structured_beams(H, P, a, p, q, mu)
        assert torch.isfinite(v.real).all() and torch.isfinite(v.imag).all()
        assert torch.allclose((u.abs() ** 2).sum(-1), torch.ones(B, K, L, dtype=torch.float64))
        served = (a * (v.abs() ** 2).sum(-1)).sum(1)                       # (B, L)
        assert (served <= P * (1 + 1e-12)).all()
    # an empty AP: its beams stay finite (the floor), the served AP uses its budget up to the floor
    v, _ = gs.structured_beams(H, P, hard, p, q, mu)
    served = (hard * (v.abs() ** 2).sum(-1)).sum(1)
    assert torch.all(served[:, 1] == 0) and torch.allclose(served[:, 0], P[:, 0], rtol=1e-4)


def test_perron_never_lowers_the_min_rate(maxmin):
    """Perron power control on given directions is kept only when it raises the min SINR."""
    rng = np.random.default_rng(3)
    for i in range(5):
        inst = maxmin.generate("paper", i)
        H, P, noise = inst["H"], inst["P"], inst["noise"]
        K, L, M = H.shape
        assoc = rng.integers(0, L, K)
        V = rng.standard_normal((K, M)) + 1j * rng.standard_normal((K, M))
        V = gs.to_budget(assoc, V * np.sqrt(P[0] / K / M), P)
        V1, improved = gs.perron_refine(H, P, noise, assoc, V)
        assert min_rate(H, noise, assoc, V1) >= min_rate(H, noise, assoc, V) - 1e-12
        assert np.all(ap_powers(assoc, V1, L) <= P * (1 + 1e-9))
        if improved:
            assert min_rate(H, noise, assoc, V1) > min_rate(H, noise, assoc, V)


def test_a_few_training_steps_improve_the_min_rate(maxmin):
    d = _batch(maxmin, 48)
    for mode, output in (("csi", "struct"), ("pilots", "struct"), ("pilots", "direct")):
        state, info = gs.train(mode, steps=40, output=output, seed=1, count=32, n_pilots=64, batch=16, lr=3e-3, val_count=16,
                               data=d, width=16, eval_every=10,
                               scenario={k: v for k, v in maxmin.instance_params("smoke", 0).items() if k in ("L", "Mr", "Mc")})
        assert info["best_val_min_rate"] > info["initial_val_min_rate"] + 1e-3
        assert info["train_count"] == 32 and info["val_count"] == 16 and len(info["history"]) == 4
        json.dumps(info)
        m = gs.StructModel(state)
        inst = maxmin.generate("smoke", 0)
        a_hat, v, u = m.outputs(inst["H"], inst["P"])
        if output == "direct":   # eq. (19): every AP's K beamformers use P_l exactly
            assert np.allclose(np.sum(np.abs(v) ** 2, axis=(0, 2)), inst["P"], rtol=1e-12)
        assoc = a_hat.argmax(-1)
        V = gs.to_budget(assoc, v[np.arange(v.shape[0]), assoc], inst["P"])
        assert maxmin.check(inst, {"assoc": assoc, "V": V}).feasible


@pytest.mark.parametrize("name", STRUCT)
def test_shipped_weights_load_and_match_sidecars(name):
    s = get_solver(name, "maxmin-assoc-bf")
    assert s.kind == "learned" and "torch" in s.requires
    files = weights_files(s)
    assert len(files) == (1 if name == "gnn-csi-struct" else len(gs.PILOT_MODELS))
    for f in files:
        side = read_sidecar(f)
        assert side["sha256"] == file_sha256(f) and side["solver"] == name
        assert side["train_suite"] == "train" and side["train_count"] >= 1000 and side["steps"] >= 1
        assert side["cpu_seconds"] < 30 * 60 and side["threads"] == 1 and side["history"]
        cfg = load_weights(f)["config"]
        assert (cfg["K"], cfg["L"], cfg["M"]) == (6, 4, 16)


@pytest.mark.parametrize("name", STRUCT)
def test_shipped_models_feasible_perron_helps_and_decline(maxmin, name):
    s = get_solver(name, "maxmin-assoc-bf")
    reason = s.applies(maxmin.generate("smoke", 0))
    assert reason and "L = 4 APs of M = 16 antennas" in reason
    # any number of users K: the K = 4 instances of `small` are taken
    assert s.applies(maxmin.generate("small", 0)) is None
    if name != "gnn-csi-struct":
        assert "N_u = 1 " in s.applies(maxmin.generate("pilots-1", 0))
    suites = ("paper",) if name == "gnn-csi-struct" else ("paper", "pilots-64")
    for suite in suites:
        for i in range(3):
            inst = maxmin.generate(suite, i)
            assert s.applies(inst) is None
            sol, stats = s.solve(inst)
            assert maxmin.check(inst, sol).feasible
            sol0, _ = s.solve(inst, power="gnn")
            assert maxmin.check(inst, sol0).feasible
            if name == "gnn-csi-struct":   # Perron on the true channel never lowers the min rate
                assert maxmin.objective(inst, sol) >= maxmin.objective(inst, sol0) - 1e-12

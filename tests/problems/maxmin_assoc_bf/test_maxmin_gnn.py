"""maxmin-assoc-bf: GNN-I, GNN-P, GNN-C and the direct multimodal GNN (learned solvers)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mmopt.learned import file_sha256, load_weights, read_sidecar, weights_files  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.problem import sinr  # noqa: E402
from mmopt.registry import get_solver  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.solvers import gnn_net as net  # noqa: E402
from mmopt.problems.maxmin_assoc_bf.solvers.gnn import STANDARD_PILOTS, weights_name  # noqa: E402

GNNS = ("gnn-i", "gnn-p", "gnn-c", "gnn-direct")
TINY = {"i": 16, "p": 16, "direct": 16}


def _data(maxmin, n, suite="smoke"):
    """Training arrays from ``n`` instances drawn with the parameters of ``suite`` (fresh seeds)."""
    params = maxmin.instance_params(suite, 0)
    H, P, noise, loc, rho = [], [], [], [], []
    for i in range(n):
        inst = maxmin.make_instance(dict(params), np.random.default_rng(np.random.SeedSequence([777, i])))
        H.append(inst["H"]), P.append(inst["P"]), noise.append(inst["noise"])
        loc.append(net.loc_features(inst)), rho.append(float(inst["pilot_snr"]))
    return {"H": np.stack(H), "P": np.stack(P), "noise": np.stack(noise), "loc": np.stack(loc),
            "rho": np.array(rho), "suite": "test", "seed": 777}


@pytest.fixture(scope="module")
def smoke_data(maxmin):
    d = _data(maxmin, 64)
    # the last 32 "validation" instances repeat training instances: the test measures the fit
    return {k: (np.concatenate([v, v[:32]]) if isinstance(v, np.ndarray) else v) for k, v in d.items()}


@pytest.fixture(scope="module")
def tiny_models(smoke_data):
    """Four tiny models trained on ``smoke_data`` (minutes on a busy machine): every test using it is slow."""
    out = {}
    for kind in ("i", "p", "direct"):
        out[kind] = net.train(kind, epochs=6, seed=1, count=64, n_pilots=100000, batch=16, lr=3e-3,
                              val_count=32, data=smoke_data, widths=TINY)
    out["c"] = net.train("c", epochs=4, seed=1, count=64, n_pilots=100000, batch=16, lr=3e-3, val_count=32,
                         data=smoke_data, widths=TINY, init={"i": out["i"][0], "p": out["p"][0]})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["i", "p", "direct", "c"])
def test_tiny_training_improves_the_min_rate(tiny_models, kind):
    state, info = tiny_models[kind]
    hist = info["history"]
    assert info["train_count"] == 64 and info["val_count"] == 32 and len(hist) == info["epochs"]
    # the unsupervised objective (mean min-rate, hard association, on training instances) improves
    assert info["best_val_min_rate"] > info["initial_val_min_rate"] + 1e-3
    # the training loss (minus the soft min-rate plus the decaying penalty) decreases
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    json.dumps(info)
    if kind == "c":   # GNN-C starts from the trained GNN-I / GNN-P encoders
        assert {k for k in state["model"] if k.startswith("enc_i.")} and \
            {k for k in state["model"] if k.startswith("enc_p.")}


def test_rates_match_eq5_numpy(maxmin):
    """torch rates with a hard association equal the problem's SINR (independent implementation)."""
    inst = maxmin.generate("small", 3)
    K, L, M = inst["H"].shape
    rng = np.random.default_rng(5)
    v = rng.standard_normal((K, L, M)) + 1j * rng.standard_normal((K, L, M))
    assoc = rng.integers(0, L, K)
    a = np.eye(L)[assoc]
    r = net.rates(torch.tensor(inst["H"][None]), torch.tensor(inst["noise"][None]),
                  torch.tensor(a[None]), torch.tensor(v[None]))[0].numpy()
    want = np.log2(1 + sinr(inst["H"], inst["noise"], assoc, v[np.arange(K), assoc]))
    assert np.allclose(r, want, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["i", "p", "direct", "c"])
def test_eq19_outputs_feasible_with_equality(maxmin, tiny_models, kind):
    model = net.Model(tiny_models[kind][0])
    for i in range(5):
        inst = maxmin.generate("smoke", i)
        a_hat, v = model.outputs(inst)
        assert np.all(a_hat >= 0) and np.all(a_hat.sum(1) <= 1.0 + 1e-6)   # |a|/(sum|a| + 1e-3)
        # eq. (19): each AP's K beamformers use P_l exactly
        assert np.allclose(np.sum(np.abs(v) ** 2, axis=(0, 2)), inst["P"], rtol=1e-12)
        assoc, V = net.to_solution(a_hat, v)
        rep = maxmin.check(inst, {"assoc": assoc, "V": V})
        assert rep.feasible, rep
        served = np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=inst["P"].size)
        assert np.all(served <= inst["P"] * (1 + 1e-12))


def test_straight_through_estimator():
    a_hat = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], requires_grad=True)
    a = net.ste(a_hat, 1.0)
    assert torch.equal(a.detach(), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))   # eq. (20) forward
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    (a * w).sum().backward()
    assert torch.equal(a_hat.grad, w)                                                 # identity backward
    half = net.ste(a_hat.detach(), 0.5)
    assert torch.allclose(half, 0.5 * a_hat.detach() + 0.5 * a.detach())              # eq. (22)


def test_gradient_reaches_association_scores(maxmin):
    """Through the STE the min-rate loss trains the L association outputs of g_0."""
    d = _data(maxmin, 8)
    torch.manual_seed(0)
    m = net.build("i", 3, 2, 4, TINY)
    a_hat, v = m(torch.tensor(d["loc"], dtype=torch.float32), torch.zeros(8, 3, 16),
                 torch.tensor(d["P"], dtype=torch.float32))
    r = net.rates(torch.tensor(d["H"], dtype=torch.complex64), torch.tensor(d["noise"], dtype=torch.float32),
                  net.ste(a_hat, 1.0), v)
    (-r.min(-1).values.mean()).backward()
    g = m.g0.weight.grad
    assert g[:2].abs().sum() > 0 and g[2:].abs().sum() > 0


@pytest.mark.parametrize("name", GNNS)
def test_shipped_weights_load_and_match_sidecars(name):
    s = get_solver(name, "maxmin-assoc-bf")
    assert s.kind == "learned"
    files = weights_files(s)
    assert len(files) == (1 if name == "gnn-i" else len(STANDARD_PILOTS))
    for f in files:
        side = read_sidecar(f)
        assert side["sha256"] == file_sha256(f) and side["solver"] == name
        assert side["train_suite"] == "train" and side["epochs"] >= 1 and side["train_count"] >= 1
        state = load_weights(f)
        cfg = state["config"]
        assert (cfg["K"], cfg["L"], cfg["M"]) == (6, 4, 16)
        if name != "gnn-i":
            assert f.name == weights_name(net.KINDS[GNNS.index(name)], cfg["n_pilots"])


@pytest.mark.parametrize("name", GNNS)
def test_shipped_models_feasible_on_paper_and_decline_other_sizes(maxmin, name):
    s = get_solver(name, "maxmin-assoc-bf")
    smoke = maxmin.generate("smoke", 0)
    reason = s.applies(smoke)
    assert reason and "L = 4 APs of M = 16 antennas" in reason
    # any number of users K: the K = 4 instances of `small` are taken
    assert s.applies(maxmin.generate("small", 0)) is None
    for suite in ("paper", "pilots-1", "pilots-1024"):
        inst = maxmin.generate(suite, 0)
        assert s.applies(inst) is None
        sol, stats = s.solve(inst)
        rep = maxmin.check(inst, sol)
        assert rep.feasible, rep
        json.dumps(stats)
        if name != "gnn-i":
            assert stats["model_pilots"] == int(inst["n_pilots"])
    if name != "gnn-i":
        inst = maxmin.generate("pilots-256", 0)
        assert s.solve(inst, train_pilots=64)[1]["model_pilots"] == 64

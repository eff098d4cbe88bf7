"""Tests of ``random-beam-config``: objective by hand, exhaustive vs bnb, bound, CRAB on trees, baselines."""
from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from mmopt.api import Instance
from mmopt.distributed import Network
from mmopt.phy.cqi import CQI_SE, cqi_index, cqi_min_sinr
from mmopt.registry import get_problem, get_solver
from mmopt.problems.random_beam_config import interference_free_bound, network_rates
from mmopt.problems.random_beam_config.solvers.crab import belief_propagation, bp_with_pruning, chi_table, crab_run

P = get_problem("random-beam-config")


@pytest.fixture(scope="module")
def smoke():
    return [P.generate("smoke", i).readonly() for i in range(P.suites["smoke"].count)]


def tiny() -> Instance:
    """G = 2, C = 2 (0 = no beam), S = 2, Z = 5, W = 1 Hz, SINR_min = 0.5."""
    gain = np.zeros((2, 2, 2, 5))
    gain[0, 1, 0] = [8, 3, 0, 0, 0.4]
    gain[0, 1, 1] = [0, 3, 0, 2, 0]
    gain[1, 1, 0] = [1, 0, 15, 2, 0]
    active = np.zeros((2, 2, 2), dtype=bool)
    active[0, 1, :] = True
    active[1, 1, 0] = True
    arrays = {"gain": gain, "active": active, "valid": np.ones((2, 2), dtype=bool),
              "vehicles": np.array([2, 1, 3, 1, 5], dtype=np.int64),
              "bandwidth": np.array(1.0), "sinr_min": np.array(0.5)}
    inst = Instance(arrays, {"problem": P.name})
    P.check_instance(inst)
    return inst.readonly()


def T(inst, *cfg):
    return P.objective(inst, {"config": np.array(cfg, dtype=np.int64)})


def test_objective_by_hand():
    inst = tiny()
    # both on: zone 1 ties between slots (0,0) and (0,1) -> (0,0); zone 3 ties (0,1) / (1,0) -> gNB 0;
    # zone 4 (SINR 0.4) is not served and does not load beam (0,0): n_(0,0) = 3, n_(0,1) = 1, n_(1,0) = 3
    want = 2 / 3 * np.log2(1 + 8 / 2) + 1 / 3 * np.log2(1 + 3 / 4) + 3 / 3 * np.log2(1 + 15) \
        + 1 * np.log2(1 + 2 / 3)
    assert T(inst, 1, 1) == pytest.approx(want, rel=1e-12)
    want = 2 / 3 * np.log2(9) + 1 / 3 * np.log2(1.75) + np.log2(3)
    assert T(inst, 1, 0) == pytest.approx(want, rel=1e-12)
    assert T(inst, 0, 1) == pytest.approx(2 / 6 * np.log2(2) + 3 / 6 * np.log2(16) + 1 / 6 * np.log2(3), rel=1e-12)
    assert T(inst, 0, 0) == 0.0
    m = P.metrics(inst, {"config": np.array([1, 1])})
    assert m["covered"] == pytest.approx(7 / 12)
    assert m["beams"] == 3
    # infeasible: out of range and padding
    rep = P.check(inst, {"config": np.array([2, 0], dtype=np.int64)}, 1e-6)
    assert not rep.feasible


def test_cqi_mapping():
    s = cqi_min_sinr(1)
    assert cqi_index(s * (1 + 1e-9)) == 1 and cqi_index(s * (1 - 1e-6)) == 0
    assert cqi_index(1e9) == 15 and CQI_SE[15] == pytest.approx(5.5547)


def test_exact_methods_agree_and_bound(smoke):
    ex, bb, ub = (get_solver(n, P.name) for n in ("exhaustive", "bnb", "interference-free-bound"))
    for inst in smoke:
        s0, st0 = ex.solve(inst)
        s1, st1 = bb.solve(inst)
        assert st0["status"] == st1["status"] == "opt"
        assert st1["value"] == pytest.approx(st0["value"], rel=1e-9)
        assert P.objective(inst, s0) == pytest.approx(st0["value"], rel=1e-12)
        # brute force by itertools over the full product (independent of the component split)
        lists = [np.nonzero(inst["valid"][g])[0] for g in range(inst["valid"].shape[0])]
        allrows = np.array(list(itertools.product(*lists)), dtype=np.int64)
        assert network_rates(inst, allrows).max() == pytest.approx(st0["value"], rel=1e-9)
        b = ub.solve(inst)[1]
        assert b["status"] == "bound" and b["bound"] >= st0["value"]


def test_superset_mean_max_brute_force():
    from mmopt.problems.random_beam_config.solvers.exact import _superset_mean_max
    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(1, 7))
        se, w = rng.uniform(0, 5, n), rng.integers(1, 4, n).astype(float)
        kind = rng.integers(0, 3, n)                      # 0 impossible, 1 possible, 2 certain
        cert, extra = kind == 2, kind == 1
        best = 0.0
        for r in range(n + 1):
            for sub in itertools.combinations(np.nonzero(extra)[0], r):
                S = np.nonzero(cert)[0].tolist() + list(sub)
                if S:
                    best = max(best, float(np.sum(w[S] * se[S]) / np.sum(w[S])))
        got = _superset_mean_max(np.sum(w * se * cert), np.sum(w * cert), se, w, extra)
        assert got == pytest.approx(best, rel=1e-12, abs=1e-12)


def test_partial_assignment_bounds_dominate_every_completion(smoke):
    """The bnb node bound (sum of per-gNB bounds) >= T of the best completion, by enumeration."""
    from mmopt.problems.random_beam_config.solvers.exact import BeamBounds
    rng = np.random.default_rng(7)
    for inst in [*smoke[:3], P.generate("small", 2)]:
        G, Z = inst["valid"].shape[0], inst["gain"].shape[3]
        bb = BeamBounds(inst, list(range(G)), np.arange(Z))
        lists = [np.nonzero(inst["valid"][g])[0] for g in range(G)]
        allrows = np.array(list(itertools.product(*lists)), dtype=np.int64)
        T_all = network_rates(inst, allrows)
        for _ in range(6):
            assigned = rng.random(G) < 0.6
            cfg = np.array([rng.choice(x) for x in lists], dtype=np.int64) * assigned
            match = np.all((allrows == cfg) | ~assigned, axis=1)
            ub = sum(float(bb.value(g, assigned, cfg)) for g in range(G))
            assert ub >= T_all[match].max() * (1 - 1e-12)
            if assigned.all():   # nothing open: the bound is the objective itself
                assert ub == pytest.approx(T_all[match].max(), rel=1e-9)


def _check_bnb_and_cluster_bound(inst, ex, bb, cb) -> float:
    """bnb == exhaustive, exhaustive <= cluster-bound <= interference-free bound (exact on one cluster); the optimum."""
    opt = ex.solve(inst)[1]["value"]
    s1 = bb.solve(inst)[1]
    assert s1["status"] == "opt" and s1["value"] == pytest.approx(opt, rel=1e-9)
    b = cb.solve(inst)[1]
    assert opt <= b["bound"] * (1 + 1e-12) and b["bound"] <= interference_free_bound(inst)
    if inst["valid"].shape[0] <= 4:   # one cluster holds every gNB: the table is exact
        assert b["bound"] == pytest.approx(opt, rel=1e-9)
    return opt


def _check_time_limited_bracket(inst, bb, opt: float) -> None:
    """A time-limited search reports best-known with a valid bracket around the optimum."""
    s, st = bb.solve(inst, time_limit=0.05)
    assert st["value"] <= opt * (1 + 1e-9) <= st["bound"] * (1 + 1e-9)


def test_bnb_equals_exhaustive_and_cluster_bound_on_one_small():
    """The fast share of the cross-check below: one G = 4 instance of ``small``."""
    ex, bb, cb = (get_solver(n, P.name) for n in ("exhaustive", "bnb", "cluster-bound"))
    inst = P.generate("small", 8)
    opt = _check_bnb_and_cluster_bound(inst, ex, bb, cb)
    _check_time_limited_bracket(inst, bb, opt)


@pytest.mark.slow
def test_bnb_equals_exhaustive_on_small_and_cluster_bound():
    """The full cross-check (~10 s): three G = 4 instances, and the time limit on a G = 5 one."""
    ex, bb, cb = (get_solver(n, P.name) for n in ("exhaustive", "bnb", "cluster-bound"))
    for i in (2, 4, 8):
        _check_bnb_and_cluster_bound(P.generate("small", i), ex, bb, cb)
    inst = P.generate("small", 1)
    _check_time_limited_bracket(inst, bb, ex.solve(inst)[1]["value"])


def test_group_moves_between_best_response_and_optimum():
    from mmopt.problems.random_beam_config.solvers.exact import local_search
    ex = get_solver("exhaustive", P.name)
    for i in (0, 2, 4):                            # G = 4
        inst = P.generate("small", i)
        G = inst["valid"].shape[0]
        opt = ex.solve(inst)[1]["value"]
        start = np.zeros(G, dtype=np.int64)
        c1, v1 = local_search(inst, start)
        c2, v2 = local_search(inst, c1, size=2)
        assert v1 <= v2 * (1 + 1e-12) and v2 <= opt * (1 + 1e-12)
        assert v2 == pytest.approx(float(network_rates(inst, c2[None, :])[0]), rel=1e-12)
        cG, vG = local_search(inst, start, size=G)    # one group of every gNB: exhaustive search
        assert vG == pytest.approx(opt, rel=1e-9)


def test_exhaustive_declines_large():
    inst = P.generate("paper", 0)
    assert get_solver("exhaustive", P.name).applies(inst) is not None
    assert interference_free_bound(inst) > 0


def _path_tree(G):
    return [(g, g + 1) for g in range(G - 1)]


def test_crab_tree_marginals_exact(smoke):
    inst = smoke[0]
    G = inst["valid"].shape[0]
    F = [np.nonzero(inst["valid"][g])[0] for g in range(G)]
    edges = _path_tree(G)
    chi = {e: chi_table(inst, *e) for e in edges}
    beliefs, it, conv, sends = belief_propagation([len(f) for f in F], edges, chi, np.random.default_rng(3))
    assert conv
    # exact marginals of prod chi by enumeration
    idx = np.array(list(itertools.product(*[range(len(f)) for f in F])))
    w = np.ones(len(idx))
    for (g, h) in edges:
        w *= chi[(g, h)][idx[:, g], idx[:, h]]
    w /= w.sum()
    for g in range(G):
        marg = np.bincount(idx[:, g], weights=w, minlength=len(F[g]))
        np.testing.assert_allclose(beliefs[g], marg, rtol=0, atol=1e-9)
    # chi of eq. (15) is T with only g, h transmitting
    g, h = edges[0]
    cfg = np.zeros(G, dtype=np.int64)
    cfg[g], cfg[h] = F[g][-1], F[h][-1]
    assert chi[(g, h)][-1, -1] == pytest.approx(network_rates(inst, cfg[None, :])[0], rel=1e-9)


@pytest.mark.parametrize("edges", [[(0, 1), (1, 2)], [(0, 1), (0, 2), (0, 3), (3, 4)], [(0, 1), (2, 3)]])
def test_crab_message_counts_on_trees(smoke, edges):
    """Flooding schedule on a tree: message g->h is sent 2 + height times (height of g's side without h)."""
    rng = np.random.default_rng(0)
    n = 1 + max(max(e) for e in edges)
    sizes = [3 + (i % 3) for i in range(n)]
    chi = {e: rng.uniform(0.1, 1.0, size=(sizes[e[0]], sizes[e[1]])) for e in edges}
    net = Network(range(n))
    beliefs, it, conv, sends = belief_propagation(sizes, edges, chi, np.random.default_rng(1), net)
    gr = nx.Graph(edges)
    want, hmax = 0, 0
    for g, h in list(edges) + [(b, a) for a, b in edges]:
        side = gr.copy()
        side.remove_edge(g, h)
        height = max(nx.single_source_shortest_path_length(side, g).values())
        want += 2 + height
        hmax = max(hmax, height)
    st = net.stats()
    assert conv
    assert st["messages"] == want == sum(sends)
    assert it == st["rounds"] == hmax + 3
    assert st["payload_floats"] > 0


def test_crab_solver_stats(smoke):
    s = get_solver("crab", P.name)
    inst = smoke[0]
    sol, st = s.solve(inst, seed=1)
    assert P.check(inst, sol, 1e-6).feasible
    r = crab_run(inst, seed=1)
    assert st["messages"] == r["net"].stats()["messages"]
    assert st["rounds"] == st["iterations"]
    for k in ("rounds", "messages", "payload_floats", "pruned_edges", "expected_rate", "rate_at_argmax"):
        assert k in st
    ex = get_solver("exhaustive", P.name).solve(inst)[1]["value"]
    assert st["expected_rate"] <= ex * (1 + 1e-9) and st["rate_at_argmax"] <= ex * (1 + 1e-9)
    sol2, st2 = s.solve(inst, seed=1)
    assert np.array_equal(sol["config"], sol2["config"])


def test_crab_pruning_reaches_convergence():
    """On a loopy graph with few iterations allowed, reverse delete prunes non-bridge edges (smallest
    overlap first), keeps the graph connected, and BP converges on what is left."""
    rng = np.random.default_rng(5)
    edges = [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)]
    c = {e: w for e, w in zip(edges, [0.5, 0.4, 0.3, 0.2, 0.1])}
    sizes = [3, 4, 3, 5]
    chi = {e: rng.uniform(0.1, 1.0, size=(sizes[e[0]], sizes[e[1]])) for e in edges}
    net = Network(range(4))
    beliefs, cur, pruned, total, it, conv, runs, sends = bp_with_pruning(
        sizes, edges, c, chi, np.random.default_rng(0), net, max_iter=6)
    assert conv and runs == len(pruned) + 1 and pruned
    assert pruned[0] == (1, 3)                      # smallest overlap first
    assert nx.is_connected(nx.Graph(cur)) and len(cur) + len(pruned) == len(edges)
    assert net.stats()["rounds"] == total
    if nx.is_tree(nx.Graph(cur)):                    # exact marginals on the pruned tree
        idx = np.array(list(itertools.product(*[range(n) for n in sizes])))
        w = np.ones(len(idx))
        for (g, h) in cur:
            w *= chi[(g, h)][idx[:, g], idx[:, h]]
        w /= w.sum()
        for g in range(4):
            np.testing.assert_allclose(beliefs[g], np.bincount(idx[:, g], weights=w, minlength=sizes[g]),
                                       atol=1e-9)


@pytest.mark.parametrize("name", ["random", "cawbm", "dbscan", "ucb", "crab"])
def test_baselines_feasible_and_deterministic(smoke, name):
    s = get_solver(name, P.name)
    params = {"iterations": 300} if name == "ucb" else {}
    for inst in smoke[:3]:
        a, sa = s.solve(inst, **params)
        b, _ = s.solve(inst, **params)
        assert P.check(inst, a, 1e-6).feasible
        assert np.array_equal(a["config"], b["config"])
        opt = get_solver("exhaustive", P.name).solve(inst)[1]["value"]
        assert P.objective(inst, a) <= opt * (1 + 1e-9)


def test_generator_deterministic():
    a, b = P.generate("smoke", 2), P.generate("smoke", 2)
    assert a.hash == b.hash
    assert np.all(a["valid"][:, 0]) and not a["active"][:, 0].any()
    assert (a["valid"].sum(axis=1) <= 40).all()

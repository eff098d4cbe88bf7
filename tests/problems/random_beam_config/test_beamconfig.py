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


def small4(i: int) -> Instance:
    """Instance i of ``small`` with K = 4 rate-ranked beams (|F_g| <= 17): within brute force's reach in a test."""
    from mmopt.problems.random_beam_config.scenario import simulate
    su = P.suites["small"]
    params = {k: v for k, v in su.params.items() if k != "sweep"}
    params.update(su.params["sweep"][i % len(su.params["sweep"])], K=4)
    inst = Instance(simulate(params, np.random.default_rng(np.random.SeedSequence([su.seed, i]))),
                    {"problem": P.name})
    P.check_instance(inst)
    return inst.readonly()


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
    from mmopt.problems.random_beam_config.solvers.bnb_tree import _superset_mean_max
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
    from mmopt.problems.random_beam_config.solvers.bnb_tree import BeamBounds
    rng = np.random.default_rng(7)
    for inst in [*smoke[:3], small4(2)]:
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
    inst = small4(8)
    opt = _check_bnb_and_cluster_bound(inst, ex, bb, cb)
    _check_time_limited_bracket(inst, bb, opt)


@pytest.mark.slow
def test_bnb_equals_exhaustive_on_small_and_cluster_bound():
    """The full cross-check (~10 s): three G = 4 instances, and the time limit on a G = 5 one."""
    ex, bb, cb = (get_solver(n, P.name) for n in ("exhaustive", "bnb", "cluster-bound"))
    for i in (2, 4, 8):
        _check_bnb_and_cluster_bound(small4(i), ex, bb, cb)
    inst = small4(1)
    _check_time_limited_bracket(inst, bb, ex.solve(inst)[1]["value"])


def test_group_moves_between_best_response_and_optimum():
    from mmopt.problems.random_beam_config.solvers.bnb_tree import local_search
    ex = get_solver("exhaustive", P.name)
    for i in (0, 2, 4):                            # G = 4
        inst = small4(i)
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


@pytest.mark.parametrize("name", ["random", "cawbm", "dbscan", "ucb", "ucb-oracle-reward", "crab", "crab-map",
                                  "crab-beta"])
def test_baselines_feasible_and_deterministic(smoke, name):
    s = get_solver(name, P.name)
    params = {"iterations": 300} if name.startswith("ucb") else {}
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
    assert (a["valid"].sum(axis=1) <= 17).all()
    assert "reach" in a and "dbscan_config" in a
    # version 1 is unchanged: no reach, no DBSCAN beams
    p1 = dict(P.suites["smoke"].params, gen=1, K=4)
    from mmopt.problems.random_beam_config.scenario import simulate
    v1 = simulate(p1, np.random.default_rng(0))
    assert "reach" not in v1 and v1["beam_dir"].shape[1] == 4


# ---------------------------------------------------------------------------
# CRAB variants, E_pi[T], schedules, the paper's baselines
# ---------------------------------------------------------------------------


def _joint(sizes, edges, chi):
    idx = np.array(list(itertools.product(*[range(n) for n in sizes])))
    w = np.ones(len(idx))
    for (g, h) in edges:
        w *= chi[(g, h)][idx[:, g], idx[:, h]]
    return idx, w


@pytest.mark.parametrize("damping", [0.0, 0.5])
def test_max_product_is_map_on_a_tree(damping):
    """crab-map's BP (max-product) on a tree: each node's argmax is its state in the brute-force MAP."""
    rng = np.random.default_rng(11)
    edges = [(0, 1), (1, 2), (1, 3), (3, 4)]
    sizes = [3, 4, 5, 3, 4]
    for _ in range(5):
        chi = {e: rng.uniform(0.5, 1.5, size=(sizes[e[0]], sizes[e[1]])) for e in edges}
        beliefs, it, conv, sends, logs = belief_propagation(sizes, edges, chi, np.random.default_rng(2), mode="max",
                                                            damping=damping, return_log=True, max_iter=200, tol=1e-13)
        assert conv
        idx, w = _joint(sizes, edges, chi)
        best = idx[int(np.argmax(w))]
        assert [int(np.argmax(lb)) for lb in logs] == best.tolist()
        for g in range(len(sizes)):       # max-marginals, normalised: max over the others of the joint
            mm = np.array([w[idx[:, g] == s].max() for s in range(sizes[g])])
            np.testing.assert_allclose(np.exp(logs[g] - logs[g].max()), mm / mm.max(), rtol=1e-8)


def test_beta_sum_product_marginals_on_a_tree():
    """chi^beta sum-product (crab-beta) in the log domain: exact marginals of prod chi^beta, beta = 40."""
    rng = np.random.default_rng(3)
    edges = [(0, 1), (1, 2), (0, 3)]
    sizes = [4, 3, 5, 2]
    chi = {e: rng.uniform(0.5, 1.5, size=(sizes[e[0]], sizes[e[1]])) for e in edges}
    beliefs, it, conv, sends = belief_propagation(sizes, edges, chi, np.random.default_rng(0), beta=40.0, tol=1e-13,
                                                  max_iter=200)
    assert conv
    idx, _ = _joint(sizes, edges, chi)
    lw = sum(40.0 * np.log(chi[(g, h)][idx[:, g], idx[:, h]]) for g, h in edges)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    for g in range(len(sizes)):
        np.testing.assert_allclose(beliefs[g], np.bincount(idx[:, g], weights=w, minlength=sizes[g]), atol=1e-9)


def test_expected_rate_exact_and_sampled_agree(smoke):
    """E_pi[T]: the exact enumeration equals a hand-written sum over the product, and the sampled
    estimator (forced) lies within a few of its half-widths of it."""
    from mmopt.problems.random_beam_config.solvers.crab import expected_rate
    inst = smoke[1]
    G = inst["valid"].shape[0]
    F = [np.nonzero(inst["valid"][g])[0] for g in range(G)]
    rng = np.random.default_rng(5)
    pi = [rng.dirichlet(np.full(len(f), 0.3)) for f in F]
    ex, is_exact, ci0 = expected_rate(inst, F, pi, np.random.default_rng(0))
    assert is_exact and ci0 == 0.0
    idx = np.array(list(itertools.product(*[range(len(f)) for f in F])))
    rows = np.stack([F[g][idx[:, g]] for g in range(G)], axis=1)
    w = np.prod([pi[g][idx[:, g]] for g in range(G)], axis=0)
    assert ex == pytest.approx(float(np.dot(w, network_rates(inst, rows))), rel=1e-9)
    sm, is_exact, ci = expected_rate(inst, F, pi, np.random.default_rng(1), enum_max=0, samples=4000)
    assert not is_exact and ci > 0 and abs(sm - ex) <= 4 * ci


def test_schedule_objective_and_checks(smoke):
    inst = smoke[0]
    sol, st = get_solver("crab", P.name).solve(inst)
    sch = sol["schedule"]
    assert sch.shape == (100, inst["valid"].shape[0]) and np.array_equal(sch[0], sol["config"])
    assert P.objective(inst, sol) == pytest.approx(float(network_rates(inst, sch).mean()), rel=1e-12)
    assert P.objective(inst, sol) == pytest.approx(st["schedule_rate"], rel=1e-12)
    m = P.metrics(inst, sol, stats=st)
    changes = (sch[1:] != sch[:-1]).sum(axis=0) / 9.9
    assert m["changes_per_s"] == pytest.approx(float(changes.mean()), rel=1e-12)
    assert m["rate_overhead_23ms"] < P.objective(inst, sol)
    assert m["expected_rate"] == st["expected_rate"]
    bad = dict(sol, schedule=sch.copy())
    bad["schedule"][3, 0] = inst["valid"].shape[1] + 1
    assert not P.check(inst, bad, 1e-6).feasible
    bad = dict(sol, schedule=sch[::-1].copy())
    if not np.array_equal(sch[-1], sch[0]):
        assert not P.check(inst, bad, 1e-6).feasible


def test_crab_beta_sharpens_and_map_is_deterministic(smoke):
    inst = smoke[2]
    lit = get_solver("crab", P.name).solve(inst)[1]
    sharp = get_solver("crab-beta", P.name).solve(inst, beta=300.0)[1]
    mp_sol, mp = get_solver("crab-map", P.name).solve(inst)
    assert np.mean(sharp["max_pi"]) > np.mean(lit["max_pi"])
    assert sharp["expected_changes_per_s"] < lit["expected_changes_per_s"]
    assert "schedule" not in mp_sol and mp["expected_changes_per_s"] == 0.0
    for st in (lit, sharp):
        assert all(c == pytest.approx(10 * (1 - np.sum(np.asarray(p) ** 2)), abs=10) for c, p in
                   zip(st["changes_per_s_gnb"], st["max_pi"]))
        assert 0 <= min(st["changes_per_s_gnb"]) and max(st["changes_per_s_gnb"]) <= 10


def test_interaction_graph_uses_every_coverable_zone():
    """The coverage sets hold every zone some beam can cover (``reach``), a superset of the kept beams' lobes;
    on a ``paper`` instance this gives more edges and leaves fewer gNBs isolated."""
    from mmopt.problems.random_beam_config import coverage_sets
    from mmopt.problems.random_beam_config.solvers.crab import overlap_graph
    inst = P.generate("paper", 1)
    full, kept = coverage_sets(inst), coverage_sets(inst, kept_only=True)
    assert np.all(full >= kept) and full.sum() > kept.sum()
    G = full.shape[0]

    def isolated(edges):
        deg = np.zeros(G, dtype=int)
        for g, h in edges:
            deg[g] += 1
            deg[h] += 1
        return int(np.sum(deg == 0))
    assert isolated(overlap_graph(inst)[0]) < isolated(overlap_graph(inst, kept_only=True)[0])
    assert len(overlap_graph(inst)[0]) > len(overlap_graph(inst, kept_only=True)[0])
    # the version-1 fallback (path gains recovered from the stored beams) reproduces reach
    v1 = {k: v for k, v in inst.items() if k != "reach"}
    assert np.mean(coverage_sets(v1) == full) > 0.97


def test_cawbm_uses_exactly_four_beams_where_possible():
    from itertools import combinations
    from mmopt.problems.random_beam_config import single_beam_config
    from mmopt.problems.random_beam_config.solvers.baselines import cawbm_match
    from mmopt.problems.random_beam_config.scenario import ang_dist
    for i in (0, 1, 3):
        inst = P.generate("small", i)
        sol, st = get_solver("cawbm", P.name).solve(inst)
        kept, rounds, removed = cawbm_match(inst, 4)
        single = single_beam_config(inst)
        dirs, wid = inst["beam_dir"], inst["beam_width"]
        G = single.shape[0]
        for g in range(G):
            dbs = set(inst["beam_id"][g, inst["dbscan_config"][g]][inst["active"][g, inst["dbscan_config"][g]]])
            ranked = [k for k in range(single.shape[1]) if single[g, k] >= 0 and k not in dbs]
            possible = any(all(ang_dist(dirs[g, a], dirs[g, b]) >= (wid[g, a] + wid[g, b]) / 2
                               for a, b in combinations(sub, 2)) for sub in combinations(ranked, 4))
            n = int(inst["active"][g, sol["config"][g]].sum())
            assert n == len(kept[g])
            assert (n == 4) == possible, (i, g, n, possible)
        assert rounds == removed + 1


def test_dbscan_beams_are_10_degrees_and_centred_on_clusters():
    from mmopt.problems.random_beam_config.scenario import ang_dist, dbscan_1d
    for i in (0, 1):
        inst = P.generate("small", i)
        sol, _ = get_solver("dbscan", P.name).solve(inst)
        np.testing.assert_array_equal(sol["config"], inst["dbscan_config"])
        v = inst["vehicles"].astype(float)
        for g in range(inst["valid"].shape[0]):
            c = int(inst["dbscan_config"][g])
            zs = np.nonzero(inst["reach"][g])[0]
            d = inst["zone_xy"][zs] - inst["gnb_xy"][g]
            az = np.rad2deg(np.arctan2(d[:, 1], d[:, 0])) % 360.0
            lab = dbscan_1d(az, v[zs], 5.0, 2.0)
            if c == 0:
                assert lab.max() < 0
                continue
            ks = inst["beam_id"][g, c][inst["active"][g, c]]
            assert 1 <= len(ks) <= 4
            assert np.all(inst["beam_width"][g, ks] == 10.0)
            cen = inst["beam_dir"][g, ks]
            assert all(ang_dist(a, b) >= 10.0 for j, a in enumerate(cen) for b in cen[j + 1:])
            sizes = []
            for a in cen:   # each centre lies in one cluster's span and its window is that cluster's best
                inside = [cl for cl in range(lab.max() + 1) if ang_dist(az[lab == cl], a).min() <= 3.0]
                assert inside
                cl = max(inside, key=lambda q: v[zs][(lab == q) & (ang_dist(az, a) <= 5.0)].sum())
                got = v[zs][(lab == cl) & (ang_dist(az, a) <= 5.0)].sum()
                alt = max(v[zs][(lab == cl) & (ang_dist(az, x) <= 5.0)].sum() for x in np.round(az[lab == cl]))
                assert got >= alt - 1e-9
                sizes.append(got)
            assert sizes == sorted(sizes, reverse=True)


def test_ucb_reports_online_and_final():
    inst = P.generate("smoke", 0).readonly()
    sol, st = get_solver("ucb", P.name).solve(inst, iterations=200)
    assert st["final_rate"] == pytest.approx(P.objective(inst, sol), rel=1e-12)
    assert 0 < st["online_rate"] and st["c"] == 2.0 and st["arms_mean"] > 4
    sol2, st2 = get_solver("ucb-oracle-reward", P.name).solve(inst, iterations=200)
    assert st2["c"] == 0.5 and P.check(inst, sol2, 1e-6).feasible


# ---------------------------------------------------------------------------
# Figs. 7 and 9 from the store, and their per-cell data
# ---------------------------------------------------------------------------


def test_cell_data_rates_sum_to_the_objective(smoke):
    inst = smoke[1]
    for name in ("crab-map", "crab-beta"):
        sol, st = get_solver(name, P.name).solve(inst)
        data = P.cell_data(inst, sol)
        G = inst["valid"].shape[0]
        assert len(data["rate_gnb"]) == G and len(data["changes_per_s_gnb"]) == G
        assert sum(data["rate_gnb"]) == pytest.approx(P.objective(inst, sol), rel=1e-5)
        assert 0 <= min(data["changes_per_s_gnb"]) and max(data["changes_per_s_gnb"]) <= 10
        if name == "crab-map":
            assert data["changes_per_s_gnb"] == [0.0] * G


def test_plot_draws_fig7_and_fig9_from_the_store(tmp_path):
    import csv
    import json

    from mmopt.figures import AUDITS
    from mmopt.runner import run
    from mmopt.store import Store

    db = str(tmp_path / "r.sqlite")
    methods = ["crab", "crab-beta", "crab-map", "dbscan", "cawbm", "ucb"]
    run([P.name], "smoke", methods, db=db, workers=0, count=2, progress=False)
    with Store(db) as st:
        frame = st.frame(problems=[P.name], suites=["smoke"])
    paths = P.plot(frame, tmp_path / "fig", "smoke")
    names = {p.name for p in paths}
    assert {f"{s}.{e}" for s in ("fig7_rate_coverage_gap", "fig9_config_changes")
            for e in ("png", "pdf", "csv")} <= names
    assert set(P.figure_docs) == {"fig7_rate_coverage_gap", "fig9_config_changes"}
    for p in paths:
        if p.suffix == ".png":
            audit = AUDITS[str(p)]
            assert not audit["legend_covers"], (p.name, audit)
            # a colour is shared only by the curves of one method, or (black) by references and the paper's values
            for c, labels in audit["shared_colors"].items():
                assert c == "#000000" or len({lab.split(":")[0].split(" ")[0] for lab in labels}) == 1, (p.name, c)
    from mmopt.problems.random_beam_config.figures import COLORS
    assert len(set(COLORS.values())) == len(COLORS)
    with open(tmp_path / "fig" / "fig7_rate_coverage_gap.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert list(rows) == methods
    obj = frame.groupby("solver")["objective"].mean()
    assert float(rows["crab-map"]["rate_gbps"]) == pytest.approx(obj["crab-map"] / 1e9, abs=1e-4)
    assert float(rows["crab-map"]["margin_over_dbscan"]) == pytest.approx(obj["crab-map"] / obj["dbscan"] - 1,
                                                                          abs=1e-6)
    with open(tmp_path / "fig" / "fig9_config_changes.csv") as f:
        per_gnb = list(csv.DictReader(f))
    G = sum(P.generate("smoke", i)["valid"].shape[0] for i in range(2))
    for v in ("crab", "crab-beta", "crab-map"):
        mine = [r for r in per_gnb if r["method"] == v]
        assert len(mine) == G
        assert all(0 <= float(r["expected_changes_per_s"]) <= 10 for r in mine)
    assert all(float(r["expected_changes_per_s"]) == 0 for r in per_gnb if r["method"] == "crab-map")
    # the expected changes are the solver's stats; the counted ones the cells' problem_data
    st = json.loads(frame[frame["solver"] == "crab"]["stats"].iloc[0])
    assert len(st["problem_data"]["changes_per_s_gnb"]) == len(st["changes_per_s_gnb"])
    rows = P.reproduction(frame, "smoke")
    assert any(r["where"] == "Fig. 9 (right), Sec. VI" for r in rows)
    assert sum(r["where"] == "Fig. 9 (left), Sec. VI" for r in rows) == 3


def test_bnb_bound_holds_when_the_deadline_passes_before_the_search():
    """A search stopped before its root is expanded keeps the root bound, never the incumbent's value."""
    from mmopt.references import load_references
    refs = load_references(P.name, "small")
    b = get_solver("bnb", P.name)
    for i in (0, 1):
        inst = P.generate("small", i).readonly()
        _, st = b.solve(inst, time_limit=1e-9)
        assert st["status"] == "best" and st["bound"] >= refs[inst.hash]["value"] * (1 - 1e-12)
        want = max(min(st["root_bound"], interference_free_bound(inst)), st["value"])
        assert st["bound"] == pytest.approx(want, rel=1e-12) and want > st["value"] * 1.05

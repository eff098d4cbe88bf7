"""Tests of ``highway-sector-beams``: sector geometry (analysis vs sympy and Monte
Carlo of exact line-sector intersections), simulation, strategies and the oracle."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmopt.api import InputError
from mmopt.problems.highway_sector_beams import scenario as sim
from mmopt.problems.highway_sector_beams.analysis import (CASE_ARC, CASE_LEFT, CASE_RIGHT, Beam, beam_road_area,
                                                          interference_free_distance, interference_probability,
                                                          interfered_area, mean_service_distance,
                                                          sector_distance_cdf, service_distance_cdf,
                                                          travel_distance, verify_case_geometry)
from mmopt.problems.highway_sector_beams.cli import highway_cdf_json
from mmopt.problems.highway_sector_beams.layout import layout_beams, layout_neighbours, layout_road, paper_layout
from mmopt.registry import get_problem, get_solver

R, W = 80.0, math.radians(60)
PROB = "highway-sector-beams"


# ---------------------------------------------------------------------------
# an independent exact ray / sector intersection (no case formulas, no chords)
# ---------------------------------------------------------------------------


def first_boundary_hit(px, py, ux, uy, beam: Beam) -> np.ndarray:
    """Smallest s > 0 where p + s u crosses the sector's boundary (arc or edge segment)."""
    dx, dy = px - beam.x, py - beam.y
    best = np.full(np.shape(px), np.inf)
    # arc: |d + s u| = R, hit angle inside the wedge
    b = dx * ux + dy * uy
    c = dx * dx + dy * dy - beam.radius ** 2
    disc = b * b - c
    ok = disc >= 0
    sq = np.sqrt(np.where(ok, disc, 0.0))
    for s in (-b - sq, -b + sq):
        hx, hy = dx + s * ux, dy + s * uy
        ang = np.angle(np.exp(1j * (np.arctan2(hy, hx) - beam.theta)))
        good = ok & (s > 1e-9) & (np.abs(ang) <= beam.width / 2 + 1e-12)
        best = np.where(good, np.minimum(best, s), best)
    # edges: d + s u = t e, 0 <= t <= R
    for a in (beam.theta + beam.width / 2, beam.theta - beam.width / 2):
        ex, ey = math.cos(a), math.sin(a)
        den = ux * ey - uy * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (dy * ex - dx * ey) / den
            t = (dy * ux - dx * uy) / den
        good = (np.abs(den) > 1e-12) & (s > 1e-9) & (t >= 0) & (t <= beam.radius)
        best = np.where(good, np.minimum(best, s), best)
    return best


def mc_free_distance(beam, road, px, py, nbs, active):
    """d_zeta by exact intersections: leave the beam or enter an active neighbour."""
    ux = road.direction(py).astype(float)
    uy = np.zeros_like(ux)
    d = first_boundary_hit(px, py, ux, uy, beam)
    for i, nb in enumerate(nbs):
        inside = nb.contains(px, py)
        ent = np.where(inside, 0.0, first_boundary_hit(px, py, ux, uy, nb))
        d = np.where(active[:, i], np.minimum(d, ent), d)
    return d


def uniform_in_beam_road(beam, road, n, rng):
    x = rng.uniform(beam.x - beam.radius, beam.x + beam.radius, 4 * n)
    y = rng.uniform(road.y_low, road.y_high, 4 * n)
    m = beam.contains(x, y)
    return x[m][:n], y[m][:n]


# ---------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_case_geometry_sympy():
    res = verify_case_geometry()
    assert res and all(v == 0 for v in res.values()), res


def test_travel_distance_cases_match_exact_intersection():
    rng = np.random.default_rng(1)
    n = 20000
    r = R * np.sqrt(rng.random(n))
    phi = (rng.random(n) - 0.5) * W
    psi = rng.random(n) * 2 * np.pi
    L, case = travel_distance(r, phi, psi, R, W)
    ref = first_boundary_hit(r * np.cos(phi), r * np.sin(phi), np.cos(psi), np.sin(psi), Beam(0, 0, 0, R, W))
    assert np.max(np.abs(L - ref)) < 1e-6
    assert set(np.unique(case)) == {CASE_LEFT, CASE_RIGHT, CASE_ARC}
    # hand case: from the axis straight up leaves through the left edge at r tan(30 deg)/cos... (law of sines)
    L1, c1 = travel_distance(40.0, 0.0, math.pi / 2, R, W)
    assert c1 == CASE_LEFT and L1 == pytest.approx(40 * math.tan(math.radians(30)))
    L2, c2 = travel_distance(40.0, 0.0, 0.0, R, W)
    assert c2 == CASE_ARC and L2 == pytest.approx(40.0)


def test_sector_cdf_matches_monte_carlo():
    rng = np.random.default_rng(2)
    n = 200000
    r = R * np.sqrt(rng.random(n))
    phi = (rng.random(n) - 0.5) * W
    psi = rng.random(n) * 2 * np.pi
    L = first_boundary_hit(r * np.cos(phi), r * np.sin(phi), np.cos(psi), np.sin(psi), Beam(0, 0, 0, R, W))
    l = np.linspace(0, 2 * R, 33)
    F = sector_distance_cdf(l, R, W)
    emp = (L[:, None] <= l).mean(axis=0)
    assert np.max(np.abs(F - emp)) < 0.006  # 200k samples: sd <= 0.0011
    assert F[0] == 0.0 and F[-1] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("b", [2, 4])
def test_highway_cdf_matches_monte_carlo(b):
    lay = paper_layout()
    beams, road = layout_beams(lay), layout_road(lay)
    nbr = layout_neighbours(lay, on="road")[b]
    nbs = [beams[k] for k in nbr]
    rng = np.random.default_rng(3 + b)
    x, y = uniform_in_beam_road(beams[b], road, 60000, rng)
    l = np.linspace(0, 100, 26)
    for p in (0.0, 0.5):
        active = rng.random((x.size, len(nbs))) < p
        d = mc_free_distance(beams[b], road, x, y, nbs, active)
        F = service_distance_cdf(beams[b], road, l, nbs, p, model="per-connection")
        emp = (d[:, None] <= l).mean(axis=0)
        assert np.max(np.abs(F - emp)) < 0.01, (p, np.max(np.abs(F - emp)))
        assert mean_service_distance(beams[b], road, nbs, p, model="per-connection") == pytest.approx(
            d.mean(), rel=0.02)
        # the pointwise API agrees with the exact intersections
        dz = interference_free_distance(beams[b], road, x[:2000], y[:2000], nbs, active[:2000])
        assert np.max(np.abs(dz - d[:2000])) < 1e-6
    # interference probability: P(d_zeta < L) with everything active at p = 1
    act = np.ones((x.size, len(nbs)), dtype=bool)
    d1 = mc_free_distance(beams[b], road, x, y, nbs, act)
    L0 = mc_free_distance(beams[b], road, x, y, [], act[:, :0])
    assert interference_probability(beams[b], road, nbs, 1.0) == pytest.approx((d1 < L0 - 1e-9).mean(), abs=0.01)


def mc_eq10_distance(beam, road, px, py, nbs, p):
    """Eq. (10) by exact line-sector intersections: integrate prod_i (1 - p_i [inside i]) along the path."""
    ux = road.direction(py).astype(float)
    uy = np.zeros_like(ux)
    tau = first_boundary_hit(px, py, ux, uy, beam)
    ivs = []
    for nb in nbs:
        inside = nb.contains(px, py)
        s_in = np.where(inside, 0.0, first_boundary_hit(px, py, ux, uy, nb))
        fin = np.isfinite(s_in)
        qx, qy = px + np.where(fin, s_in, 0) * ux, py + np.where(fin, s_in, 0) * uy
        s_out = np.where(fin, np.where(fin, s_in, 0) + first_boundary_hit(qx, qy, ux, uy, nb), np.inf)
        # a path that only touches the sector (enters and leaves at once) has an empty interval
        ivs.append((np.minimum(s_in, tau), np.minimum(s_out, tau)))
    cuts = np.stack([np.zeros_like(tau), tau] + [v for iv in ivs for v in iv], axis=1)
    cuts = np.sort(cuts, axis=1)
    d = np.zeros_like(tau)
    for j in range(cuts.shape[1] - 1):
        s0, s1 = cuts[:, j], cuts[:, j + 1]
        mid = 0.5 * (s0 + s1)
        g = np.ones_like(tau)
        for (c, e), pi in zip(ivs, p):
            g *= np.where((mid >= c) & (mid <= e) & (e > c), 1.0 - pi, 1.0)
        d += g * np.maximum(s1 - s0, 0.0)
    return d


@pytest.mark.parametrize("b", [8, 2])
def test_eq10_cdf_matches_monte_carlo(b):
    """F-breve*_L of eqs. (10)-(12) against a Monte Carlo of exact intersections, p in {0, 0.3, 0.8}."""
    lay = paper_layout()
    beams, road = layout_beams(lay), layout_road(lay)
    nbs = [beams[k] for k in layout_neighbours(lay, on="road")[b]]
    assert nbs
    rng = np.random.default_rng(11 + b)
    x, y = uniform_in_beam_road(beams[b], road, 60000, rng)
    # beam 8: its one neighbour covers part of its road area; beam 2: up to three overlapping neighbours
    cov = np.any([nb.contains(x, y) for nb in nbs], axis=0).mean()
    depth = np.sum([nb.contains(x, y) for nb in nbs], axis=0).max()
    assert (len(nbs) == 1 and 0.05 < cov < 0.95) if b == 8 else (depth == 3)
    l = np.linspace(0, 120, 49)
    worst = 0.0
    for p in (0.0, 0.3, 0.8):
        d = mc_eq10_distance(beams[b], road, x, y, nbs, [p] * len(nbs))
        F = service_distance_cdf(beams[b], road, l, nbs, p)
        emp = (d[:, None] <= l).mean(axis=0)
        worst = max(worst, np.max(np.abs(F - emp)))
        assert np.max(np.abs(F - emp)) < 0.01, (p, np.max(np.abs(F - emp)))
        assert mean_service_distance(beams[b], road, nbs, p) == pytest.approx(d.mean(), rel=0.01)
        assert F[0] == 0.0
    # eq. (10) and the per-connection variant differ for p > 0 (the variant has an atom at 0)
    Fv = service_distance_cdf(beams[b], road, [0.0], nbs, 0.3, model="per-connection")[0]
    assert Fv > 0.02


def test_eq10_hand_computed_chord():
    """A chord [0, 40] with a neighbour covering [30, 40], p = 0.5: driving towards +x,
    d_zeta = 0.5 (40 - x) for x >= 30 and 5 + (30 - x) below; towards -x, d_zeta = x below 30 and
    30 + 0.5 (x - 30) beyond."""
    from mmopt.problems.highway_sector_beams.analysis import _weighted_pieces

    assert _weighted_pieces((0.0, 40.0), [(0, 30.0, 40.0)], np.array([0.5]), +1) == [
        (10.0, 0.5, 0.0), (30.0, 1.0, 5.0)]
    assert _weighted_pieces((0.0, 40.0), [(0, 30.0, 40.0)], np.array([0.5]), -1) == [
        (30.0, 1.0, 0.0), (10.0, 0.5, 30.0)]


def test_interfered_area_and_cdf_properties():
    lay = paper_layout()
    beams, road = layout_beams(lay), layout_road(lay)
    b, k = 2, 11
    rng = np.random.default_rng(5)
    n = 400000
    x = rng.uniform(100, 220, n)
    y = rng.uniform(road.y_low, road.y_high, n)
    box = 120 * (road.y_high - road.y_low)
    both = beams[b].contains(x, y) & beams[k].contains(x, y)
    assert interfered_area(beams[b], road, beams[k]) == pytest.approx(both.mean() * box, rel=0.02)
    assert beam_road_area(beams[b], road) == pytest.approx(beams[b].contains(x, y).mean() * box, rel=0.01)
    l = np.linspace(-5, 200, 60)
    nbs = [beams[j] for j in layout_neighbours(lay, on="road")[b]]
    F0 = service_distance_cdf(beams[b], road, l)
    assert np.allclose(F0, service_distance_cdf(beams[b], road, l, nbs, 0.0))
    prev = F0
    for p in (0.2, 0.5, 0.8):
        Fp = service_distance_cdf(beams[b], road, l, nbs, p)
        assert np.all(np.diff(Fp) >= -1e-9) and Fp[0] == 0.0 and Fp[-1] == pytest.approx(1.0)
        assert service_distance_cdf(beams[b], road, [0.0], nbs, p)[0] == 0.0      # no atom at 0 (eq. (10))
        assert np.all(Fp >= prev - 1e-9)  # busier neighbours, shorter interference-free distances
        prev = Fp


def test_highway_cdf_json():
    out = highway_cdf_json(p=[0.0, 0.5], beam_index=4, points=11)
    s = json.dumps(out)
    assert json.loads(s)["curves"][1]["p"] == 0.5
    assert len(out["l"]) == 11 and len(out["curves"][0]["cdf"]) == 11
    custom = highway_cdf_json([0, 10, 100], beam=(0, 15, -math.pi / 2, 80, W), road=(-10.5, 10.5, 0.0))
    assert custom["curves"][0]["cdf"][-1] == pytest.approx(1.0)


def test_modules_define_what_they_export():
    """Each module's ``__all__`` is defined there; the package re-exports the analysis API unchanged."""
    import inspect

    import mmopt.problems.highway_sector_beams as pkg
    from mmopt.problems.highway_sector_beams import analysis, cli, layout, problem

    for mod in (analysis, layout, cli):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert obj.__module__ == mod.__name__, name
    assert not set(analysis.__all__) & set(layout.__all__)
    home = {**dict.fromkeys(analysis.__all__, analysis), **dict.fromkeys(layout.__all__, layout),
            **dict.fromkeys(("HighwaySectorBeams", "analysed_connections", "connection_distances", "empty_solution"),
                            problem)}
    assert {"Beam", "Road", "service_distance_cdf"} <= set(pkg.__all__)  # the API the statement documents
    for name in pkg.__all__:
        assert getattr(pkg, name) is getattr(home[name], name), name


# ---------------------------------------------------------------------------
# a hand-built instance: two facing beams covering the same stretch of one lane
# ---------------------------------------------------------------------------


def tiny_instance(model=0, xs=(40.0, 60.0), n_steps=3, y1=-20.0):
    N = len(xs)
    return {
        "section": np.array([0.0, 100.0]),
        "road_y": np.array([-2.0, 2.0]),
        "lane_y": np.array([0.0]),
        "lane_dir": np.array([1], dtype=np.int64),
        "bs_xy": np.array([[50.0, 20.0], [50.0, y1]]),
        "beam_bs": np.array([0, 1], dtype=np.int64),
        "beam_theta": np.array([-math.pi / 2, math.pi / 2]),
        "beam_radius": np.array([40.0, 40.0 if y1 == -20.0 else 60.0]),
        "beam_width": np.array([math.pi / 2, math.pi / 2]),  # lane covered on 30 <= x <= 70 by both
        "veh_lane": np.zeros(N, dtype=np.int64),
        "veh_x0": np.array(xs, dtype=float),
        "veh_speed": np.full((N, 3), 1.0),
        "dt": np.array(0.1),
        "n_steps": np.array(n_steps, dtype=np.int64),
        "model": np.array(model, dtype=np.int64),
        "tx_power_dbm": np.array(20.0), "beam_gain_db": np.array(9.0), "noise_figure_db": np.array(7.0),
        "bandwidth_hz": np.array(50e6), "sinr_threshold_db": np.array(-5.0),
        "pl_intercept_db": np.array(61.34), "pl_slope_db": np.array(21.0),
    }


def sol(rows):
    return {"assign": np.array(rows, dtype=np.int16)}


def test_hand_built_geometric_and_practical():
    p = get_problem(PROB)
    inst = tiny_instance(0)
    p.check_instance(inst)
    both = sol([[0, 1]] * 3)
    one = sol([[0, -1]] * 3)
    assert p.check(inst, both).feasible
    assert p.objective(inst, both) == 0.0  # each served vehicle lies in the other active sector
    assert p.objective(inst, one) == pytest.approx(0.5)
    m = p.metrics(inst, both)
    assert m["interference_ratio"] == 1.0 and m["outage_ratio"] == 0.0 and m["connections"] == 2
    m1 = p.metrics(inst, one)
    assert m1["mean_free_distance_first_m"] == pytest.approx(3 * 0.1 * 1.0)
    assert m1["analysed_connections"] == 0 and "mean_free_distance_m" not in m1  # beam 0 is not the analysed one
    # the oracle serves one of them
    s, st = get_solver("oracle-bound").solve(inst)
    assert p.objective(inst, s) == pytest.approx(0.5) and st["value"] == pytest.approx(0.5)
    # practical model, both BSs 20 m from the lane: SINR = 0 dB >= -5 dB, both free
    instp = tiny_instance(1)
    assert p.objective(instp, both) == pytest.approx(1.0)
    s, st = get_solver("oracle-bound").solve(instp)
    assert st["value"] == pytest.approx(1.0)
    # BS 1 40 m from the lane: its vehicle (x = 60) sees BS 0 at 22.36 m and BS 1 at 41.23 m,
    # SINR = -21 log10(41.23 / 22.36) - (noise) = -5.58 dB < -5 dB: interfered; vehicle 0 gets +5.58 dB
    instq = tiny_instance(1, y1=-40.0)
    assert p.objective(instq, both) == pytest.approx(0.5)
    sc = sim.Scenario(instq)
    interf, rate = sc.evaluate(np.array([[0, 1]] * 3))
    assert interf[:, 1].all() and not interf[:, 0].any()
    snr1m_db = 20 + 9 - 61.34 - (-174 + 10 * math.log10(50e6) + 7)  # Table II link budget at 1 m
    s_own = 10 ** ((snr1m_db - 21 * math.log10(math.hypot(10, 20))) / 10)
    s_int = 10 ** ((snr1m_db - 21 * math.log10(math.hypot(10, 40))) / 10)
    assert 2 ** rate[0, 0] - 1 == pytest.approx(s_own / (1 + s_int), rel=1e-9)
    assert p.objective(tiny_instance(0, y1=-40.0), both) == 0.0


def test_constraint_violations_are_reported():
    p = get_problem(PROB)
    inst = tiny_instance(0, xs=(40.0, 90.0))  # vehicle 1 outside both beams
    rep = p.check(inst, sol([[1, -1]] * 3))
    assert not rep.feasible and "sector" in rep.violations[0].constraint
    # worst at step 2 (x = 90.2): nearest sector point is the end of the edge at -45 deg, 40 m from the BS
    corner = (50 + 40 * math.cos(-math.pi / 4), 20 + 40 * math.sin(-math.pi / 4))
    assert rep.violations[0].size == pytest.approx(math.hypot(90.2 - corner[0], corner[1]), abs=1e-9)
    rep = p.check(inst, sol([[0, 0]] * 3))
    assert not rep.feasible and any("at most one beam" in v.constraint for v in rep.violations)
    rep = p.check(inst, sol([[5, -3]] * 3))
    assert sum("index" in v.constraint for v in rep.violations) == 2
    with pytest.raises(InputError):
        p.check(inst, sol([[0, 1]] * 2))  # wrong number of steps
    with pytest.raises(InputError):
        p.check(inst, {"assign": np.zeros((3, 2), dtype=np.int64)})  # wrong dtype


def test_mobility_reentry_keeps_vehicles_in_section():
    p = get_problem(PROB)
    inst = p.generate("smoke", 0)
    x, y, v = sim.vehicle_positions(inst)
    assert x.shape == (2000, 6)
    assert np.all(x >= 0) and np.all(x <= 480)
    d = inst["lane_dir"][inst["veh_lane"]]
    step = np.diff(x, axis=0) * d[None, :]
    normal = step > 0
    assert np.allclose(step[normal], (v[:-1] * 0.1)[normal])
    assert (~normal).sum() > 0  # some re-entries happened
    assert np.all(np.isin(v, inst["veh_speed"]))
    assert v.min() >= 80 / 3.6 and v.max() <= 110 / 3.6
    short = dict(inst)
    short["veh_speed"] = inst["veh_speed"][:, :3].copy()  # 3 passes cannot cover 200 s
    with pytest.raises(InputError):
        p.check_instance(short)


# ---------------------------------------------------------------------------
# the oracle: combinatorial vs MILP
# ---------------------------------------------------------------------------


def test_geometric_enumeration_equals_milp():
    from mmopt.problems.highway_sector_beams.solvers.oracle import GeometricOracle, geometric_milp

    rng = np.random.default_rng(7)
    orc = GeometricOracle()
    for _ in range(150):
        B = int(rng.integers(2, 9))
        n = int(rng.integers(1, 12))
        masks = []
        for _ in range(n):
            k = int(rng.integers(1, 4))
            bs = rng.choice(B, size=min(k, B), replace=False)
            masks.append(int(sum(1 << int(b) for b in bs)))
        v1, pairs = orc.step(tuple(sorted(set(masks))))
        v2, _ = geometric_milp(masks)
        assert v1 == v2
        # the pairs are conflict free
        S = sum(1 << b for b, _ in pairs)
        assert all(m & S == 1 << b for b, m in pairs) and len({b for b, _ in pairs}) == len(pairs)


def test_practical_enumeration_equals_milp_and_brute_force():
    from itertools import product

    from mmopt.problems.highway_sector_beams.solvers.oracle import practical_enumerate, practical_milp

    rng = np.random.default_rng(8)
    gamma = 10 ** -0.5
    for _ in range(120):
        k, n = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        s = 10 ** rng.uniform(-1, 3, size=(k, n)) * (rng.random((k, n)) < 0.7)
        v1, pairs = practical_enumerate(s, gamma)
        v2, _ = practical_milp(s, gamma)
        # brute force over every assignment of beams to vehicles or idle
        best = 0
        for a in product(range(-1, n), repeat=k):
            used = [v for v in a if v >= 0]
            if len(used) != len(set(used)) or any(v >= 0 and s[b, v] <= 0 for b, v in enumerate(a)):
                continue
            act = [b for b, v in enumerate(a) if v >= 0]
            cnt = 0
            for b in act:
                v = a[b]
                I = sum(s[b2, v] for b2 in act if b2 != b)
                cnt += s[b, v] >= gamma * (1 + I)
            best = max(best, cnt)
        assert v1 == v2 == best
        assert len(pairs) == v1


# ---------------------------------------------------------------------------
# strategies on the smoke suite
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1])
def test_oracle_bounds_every_strategy_on_smoke(index):
    p = get_problem(PROB)
    inst = p.generate("smoke", index)
    ro = inst.readonly()
    s_or, st = get_solver("oracle-bound").solve(ro)
    assert p.check(inst, s_or).feasible
    ref = p.objective(inst, s_or)
    assert st["status"] == "opt" and ref == pytest.approx(st["value"], abs=1e-12)
    values = {}
    for name in ("random", "best-snr", "macol"):
        s, stats = get_solver(name, "highway-sector-beams").solve(ro, **({"explore_s": 60.0} if name == "macol" else {}))
        rep = p.check(inst, s)
        assert rep.feasible, (name, rep.summary())
        values[name] = p.objective(inst, s)
        assert 0 < values[name] <= ref + 1e-12, (name, values[name], ref)
        m = p.metrics(inst, s)
        assert m["outage_ratio"] + m["interference_ratio"] + values[name] == pytest.approx(1.0)
        assert m["service_period_ratio"] == pytest.approx(values[name])
        # no preemption: a connection ends only when its vehicle leaves the beam (or at the end)
        conn = sim.scenario(inst).connections(s["assign"].astype(np.int64), np.zeros(s["assign"].shape, bool))
        ends = conn["start"] + conn["steps"]
        ins = sim.scenario(inst).inside_all()
        live = ~conn["censored"]
        assert not ins[ends[live], conn["beam"][live], conn["vehicle"][live]].any()
    assert stats["decisions_explore"] + stats["decisions_exploit"] == stats["decisions"]
    assert "interference_ratio_exploit" in p.metrics(inst, s)


def test_shipped_smoke_references_match():
    from mmopt.references import load_references

    p = get_problem(PROB)
    refs = load_references(PROB, "smoke")
    assert len(refs) == p.suite("smoke").count
    for i in range(p.suite("smoke").count):
        inst = p.generate("smoke", i)
        rec = refs[inst.hash]  # the generator still produces the shipped instance
        _, st = get_solver("oracle-bound").solve(inst.readonly())
        assert rec["status"] == "opt" and st["value"] == pytest.approx(rec["value"], abs=1e-12)


# ---------------------------------------------------------------------------
# the paper's definitions (generator version 2)
# ---------------------------------------------------------------------------


def test_authors_layout():
    """The default layout is the authors' (cfoh/beam-analysis, numerical-check.py, test10/test11)."""
    from mmopt.problems.highway_sector_beams.layout import GENERATOR_VERSION, analysed_beam, lane_coverage

    lay = paper_layout()
    assert GENERATOR_VERSION == 2
    assert lay["section"].tolist() == [0.0, 480.0]
    assert lay["lane_y"].tolist() == [-10.0, -6.0, -2.0, 2.0, 6.0, 10.0]       # 4 m lanes, 24 m road
    assert lay["lane_dir"].tolist() == [-1, -1, -1, 1, 1, 1]
    assert lay["road_y"].tolist() == [-12.0, 12.0]                                # D_k = 40 - 12 = 28 m
    assert lay["bs_xy"].tolist() == [[100, -40], [220, -40], [360, -40], [90, 40], [210, 40], [340, 40]]
    deg = np.round(np.degrees(lay["beam_theta"])) % 360
    assert deg.tolist() == [150, 90, 30] * 3 + [210, 270, 330] * 3             # the authors' beam[s][j] = 3 s + j
    cov = lane_coverage(lay)
    assert cov.shape == (18, 6) and np.all(cov > 33)
    assert np.all(np.abs(cov.mean(axis=1) - 46.0) < 0.5)                        # about 46 m of lane per beam
    north = [1, 4, 7]
    assert cov[north].mean(axis=1) == pytest.approx([2 * math.tan(math.radians(30)) * 40] * 3)
    # the beam of Figs. 4-5: beam[1][1] against the three beams of beam[4] (test10)
    assert analysed_beam(lay) == (4, [12, 13, 14])
    # version 1's guess: north-pointing beams cover 17 m of a lane, diagonal ones 70 m
    old = lane_coverage(paper_layout({"layout": "mmopt-v1"})).mean(axis=1)
    assert old[north] == pytest.approx([17.3] * 3, abs=0.1) and old[0] == pytest.approx(69.7, abs=0.1)
    p = get_problem(PROB)
    inst = p.generate("smoke", 0)
    assert inst.meta["params"]["generator_version"] == 2 and np.array_equal(inst["bs_xy"], lay["bs_xy"])
    with pytest.raises(Exception, match="generator_version"):
        p.make_instance({"n_vehicles": 2, "duration_s": 1.0, "generator_version": 1}, np.random.default_rng(0))
    v1 = p.make_instance({"n_vehicles": 2, "duration_s": 1.0, "layout": "mmopt-v1"}, np.random.default_rng(0))
    assert v1["section"][1] == 600.0 and v1["lane_y"][-1] == pytest.approx(8.75)


def test_connections_total_interference_free_distance():
    """Eq. (10) integrates over the whole connection: the free distance is the distance driven during all
    interference-free steps, not only until the first interfered one."""
    inst = tiny_instance(0, n_steps=10)
    # beam 1 (the analysed beam) serves vehicle 0 during steps 0-7; beam 0 serves vehicle 1 during
    # steps 2-4, when both vehicles are inside both sectors: 3 interfered steps in the middle
    A = np.full((10, 2), -1, dtype=np.int64)
    A[0:8, 1] = 0
    A[2:5, 0] = 1
    sc = sim.Scenario(inst)
    interf, _ = sc.evaluate(A)
    c = sc.connections(A, interf)
    k = int(np.flatnonzero(c["beam"] == 1)[0])
    assert c["steps"][k] == 8 and c["distance"][k] == pytest.approx(0.8)
    assert c["free_distance"][k] == pytest.approx(0.5)          # 5 free steps of 0.1 m
    assert c["free_distance_first"][k] == pytest.approx(0.2)    # version 1: steps 0-1 only
    assert c["interfered"][k] and not c["censored"][k]
    # a connection that starts interfered: version 1 gives 0, eq. (10) the free remainder
    B = A.copy()
    B[:, 0] = -1
    B[0:3, 0] = 1
    interf, _ = sc.evaluate(B)
    c = sc.connections(B, interf)
    k = int(np.flatnonzero(c["beam"] == 1)[0])
    assert c["free_distance_first"][k] == 0.0 and c["free_distance"][k] == pytest.approx(0.5)
    # fully interfered: zero under both definitions (Fig. 4's atom)
    C = np.full((10, 2), -1, dtype=np.int64)
    C[0:4, 1] = 0
    C[0:4, 0] = 1
    interf, _ = sc.evaluate(C)
    c = sc.connections(C, interf)
    assert np.all(c["free_distance"] == 0.0)


def test_metrics_use_the_papers_definitions():
    """Time shares over the whole time on the section (T_E); distances of the analysed beam's finished
    connections after the exploration phase; version 1's definitions under explicit names."""
    from mmopt.problems.highway_sector_beams import analysed_connections

    p = get_problem(PROB)
    inst = tiny_instance(0, n_steps=10)
    A = np.full((10, 2), -1, dtype=np.int16)
    A[0:8, 1] = 0
    A[2:5, 0] = 1
    s = {"assign": A}
    m = p.metrics(inst, s)
    total = 2 * 10
    assert m["interference_ratio"] == pytest.approx(6 / total)          # 3 steps x 2 beams interfered
    assert m["service_period_ratio"] == pytest.approx(5 / total) == pytest.approx(p.objective(inst, s))
    assert m["outage_ratio"] == pytest.approx((total - 11) / total)
    assert m["interference_ratio_service"] == pytest.approx(6 / 11)    # version 1: / service time
    assert m["service_period_ratio_covered"] == pytest.approx(11 / 20)  # both vehicles inside a beam throughout
    # Figs. 4-5: the analysed beam (1) only; its connection is finished (ends at step 8 < 10)
    assert m["analysed_connections"] == 1 and m["mean_free_distance_m"] == pytest.approx(0.5)
    assert m["zero_free_connections"] == 0.0 and m["mean_service_distance_m"] == pytest.approx(0.8)
    assert m["mean_free_distance_first_m"] == pytest.approx((0.2 + 0.0) / 2)  # v1: both beams, from the start
    # a connection running at the end is left out
    A2 = A.copy()
    A2[8:, 1] = 0
    assert p.metrics(inst, {"assign": A2})["analysed_connections"] == 0
    # so is one that starts during the exploration phase
    s3 = {"assign": A, "explore_until": np.array(0.05)}
    assert analysed_connections(inst, s3).sum() == 0
    m3 = p.metrics(inst, s3)
    assert m3["analysed_connections"] == 0
    assert m3["interference_ratio_explore"] == 0.0 and m3["free_ratio_explore"] == pytest.approx(0.5)
    assert m3["interference_ratio_exploit"] == pytest.approx(6 / 18)
    d = p.cell_data(inst, s)
    assert d["free_distance"] == [0.5]
    tl = d["timeline"]
    assert np.allclose(np.add(np.add(tl["service"], tl["interference"]), tl["outage"]), 1.0)


def test_macol_picks_at_random_by_default():
    """Algorithm 1, lines 5 and 18: 'Select a vehicle randomly'."""
    solver = get_solver("macol", PROB)
    assert solver.params["pick"] == "random" and solver.version >= 3
    p = get_problem(PROB)
    inst = p.generate("smoke", 0).readonly()
    a_def, _ = solver.solve(inst, explore_s=60.0)
    a_rnd, _ = solver.solve(inst, explore_s=60.0, pick="random")
    a_snr, _ = solver.solve(inst, explore_s=60.0, pick="best-snr")
    assert np.array_equal(a_def["assign"], a_rnd["assign"])
    assert not np.array_equal(a_def["assign"], a_snr["assign"])
    # random picks are not always the nearest vehicle: at some connection start another candidate was nearer
    sc = sim.scenario(inst)
    ins = sc.inside_all()
    A = a_def["assign"].astype(np.int64)
    conn = sc.connections(A, np.zeros(A.shape, bool))
    nearer = 0
    for b, v, t in zip(conn["beam"], conn["vehicle"], conn["start"]):
        busy = set(A[t][A[t] >= 0]) - {v}
        cand = [u for u in np.flatnonzero(ins[t, b]) if u not in busy]
        d2 = [(sc.x[t, u] - sc.beams.x[b]) ** 2 + (sc.y[u] - sc.beams.y[b]) ** 2 for u in cand]
        nearer += min(d2) < (sc.x[t, v] - sc.beams.x[b]) ** 2 + (sc.y[v] - sc.beams.y[b]) ** 2
    assert nearer > 0


def test_fig4_curve_comparison():
    from mmopt.problems.highway_sector_beams.layout import analysed_mean_service_distance, analysed_service_distance_cdf
    from mmopt.problems.highway_sector_beams.problem import compare_with_curves

    lay = paper_layout()
    l = np.linspace(0, 100, 101)
    F0, F2 = analysed_service_distance_cdf(lay, l, 0.0), analysed_service_distance_cdf(lay, l, 0.2)
    assert np.all(F2 >= F0 - 1e-12)
    # the three neighbours tile the analysed beam's road area: d_zeta = (1 - p) tau
    assert analysed_mean_service_distance(lay, 0.2) == pytest.approx(0.8 * analysed_mean_service_distance(lay, 0.0))
    assert compare_with_curves(F0, F0, F2)["right"] == 1.0
    assert compare_with_curves(0.5 * (F0 + F2), F0, F2)["between"] > 0.9
    assert compare_with_curves(np.minimum(1.0, F2 + 0.05), F0, F2)["left"] > 0.7  # not where F2 reaches 1

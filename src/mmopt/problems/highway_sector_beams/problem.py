r"""The ``highway-sector-beams`` problem: statement, keys, suites, checker and objective.

Kose, Lee, Foh, Shojafar, MACOL, Sec. II; the sector geometry (eqs. (2)-(12),
Appendices A-B) is in :mod:`mmopt.problems.highway_sector_beams.analysis`, the
paper's layout in :mod:`mmopt.problems.highway_sector_beams.layout` and the
time-stepped highway in :mod:`mmopt.problems.highway_sector_beams.scenario`.
"""
from __future__ import annotations

import json
import math

import numpy as np

from mmopt.api import FeasibilityReport, InputError, Key, MmoptError, Problem, Suite, check_structure, problem
from mmopt.reproduce import pct

from . import scenario as sim
from .layout import LAYOUT_DEFAULTS, MOBILITY_DEFAULTS, RADIO_DEFAULTS, layout_mean_service_distance, paper_layout

_MODELS = {"geometric": sim.MODEL_GEOMETRIC, "practical": sim.MODEL_PRACTICAL}
_PAPER_N = (6, 10, 15, 20, 25, 30, 35, 40)

STATEMENT = r"""
**Data.** Beams $b \in \mathcal B$ ($|\mathcal B| = B = 18$) with sectors
$S_b$ (origin, pointing angle $\theta_b$, radius $R_B$, width $\Omega_B$);
vehicles $v \in \mathcal V$ ($|\mathcal V| = N$) on straight lanes with
positions $q_v(t)$ at steps $t = 0, \dots, T-1$ of length $\Delta t$
(mobility: constant speed per pass, re-entry at the start of the section
with the next pre-drawn speed; it does not depend on the decisions).

**Decision.** $a_{t,b} \in \{-1\} \cup \mathcal V$: the vehicle beam $b$
serves during step $t$ ($-1$: idle). Active beams
$\mathcal A_t = \{b : a_{t,b} \ne -1\}$.

**Constraints.** (C1) $a_{t,b} = v \Rightarrow q_v(t) \in S_b$;
(C2) every vehicle is served by at most one beam per step;
(C3) indices in range.

**Interference.** Served pair $(b, v = a_{t,b})$ is interfered,
$I_{t,b} = 1$, when
* geometric model: $\exists\, b' \in \mathcal A_t \setminus \{b\}$ with $q_v(t) \in S_{b'}$;
* practical model: $\mathrm{SINR}_{t,b} = \dfrac{g(q_v, b)}{N_0 + \sum_{b' \in \mathcal A_t\setminus\{b\},\ q_v \in S_{b'}} g(q_v, b')} < \gamma$,
  $g = P_{tx} G_B / PL(d)$, $PL$ of eq. (1), $\gamma = -5$ dB, $N_0$ over 50 MHz with a 7 dB noise figure.

**Objective** (maximised): the fraction of vehicle time served without interference

$$ f(a) = \frac{1}{N T} \sum_{t=0}^{T-1} \sum_{b \in \mathcal A_t} (1 - I_{t,b}). $$

**Strategy rule (not a constraint).** The strategies of the paper
(`random`, `best-snr`, `macol`) never pre-empt: a beam that picks a vehicle
serves it until the vehicle leaves the beam; MACOL may back off instead of
picking. `check` does not enforce this, so the per-step optimum
(`oracle-bound`) is feasible; it is the exact optimum of the problem above
and therefore an upper bound for every no-preemption strategy.

Analysis API:
`from mmopt.problems.highway_sector_beams import Beam, Road, service_distance_cdf`.
"""


def _suite(name: str, count: int, doc: str, seed: int, **params) -> Suite:
    return Suite(name, count, params, seed=seed, doc=doc)


@problem
class HighwaySectorBeams(Problem):
    """The MACOL highway: which vehicle each of 18 sector beams serves, step by step."""

    name = "highway-sector-beams"
    title = "Interference-aware highway sector-beam allocation (MACOL)"
    paper = ("A. Kose, H. Lee, C. H. Foh, M. Shojafar, \"Multi-agent context learning strategy for "
             "interference-aware beam allocation in mmWave vehicular communications\", arXiv:2401.02323.")
    statement = STATEMENT
    instance_keys = (
        Key("section", "float64", (2,), "m", "x of the start and end of the highway section"),
        Key("road_y", "float64", (2,), "m", "road band y_low, y_high (analysis)"),
        Key("lane_y", "float64", ("K",), "m", "lane centre y"),
        Key("lane_dir", "int64", ("K",), "-", "+1: lane drives towards +x; -1: towards -x"),
        Key("bs_xy", "float64", ("S", 2), "m", "base-station positions"),
        Key("beam_bs", "int64", ("B",), "-", "base station of each beam"),
        Key("beam_theta", "float64", ("B",), "rad", "beam pointing angle, counter-clockwise from +x"),
        Key("beam_radius", "float64", ("B",), "m", "sector radius R_B"),
        Key("beam_width", "float64", ("B",), "rad", "sector width Omega_B (<= pi)"),
        Key("veh_lane", "int64", ("N",), "-", "lane of each vehicle"),
        Key("veh_x0", "float64", ("N",), "m", "x of each vehicle at t = 0"),
        Key("veh_speed", "float64", ("N", "M"), "m/s",
            "speed on pass k (column 0: from t = 0; column k: after the k-th re-entry)"),
        Key("dt", "float64", (), "s", "time step"),
        Key("n_steps", "int64", (), "-", "number of steps T (duration T dt)"),
        Key("model", "int64", (), "-", "interference model: 0 geometric, 1 practical (SINR)"),
        Key("tx_power_dbm", "float64", (), "dBm", "transmit power (Table II: 20)"),
        Key("beam_gain_db", "float64", (), "dB", "beam gain inside a sector (Table II: 9)"),
        Key("noise_figure_db", "float64", (), "dB", "noise figure (Table II: 7)"),
        Key("bandwidth_hz", "float64", (), "Hz", "bandwidth (Table II: 50 MHz)"),
        Key("sinr_threshold_db", "float64", (), "dB", "SINR threshold of the practical model (-5)"),
        Key("pl_intercept_db", "float64", (), "dB", "eq. (1) path loss at 1 m"),
        Key("pl_slope_db", "float64", (), "dB", "eq. (1) path loss per decade of distance"),
    )
    solution_keys = (
        Key("assign", "int16", ("T", "B"), "-", "vehicle served by beam b during step t; -1 idle"),
        Key("explore_until", "float64", (), "s",
            "end of a learning strategy's exploration phase (enables the *_exploit metrics)", required=False),
    )
    suites = {
        "smoke": _suite("smoke", 2, "6 vehicles, 200 s; instance 0 geometric, 1 practical (SINR) model",
                        seed=5001, n_vehicles=6, duration_s=200.0,
                        sweep=[{"model": "geometric"}, {"model": "practical"}]),
        "small": _suite("small", 3, "6, 20, 40 vehicles, 600 s, geometric model", seed=5002,
                        duration_s=600.0, model="geometric",
                        sweep=[{"n_vehicles": n} for n in (6, 20, 40)]),
        "paper": _suite("paper", 3 * len(_PAPER_N),
                        "the paper's Figs. 4 and 7: 6..40 vehicles (6, 10, 15, ..., 40), 2000 s, 3 seeds each, "
                        "geometric model (instance i: n = sweep[i // 3])", seed=5003,
                        duration_s=2000.0, model="geometric",
                        sweep=[{"n_vehicles": n} for n in _PAPER_N for _ in range(3)]),
    }
    metric_docs = {
        "interference_ratio": "interfered service time / service time",
        "outage_ratio": "vehicle time without service / vehicle time",
        "interfered_share": "interfered service time / vehicle time (free + interfered + outage = 1)",
        "service_period_ratio": "T_S / T_E: service time / time inside at least one beam",
        "mean_free_distance_m": "mean interference-free service distance per connection (m)",
        "mean_service_distance_m": "mean distance driven per connection (m)",
        "free_distance_p50_m": "median interference-free service distance (m)",
        "interfered_connections": "share of connections with at least one interfered step",
        "zero_free_connections": "share of connections with zero interference-free distance (Fig. 4's atom at 0)",
        "connections": "number of connections (maximal runs of one beam serving one vehicle)",
        "interference_ratio_exploit": "interference ratio after explore_until (learning strategies)",
        "free_ratio_exploit": "objective restricted to the steps after explore_until",
    }
    value_tol = 1e-9

    def cli_commands(self) -> list:
        from .cli import highway_cdf

        return [highway_cdf]

    # -- generation (suites with a "sweep" vary N and the model by index: Problem.instance_params) --
    def plot(self, frame, out_dir, suite: str) -> list:
        """Figs. 4 and 7 of the paper from the store rows, see :mod:`mmopt.problems.highway_sector_beams.figures`."""
        from .figures import plot

        return plot(self, frame, out_dir, suite)

    def cell_data(self, instance, solution) -> dict:
        """The finished connections' interference-free distances (m, 0.1 m resolution) for Fig. 4."""
        c = connection_distances(instance, solution)
        return {"free_distance": np.round(c["free_distance"][~c["censored"]], 1).tolist()}

    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The paper's highway with ``n_vehicles`` vehicles for ``duration_s`` seconds.

        Parameters (all optional except ``n_vehicles`` and ``duration_s``):
        ``model`` ("geometric" | "practical"), ``dt_s`` (0.1), ``speed_kmh``
        ([80, 110]), the layout keys of ``LAYOUT_DEFAULTS`` and the radio keys
        of ``RADIO_DEFAULTS``. Lanes are uniform over the 6 lanes, initial x
        uniform over the section, speeds uniform in ``speed_kmh``.
        """
        P = {**LAYOUT_DEFAULTS, **RADIO_DEFAULTS, **MOBILITY_DEFAULTS, **params}
        N = int(P["n_vehicles"])
        if N < 1:
            raise MmoptError("n_vehicles must be >= 1")
        lay = paper_layout(P)
        dt = float(P["dt_s"])
        T = int(round(float(P["duration_s"]) / dt))
        x0, x1 = lay["section"]
        vmin, vmax = (float(v) / 3.6 for v in P["speed_kmh"])
        M = sim.passes_needed(T * dt, x1 - x0, vmax)
        K = lay["lane_y"].size
        arrays = dict(lay)
        arrays.update({
            "veh_lane": rng.integers(0, K, size=N).astype(np.int64),
            "veh_x0": rng.uniform(x0, x1, size=N),
            "veh_speed": rng.uniform(vmin, vmax, size=(N, M)),
            "dt": np.array(dt),
            "n_steps": np.array(T, dtype=np.int64),
            "model": np.array(_MODELS[str(P.get("model", "geometric"))], dtype=np.int64),
            "tx_power_dbm": np.array(float(P["tx_power_dbm"])),
            "beam_gain_db": np.array(float(P["beam_gain_db"])),
            "noise_figure_db": np.array(float(P["noise_figure_db"])),
            "bandwidth_hz": np.array(float(P["bandwidth_mhz"]) * 1e6),
            "sinr_threshold_db": np.array(float(P["sinr_threshold_db"])),
            "pl_intercept_db": np.array(32.4 + 20 * math.log10(float(P["carrier_ghz"]))),
            "pl_slope_db": np.array(float(P["pl_slope_db"])),
        })
        return arrays

    def validate_instance(self, instance, dims) -> None:
        def bad(msg):
            raise InputError(f"instance of '{self.name}': {msg}")

        sec = instance["section"]
        if not sec[1] > sec[0]:
            bad("section must have section[1] > section[0]")
        if not instance["road_y"][1] > instance["road_y"][0]:
            bad("road_y must have road_y[1] > road_y[0]")
        if not np.isin(instance["lane_dir"], (-1, 1)).all():
            bad("lane_dir must be +1 or -1")
        if np.any(instance["beam_bs"] < 0) or np.any(instance["beam_bs"] >= dims["S"]):
            bad("beam_bs out of range")
        if np.any(instance["beam_radius"] <= 0):
            bad("beam_radius must be > 0")
        w = instance["beam_width"]
        if np.any(w <= 0) or np.any(w > math.pi + 1e-12):
            bad("beam_width must be in (0, pi]")
        if np.any(instance["veh_lane"] < 0) or np.any(instance["veh_lane"] >= dims["K"]):
            bad("veh_lane out of range")
        if np.any(instance["veh_x0"] < sec[0]) or np.any(instance["veh_x0"] > sec[1]):
            bad("veh_x0 must lie in the section")
        if np.any(instance["veh_speed"] <= 0):
            bad("veh_speed must be > 0")
        if not float(instance["dt"]) > 0:
            bad("dt must be > 0")
        if int(instance["n_steps"]) < 1:
            bad("n_steps must be >= 1")
        if int(instance["model"]) not in (0, 1):
            bad("model must be 0 (geometric) or 1 (practical)")
        if float(instance["bandwidth_hz"]) <= 0:
            bad("bandwidth_hz must be > 0")
        # enough passes for the duration: time until the end of the last pass > last step time
        L = float(sec[1] - sec[0])
        V = instance["veh_speed"]
        d = instance["lane_dir"][instance["veh_lane"]]
        done0 = np.where(d > 0, instance["veh_x0"] - sec[0], sec[1] - instance["veh_x0"])
        t_end = (L - done0) / V[:, 0] + (L / V[:, 1:]).sum(axis=1)
        if np.any(t_end <= float(instance["dt"]) * (int(instance["n_steps"]) - 1)):
            bad("veh_speed has too few passes (columns) to cover the duration")

    def check_solution_structure(self, instance, solution) -> dict:
        dims = super().check_solution_structure(instance, solution)
        T = int(instance["n_steps"])
        if dims.get("T") != T:
            # re-check with T bound by the instance, for the error message
            check_structure(self.solution_keys, solution, f"solution of '{self.name}'", {**dims, "T": T})
        return dims

    # -- feasibility ------------------------------------------------------
    def constraints(self, instance, solution, tol: float, report: FeasibilityReport) -> None:
        A = solution["assign"].astype(np.int64)
        sc = sim.scenario(instance)
        T, B = A.shape
        N = sc.N
        oob = (A < -1) | (A >= N)
        for b in np.flatnonzero(oob.any(axis=0)):
            ts = np.flatnonzero(oob[:, b])
            ex = np.maximum(-1 - A[ts, b], A[ts, b] - (N - 1)).max()
            report.add("vehicle index in -1..N-1", float(ex),
                       f"beam {b}: {ts.size} steps, first at step {ts[0]} (value {A[ts[0], b]})")
        served = (A >= 0) & ~oob
        t_idx, b_idx = np.nonzero(served)
        v_idx = A[t_idx, b_idx]
        ok = sim.in_sector(sc.x[t_idx, v_idx], sc.y[v_idx], sc.beams, b_idx)
        if not ok.all():
            tb, bb, vb = t_idx[~ok], b_idx[~ok], v_idx[~ok]
            dist = np.empty(tb.size)
            for b in np.unique(bb):
                m = bb == b
                dist[m] = sim.distance_to_sector(
                    sc.x[tb[m], vb[m]], sc.y[vb[m]], sc.beams.x[b], sc.beams.y[b],
                    float(instance["beam_theta"][b]), float(instance["beam_radius"][b]),
                    float(instance["beam_width"][b]))
            viol = dist > tol
            for b in np.unique(bb[viol]):
                m = viol & (bb == b)
                first = np.flatnonzero(m)[0]
                report.add("served vehicle inside the serving beam's sector (distance outside, m)",
                           float(dist[m].max()),
                           f"beam {b}: {int(m.sum())} steps, first at step {tb[first]} (vehicle {vb[first]})")
        # each vehicle at most one beam per step
        if t_idx.size:
            key = t_idx * N + v_idx
            uniq, cnt = np.unique(key, return_counts=True)
            dup = cnt > 1
            if dup.any():
                vt = uniq[dup] % N
                for v in np.unique(vt):
                    m = vt == v
                    first_t = int(uniq[dup][m][0] // N)
                    report.add("vehicle served by at most one beam per step", float(cnt[dup][m].max() - 1),
                               f"vehicle {v}: {int(m.sum())} steps, first at step {first_t}")

    # -- value ------------------------------------------------------------
    @staticmethod
    def _clean(instance, solution) -> np.ndarray:
        A = solution["assign"].astype(np.int64)
        N = np.asarray(instance["veh_lane"]).size
        return np.where((A >= 0) & (A < N), A, -1)

    def objective(self, instance, solution) -> float:
        """Fraction of vehicle time served without interference, in [0, 1]."""
        sc = sim.scenario(instance)
        A = self._clean(instance, solution)
        interf, _ = sc.evaluate(A)
        free = (A >= 0) & ~interf
        return float(free.sum()) / (sc.N * sc.T)

    def reproduction(self, frame, suite: str) -> list[dict]:
        """Figs. 4, 5, 7 and the abstract: interference ratios, zero-service share, service distances."""
        return _reproduction_rows(self, frame, suite)

    def metrics(self, instance, solution) -> dict[str, float]:
        sc = sim.scenario(instance)
        A = self._clean(instance, solution)
        interf, _ = sc.evaluate(A)
        served = A >= 0
        n_served = int(served.sum())
        n_interf = int((served & interf).sum())
        total = sc.N * sc.T
        covered = int(sc.inside_all().any(axis=1).sum())
        conn = sc.connections(A, interf)
        out = {
            "interference_ratio": n_interf / n_served if n_served else 0.0,
            "outage_ratio": (total - n_served) / total,
            "interfered_share": n_interf / total,
            "connections": float(conn["beam"].size),
        }
        if covered:
            out["service_period_ratio"] = n_served / covered
        if conn["beam"].size:  # undefined metrics are left out rather than NaN
            out["mean_free_distance_m"] = float(conn["free_distance"].mean())
            out["mean_service_distance_m"] = float(conn["distance"].mean())
            out["free_distance_p50_m"] = float(np.median(conn["free_distance"]))
            out["interfered_connections"] = float(conn["interfered"].mean())
            out["zero_free_connections"] = float(np.mean(conn["free_distance"] <= 0.0))
        if "explore_until" in solution:
            t0 = min(max(int(math.ceil(float(solution["explore_until"]) / sc.dt - 1e-9)), 0), sc.T)
            s2, i2 = served[t0:], interf[t0:]
            ns = int(s2.sum())
            out["interference_ratio_exploit"] = float((s2 & i2).sum()) / ns if ns else 0.0
            out["free_ratio_exploit"] = float((s2 & ~i2).sum()) / (sc.N * max(sc.T - t0, 1))
        return out


# ---------------------------------------------------------------------------
# helpers for solvers and reports
# ---------------------------------------------------------------------------


def connection_distances(instance, solution) -> dict[str, np.ndarray]:
    """Connections of a solution with their (interference-free) service distances.

    See :meth:`mmopt.problems.highway_sector_beams.scenario.Scenario.connections`.
    """
    sc = sim.scenario(instance)
    A = HighwaySectorBeams._clean(instance, solution)
    interf, _ = sc.evaluate(A)
    return sc.connections(A, interf)


def empty_solution(instance) -> dict[str, np.ndarray]:
    """All beams idle."""
    return {"assign": np.full((int(instance["n_steps"]), np.asarray(instance["beam_bs"]).size), -1, dtype=np.int16)}


def _reproduction_rows(prob, frame, suite: str) -> list[dict]:
    """Rows of ``mmopt reproduce`` for the MACOL paper (see :meth:`HighwaySectorBeams.reproduction`)."""

    sub = frame[(frame["suite"] == suite)].copy()
    if sub.empty:
        return []
    sub["n"] = [int(prob.instance_params(suite, int(i)).get("n_vehicles", 0)) for i in sub["instance_index"]]
    ok = sub[sub["status"] == "ok"]
    mets = [json.loads(m) if m else {} for m in ok["metrics"]]
    ok = ok.assign(**{k: [m.get(k, np.nan) for m in mets]
                      for k in ("interference_ratio", "zero_free_connections", "mean_free_distance_m")})

    def cell(solver, n, col):
        g = ok[(ok["solver"] == solver) & (ok["n"] == n)]
        return float(g[col].astype(float).mean()) if len(g) else float("nan")

    def gap(solver, n):
        g = sub[(sub["solver"] == solver) & (sub["n"] == n)]
        return pct(g["gap"].astype(float).fillna(1.0).mean()) if len(g) else "–"

    def opt(n):
        g = sub[sub["n"] == n].drop_duplicates("instance_hash")["reference"].astype(float)
        return f"{g.mean():.3f} (free-time fraction)" if g.notna().any() else "–"

    ns = sorted(sub["n"].unique())
    heavy, light = ns[-1], ns[0]
    n30 = min(ns, key=lambda n: abs(n - 30))
    rows = []
    for solver, paper in (("macol", "around 10 % even under heavy load"),
                          ("best-snr", "grows with the load (Fig. 7)"), ("random", "grows with the load (Fig. 7)")):
        v = cell(solver, heavy, "interference_ratio")
        if not np.isnan(v):
            rows.append({"quantity": f"`{solver}` interference ratio, {heavy} vehicles", "where": "abstract, Fig. 7",
                         "paper": paper, "mmopt": pct(v), "optimum": opt(heavy), "gap": gap(solver, heavy)})
    v = cell("best-snr", n30, "zero_free_connections")
    if not np.isnan(v):
        rows.append({"quantity": f"`best-snr` connections with zero interference-free distance, {n30} vehicles",
                     "where": "Fig. 4, Sec. IV-B", "paper": "over 75 %", "mmopt": pct(v), "optimum": opt(n30),
                     "gap": gap("best-snr", n30)})
    v = cell("macol", n30, "mean_free_distance_m")
    if not np.isnan(v):
        lay = paper_layout()
        a0, a2 = layout_mean_service_distance(lay, 0.0), layout_mean_service_distance(lay, 0.2)
        where = "between" if min(a0, a2) <= v <= max(a0, a2) else ("below" if v < min(a0, a2) else "above")
        rows.append({"quantity": f"`macol` mean interference-free distance, {n30} vehicles, against the eq. (10) "
                                 "analysis at p = 0 and p = 0.2",
                     "where": "Fig. 4, Sec. IV-B", "paper": "MACOL's CDF between the p = 0 and p = 0.2 curves",
                     "mmopt": f"{v:.1f} m; analysis {a0:.1f} m (p = 0), {a2:.1f} m (p = 0.2): {where}",
                     "optimum": opt(n30), "gap": gap("macol", n30)})
    for solver in ("best-snr", "macol"):
        v = cell(solver, light, "mean_free_distance_m")
        if not np.isnan(v):
            rows.append({"quantity": f"`{solver}` mean interference-free service distance, {light} vehicles",
                         "where": "Fig. 5", "paper": "over 30 m (both)", "mmopt": f"{v:.1f} m",
                         "optimum": opt(light), "gap": gap(solver, light)})
    return rows

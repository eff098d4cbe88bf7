r"""Beam configurations over zones (``random-beam-config``).

B. Limani Fazliu, F. Malandrino, C. F. Chiasserini, A. Nordio, "A Belief
Propagation Solution for Beam Coordination in MmWave Vehicular Networks",
IEEE Trans. Wireless Commun. 21(12), 2022 (CRAB), Sec. III-IV, eqs. (9)-(14)
and Lemma 1. The paper never compares CRAB with the optimum of its own
problem (12); this module states that problem so that exact references can.

Model (Sec. III)
----------------
gNBs :math:`g \in \mathcal G`; each emits one beam configuration
:math:`\mathbf b_g \in \mathcal F_g`: at most :math:`B = 4` beams (RF chains), each a
(direction, half-power width) pair, pairwise non-overlapping (eq. (4):
:math:`|\delta_{g,i} - \delta_{g,j}| \ge (\alpha_{g,i} + \alpha_{g,j})/2`). The
transmit power is split equally over the active beams. The service area is
cut into 10 x 10 m zones; only the non-empty zones :math:`\mathcal Z_n` count.
Zone :math:`z` is served by the strongest active beam (no CoMP, :math:`G_c = 1`),
every other active beam interferes, and the :math:`n_b` vehicles served by a
beam share its resources equally (proportional fair under full buffer).

Objective (eqs. (9)-(10))
-------------------------
With :math:`\gamma_{b,z}` the noise-normalised received power of beam :math:`b` at
zone :math:`z` (``gain``), :math:`A(\mathbf B)` the active beams of the network
configuration :math:`\mathbf B = [\mathbf b_1, \dots, \mathbf b_G]` and
:math:`b(z) = \arg\max_{b \in A} \gamma_{b,z}` (ties to the lowest (g, s)),

.. math::

    \mathrm{SINR}_z(\mathbf B) = \frac{\gamma_{b(z),z}}{1 + \sum_{b \in A,\, b \ne b(z)} \gamma_{b,z}},\qquad
    z \text{ served} \iff \mathrm{SINR}_z \ge \mathrm{SINR}_{\min},

.. math::

    T(\mathbf B) = \sum_{z \text{ served}} \frac{v_z\, W}{n_{b(z)}} \log_2\bigl(1 + \mathrm{SINR}_z\bigr),
    \qquad n_b = \sum_{z \text{ served},\, b(z) = b} v_z ,

the network rate of eq. (10) with the rate of eq. (9) and the resource blocks
of a beam shared equally by its vehicles (:math:`v_z` vehicles in zone z,
:math:`W` the whole bandwidth). Note that :math:`T = W \sum_b \bar s_b`, the sum over
serving beams of the mean spectral efficiency of their vehicles.

Randomised problems (eqs. (11)-(14)) and Lemma 1
------------------------------------------------
The paper maximises :math:`\mathbb E_\Pi[T] = \sum_{\mathbf B} \Pi(\mathbf B) T(\mathbf B)` over
distributions :math:`\Pi` on :math:`\mathcal F^G` (eqs. (11)-(12)), and its
decentralised form :math:`\max_{\{\pi_g\}} \sum_{\mathbf b_1} \cdots \sum_{\mathbf b_G}
\prod_g \pi_g(\mathbf b_g)\, T([\mathbf b_1, \dots, \mathbf b_G])` (eqs. (13)-(14)).
Lemma 1: both are maximised by the point mass on
:math:`\mathbf B^{\max} = \arg\max_{\mathbf B} T(\mathbf B)`, so the optimum of the
randomised problems equals that of the deterministic problem

.. math::

    \max_{\mathbf B \in \mathcal F_1 \times \cdots \times \mathcal F_G} T(\mathbf B),

which the references solve. A solution is one configuration index per gNB
(``config``). A randomised method (CRAB draws from :math:`\pi_g` every 100 ms,
Sec. VI) may add its ``schedule``: the configurations of D slots (row 0 is
``config``); its value is then the mean of :math:`T` over the slots, eq. (11) with
the empirical distribution of the draws (100 slots: the paper's 10 s), which
never exceeds the optimum. The metrics give its 95 % half-width, the
configuration changes per second (Fig. 9) and the rate with the paper's
23 ms beam-reselection overhead charged per change (never in the objective).

Feasibility
-----------
``config[g]`` is an index in ``0..C-1`` with ``valid[g, config[g]]``.

Scenario and deviations from the paper
--------------------------------------
A Manhattan city grid (the paper used the LuST SUMO trace of Luxembourg)
whose vehicles move under a pure-numpy Manhattan mobility model
(``mobility = "manhattan"``, the default and every suite's) or, with the
optional extra ``sumo``, under SUMO on the same grid (``mobility = "sumo"``:
``netgenerate``, ``randomTrips.py``, traffic lights, car following), gNBs at
random intersections (traffic lights), 52 GHz, 33 dBm split over the active
beams, 64 x 64 UPA with 4 RF chains, widths
{5, 10, 15} degrees through eq. (2) (:math:`N = 102^\circ/\alpha`), vehicle 8 x 8 UPA
(13 degree beam, gain 64), 3GPP UMi line-of-sight path loss with 4 dB
shadowing, buildings opaque (line of sight only), 400 m range, -174 dBm/Hz +
9 dB noise figure over W = 400 MHz, ``sinr_min`` the SINR of CQI 1 under the
spectral-efficiency mapping (about -2.1 dB). The paper's 360 integer
directions give about 4e10 configurations per gNB; here each gNB keeps its
``K`` best beams pointing at its visible non-empty zones (scored by the rate
each delivers alone) and its configurations are the empty one (index 0) and
all sets of at most 4 pairwise non-overlapping kept beams (see
:mod:`mmopt.problems.random_beam_config.scenario`). Generator version 2
(``smoke`` and ``small`` with K = 4, ``medium`` and ``paper`` with K = 6) keeps ``K`` = 6 beams, so that most gNBs can
emit B = 4 (|F_g| = 16-40; ``K`` = 8 gives |F_g| up to 121, beyond the
reach of ``bnb``'s cluster tables on a CPU), records ``reach`` (every zone a
gNB can cover with any beam, the interaction graph's coverage sets), and adds
the paper's DBSCAN benchmark to the instance: fixed 10 degree beams centred
on the largest vehicle clusters of each gNB, as one more configuration
(``dbscan_config``), independent of the rate ranking. The paper's evaluation uses
the 4-bit CQI table with proportional fair scheduling; its model (eq. (9))
uses the Shannon rate. The objective here is the Shannon rate; the CQI-mapped
rate is a metric. Sizes: paper 51 gNBs, > 2,500 vehicles on 2 x 2 km^2
(suite ``large``, bound only); ``paper`` is 10-20 gNBs and 300-600 vehicles on
about 1 km^2, generator version 2 (``bnb`` on a Dask cluster of 2 workers with
clusters of 4, 600-900 s per instance: ``paper/0003`` certified optimal, the
others best-known values with a certified upper bound 7.5-63.1 % above
them; ``large``, also generator version 2, has the
``cluster-bound`` with clusters of 3 only: about 9 min per instance on one
core, where clusters of 4 would tabulate up to 37^4 = 1.9e6 joint
configurations per cluster); ``medium``
(5 interacting gNBs) is the largest suite certified optimal throughout.
"""
from __future__ import annotations

import json
from typing import Mapping

import numpy as np

from mmopt.api import InputError, Key, Problem, Suite, problem
from mmopt.phy.cqi import cqi_spectral_efficiency
from mmopt.references import load_references
from mmopt.reproduce import pct

from .scenario import simulate, tx_gain

STATEMENT = __doc__

__all__ = ["RandomBeamConfig", "network_rates", "zone_service", "components", "beam_se_bound",
           "interference_free_bound", "single_beam_config", "coverage_sets", "own_rates", "schedule_stats"]


# ---------------------------------------------------------------------------
# The objective, vectorised over many network configurations
# ---------------------------------------------------------------------------


def _chunk(n_rows: int, per_row: int, budget: int = 4_000_000) -> int:
    return max(1, min(n_rows, budget // max(per_row, 1)))


def zone_service(instance: Mapping[str, np.ndarray], configs: np.ndarray, gnbs=None, zones=None):
    """Serving beam, SINR and service of every zone for a batch of network configurations.

    Parameters
    ----------
    configs : int array (N, len(gnbs))
        Configuration index of each listed gNB (the others are silent).
    gnbs, zones : index arrays or None
        The gNBs that transmit (default all) and the zones evaluated (default all).

    Returns
    -------
    srv : (N, Zs) int, serving beam as ``i * S + s`` over the listed gNBs ``i``
    sinr : (N, Zs) float
    served : (N, Zs) bool
    load : (N, len(gnbs) * S) float, vehicles served by each beam (n_b)
    """
    gain, active = instance["gain"], instance["active"]
    G, C, S, Z = gain.shape
    gnbs = np.arange(G) if gnbs is None else np.asarray(gnbs, dtype=np.int64)
    configs = np.asarray(configs, dtype=np.int64).reshape(-1, len(gnbs))
    v = np.asarray(instance["vehicles"], dtype=np.float64)
    if zones is not None:
        zones = np.asarray(zones, dtype=np.int64)
        v = v[zones]
    smin = float(instance["sinr_min"])
    N, Gs = configs.shape
    P = gain[gnbs[None, :], configs]                       # (N, Gs, S, Z)
    if zones is not None:
        P = P[..., zones]
    P = P * active[gnbs[None, :], configs][..., None]
    P = P.reshape(N, Gs * S, -1)
    total = P.sum(axis=1)
    srv = P.argmax(axis=1)
    sig = np.take_along_axis(P, srv[:, None, :], axis=1)[:, 0]
    sinr = sig / (1.0 + (total - sig))
    served = (sinr >= smin) & (sig > 0)
    flat = srv + (np.arange(N) * Gs * S)[:, None]
    load = np.bincount(flat[served], weights=np.broadcast_to(v, served.shape)[served],
                       minlength=N * Gs * S).reshape(N, Gs * S)
    return srv, sinr, served, load


def network_rates(instance: Mapping[str, np.ndarray], configs: np.ndarray, gnbs=None, zones=None,
                  se=None) -> np.ndarray:
    r"""Network rate :math:`T` (bit/s, eq. (10)) of each row of ``configs`` (N, len(gnbs)).

    ``se`` maps SINR to spectral efficiency (default Shannon ``log2(1 + SINR)``;
    :func:`mmopt.phy.cqi.cqi_spectral_efficiency` gives the CQI-mapped rate).
    Chunked so that the working arrays stay small.
    """
    G, C, S, Z = instance["gain"].shape
    ng = G if gnbs is None else len(gnbs)
    configs = np.asarray(configs, dtype=np.int64).reshape(-1, ng)
    nz = Z if zones is None else len(zones)
    v = np.asarray(instance["vehicles"], dtype=np.float64)
    if zones is not None:
        v = v[np.asarray(zones, dtype=np.int64)]
    W = float(instance["bandwidth"])
    out = np.empty(len(configs))
    step = _chunk(len(configs), ng * S * nz)
    for a in range(0, len(configs), step):
        cf = configs[a:a + step]
        srv, sinr, served, load = zone_service(instance, cf, gnbs, zones)
        nb = np.take_along_axis(load, srv, axis=1)
        spec = np.log2(1.0 + sinr) if se is None else se(sinr)
        term = np.where(served, v * W * spec / np.where(served, nb, 1.0), 0.0)
        out[a:a + step] = term.sum(axis=1)
    return out


# ---------------------------------------------------------------------------
# Structure: independent groups of gNBs, bounds, candidate beams
# ---------------------------------------------------------------------------


def touches(instance) -> np.ndarray:
    """(G, Z) bool: gNB g has a non-zero gain at zone z in some configuration."""
    return (instance["gain"] > 0).any(axis=(1, 2))


def components(instance) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of gNBs that share no zone, with their zones: ``[(gnbs, zones), ...]``.

    Two gNBs interact only through zones where both have a non-zero gain, so
    :math:`T` is the sum of the rates of these groups on their own zones
    (zones no gNB reaches contribute 0). Exact decomposition.
    """
    t = touches(instance)
    G = t.shape[0]
    parent = list(range(G))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for z in np.nonzero(t.sum(axis=0) >= 2)[0]:
        gs = np.nonzero(t[:, z])[0]
        r0 = find(int(gs[0]))
        for h in gs[1:]:
            r = find(int(h))
            if r != r0:
                parent[r] = r0
    roots = np.array([find(g) for g in range(G)])
    out = []
    for r in np.unique(roots):
        gs = np.nonzero(roots == r)[0]
        zs = np.nonzero(t[gs].any(axis=0))[0]
        out.append((gs, zs))
    return out


def beam_se_bound(instance) -> np.ndarray:
    r"""(G, C, S): :math:`\max_z \log_2(1 + \gamma_{g,c,s,z})` over zones with :math:`\gamma \ge \mathrm{SINR}_{\min}`.

    A serving beam delivers :math:`W \bar s_b` (mean spectral efficiency of its
    vehicles), which is at most :math:`W` times this interference-free maximum.
    """
    gain = instance["gain"]
    smin = float(instance["sinr_min"])
    se = np.where(gain >= smin, np.log2(1.0 + gain), 0.0).max(axis=3)
    return se * instance["active"]


def interference_free_bound(instance, gnbs=None, zones=None) -> float:
    r"""Upper bound on :math:`T` over every configuration (any scale).

    The smaller of (a) :math:`W \sum_g \max_{c \text{ valid}} \sum_s \max_z \log_2(1+\gamma_{g,c,s,z})`
    (each gNB at its best configuration alone, each beam at its best
    interference-free zone) and (b) :math:`W \sum_z \max_{g,c,s} \log_2(1+\gamma_{g,c,s,z})`
    (each zone's vehicles counted once at their best single-gNB rate, since
    :math:`v_z / n_b \le 1`), taken per independent group of gNBs.
    """
    W = float(instance["bandwidth"])
    smin = float(instance["sinr_min"])
    gain = instance["gain"]
    se_beam = beam_se_bound(instance).sum(axis=2)
    se_beam = np.where(instance["valid"], se_beam, 0.0)
    per_g = se_beam.max(axis=1)
    zse = np.where(gain >= smin, np.log2(1.0 + gain), 0.0).max(axis=(0, 1, 2))
    total = 0.0
    for gs, zs in components(instance):
        total += min(per_g[gs].sum(), zse[zs].sum())
    return float(W * total)


def single_beam_config(instance) -> np.ndarray:
    """(G, K) int: the configuration with exactly candidate beam k of gNB g (-1 if none); needs ``beam_id``."""
    bid, act = instance["beam_id"], instance["active"]
    G = bid.shape[0]
    K = int(bid.max()) + 1 if bid.size and bid.max() >= 0 else 0
    out = np.full((G, max(K, 1)), -1, dtype=np.int64)
    n = act.sum(axis=2)
    for g in range(G):
        for c in np.nonzero((n[g] == 1) & instance["valid"][g])[0]:
            k = int(bid[g, c][act[g, c]][0])
            out[g, k] = c
    return out


def coverage_sets(instance, kept_only: bool = False) -> np.ndarray:
    """(G, Z) bool: the zones gNB g can cover alone with some beam.

    By default every zone a gNB can cover with any candidate beam, the kept
    ones or not (``reach``, generator version 2; for a version-1 instance,
    every visible zone where a 5 degree beam pointed at it would reach
    SINR_min at full power, its path gain recovered from the stored beams).
    ``kept_only``: the main lobes of the kept beams only (``cover``), the
    graph of mmopt <= 0.x.
    """
    smin = float(instance["sinr_min"])
    if kept_only or "beam_dir" not in instance or "zone_xy" not in instance:
        if "cover" in instance:
            return np.asarray(instance["cover"]).any(axis=1)
        return (instance["gain"] >= smin).any(axis=(1, 2))
    if "reach" in instance:
        return np.asarray(instance["reach"], dtype=bool)
    gain, act, bid = instance["gain"], instance["active"], instance["beam_id"]
    G, C, S, Z = gain.shape
    d = instance["zone_xy"][None, :, :] - instance["gnb_xy"][:, None, :]
    az = np.rad2deg(np.arctan2(d[..., 1], d[..., 0])) % 360.0
    base = np.zeros((G, Z))            # full-power gain per unit transmit gain, from the strongest stored beam
    nact = act.sum(axis=2)
    for g in range(G):
        for c in np.nonzero((nact[g] == 1) & instance["valid"][g])[0]:
            s = int(np.nonzero(act[g, c])[0][0])
            k = int(bid[g, c, s])
            tg = tx_gain(az[g] - instance["beam_dir"][g, k], float(instance["beam_width"][g, k]))
            est = np.where(tg > 1e-9, gain[g, c, s] / np.maximum(tg, 1e-300), 0.0)
            base[g] = np.maximum(base[g], est)
    out = base * tx_gain(np.zeros(1), 5.0)[0] >= smin
    if "cover" in instance:
        out |= np.asarray(instance["cover"]).any(axis=1)
    return out


def own_rates(instance, configs: np.ndarray) -> np.ndarray:
    """(N, G): the rate each gNB's beams deliver (bit/s) under each row of ``configs`` (N, G); rows sum to T."""
    gain = instance["gain"]
    G, C, S, Z = gain.shape
    configs = np.asarray(configs, dtype=np.int64).reshape(-1, G)
    v = np.asarray(instance["vehicles"], dtype=np.float64)
    W = float(instance["bandwidth"])
    out = np.zeros((len(configs), G))
    step = _chunk(len(configs), G * S * Z)
    for a in range(0, len(configs), step):
        srv, sinr, served, load = zone_service(instance, configs[a:a + step])
        nb = np.take_along_axis(load, srv, axis=1)
        term = np.where(served, v * W * np.log2(1.0 + sinr) / np.where(served, nb, 1.0), 0.0)
        for i in range(len(term)):
            out[a + i] = np.bincount(srv[i] // S, weights=term[i], minlength=G)
    return out


def schedule_stats(instance, schedule: np.ndarray, slot_s: float = 0.1, overhead_s: float = 0.023) -> dict:
    """Mean rate over a schedule of configurations (one row per ``slot_s`` slot), its 95 % half-width, the
    configuration changes per second of each gNB, and the mean rate when each change costs ``overhead_s`` of
    the changing gNB's slot (the paper's 23 ms beam-reselection overhead, Sec. VI)."""
    sched = np.asarray(schedule, dtype=np.int64)
    D = len(sched)
    own = own_rates(instance, sched)
    T = own.sum(axis=1)
    changed = np.zeros_like(sched, dtype=bool)
    changed[1:] = sched[1:] != sched[:-1]
    per_s = changed[1:].sum(axis=0) / max((D - 1) * slot_s, 1e-12) if D > 1 else np.zeros(sched.shape[1])
    lost = (own * changed * min(overhead_s / slot_s, 1.0)).sum(axis=1)
    return {"mean": float(T.mean()), "ci95": float(1.96 * T.std(ddof=1) / np.sqrt(D)) if D > 1 else 0.0,
            "changes_per_s": per_s, "mean_after_overhead": float((T - lost).mean())}


# ---------------------------------------------------------------------------
# The problem
# ---------------------------------------------------------------------------


@problem
class RandomBeamConfig(Problem):
    """Beam configuration per gNB maximising the network rate T(B) (CRAB paper, eqs. (9)-(14))."""

    name = "random-beam-config"
    max_instance_elements = 50_000_000  # ~9x the large suite (5.7 M); 400 MB of float64
    title = "Beam configurations over zones: network rate with interference and equal sharing"
    paper = ("B. Limani Fazliu, F. Malandrino, C. F. Chiasserini, A. Nordio, \"A Belief Propagation Solution "
             "for Beam Coordination in MmWave Vehicular Networks\", IEEE Trans. Wireless Commun. 21(12), "
             "2022, Sec. III-VI, eqs. (4), (9)-(17), Lemma 1.")
    statement = STATEMENT
    instance_keys = (
        Key("gain", "float64", ("G", "C", "S", "Z"), "-",
            "received power at zone z from beam slot s of configuration c of gNB g, noise-normalised, "
            "power split over the active beams included (0 for an empty slot or no line of sight)"),
        Key("active", "bool", ("G", "C", "S"), "-", "slot s of configuration c of gNB g emits a beam"),
        Key("valid", "bool", ("G", "C"), "-", "configuration c exists at gNB g (0 is always valid: no beam)"),
        Key("vehicles", "int64", ("Z",), "-", "vehicles in non-empty zone z"),
        Key("bandwidth", "float64", (), "Hz", "bandwidth W shared by the vehicles of a beam (400 MHz)"),
        Key("sinr_min", "float64", (), "-", "linear SINR below which a zone is not served (CQI 1)"),
        Key("beam_id", "int64", ("G", "C", "S"), "-",
            "candidate beam k of gNB g in slot s of configuration c (-1: empty slot)", required=False),
        Key("beam_dir", "float64", ("G", "K"), "deg", "azimuth of candidate beam k of gNB g", required=False),
        Key("beam_width", "float64", ("G", "K"), "deg", "half-power width of candidate beam k (0: none)",
            required=False),
        Key("cover", "bool", ("G", "K", "Z"), "-",
            "zone z is in the main lobe of candidate beam k of gNB g with SNR >= sinr_min", required=False),
        Key("reach", "bool", ("G", "Z"), "-",
            "zone z is in the main lobe, with SNR >= sinr_min, of some beam of gNB g pointing at a visible "
            "non-empty zone (any width, before the K best are kept; generator version 2)", required=False),
        Key("dbscan_config", "int64", ("G",), "-",
            "the configuration of gNB g made of its DBSCAN beams (0: none; generator version 2)", required=False),
        Key("gnb_xy", "float64", ("G", 2), "m", "gNB position", required=False),
        Key("zone_xy", "float64", ("Z", 2), "m", "zone centre", required=False),
    )
    solution_keys = (
        Key("config", "int64", ("G",), "-", "configuration index chosen by gNB g"),
        Key("schedule", "int64", ("D", "G"), "-",
            "a randomised method's configurations over D consecutive 100 ms slots (draws from its pi_g; "
            "row 0 is ``config``); when present the value is the mean of T over the rows", required=False),
    )
    _common = {"widths": [5.0, 10.0, 15.0], "B": 4}
    #: generator version 2: K = 6 rate-ranked beams (B = 4 reachable), ``reach``, the DBSCAN beams
    _v2 = {"gen": 2, "K": 6, **_common}
    suites = {
        "smoke": Suite("smoke", 6, {"G": 3, "nx": 3, "ny": 3, "pitch": 150.0, "vehicles": 60, **_v2, "K": 4},
                       seed=14001, doc="G = 3 gNBs on a 3 x 3 grid (300 m), 60 vehicles, K = 4 beams + the "
                                       "DBSCAN configuration, |F_g| <= 17 (the tests' suite)"),
        "small": Suite("small", 10, {"nx": 3, "ny": 3, "pitch": 200.0, "vehicles": 120,
                                     "sweep": [{"G": 4}, {"G": 5}], **_v2, "K": 4},
                       seed=14002, doc="G = 4-5 gNBs on a 3 x 3 grid (400 m), 120 vehicles, K = 4 + the DBSCAN "
                                       "configuration, brute force feasible (<= 17^5 products)"),
        "medium": Suite("medium", 6, {"G": 5, "nx": 4, "ny": 4, "pitch": 200.0, "vehicles": 180, **_v2},
                        seed=14005, doc="G = 5 gNBs on a 4 x 4 grid (600 m), 180 vehicles, K = 6: every gNB "
                                        "interacts, certified by bnb"),
        "paper": Suite("paper", 6, {"nx": 6, "ny": 6, "pitch": 200.0,
                                    "sweep": [{"G": 10, "vehicles": 300}, {"G": 15, "vehicles": 450},
                                              {"G": 20, "vehicles": 600}], **_v2},
                       seed=14003, doc="G = 10/15/20 gNBs and 300/450/600 vehicles on a 6 x 6 grid "
                                       "(1 km^2), K = 6 + the DBSCAN configuration: the paper's 51 gNBs / "
                                       "2,500 vehicles scaled to a CPU (bnb on a Dask cluster: optimal on "
                                       "paper/0003, best-known values with a certified upper bound on "
                                       "the others)"),
        "large": Suite("large", 2, {"G": 51, "nx": 11, "ny": 11, "pitch": 200.0, "vehicles": 2500, **_v2},
                       seed=14004, doc="the paper's scale: 51 gNBs, 2,500 vehicles on 2 x 2 km^2, K = 6 + the "
                                       "DBSCAN configuration (bound only: cluster-bound, clusters of 3)"),
    }
    param_docs = {
        "G": "gNBs (at distinct random intersections)", "nx": "intersections along x", "ny": "along y",
        "pitch": "m between intersections", "street_w": "street width, m", "vehicles": "vehicles",
        "drive_s": "s of driving before the snapshot (with SUMO: after its 10 s insertion phase)",
        "zone": "zone side, m",
        "fc": "carrier, Hz", "bandwidth": "W, Hz", "p_tx_dbm": "gNB power (split over active beams), dBm",
        "noise_figure_db": "receiver noise figure, dB", "n_ue": "vehicle UPA side",
        "widths": "beam widths, deg", "K": "candidate beams kept per gNB", "B": "max beams per configuration",
        "r_max": "range, m", "shadow_db": "log-normal shadowing, dB", "gnb_offset": "gNB offset from the "
        "intersection centre, m",
        "mobility": "vehicle mobility: `manhattan` (pure numpy, default) or `sumo` (SUMO on the same grid; "
                    "needs `pip install \"mmopt[sumo]\"`)",
        "gen": "generator version: 1 (the K rate-ranked beams only) or 2 (also `reach` and the DBSCAN "
               "beams and configuration)",
        "dbscan_eps": "DBSCAN neighbourhood, deg (version 2)", "dbscan_min": "DBSCAN core weight, vehicles "
        "(version 2)", "dbscan_width": "the DBSCAN beams' fixed width, deg (version 2)",
    }
    metric_docs = {
        "cqi_rate": "network rate with the 4-bit CQI spectral efficiency (TS 36.213, ns-3 PiroEW2010 "
                    "mapping) in place of log2(1 + SINR), bit/s",
        "covered": "share of vehicles in served zones",
        "beams": "active beams in the network",
        "rate_ci95": "95 % half-width of the mean rate over a randomised method's schedule (0: deterministic)",
        "changes_per_s": "configuration changes per second per gNB over the schedule (Fig. 9; 10 draws/s)",
        "rate_overhead_23ms": "mean rate with 23 ms of a gNB's 100 ms slot lost at each of its "
                              "configuration changes (Sec. VI), bit/s",
        "expected_rate": "E_pi[T] of a randomised method (its stats: exact, or sampled with a CI)",
        "expected_changes_per_s": "mean over gNBs of 10 (1 - sum pi_g^2), the expected changes per second",
        "online_rate": "UCB: mean T over its learning plays",
    }
    headline_metrics = ("covered", "changes_per_s")

    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return simulate(params, rng)

    def validate_instance(self, instance, dims) -> None:
        if not np.all(instance["valid"][:, 0]):
            raise InputError(f"instance of '{self.name}': configuration 0 must be valid at every gNB")
        if instance["gain"].size and instance["gain"].min() < 0:
            raise InputError(f"instance of '{self.name}': gain must be >= 0")
        if np.any(instance["gain"][~instance["active"]] != 0):
            raise InputError(f"instance of '{self.name}': an inactive slot has a non-zero gain")
        if instance["vehicles"].size and instance["vehicles"].min() < 1:
            raise InputError(f"instance of '{self.name}': every zone listed must hold a vehicle")
        if not float(instance["sinr_min"]) > 0:
            raise InputError(f"instance of '{self.name}': sinr_min must be > 0")
        if not float(instance["bandwidth"]) > 0:
            raise InputError(f"instance of '{self.name}': bandwidth must be > 0")

    def constraints(self, instance, solution, tol, report) -> None:
        G, C = instance["valid"].shape
        cfg = solution["config"]
        for g in range(G):
            c = int(cfg[g])
            if c < 0 or c >= C:
                report.add("config[g] in 0..C-1", float(-c if c < 0 else c - C + 1), f"gNB {g}: config = {c}")
            elif not instance["valid"][g, c]:
                report.add("valid[g, config[g]]", 1.0, f"gNB {g}: configuration {c} does not exist")
        if "schedule" in solution:
            sc = solution["schedule"]
            if len(sc) == 0:
                report.add("schedule has a row", 1.0, "empty schedule")
                return
            bad = (sc < 0) | (sc >= C)
            ok = np.where(bad, 0, sc)
            bad |= ~instance["valid"][np.arange(G)[None, :], ok]
            if bad.any():
                report.add("valid[g, schedule[t, g]]", float(bad.sum()),
                           "slots with a configuration that does not exist")
            if not np.array_equal(sc[0], cfg):
                report.add("schedule[0] == config", float(np.sum(sc[0] != cfg)), "gNBs whose slot 0 differs")

    def objective(self, instance, solution) -> float:
        if "schedule" in solution:
            return float(network_rates(instance, solution["schedule"]).mean())
        return float(network_rates(instance, solution["config"][None, :])[0])

    def reproduction(self, frame, suite: str) -> list[dict]:
        """Fig. 7 and Sec. VI: each CRAB variant against DBSCAN, CAWBM and UCB, coverage, BP cost, every gap,
        and Fig. 9's change rates."""
        return _reproduction_rows(frame, suite)


    def cell_data(self, instance, solution) -> dict:
        """Per-cell data of Fig. 9: each gNB's own rate and its counted configuration changes.

        ``rate_gnb``: the rate (bit/s) delivered by the beams of each gNB
        (:func:`own_rates`; the mean over the schedule of a randomised method);
        ``changes_per_s_gnb``: each gNB's configuration changes per second
        counted in the schedule (100 ms slots; 0 for a deterministic solution).
        """
        if "schedule" in solution:
            sched = np.asarray(solution["schedule"], dtype=np.int64)
            st = schedule_stats(instance, sched)
            rate, chg = own_rates(instance, sched).mean(axis=0), st["changes_per_s"]
        else:
            rate = own_rates(instance, np.asarray(solution["config"], dtype=np.int64)[None, :])[0]
            chg = np.zeros(len(rate))
        return {"rate_gnb": [float(f"{x:.6g}") for x in rate], "changes_per_s_gnb": [round(float(x), 4) for x in chg]}

    def metrics(self, instance, solution, stats=None) -> dict[str, float]:
        cfg = solution["config"][None, :] if "schedule" not in solution else solution["schedule"]
        _, _, served, _ = zone_service(instance, cfg)
        v = instance["vehicles"]
        G = len(solution["config"])
        out = {"cqi_rate": float(network_rates(instance, cfg, se=cqi_spectral_efficiency).mean()),
               "covered": float((served * v).sum(axis=1).mean() / max(v.sum(), 1)),
               "beams": float(instance["active"][np.arange(G)[None, :], cfg].sum(axis=(1, 2)).mean())}
        if "schedule" in solution:
            st = schedule_stats(instance, solution["schedule"])
            out.update({"rate_ci95": st["ci95"], "changes_per_s": float(st["changes_per_s"].mean()),
                        "rate_overhead_23ms": st["mean_after_overhead"]})
        else:
            out.update({"rate_ci95": 0.0, "changes_per_s": 0.0,
                        "rate_overhead_23ms": float(network_rates(instance, cfg)[0])})
        stats = stats or {}
        for k in ("expected_rate", "expected_changes_per_s", "online_rate"):
            if isinstance(stats.get(k), (int, float)):
                out[k] = float(stats[k])
        return out


#: the paper's headline comparisons (Fig. 7 and Sec. VI): CRAB's delivered data relative to each method
_PAPER_VS = {"dbscan": "+41 %", "cawbm": "+20 %", "ucb": "about +7 %"}
_PAPER_COVER = {"crab": "> 80 %", "cawbm": "> 80 %", "dbscan": "about 50 %"}


def _json_col(g, col: str) -> list[dict]:
    return [json.loads(x) if isinstance(x, str) and x else {} for x in g[col]]


def _changes(g) -> np.ndarray:
    """Expected changes per second of every gNB of every cell of ``g`` (stats ``changes_per_s_gnb``)."""
    out: list = []
    for st in _json_col(g, "stats"):
        out += list(st.get("changes_per_s_gnb", []))
    return np.asarray(out, dtype=float)


def _reproduction_rows(frame, suite: str) -> list[dict]:
    """Rows of ``mmopt reproduce``: every method's rate, coverage and gap; each CRAB variant's margin over
    DBSCAN, CAWBM and UCB (Fig. 7); the Fig. 9 change rates and per-gNB gains."""
    from .figures import CRAB_VARIANTS, gnb_gains, gnb_series

    sub = frame[(frame["suite"] == suite) & (frame["status"] == "ok")]
    if sub.empty:
        return []
    bounds = {h: float(r["bound"]) for h, r in load_references("random-beam-config", suite).items()}
    rows = []
    for solver, g in sub[sub["kind"] != "reference"].groupby("solver"):
        m = _json_col(g, "metrics")
        cover = float(np.nanmean([x.get("covered", np.nan) for x in m]))
        paper = f"coverage {_PAPER_COVER[solver]}" if solver in _PAPER_COVER else "-"
        mm = f"{g['objective'].astype(float).mean() / 1e9:.2f} Gb/s; coverage {pct(cover)}"
        st = _json_col(g, "stats")
        if solver.startswith("crab"):
            it = [x.get("iterations", np.nan) for x in st]
            pr = [x.get("pruned_edges", np.nan) for x in st]
            iso = [x.get("isolated_gnbs", np.nan) for x in st]
            mm += (f"; {np.nanmin(it):.0f}-{np.nanmax(it):.0f} BP iterations, {np.nanmax(pr):.0f} pruned edges at "
                   f"most, {np.nanmax(iso):.0f} isolated gNBs at most")
            paper += "; 8-15 BP iterations at c_thr = 0.15, at most 3 pruned edges"
        if solver == "ucb":
            on = [x.get("online_rate", np.nan) for x in st]
            mm += f"; online (mean over its plays) {np.nanmean(on) / 1e9:.2f} Gb/s"
        st_counts = g["reference_status"].value_counts()
        stt = (st_counts.index[0] if len(st_counts) == 1
               else ", ".join(f"{n} {k}" for k, n in sorted(st_counts.items())))
        optimum = f"{g['reference'].astype(float).mean() / 1e9:.2f} Gb/s ({stt})"
        gap = pct(g["gap"].astype(float).mean())
        ub = [bounds.get(h) for h in g["instance_hash"]]
        if (g["reference_status"] != "opt").any() and all(b is not None for b in ub):
            ub = np.array(ub, dtype=float)
            optimum += f", optimum <= {ub.mean() / 1e9:.2f} Gb/s"
            gap += f" to {pct(float(np.mean((ub - g['objective'].astype(float)) / ub)))}"
        rows.append({"quantity": f"`{solver}`: delivered rate, vehicles covered",
                     "where": "Fig. 7, Sec. VI", "paper": paper, "mmopt": mm, "optimum": optimum, "gap": gap})
    means = {s: g.set_index("instance_hash")["objective"].astype(float) for s, g in sub.groupby("solver")}
    for v in CRAB_VARIANTS:
        if v not in means:
            continue
        parts = []
        for b in ("dbscan", "cawbm", "ucb"):
            if b not in means:
                parts.append(f"{b} -")
                continue
            common = means[v].index.intersection(means[b].index)
            rel = means[v][common].mean() / means[b][common].mean() - 1.0 if len(common) else float("nan")
            parts.append(f"{b} {100 * rel:+.1f} %")
        rows.append({"quantity": f"`{v}`: delivered rate over DBSCAN, CAWBM, UCB",
                     "where": "Fig. 7 (left), Sec. VI",
                     "paper": "CRAB: " + ", ".join(f"{b.upper()} {m}" for b, m in _PAPER_VS.items()),
                     "mmopt": "; ".join(parts), "optimum": "-", "gap": "-"})
    series = gnb_series(frame, suite)
    for v in ("crab", "crab-beta", "crab-map"):
        g = sub[sub["solver"] == v]
        c = _changes(g)
        if not c.size:
            continue
        beta = sorted({x.get("beta") for x in _json_col(g, "stats") if x.get("beta") is not None})
        mm = (f"median {np.median(c):.2f}; {pct(float(np.mean(c < 0.75)))} below 0.75, "
              f"{pct(float(np.mean(c > 1)))} above 1 ({c.size} gNBs)")
        cnt = series.get(v, {}).get("counted", np.zeros(0))
        cnt = cnt[np.isfinite(cnt)]
        if cnt.size and v != "crab-map":
            mm += (f"; counted over the 10 s schedule: median {np.median(cnt):.2f}, "
                   f"{pct(float(np.mean(cnt < 0.75)))} below 0.75, {pct(float(np.mean(cnt > 1)))} above 1")
        rows.append({"quantity": f"`{v}`: configuration changes per second per gNB, 10 (1 - sum pi^2)"
                                 + (f" (beta = {', '.join(f'{b:g}' for b in beta)})" if beta else ""),
                     "where": "Fig. 9 (left), Sec. VI",
                     "paper": "50 % of gNBs below 0.75, 40 % above 1 (10 draws per second)",
                     "mmopt": mm, "optimum": "-", "gap": "-"})
    for v in CRAB_VARIANTS:
        parts = []
        for b in ("dbscan", "cawbm"):
            gains = gnb_gains(series, v, b)
            if gains.size:
                parts.append(f"{b}: {pct(float(np.mean(gains >= 1.0)))} / {pct(float(np.mean(gains >= 0.5)))} / "
                             f"{pct(float(np.mean(gains > 0)))} ({gains.size} gNBs)")
        if parts:
            rows.append({"quantity": f"`{v}`: share of gNBs whose own rate gains >= 100 % / >= 50 % / > 0 over "
                                     "DBSCAN, CAWBM",
                         "where": "Fig. 9 (right), Sec. VI",
                         "paper": "DBSCAN: over 30 % / 55 % / -; CAWBM: around 10 % / 30 % / -; more than 80 % "
                                  "of gNBs gain significantly",
                         "mmopt": "; ".join(parts), "optimum": "-", "gap": "-"})
    return rows

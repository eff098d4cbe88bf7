r"""Throughput-constrained trajectory association (``trajectory-assoc``).

S. Khosravi, H. S. Ghadikolaei, J. Zander, M. Petrova, "Reinforcement
learning-based joint handover and beam tracking in millimeter-wave networks"
(arXiv:2301.05305): the serving base station (BS) of a pedestrian user (UE)
is chosen slot by slot along a known trajectory; staying with a BS costs the
beam-tracking time of Algorithm 2, changing BS costs an initial beam
training. The problem is the paper's eq. (5); this module states it, checks
and scores solutions, and generates the street-grid scenarios.

Problem (eq. (3), (5a)-(5c))
---------------------------
Slots :math:`i = 1..M`, BSs :math:`j = 0..N_B-1`, one serving BS :math:`j_i`
per slot (eqs. (5b)-(5c)); :math:`j_0` is the BS serving before slot 1
(``initial_bs``; :math:`-1` makes slot 1 an initial access, counted like a
handover). The achieved throughput per Hz of slot :math:`i` is (eq. (3))

.. math::

    \Gamma_i = \Bigl(1 - \frac{\tau_{b,i}}{\tau_c}\Bigr) R_i, \qquad
    (\tau_{b,i}, R_i) = \begin{cases}
        (\tau_{HO},\ \mathrm{rate}_{i, j_i}) & j_i \ne j_{i-1} \text{ (handover)},\\
        (\tau^{tr}_{i, j_i},\ \mathrm{rate}^{tr}_{i, j_i}) & j_i = j_{i-1} \text{ (beam tracking)},
    \end{cases}

and the objective (eq. (5a)) is maximised:

.. math::

    F_1 - \lambda F_2 = \sum_{i=1}^M \Gamma_i - \lambda\,\#\{i : \Gamma_i \le \Gamma_{thr}\}.

Table I values: :math:`\lambda = 100`, :math:`\Gamma_{thr} = 1` bit/s/Hz,
SNR\ :sub:`thr` = 2 dB, :math:`\tau_c = 10` ms,
:math:`\tau_{HO} = \tau_c / 3`, :math:`\beta = 10\ \mu s` per tested beam.

Modelling assumption (what makes eq. (5) a shortest-path problem)
-----------------------------------------------------------------
Each slot's overhead and rate depend only on (slot, BS, handover or not):
after a handover the UE uses the best codebook beam of the new BS (full beam
training); when it stays, Algorithm 2 starts from the *best* beam of the same
BS in the previous slot (the beam that full training would have chosen there),
not from the beam that tracking itself produced. With it, ``rate``,
``rate_track`` and ``tau_track`` are tables over (slot, BS) and eq. (5) is
solved exactly by dynamic programming over the serving BS.

Beam tracking (Algorithm 2)
---------------------------
The codebook is a grid of steering directions (azimuth, elevation) at
5 degree resolution. Tracking keeps the previous best beam if it still meets
SNR\ :sub:`thr` (zero time); otherwise it tests the beams of the
:math:`(\Delta\phi, \Delta\theta) = (10, 10)` degree neighbourhood (the 24
grid neighbours within two steps) in order of angular distance and stops at
the first beam that meets SNR\ :sub:`thr`: :math:`\tau^{tr} = \beta x`, with
:math:`x` the number of beams tested. When no beam of the neighbourhood meets
the threshold, all of them are tested and the best one is used (then
:math:`\mathrm{rate}^{tr} < \log_2(1 + \mathrm{SNR}_{thr})`: the link is
*blocked*, which is what the online baselines observe).

Scenario
--------
A Manhattan grid of square building blocks (``block`` m wide, streets
``street`` m wide) that block the line of sight; a pedestrian walks along the
streets at 1 m/s (a random walk over intersections, no U-turns), one slot per
:math:`T_A = 1` s; BSs on building walls at 6 m height beside the walk (one
per 1/N_B of its length, random side of the street), each with an 8 x 8
half-wavelength UPA whose boresight is the wall's outward normal and a
codebook of steering directions on a 5 degree grid (azimuth within
+-80 degrees, elevation -60..0 degrees); placements are redrawn (up to
``placement_tries``) until, without blockers, every point of the walk has a
path of ``coverage_snr_db`` (10 dB) from some BS, so that outages come from
the temporary blockers rather than from holes in the deployment; temporary
blockers (people and vehicles, Poisson with density 1e-2 per m^2 of street,
heights uniform in [1, 3] m, widths uniform in [2, 4] m, our reading of
Table I's "1 and 3 m, 2 and 4 m") are drawn per channel realisation and are
static within it. Paths: line of sight and single-bounce specular
reflections on building walls (``refl_loss_db`` = 10 dB per bounce),
free-space path loss at 28 GHz, ``blocker_loss_db`` = 30 dB for every
blocker a path crosses below the blocker's height (UE at 1 m, so only the
part of a path near the UE can be blocked), UE omnidirectional; 10 dBm,
100 MHz, -174 dBm/Hz, no noise figure (``noise_figure_db`` = 0). Rates are
Shannon rates of the beamformed SNR, :math:`\log_2(1 + \mathrm{SNR})`.

Units: SI inside (m, s, W, linear SNR); dB only in the generator parameters.

Realisations
------------
One instance is one trajectory (streets, BSs, walk) with one channel
realisation, the evaluated one (``rate``, ``rate_track``, ``tau_track``,
``rate_keep``). Every suite also stores ``n_train`` = 50 further realisations
of the same trajectory (other blockers; ``train_*`` keys) for methods that
learn offline and ``n_val`` = 1 validation realisation (``val_*``) for their
model selection; none of them is the evaluated one, and learners never see the
evaluated one. :func:`~mmopt.problems.trajectory_assoc.scenario.draw_realisations`
draws any number of new realisations of a trajectory by seed from its stored
geometry (``ue_start``, ``ue_xy``, ``bs_xy``, ``bs_normal``).

Algorithm 1's policy class and its optimum
------------------------------------------
The paper's methods act only at *trigger slots* (Alg. 1): slot ``i`` is a
trigger for the BS :math:`j_S` that served slot ``i-1`` when that BS's best beam
of slot ``i-1`` misses SNR\ :sub:`thr` at slot ``i`` (``rate_keep`` below
:math:`\log_2(1 + \mathrm{SNR}_{thr})`; equivalently Algorithm 2 has to test
beams, ``tau_track > 0``, or finds none, ``track_ok`` false), and slot 1 when
``initial_bs = -1``. Elsewhere the UE keeps BS and beam. The *class optimum*
(solver ``dp-alg1``) is the best serving sequence that changes BS only at
trigger slots (any BS may be chosen there, staying = beam tracking): the
optimum over every policy of Alg. 1's class, clairvoyant within the class.
Every method is scored against both certified values: with :math:`V^*` the
optimum, :math:`V^*_1` the class optimum and :math:`v` the method's value,

.. math::

    \text{gap} = \underbrace{\frac{V^* - V^*_1}{|V^*|}}_{\texttt{rule\_gap}}
               + \underbrace{\frac{V^*_1 - v}{|V^*|}}_{\texttt{class\_gap}},

``rule_gap`` the cost of Alg. 1's rule itself, ``class_gap`` the method's
distance from the best policy that obeys it (negative for a method that breaks
the rule, such as ``greedy``, and beats the class). The ``dp`` reference keeps
:math:`V^*_1` in its record (``solution.class_optimum``) for these metrics.

Environment
-----------
:mod:`mmopt.problems.trajectory_assoc.env` (Gymnasium id
``mmopt/TrajectoryAssoc-v0``, registered by ``import mmopt.envs``) plays
Algorithm 1 slot by slot on one trajectory, one realisation per episode (the
training realisations by default, never the evaluated one unless asked), with
the reward of eq. (6); its undiscounted return is eq. (5a) of the serving
sequence played. ``DecisionPointEnv`` wraps it as the semi-Markov decision
process of the trigger slots. The learned solvers ``dqn`` and
``dqn-handover-only`` (``solvers/dqn.py``) learn on it.
"""
from __future__ import annotations

import json
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from mmopt import phy
from mmopt.api import InputError, Key, MmoptError, Problem, Suite, problem
from mmopt.reproduce import pct

from .scenario import DEFAULTS, simulate

__all__ = ["TrajectoryAssoc", "slot_gammas", "slot_rewards", "gamma_of", "track_ok", "alg1_triggers",
           "simulate", "DEFAULTS"]

# ---------------------------------------------------------------------------
# Objective helpers shared by the problem and the solvers
# ---------------------------------------------------------------------------


def _scalar(instance: Mapping[str, np.ndarray], key: str) -> float:
    return float(np.asarray(instance[key]).reshape(()))


def slot_gammas(instance: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-slot throughput per Hz of every (slot, BS), eq. (3).

    Returns
    -------
    g_ho, g_st : ndarray (M, NB)
        :math:`\Gamma` when slot ``i`` is served by BS ``j`` after a handover
        (:math:`(1 - \tau_{HO}/\tau_c)\,\mathrm{rate}_{ij}`) and after staying
        with ``j`` (:math:`(1 - \tau^{tr}_{ij}/\tau_c)\,\mathrm{rate}^{tr}_{ij}`).
        Every evaluator uses these arrays, so threshold tests agree bit for bit.
    """
    rate = np.asarray(instance["rate"], dtype=np.float64)
    rate_tr = np.asarray(instance["rate_track"], dtype=np.float64) if "rate_track" in instance else rate
    tau_c = _scalar(instance, "tau_c")
    g_ho = (1.0 - _scalar(instance, "tau_ho") / tau_c) * rate
    g_st = (1.0 - np.asarray(instance["tau_track"], dtype=np.float64) / tau_c) * rate_tr
    return g_ho, g_st


def slot_rewards(instance: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-slot terms of eq. (5a): :math:`\Gamma - \lambda [\Gamma \le \Gamma_{thr}]`, for handover and stay."""
    g_ho, g_st = slot_gammas(instance)
    lam, thr = _scalar(instance, "lam"), _scalar(instance, "gamma_thr")
    return g_ho - lam * (g_ho <= thr), g_st - lam * (g_st <= thr)


def gamma_of(instance: Mapping[str, np.ndarray], serving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\Gamma_i` of a serving sequence and its handover mask (initial access included)."""
    g_ho, g_st = slot_gammas(instance)
    s = np.asarray(serving, dtype=np.int64)
    prev = np.concatenate(([int(np.asarray(instance["initial_bs"]))], s[:-1]))
    ho = s != prev
    idx = np.arange(len(s))
    return np.where(ho, g_ho[idx, s], g_st[idx, s]), ho


def track_ok(instance: Mapping[str, np.ndarray], rate_track: np.ndarray | None = None) -> np.ndarray:
    """Whether staying with BS ``j`` at slot ``i`` keeps a beam that meets SNR_thr (M, NB).

    True exactly when Algorithm 2 finds a beam at or above SNR_thr, i.e. when
    ``rate_track >= log2(1 + snr_thr)``; False is a *blocked* serving link.
    """
    if rate_track is None:
        rate_track = instance["rate_track"] if "rate_track" in instance else instance["rate"]
    snr_thr = _scalar(instance, "snr_thr") if "snr_thr" in instance else float(phy.db2lin(DEFAULTS["snr_thr_db"]))
    return np.asarray(rate_track) >= np.log2(1.0 + snr_thr) - 1e-12


def alg1_triggers(instance: Mapping[str, np.ndarray], rate_track: np.ndarray | None = None,
                  tau_track: np.ndarray | None = None) -> np.ndarray:
    """Algorithm 1's trigger slots (M, NB): True where BS ``j`` serving slot ``i-1`` must act at slot ``i``.

    The serving link drops below SNR_thr: the previous slot's best beam of
    ``j`` misses SNR_thr at slot ``i``, so Algorithm 2 tests beams
    (``tau_track > 0``) or finds none that meets it (``track_ok`` false).
    Everywhere else Alg. 1 does nothing (the UE keeps BS and beam). Slot 1 with
    ``initial_bs = -1`` (initial access) is a decision for every policy and is
    not part of this table. ``rate_track`` and ``tau_track`` default to the
    instance's (pass a stored realisation's to get its triggers).
    """
    if tau_track is None:
        tau_track = instance["tau_track"]
    return (np.asarray(tau_track) > 0) | ~track_ok(instance, rate_track)


def off_trigger_switches(instance: Mapping[str, np.ndarray], serving: np.ndarray) -> int:
    """Number of BS changes at slots where Algorithm 1 does nothing (0 for every policy of its class)."""
    s = np.asarray(serving, dtype=np.int64)
    prev = np.concatenate(([int(np.asarray(instance["initial_bs"]))], s[:-1]))
    trig = alg1_triggers(instance)
    i = np.arange(len(s))
    acts = (prev < 0) | trig[i, np.maximum(prev, 0)]
    return int(np.count_nonzero((s != prev) & ~acts))


# ---------------------------------------------------------------------------
# The problem
# ---------------------------------------------------------------------------

_PAPER_SWEEP = ([{"M": m, "NB": 10} for m in (100, 200, 300, 400, 500)]
                + [{"M": 300, "NB": nb} for nb in range(3, 10)])

STATEMENT = r"""
Choose the serving BS $j_i \in \{0, \dots, N_B - 1\}$ of every slot $i = 1..M$ of a
pedestrian trajectory (one BS per slot, eqs. (5b)-(5c); `serving[i-1]` $= j_i$),
with $j_0$ = `initial_bs` the BS serving before slot 1 ($-1$: slot 1 is an initial
access, counted like a handover). A slot is a *handover* when $j_i \ne j_{i-1}$.
The throughput per Hz of slot $i$ is (eq. (3))

$$\Gamma_i = \Bigl(1 - \frac{\tau_{b,i}}{\tau_c}\Bigr) R_i,\qquad
(\tau_{b,i}, R_i) = \begin{cases}(\tau_{HO},\ \mathrm{rate}_{i j_i}) & j_i \ne j_{i-1},\\
(\tau^{tr}_{i j_i},\ \mathrm{rate}^{tr}_{i j_i}) & j_i = j_{i-1},\end{cases}$$

with $\tau_{HO} = \tau_c/3$ (initial beam training) and $\tau^{tr}_{ij} = \beta x_{ij}$
the beam-tracking time of Algorithm 2 ($x_{ij}$ beam pairs tested in the
$(\pm 10^\circ, \pm 10^\circ)$ neighbourhood of the previous best beam, at $5^\circ$
resolution, in order of distance, stopping at the first beam that meets
$\mathrm{SNR}_{thr}$; $x = 0$ when the previous beam still meets it). Maximise (eq. (5a))

$$F_1 - \lambda F_2 = \sum_{i=1}^{M} \Gamma_i \;-\; \lambda\, \bigl|\{i : \Gamma_i \le \Gamma_{thr}\}\bigr|,$$

$\lambda = 100$, $\Gamma_{thr} = 1$ bit/s/Hz, $\mathrm{SNR}_{thr} = 2$ dB, $\tau_c = 10$ ms,
$\beta = 10\ \mu$s (Table I). Assumption: after a handover the UE uses the best
beam of the new BS; when it stays, tracking starts from the best beam of the
previous slot, so $\mathrm{rate}$, $\mathrm{rate}^{tr}$, $\tau^{tr}$ depend on
(slot, BS) only and eq. (5) is a longest path over (slot, BS): dynamic
programming is exact in $O(M N_B)$. Feasibility: every `serving` entry is a BS
index in $0..N_B-1$. Full statement: `problems/trajectory.tex`.

Second reference, the optimum of Algorithm 1's policy class: the best sequence
that changes BS only at *trigger slots* (the previous slot's best beam of the
serving BS misses $\mathrm{SNR}_{thr}$: $\tau^{tr}_{i j_{i-1}} > 0$ or tracking fails,
and slot 1 when $j_0 = -1$), solved exactly by the same DP with those
transitions only (`dp-alg1`). Each method's gap splits as
$(V^* - V^*_1)/|V^*|$ (`rule_gap`, the cost of the rule) $+ (V^*_1 - v)/|V^*|$ (`class_gap`).
""".strip()


@problem
class TrajectoryAssoc(Problem):
    """Serving BS per slot along a trajectory: throughput minus lambda x slots under threshold (eq. (5))."""

    name = "trajectory-assoc"
    max_instance_elements = 20_000_000  # ~20x the largest paper instance (1.04 M with 50 training realisations)
    title = "Throughput-constrained trajectory association with handover and beam-tracking overheads"
    paper = ("S. Khosravi, H. S. Ghadikolaei, J. Zander, M. Petrova, \"Reinforcement learning-based joint "
             "handover and beam tracking in millimeter-wave networks\", arXiv:2301.05305 (2023), "
             "eqs. (3), (5), Algorithm 2, Table I.")
    statement = STATEMENT
    instance_keys = (
        Key("rate", "float64", ("M", "NB"), "bit/s/Hz",
            "log2(1+SNR) with BS j at slot i after full beam training (best codebook beam)"),
        Key("rate_track", "float64", ("M", "NB"), "bit/s/Hz",
            "log2(1+SNR) when staying with BS j at slot i, after beam tracking (Algorithm 2); "
            "equal to `rate` when absent", required=False),
        Key("tau_track", "float64", ("M", "NB"), "s",
            "beam-tracking time beta x (x beam pairs tested) when staying with BS j at slot i"),
        Key("tau_ho", "float64", (), "s", "handover (initial beam training) time, tau_c / 3"),
        Key("tau_c", "float64", (), "s", "coherence time / slot frame of eq. (3)"),
        Key("gamma_thr", "float64", (), "bit/s/Hz", "throughput threshold Gamma_thr"),
        Key("lam", "float64", (), "-", "penalty lambda per slot with Gamma_i <= Gamma_thr"),
        Key("initial_bs", "int64", (), "-",
            "BS serving before slot 1; -1: slot 1 is an initial access (counted as a handover)"),
        Key("rate_keep", "float64", ("M", "NB"), "bit/s/Hz",
            "log2(1+SNR) at slot i of BS j's best beam of slot i-1 (the beam kept when nothing is done: "
            "the SNR before tracking, Alg. 1's state and trigger); equal to `rate_track` where absent",
            required=False),
        Key("snr_thr", "float64", (), "-",
            "SNR_thr as a linear ratio (2 dB); a link whose rate_track < log2(1+snr_thr) is blocked "
            "(used by online baselines)", required=False),
        Key("beta", "float64", (), "s", "time per tested beam pair (tau_track = beta x)", required=False),
        Key("train_rate", "float32", ("R", "M", "NB"), "bit/s/Hz",
            "`rate` in R other channel realisations of the same trajectory (other blockers), "
            "for offline learning (never the evaluated one)", required=False),
        Key("train_rate_track", "float32", ("R", "M", "NB"), "bit/s/Hz",
            "`rate_track` in the training realisations", required=False),
        Key("train_tau_track", "float32", ("R", "M", "NB"), "s",
            "`tau_track` in the training realisations", required=False),
        Key("train_rate_keep", "float32", ("R", "M", "NB"), "bit/s/Hz",
            "`rate_keep` in the training realisations", required=False),
        Key("val_rate", "float32", ("V", "M", "NB"), "bit/s/Hz",
            "`rate` in V further realisations (validation: model selection of learners)", required=False),
        Key("val_rate_track", "float32", ("V", "M", "NB"), "bit/s/Hz",
            "`rate_track` in the validation realisations", required=False),
        Key("val_tau_track", "float32", ("V", "M", "NB"), "s",
            "`tau_track` in the validation realisations", required=False),
        Key("val_rate_keep", "float32", ("V", "M", "NB"), "bit/s/Hz",
            "`rate_keep` in the validation realisations", required=False),
        Key("ue_xy", "float64", ("M", 2), "m", "UE position at slot i (street grid frame)", required=False),
        Key("ue_start", "float64", (2,), "m",
            "UE position just before slot 1 (where the beam tracked at slot 1 was trained)", required=False),
        Key("bs_xy", "float64", ("NB", 2), "m", "BS position (6 m above ground)", required=False),
        Key("bs_normal", "float64", ("NB", 2), "-", "outward wall normal = UPA boresight", required=False),
    )
    solution_keys = (
        Key("serving", "int64", ("M",), "-", "serving BS j_i of slot i (0-based)"),
    )
    suites = {
        "smoke": Suite("smoke", 8, {"M": 20, "NB": 3, "n_train": 50, "n_val": 1, "bs_placement": "box",
                                    "sweep": [{"initial_access": True}, {"initial_access": False}]},
                       seed=4001, doc="M = 20 slots, NB = 3 BSs; even indices start with an initial access, "
                                      "odd ones served by the best BS before slot 1"),
        "small": Suite("small", 20, {"M": 100, "NB": 6, "n_train": 50, "n_val": 1}, seed=4002,
                       doc="M = 100 slots, NB = 6 BSs"),
        "paper": Suite("paper", 48, {"n_train": 50, "n_val": 1, "sweep": _PAPER_SWEEP}, seed=4003,
                       doc="the paper's Figs. 3-5: trajectory lengths 100..500 slots with NB = 10, and "
                           "NB = 3..9 at 300 slots (instance i uses sweep entry i mod 12); each with 50 "
                           "training and 1 validation realisations besides the evaluated one"),
    }
    metric_docs = {
        "aggregate_gamma": "F1 = sum_i Gamma_i, aggregate throughput per Hz along the trajectory (bit/s/Hz)",
        "handovers": "number of slots with j_i != j_{i-1}, the initial access (initial_bs = -1) not counted",
        "slots_below_thr": "F2 = number of slots with Gamma_i <= Gamma_thr",
        "alg1_violations": "BS changes at slots where Algorithm 1 does nothing (the serving beam still meets "
                           "SNR_thr): 0 for every policy of Alg. 1's class",
        "rule_gap": "(optimum - Alg. 1 class optimum) / |optimum|: what Alg. 1's rule (act only at trigger slots) "
                    "costs; the same for every method of an instance",
        "class_gap": "(Alg. 1 class optimum - value) / |optimum|: distance from the best policy that obeys "
                     "Alg. 1 (negative: the method breaks the rule and beats the class); gap = rule_gap + class_gap",
    }
    headline_metrics = ("handovers", "slots_below_thr")

    # -- generation (suites with a "sweep" vary M and NB by index: Problem.instance_params) --
    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return simulate(params, rng)

    # -- validation -------------------------------------------------------
    def validate_instance(self, instance, dims) -> None:
        NB = dims["NB"]
        tau_c, tau_ho = _scalar(instance, "tau_c"), _scalar(instance, "tau_ho")
        if not tau_c > 0:
            raise InputError(f"instance of '{self.name}': tau_c must be > 0, got {tau_c}")
        if not 0 <= tau_ho <= tau_c:
            raise InputError(f"instance of '{self.name}': tau_ho must be in [0, tau_c], got {tau_ho}")
        tt = instance["tau_track"]
        if tt.size and (tt.min() < 0 or tt.max() > tau_c):
            raise InputError(f"instance of '{self.name}': tau_track must be in [0, tau_c]")
        for k in ("rate", "rate_track", "rate_keep"):
            if k in instance and instance[k].size and instance[k].min() < 0:
                raise InputError(f"instance of '{self.name}': '{k}' must be >= 0")
        ib = int(instance["initial_bs"])
        if not -1 <= ib < NB:
            raise InputError(f"instance of '{self.name}': initial_bs must be -1 or a BS index < {NB}, got {ib}")
        if _scalar(instance, "lam") < 0:
            raise InputError(f"instance of '{self.name}': lam must be >= 0")

    # -- feasibility and value --------------------------------------------
    def constraints(self, instance, solution, tol, report) -> None:
        NB = instance["rate"].shape[1]
        s = solution["serving"]
        bad = np.nonzero((s < 0) | (s >= NB))[0]
        for i in bad:
            size = float(-s[i]) if s[i] < 0 else float(s[i] - NB + 1)
            report.add("serving BS in 0..NB-1 (5b)-(5c)", size, f"slot {i}: serving = {int(s[i])}")

    def objective(self, instance, solution) -> float:
        g, _ = gamma_of(instance, solution["serving"])
        return float(g.sum() - _scalar(instance, "lam") * np.count_nonzero(g <= _scalar(instance, "gamma_thr")))

    def reproduction(self, frame, suite: str) -> list[dict]:
        """Sec. IV, Figs. 3-5: the paper's qualitative ordering of its baselines, with gaps to the optimum."""
        return _reproduction_rows(frame, suite)


    def metrics(self, instance, solution, reference=None) -> dict[str, float]:
        """Aggregate throughput, handovers, F2, Alg. 1 violations; gaps to both optima from the ``dp`` record."""
        g, ho = gamma_of(instance, solution["serving"])
        n_ho = int(ho.sum()) - int(int(instance["initial_bs"]) < 0 and len(ho) > 0)
        out = {"aggregate_gamma": float(g.sum()), "handovers": float(n_ho),
               "slots_below_thr": float(np.count_nonzero(g <= _scalar(instance, "gamma_thr"))),
               "alg1_violations": float(off_trigger_switches(instance, solution["serving"]))}
        sol = (reference or {}).get("solution") or {}
        if reference and reference.get("status") == "opt" and "class_optimum" in sol:
            opt, c1 = float(reference["value"]), float(sol["class_optimum"])
            value = self.objective(instance, solution)
            den = max(abs(opt), 1e-9)
            out["rule_gap"] = (opt - c1) / den
            out["class_gap"] = (c1 - value) / den
        return out


def _reproduction_rows(frame, suite: str) -> list[dict]:
    """Rows of ``mmopt reproduce`` for the handover paper: it reports no numbers, only an ordering.

    Each method's gap to the optimum is split into the cost of Algorithm 1's
    rule (optimum - class optimum, the same for every method) and its gap to the
    class optimum (``dp-alg1``): gap = rule + class, all over |optimum|.
    """
    sub = frame[frame["suite"] == suite]
    ok = sub[(sub["status"] == "ok") & ((sub["kind"] != "reference") | (sub["solver"] == "dp-alg1"))]
    if ok.empty:
        return []
    opt = sub.drop_duplicates("instance_hash")["reference"].astype(float).mean()
    # per instance: the rule's cost and the class optimum, from any scored cell's metrics (they read the record)
    rule, copt = {}, {}
    for h, m, ref in zip(sub["instance_hash"], sub["metrics"], sub["reference"]):
        mm = json.loads(m) if isinstance(m, str) and m else (m or {})
        if "rule_gap" in mm and h not in rule:
            rule[h] = float(mm["rule_gap"])
            copt[h] = float(ref) - float(mm["rule_gap"]) * max(abs(float(ref)), 1e-9)
    paper = {"multi-connectivity": "Baseline 1: below the DQN, more handovers",
             "q-learning-handover": "Baseline 2: below the DQN, more handovers",
             "dqn-handover-only": "Baseline 2 (as a DQN without the tracking action): below the DQN",
             "reactive-max-snr": "not in the paper (Alg. 1 class)",
             "greedy": "not in the paper (re-decides every slot with a free sweep of all BSs: outside Alg. 1)",
             "greedy-stale": "not in the paper (greedy on the previous slot's sweep: outside Alg. 1)",
             "greedy-alg1": "not in the paper (myopic, acts only at Alg. 1's triggers)",
             "dp-alg1": "not in the paper: the best policy of Alg. 1's class, clairvoyant (certified)"}
    rows, means = [], {}
    for solver, g in ok.groupby("solver"):
        m = [json.loads(x) if x else {} for x in g["metrics"]]
        agg = np.nanmean([x.get("aggregate_gamma", np.nan) for x in m])
        ho = np.nanmean([x.get("handovers", np.nan) for x in m])
        cells = sub[sub["solver"] == solver]
        gap = cells["gap"].astype(float).fillna(1.0).mean()
        r = [rule.get(h, np.nan) for h in cells["instance_hash"]]
        c = [copt.get(h, np.nan) for h in cells["instance_hash"]]
        means[solver] = gap
        if np.isfinite(r).all() and len(r):
            r_mean = float(np.mean(r))
            split = f"{pct(gap)} = {pct(r_mean)} rule + {pct(gap - r_mean)} class".replace("+ -", "- ")
            optimum = f"{opt:.1f} (Alg. 1 class: {float(np.mean(c)):.1f})"
        else:
            split, optimum = pct(gap), f"{opt:.1f}"
        learned = g["kind"].iloc[0] == "learned"
        rows.append({"quantity": f"`{solver}`: objective (aggregate rate - penalty), mean aggregate rate "
                                 "(bit/s/Hz) and handovers per trajectory",
                     "where": "Figs. 3-5, Sec. IV",
                     "paper": paper.get(solver, "DQN (proposed): best throughput, fewest handovers"
                                        if learned else "-"),
                     "mmopt": f"{g['objective'].mean():.1f}; {agg:.1f}; {ho:.1f} handovers",
                     "optimum": optimum, "gap": split})
    order = " < ".join(f"`{s}`" for s in sorted(means, key=means.get))
    rows.append({"quantity": "ordering by mean gap (best first)", "where": "Sec. IV",
                 "paper": "DQN above Baselines 1 and 2 (no numbers)", "mmopt": order, "optimum": "-", "gap": "-"})
    return rows

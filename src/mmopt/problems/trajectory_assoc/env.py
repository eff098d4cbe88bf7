r"""Gymnasium environment of ``trajectory-assoc``: Algorithm 1 of Khosravi et al. (arXiv:2301.05305).

One environment is one trajectory (one instance: street grid, BSs, walk);
each episode is one channel realisation of it (one blocker draw), chosen at
``reset`` among the instance's stored realisations. One step is one slot
:math:`i = 1..M` (one :math:`T_A`).

Decision points (Alg. 1)
------------------------
The agent acts only when the serving link's SNR falls below SNR\ :sub:`thr`:
at slot ``i`` with serving BS :math:`j_S` (the BS of slot ``i-1``) this is
when the previous slot's best beam of :math:`j_S` misses SNR\ :sub:`thr`, i.e.
Algorithm 2 has to test beams (:math:`\tau^{tr}_{i j_S} > 0`) or finds none that
meets the threshold (``track_ok`` false), and at the initial access
(:math:`j_S = -1`). Everywhere else nothing is done: the UE keeps BS and beam,
charged :math:`\tau^{tr}_{i j_S}` (which is 0 there: the previous beam still meets
SNR\ :sub:`thr`, Alg. 2 tests no beam), and the action of that step is ignored.
``info["decision"]`` and the observation's indicator say which steps are
decision points.

Action (``Discrete(NB + 1)``)
-----------------------------
``0``: beam tracking with the serving BS (Alg. 2); ``j = 1..NB``: hand over to
BS ``j - 1`` (0-based BS index; initial beam training, :math:`\tau_{HO}`).
Handing over to the serving BS itself is the same decision as staying under
eq. (3) (the objective charges by change of BS) and is played as tracking.
At the initial access action 0 has no serving BS to track and is played as
a handover to the BS with the largest best-beam rate. With
``tracking=False`` (the handover-only learner, the paper's Baseline 2) a
decision point must hand over to another BS: action 0 and the serving BS are
played as a handover to the strongest other BS. ``info["action_mask"]`` marks
the actions that are played as named at the next step.

Reward (eq. (6))
----------------
:math:`r_i = \Gamma_i - \lambda\,1\{\Gamma_i \le \Gamma_{thr}\}` with :math:`\Gamma_i` of eq. (3) from
:func:`~mmopt.problems.trajectory_assoc.slot_gammas` (handover: :math:`\tau_{HO}` and
``rate``; stay: :math:`\tau^{tr}` and ``rate_track``), the per-slot term of eq. (5a),
so an episode's (undiscounted) return is the problem's objective of the
serving sequence played (``info["serving"]`` per step).

Observation (``Box``, float32)
------------------------------
The paper's state :math:`(\ell, j_S, \mathrm{SNR}, I)` and, beyond it, the best-beam
rate of every BS at the slot (the beam sweep the online baselines observe):

=================  =====================================================
``[0]``            location index :math:`\ell / M` (slot ``i`` of ``0..M-1``)
``[1 : NB+2]``     one-hot serving BS :math:`j_S` (last entry: none, initial access)
``[NB+2]``         serving link, :math:`\log_2(1 + \mathrm{SNR})` / 10 reached by
                   beam tracking at this slot (0 at the initial access)
``[NB+3]``         :math:`I`: 1 at a decision point (tracking slot), else 0
``[NB+4 : 2NB+4]`` best-beam rate :math:`\log_2(1 + \mathrm{SNR})` / 10 of every BS
=================  =====================================================

Rates are clipped to ``[0, 10 * RATE_HIGH]`` in the observation only.

Realisations
------------
``realisations="train"`` (default) uses the instance's ``train_*``
realisations (other blockers, for learning), ``"instance"`` the evaluated
one, ``"all"`` both (the instance first). ``reset(seed=...)`` draws one
uniformly; ``reset(options={"realisation": r})`` picks one.
"""
from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from .problem import slot_gammas, track_ok
from .scenario import simulate

__all__ = ["TrajectoryAssocEnv", "Realisation", "realisations", "observation", "obs_size", "RATE_SCALE"]

#: rates are divided by this in the observation
RATE_SCALE = 10.0
#: observation bound of a scaled rate
RATE_HIGH = 10.0


def _scalar(instance: Mapping[str, np.ndarray], key: str) -> float:
    return float(np.asarray(instance[key]).reshape(()))


class Realisation:
    """One channel realisation of a trajectory, as the agent and the objective see it.

    ``r_ho``/``r_st``: eq. (6) rewards (= eq. (5a) terms) after a handover / when
    staying; ``trig``: decision point (Alg. 1) when BS ``j`` served the previous
    slot; ``obs_rate``/``obs_track``: scaled, clipped best-beam and tracked rates.
    """

    def __init__(self, instance: Mapping[str, np.ndarray], rate, rate_track, tau_track):
        real = {"rate": np.asarray(rate, dtype=np.float64), "rate_track": np.asarray(rate_track, dtype=np.float64),
                "tau_track": np.asarray(tau_track, dtype=np.float64),
                "tau_c": instance["tau_c"], "tau_ho": instance["tau_ho"]}
        self.rate = real["rate"]
        self.g_ho, self.g_st = slot_gammas(real)
        lam, thr = _scalar(instance, "lam"), _scalar(instance, "gamma_thr")
        # eq. (6), written as in problem.slot_rewards so that the terms agree bit for bit
        self.r_ho = self.g_ho - lam * (self.g_ho <= thr)
        self.r_st = self.g_st - lam * (self.g_st <= thr)
        self.trig = (real["tau_track"] > 0) | ~track_ok(instance, real["rate_track"])
        self.obs_rate = np.clip(self.rate / RATE_SCALE, 0.0, RATE_HIGH).astype(np.float32)
        self.obs_track = np.clip(real["rate_track"] / RATE_SCALE, 0.0, RATE_HIGH).astype(np.float32)
        self.M, self.NB = self.rate.shape


def realisations(instance: Mapping[str, np.ndarray], which: str = "train") -> list[Realisation]:
    """The instance's realisations: ``train`` (``train_*`` keys), ``instance`` or ``all``."""
    if which not in ("train", "instance", "all"):
        raise ValueError(f"realisations must be 'train', 'instance' or 'all', not {which!r}")
    out = []
    if which in ("instance", "all"):
        out.append(Realisation(instance, instance["rate"], instance.get("rate_track", instance["rate"]),
                               instance["tau_track"]))
    if which in ("train", "all") and "train_rate" in instance and "train_tau_track" in instance:
        tr = instance["train_rate"]
        trt = instance.get("train_rate_track", tr)
        for r in range(tr.shape[0]):
            out.append(Realisation(instance, tr[r], trt[r], instance["train_tau_track"][r]))
    return out


_realisations = realisations


def obs_size(NB: int) -> int:
    return 2 * NB + 4


def observation(real: Realisation, i: int, serving: int) -> np.ndarray:
    """Observation at slot ``i`` (0-based) before its decision, ``serving`` = BS of slot ``i-1``."""
    NB = real.NB
    o = np.zeros(obs_size(NB), dtype=np.float32)
    o[0] = i / real.M
    o[1 + (serving if serving >= 0 else NB)] = 1.0
    if serving >= 0:
        o[NB + 2] = real.obs_track[i, serving]
    o[NB + 3] = float(is_decision(real, i, serving))
    o[NB + 4:] = real.obs_rate[i]
    return o


def is_decision(real: Realisation, i: int, serving: int) -> bool:
    """Alg. 1: act at the initial access or when the serving beam misses SNR_thr."""
    return serving < 0 or bool(real.trig[i, serving])


def action_mask(NB: int, serving: int, decision: bool, tracking: bool = True) -> np.ndarray:
    """Actions played as named (int8, NB + 1): at non-decision steps only 0 (nothing is done)."""
    m = np.zeros(NB + 1, dtype=np.int8)
    if not decision:
        m[0] = 1
        return m
    m[1:] = 1
    if serving >= 0:
        m[0] = 1 if tracking else 0
        if not tracking and NB > 1:
            m[1 + serving] = 0
    return m


def _strongest(rate_i: np.ndarray, exclude: int = -1) -> int:
    r = np.array(rate_i, dtype=np.float64)
    if 0 <= exclude and len(r) > 1:
        r[exclude] = -np.inf
    return int(np.argmax(r))


def play(real: Realisation, i: int, serving: int, action: int, tracking: bool = True) -> int:
    """BS serving slot ``i`` after ``action`` at slot ``i`` (the rules in the module docstring)."""
    if not is_decision(real, i, serving):
        return serving
    NB = real.NB
    if action == 0 or (action - 1 == serving):
        if serving < 0:
            return _strongest(real.rate[i])
        if tracking or NB == 1:
            return serving
        return _strongest(real.rate[i], serving)
    return int(action) - 1


def slot_reward(real: Realisation, i: int, prev: int, new: int) -> float:
    """Eq. (6) for slot ``i`` served by ``new`` after ``prev`` (handover when they differ)."""
    return float(real.r_ho[i, new] if new != prev else real.r_st[i, new])


class TrajectoryAssocEnv(gym.Env):
    """Joint handover and beam tracking along one trajectory (Alg. 1, reward eq. (6)).

    Parameters
    ----------
    instance
        A ``trajectory-assoc`` instance (dict of arrays); ``None`` draws a
        small one (M = 20, NB = 3, 2 training realisations, seed 0).
    realisations
        ``train`` (default), ``instance`` or ``all``: the realisations that
        ``reset`` draws from.
    tracking
        ``False``: the handover-only variant (no tracking action).
    """

    metadata = {"render_modes": []}

    def __init__(self, instance: Mapping[str, np.ndarray] | None = None, realisations: str = "train",
                 tracking: bool = True):
        if instance is None:

            instance = simulate({"M": 20, "NB": 3, "n_train": 2, "bs_placement": "box"},
                                np.random.default_rng(0))
        self.instance = instance
        self.reals = _realisations(instance, realisations)
        if not self.reals:
            raise ValueError(f"instance has no '{realisations}' realisations")
        self.tracking = bool(tracking)
        self.M, self.NB = self.reals[0].M, self.reals[0].NB
        self.initial_bs = int(np.asarray(instance["initial_bs"]))
        high = np.full(obs_size(self.NB), RATE_HIGH, dtype=np.float32)
        high[: self.NB + 2] = 1.0
        high[self.NB + 3] = 1.0
        self.observation_space = gym.spaces.Box(0.0, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.NB + 1)
        self._real = self.reals[0]
        self._real_index = 0
        self._i = 0
        self._serving = self.initial_bs

    def _info(self, **extra) -> dict[str, Any]:
        done = self._i >= self.M
        dec = (not done) and is_decision(self._real, self._i, self._serving)
        return {"slot": self._i, "decision": dec,
                "action_mask": action_mask(self.NB, self._serving, dec, self.tracking), **extra}

    def _obs(self) -> np.ndarray:
        if self._i >= self.M:
            return np.zeros(obs_size(self.NB), dtype=np.float32)
        return observation(self._real, self._i, self._serving)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if "realisation" in options:
            r = int(options["realisation"])
        else:
            r = int(self.np_random.integers(len(self.reals)))
        self._real_index = r
        self._real = self.reals[r]
        self._i = 0
        self._serving = self.initial_bs
        return self._obs(), self._info(realisation=r)

    def step(self, action):
        if self._i >= self.M:
            raise RuntimeError("step() after the episode ended: call reset()")
        a = int(action)
        if not 0 <= a <= self.NB:
            raise ValueError(f"action {a} not in 0..{self.NB}")
        i, prev = self._i, self._serving
        dec = is_decision(self._real, i, prev)
        new = play(self._real, i, prev, a, self.tracking)
        reward = slot_reward(self._real, i, prev, new)
        handover = new != prev
        gamma = float(self._real.g_ho[i, new] if handover else self._real.g_st[i, new])
        self._serving = new
        self._i = i + 1
        terminated = self._i >= self.M
        info = self._info(serving=new, handover=handover, gamma=gamma, acted=dec, realisation=self._real_index)
        return self._obs(), reward, terminated, False, info

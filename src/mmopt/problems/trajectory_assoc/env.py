r"""Gymnasium environment of ``trajectory-assoc``: Algorithm 1 of Khosravi et al. (arXiv:2301.05305).

One environment is one trajectory (one instance: street grid, BSs, walk);
each episode is one channel realisation of it (one blocker draw), chosen at
``reset``. One step is one slot :math:`i = 1..M` (one :math:`T_A`).
:class:`DecisionPointEnv` wraps it so that one step is one *decision* (the
semi-Markov view of Alg. 1: the slots in between are played without a choice).

Decision points (Alg. 1)
------------------------
The agent acts only when the serving link's SNR falls below SNR\ :sub:`thr`:
at slot ``i`` with serving BS :math:`j_S` (the BS of slot ``i-1``) this is
when the previous slot's best beam of :math:`j_S` misses SNR\ :sub:`thr`
(:func:`~mmopt.problems.trajectory_assoc.alg1_triggers`: Algorithm 2 has to
test beams, :math:`\tau^{tr}_{i j_S} > 0`, or finds none that meets the
threshold), and at the initial access (:math:`j_S = -1`). Everywhere else
nothing is done: the UE keeps BS and beam, charged :math:`\tau^{tr}_{i j_S}`
(which is 0 there), and the action of that step is ignored.
``info["decision"]`` and the observation's indicator :math:`I` say which
steps are decision points.

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
the actions that are played as named at the step.

Reward (eq. (6))
----------------
:math:`r_i = \Gamma_i - \lambda\,1\{\Gamma_i \le \Gamma_{thr}\}` with :math:`\Gamma_i` of eq. (3) from
:func:`~mmopt.problems.trajectory_assoc.slot_gammas` (handover: :math:`\tau_{HO}` and
``rate``; stay: :math:`\tau^{tr}` and ``rate_track``), the per-slot term of eq. (5a),
so an episode's (undiscounted) return is the problem's objective of the
serving sequence played (``info["serving"]`` per step).

Observation (``Box``, float32)
------------------------------
``state="paper"`` (default) is the paper's state :math:`s = (\ell, j_S, \mathrm{SNR}, I)`
(Sec. III-A), ``NB + 4`` numbers; ``state="rich"`` appends the best-beam
rate of every BS at the slot (a free beam sweep of all BSs, which Alg. 1's
UE does not perform), ``2 NB + 4`` numbers:

=================  =====================================================
``[0]``            location index :math:`\ell / M` (slot ``i`` of ``0..M-1``)
``[1 : NB+2]``     one-hot serving BS :math:`j_S` (last entry: none, initial access)
``[NB+2]``         SNR of the serving link *before tracking*, as
                   :math:`\log_2(1 + \mathrm{SNR}) / 10`: the previous slot's best beam of
                   :math:`j_S` measured at this slot (``rate_keep``; 0 at the initial access)
``[NB+3]``         :math:`I`: 1 at a decision point (tracking slot), else 0
``[NB+4 : 2NB+4]`` ``rich`` only: best-beam rate :math:`\log_2(1 + \mathrm{SNR}) / 10` of every BS
=================  =====================================================

Rates are clipped to ``[0, RATE_HIGH]`` after scaling, in the observation only.

Realisations
------------
``realisations="train"`` (default) draws among the instance's ``train_*``
realisations (other blockers, for learning); ``"validation"`` the ``val_*``
ones (model selection); ``"new"`` draws a fresh realisation of the same
trajectory at every reset, from the reset's seed
(:func:`~mmopt.problems.trajectory_assoc.scenario.draw_realisations`;
``options={"realisation_seed": s}`` picks one); ``"instance"`` is the
evaluated realisation and ``"all"`` the stored ones (the evaluated one
first, then training, then validation). The evaluated realisation is never
played unless ``"instance"`` or ``"all"`` is asked for. With stored
realisations ``reset(seed=...)`` draws one uniformly and
``reset(options={"realisation": r})`` picks one.
"""
from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from .problem import alg1_triggers, slot_gammas
from .scenario import draw_realisations, simulate, trajectory_geometry

__all__ = ["TrajectoryAssocEnv", "DecisionPointEnv", "Realisation", "realisations", "observation", "obs_size",
           "is_decision", "action_mask", "play", "RATE_SCALE", "RATE_HIGH", "STATES", "REALISATION_SETS"]

#: rates are divided by this in the observation
RATE_SCALE = 10.0
#: observation bound of a scaled rate
RATE_HIGH = 10.0
#: the observation layouts: the paper's (l, j_S, SNR, I) and the paper's plus every BS's best-beam rate
STATES = ("paper", "rich")
#: what ``realisations=`` may name
REALISATION_SETS = ("train", "validation", "instance", "all", "new")
#: domain tag of the seeds of ``realisations="new"`` (keeps them apart from other uses of the same integer)
NEW_SEED_TAG = 0x7A3A


def _scalar(instance: Mapping[str, np.ndarray], key: str) -> float:
    return float(np.asarray(instance[key]).reshape(()))


class Realisation:
    """One channel realisation of a trajectory, as the agent and the objective see it.

    ``r_ho``/``r_st``: eq. (6) rewards (= eq. (5a) terms) after a handover / when
    staying; ``trig``: decision point (Alg. 1) when BS ``j`` served the previous
    slot; ``obs_rate``/``obs_keep``: scaled, clipped best-beam rates and rates
    of the kept beam (before tracking). ``rate_keep`` defaults to
    ``rate_track`` (equal wherever the slot is not a trigger).
    """

    def __init__(self, instance: Mapping[str, np.ndarray], rate, rate_track, tau_track, rate_keep=None,
                 name: str = ""):
        real = {"rate": np.asarray(rate, dtype=np.float64), "rate_track": np.asarray(rate_track, dtype=np.float64),
                "tau_track": np.asarray(tau_track, dtype=np.float64),
                "tau_c": instance["tau_c"], "tau_ho": instance["tau_ho"]}
        self.name = name
        self.rate = real["rate"]
        self.rate_track = real["rate_track"]
        self.tau_track = real["tau_track"]
        self.rate_keep = real["rate_track"] if rate_keep is None else np.asarray(rate_keep, dtype=np.float64)
        self.g_ho, self.g_st = slot_gammas(real)
        lam, thr = _scalar(instance, "lam"), _scalar(instance, "gamma_thr")
        # eq. (6), written as in problem.slot_rewards so that the terms agree bit for bit
        self.r_ho = self.g_ho - lam * (self.g_ho <= thr)
        self.r_st = self.g_st - lam * (self.g_st <= thr)
        self.trig = alg1_triggers(instance, real["rate_track"], real["tau_track"])
        self.obs_rate = np.clip(self.rate / RATE_SCALE, 0.0, RATE_HIGH).astype(np.float32)
        self.obs_keep = np.clip(self.rate_keep / RATE_SCALE, 0.0, RATE_HIGH).astype(np.float32)
        self.M, self.NB = self.rate.shape

    def as_instance(self, instance: Mapping[str, np.ndarray]) -> dict:
        """The instance with this realisation in place of the evaluated one (for the problem's objective)."""
        out = {k: v for k, v in instance.items() if not k.startswith(("train_", "val_"))}
        out.update(rate=self.rate, rate_track=self.rate_track, tau_track=self.tau_track, rate_keep=self.rate_keep)
        return out


def _stored(instance, prefix: str, name: str) -> list[Realisation]:
    if prefix + "rate" not in instance or prefix + "tau_track" not in instance:
        return []
    tr = instance[prefix + "rate"]
    trt = instance.get(prefix + "rate_track", tr)
    keep = instance.get(prefix + "rate_keep")
    return [Realisation(instance, tr[r], trt[r], instance[prefix + "tau_track"][r],
                        None if keep is None else keep[r], name=f"{name}/{r}") for r in range(tr.shape[0])]


def realisations(instance: Mapping[str, np.ndarray], which: str = "train") -> list[Realisation]:
    """The instance's stored realisations: ``train`` (``train_*`` keys), ``validation`` (``val_*``),
    ``instance`` (the evaluated one) or ``all`` (the three, in that order: instance, train, validation)."""
    if which not in ("train", "validation", "instance", "all"):
        raise ValueError(f"realisations must be 'train', 'validation', 'instance' or 'all', not {which!r}")
    out = []
    if which in ("instance", "all"):
        out.append(Realisation(instance, instance["rate"], instance.get("rate_track", instance["rate"]),
                               instance["tau_track"], instance.get("rate_keep"), name="instance"))
    if which in ("train", "all"):
        out += _stored(instance, "train_", "train")
    if which in ("validation", "all"):
        out += _stored(instance, "val_", "validation")
    return out


_realisations = realisations


def obs_size(NB: int, state: str = "paper") -> int:
    """Length of the observation vector for ``NB`` BSs."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    return NB + 4 if state == "paper" else 2 * NB + 4


def observation(real: Realisation, i: int, serving: int, state: str = "paper") -> np.ndarray:
    """Observation at slot ``i`` (0-based) before its decision, ``serving`` = BS of slot ``i-1``."""
    NB = real.NB
    o = np.zeros(obs_size(NB, state), dtype=np.float32)
    o[0] = i / real.M
    o[1 + (serving if serving >= 0 else NB)] = 1.0
    if serving >= 0:
        o[NB + 2] = real.obs_keep[i, serving]
    o[NB + 3] = float(is_decision(real, i, serving))
    if state == "rich":
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
        small one (M = 20, NB = 3, 8 training and 1 validation realisations,
        seed 0).
    realisations
        ``train`` (default), ``validation``, ``new`` (a fresh realisation drawn
        from the reset's seed), ``instance`` or ``all``: what ``reset`` plays
        (see the module docstring). Only ``instance`` and ``all`` include the
        evaluated realisation.
    tracking
        ``False``: the handover-only variant (no tracking action).
    state
        ``paper`` (default): the paper's :math:`(\\ell, j_S, \\mathrm{SNR}, I)`;
        ``rich``: plus the best-beam rate of every BS.
    """

    metadata = {"render_modes": []}

    def __init__(self, instance: Mapping[str, np.ndarray] | None = None, realisations: str = "train",
                 tracking: bool = True, state: str = "paper"):
        if instance is None:
            instance = simulate({"M": 20, "NB": 3, "n_train": 8, "n_val": 1, "bs_placement": "box"},
                                np.random.default_rng(0))
        if realisations not in REALISATION_SETS:
            raise ValueError(f"realisations must be one of {REALISATION_SETS}, not {realisations!r}")
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        self.instance = instance
        self.which = realisations
        self.state = state
        self._geometry = None
        if realisations == "new":
            self._geometry = trajectory_geometry(instance)
            self.reals = []
            first = _realisations(instance, "instance")[0]
            self.M, self.NB = first.M, first.NB
        else:
            self.reals = _realisations(instance, realisations)
            if not self.reals:
                raise ValueError(f"instance has no '{realisations}' realisations")
            self.M, self.NB = self.reals[0].M, self.reals[0].NB
        self.tracking = bool(tracking)
        self.initial_bs = int(np.asarray(instance["initial_bs"]))
        high = np.full(obs_size(self.NB, state), RATE_HIGH, dtype=np.float32)
        high[: self.NB + 2] = 1.0
        high[self.NB + 3] = 1.0
        self.observation_space = gym.spaces.Box(0.0, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.NB + 1)
        self._real = self.reals[0] if self.reals else None
        self._real_index = 0
        self._i = 0
        self._serving = self.initial_bs

    def draw(self, seed) -> Realisation:
        """A new realisation of this trajectory from ``seed`` (as ``realisations="new"`` plays it)."""
        if self._geometry is None:
            self._geometry = trajectory_geometry(self.instance)
        d = draw_realisations(self.instance, np.random.SeedSequence([int(seed), NEW_SEED_TAG]),
                              geometry=self._geometry)
        return Realisation(self.instance, d["rate"][0], d["rate_track"][0], d["tau_track"][0], d["rate_keep"][0],
                           name=f"new/{int(seed)}")

    def _info(self, **extra) -> dict[str, Any]:
        done = self._i >= self.M
        dec = (not done) and is_decision(self._real, self._i, self._serving)
        return {"slot": self._i, "decision": dec,
                "action_mask": action_mask(self.NB, self._serving, dec, self.tracking), **extra}

    def _obs(self) -> np.ndarray:
        if self._i >= self.M:
            return np.zeros(obs_size(self.NB, self.state), dtype=np.float32)
        return observation(self._real, self._i, self._serving, self.state)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = options or {}
        if self.which == "new":
            s = options.get("realisation_seed")
            s = int(self.np_random.integers(2 ** 63 - 1)) if s is None else int(s)
            self._real = self.draw(s)
            r = -1
            extra = {"realisation": r, "realisation_seed": s}
        else:
            if "realisation" in options:
                r = int(options["realisation"])
            else:
                r = int(self.np_random.integers(len(self.reals)))
            self._real = self.reals[r]
            extra = {"realisation": r}
        self._real_index = r
        self._i = 0
        self._serving = self.initial_bs
        return self._obs(), self._info(**extra)

    @property
    def realisation(self) -> Realisation:
        """The realisation of the current episode."""
        return self._real

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


class DecisionPointEnv(gym.Env):
    """The semi-Markov decision process of Alg. 1: one step per decision point.

    ``step(action)`` plays ``action`` at the current slot, then plays the
    slots without a decision (action 0: nothing is done) up to the next
    decision point or the end of the trajectory, and returns the observation
    there. The reward is the sum of the slots' eq. (6) rewards, discounted
    within the step by ``gamma`` when given (:math:`\\sum_{u<k} \\gamma^{u} r_{i+u}`;
    an SMDP learner then discounts the next state's value by
    ``info["discount"]`` = :math:`\\gamma^k`, ``k = info["slots"]``); with
    ``gamma=None`` (default) it is the plain sum, so the episode's return is
    still the problem's objective. ``info["served"]`` holds the serving BS of
    each slot played by the step. The state reached by ``reset`` may be a
    non-decision slot (``info["decision"]`` False: ``initial_bs`` set and its
    beam still good); its action is then ignored and the step runs to the
    first decision point. Observation and action spaces are the slot
    environment's.

    Parameters
    ----------
    instance
        As for :class:`TrajectoryAssocEnv` (ignored when ``env`` is given).
    gamma
        Discount within a step (``None``: undiscounted sums).
    env
        A slot-by-slot environment to wrap (a :class:`TrajectoryAssocEnv`,
        possibly itself wrapped); default: ``TrajectoryAssocEnv(instance, **kwargs)``.
    **kwargs
        ``realisations``, ``tracking``, ``state`` of :class:`TrajectoryAssocEnv`.
    """

    metadata = {"render_modes": []}

    def __init__(self, instance: Mapping[str, np.ndarray] | None = None, *, gamma: float | None = None,
                 env: gym.Env | None = None, **kwargs):
        if gamma is not None and not 0.0 < float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.env = env if env is not None else TrajectoryAssocEnv(instance, **kwargs)
        self.gamma = None if gamma is None else float(gamma)
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        total, k, disc = 0.0, 0, 1.0
        served = []
        obs, r, terminated, truncated, info = self.env.step(action)
        while True:
            total += disc * float(r)
            k += 1
            served.append(int(info["serving"]))
            if self.gamma is not None:
                disc *= self.gamma
            if terminated or truncated or info["decision"]:
                break
            obs, r, terminated, truncated, info = self.env.step(0)
        info = dict(info)
        info.update(slots=k, discount=disc if self.gamma is not None else 1.0,
                    served=np.asarray(served, dtype=np.int64))
        return obs, total, terminated, truncated, info

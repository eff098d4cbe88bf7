r"""Deep Q-learning for joint handover and beam tracking on ``trajectory-assoc``.

Khosravi, Ghadikolaei, Zander, Petrova, "Reinforcement learning-based joint
handover and beam tracking in millimeter-wave networks", arXiv:2301.05305,
Sec. III, Algorithms 1-2.

* ``dqn``: the paper's method. The agent acts only when the serving link's
  SNR falls below SNR\ :sub:`thr` (Alg. 1; the decision points of
  :mod:`mmopt.problems.trajectory_assoc.env`): action 0 runs beam tracking
  (Alg. 2, overhead :math:`\tau^{tr} = \beta x`), action ``j`` hands over to BS
  ``j - 1`` (initial beam training, :math:`\tau_{HO} = \tau_c / 3`). Between decision
  points the UE keeps BS and beam and is charged :math:`\tau^{tr}`, which is 0
  there (the previous beam meets SNR\ :sub:`thr`, Alg. 2 tests nothing).
* ``dqn-handover-only``: the paper's Baseline 2 (learning-based handover,
  Khosravi et al., TCCN 2021) as the same learner without the tracking
  action: at a decision point it must hand over to another BS.

State (``state=``): ``paper`` (default) is the paper's
:math:`(\ell, j_S, \mathrm{SNR}, I)`: location index, serving BS, SNR of the
serving link before tracking (the kept beam) and the tracking indicator;
``rich`` appends the best-beam rate of every BS at the slot (a free sweep
that Alg. 1's UE does not make). See the environment's docstring. Each state
has its own weight file. Reward: eq. (6), :math:`\Gamma_i - \lambda 1\{\Gamma_i \le \Gamma_{thr}\}`,
scaled by :math:`1/\lambda` for learning (the penalty becomes -1; a served slot
adds 0.005..0.1).

Learning (the paper gives no DQN hyper-parameters)
--------------------------------------------------
Semi-Markov Q-learning between decision points: a transition goes from one
decision point (slot ``i``) to the next one (slot ``t``) with the discounted
reward :math:`\sum_{u=i}^{t-1} \eta^{u-i} r_u / \lambda` of the slots in between (played
without decisions) and the discount :math:`\eta^{t-i}` on the next state's value;
:math:`\eta = 0.99` (Table I). One model per trajectory (the state holds the
location index, as in the paper, which trains per trajectory), trained on the
instance's 50 ``train_*`` realisations (same walk and BSs, other blockers),
the snapshot kept by its greedy return on the ``val_*`` realisation; the
evaluated realisation is never seen (the paper: :math:`10^4` training
realisations, :math:`10^4` iterations of about 15 s; here the
budget is seconds per trajectory). Hyper-parameters and why:

=====================  =========  ==================================================
Q-network              MLP 2x64   ReLU, NB+1 outputs; inputs are 2 NB + 4 numbers
                                  in [0, ~2]: two small layers fit a per-trajectory
                                  value table over (slot, BS) and the rate features
optimiser              Adam 1e-3  the usual DQN step size for a network this small
loss                   Huber      robust to the -1 penalty jumps (Mnih et al.)
double DQN             yes        online argmax, target value: curbs the max bias
batch / replay         64 / 2e4   the replay holds every transition of a run
target network         hard sync  every 100 updates (a few episodes)
exploration            eps 1..0.05 linear over the first 2/3 of the episodes,
                                  over the valid actions of the state
updates                1 per      decision, after 128 stored transitions
                       decision
episodes               ``epochs`` 1000 per trajectory (default): 20 passes over the
                                  50 training realisations
model selection        greedy     the snapshot with the best greedy return on the
                       return     validation realisation, checked every 20 episodes
=====================  =========  ==================================================

Training runs on one thread (``torch.set_num_threads(1)``: faster than two
for a 2x64 network and deterministic); a trajectory takes seconds.

Shipped weights hold one model per trajectory of the ``smoke``, ``small``
and ``paper`` suites, keyed by a fingerprint of the instance's training
realisations (each trajectory's model depends only on the seed and its
fingerprint: adding the ``small`` models left the others bit for bit); an instance whose trajectory has no model is declined
(``applies``: train one with ``mmopt train``). Inference is a NumPy forward
pass, deterministic without a seed: the solvers have no ``seed`` parameter
(``mmopt train --seed`` seeds training; a solver parameter of that name
would collide with the training entry's ``seed``).
"""
from __future__ import annotations

import hashlib
import time
from typing import Mapping

import numpy as np

from mmopt import MmoptError, solver
from mmopt.learned import Progress, file_sha256, load_weights, weights_path
from mmopt.problems.trajectory_assoc.env import (STATES, Realisation, action_mask, obs_size, observation,
                                                 realisations)
from mmopt.registry import get_problem

PROBLEM = "trajectory-assoc"
ETA = 0.99          # discount eta, Table I
HIDDEN = 64
LR = 1e-3
BATCH = 64
REPLAY = 20000
WARMUP = 128
TARGET_SYNC = 100
EPS_START, EPS_END, EPS_FRAC = 1.0, 0.05, 2 / 3
EVAL_EVERY = 20
EPISODES = 1000
#: suites whose trajectories get a model in the shipped weights
TRAIN_SUITES = ("smoke", "small", "paper")
FORMAT = "trajectory-dqn/2"


# ---------------------------------------------------------------------------
# Trajectory fingerprint and the semi-Markov view of a realisation
# ---------------------------------------------------------------------------

def fingerprint(instance: Mapping[str, np.ndarray]) -> str | None:
    """Key of a trajectory's model: sha256 of its training and validation realisations (None without them)."""
    if "train_rate" not in instance or "train_tau_track" not in instance:
        return None
    h = hashlib.sha256()
    for k in ("train_rate", "train_rate_track", "train_tau_track", "train_rate_keep",
              "val_rate", "val_rate_track", "val_tau_track", "val_rate_keep"):
        if k in instance:
            a = np.ascontiguousarray(np.asarray(instance[k], dtype=np.float32))
            h.update(k.encode()), h.update(str(a.shape).encode()), h.update(a.tobytes())
    h.update(str(int(np.asarray(instance["initial_bs"]))).encode())
    return h.hexdigest()[:20]


class _SMDP:
    """Jumps between decision points of one realisation (prefix sums of discounted rewards)."""

    def __init__(self, real: Realisation, scale: float, eta: float = ETA):
        self.real = real
        M, NB = real.M, real.NB
        nxt = np.full((M + 1, NB), M, dtype=np.int64)
        for t in range(M - 1, -1, -1):
            nxt[t] = np.where(real.trig[t], t, nxt[t + 1])
        self.nxt = nxt
        self.powers = eta ** np.arange(M + 1)
        self.C = np.vstack([np.zeros((1, NB)), np.cumsum(self.powers[:M, None] * real.r_st * scale, axis=0)])
        self.scale = scale

    def first(self, serving: int) -> int:
        return 0 if serving < 0 else int(self.nxt[0, serving])

    def jump(self, i: int, prev: int, b: int) -> tuple[int, float, float]:
        """From decision slot ``i`` served by ``b``: next decision slot, discounted reward, discount."""
        r = self.real
        r_i = (r.r_ho[i, b] if b != prev else r.r_st[i, b]) * self.scale
        t = int(self.nxt[i + 1, b]) if i + 1 <= r.M else r.M
        R = r_i + (self.C[t, b] - self.C[i + 1, b]) / self.powers[i]
        return t, float(R), float(self.powers[t - i])


def _to_bs(action: int, serving: int, real: Realisation, i: int) -> int:
    """BS played by a masked action (action 0 = stay; j = BS j - 1)."""
    if action == 0:
        return serving if serving >= 0 else int(np.argmax(real.rate[i]))
    return int(action) - 1


def rollout(real: Realisation, q_fn, initial_bs: int, tracking: bool, state: str = "paper"
            ) -> tuple[np.ndarray, int]:
    """Greedy play of ``q_fn(obs) -> Q values`` over one realisation: serving sequence, decisions."""
    M, NB = real.M, real.NB
    serving = np.empty(M, dtype=np.int64)
    sm = _SMDP(real, 1.0)
    cur = initial_bs
    i = sm.first(cur)
    serving[:i] = cur
    n = 0
    while i < M:
        q = np.asarray(q_fn(observation(real, i, cur, state)), dtype=np.float64)
        mask = action_mask(NB, cur, True, tracking).astype(bool)
        a = int(np.argmax(np.where(mask, q, -np.inf)))
        b = _to_bs(a, cur, real, i)
        t = int(sm.nxt[i + 1, b]) if i + 1 <= M else M
        serving[i:t] = b
        cur, i = b, t
        n += 1
    return serving, n


def _np_forward(layers):
    def q(x):
        h = np.asarray(x, dtype=np.float32)
        for k, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if k < len(layers) - 1:
                h = np.maximum(h, 0.0)
        return h
    return q


def _episode_return(real: Realisation, serving: np.ndarray, initial_bs: int) -> float:
    prev = np.concatenate(([initial_bs], serving[:-1]))
    idx = np.arange(len(serving))
    return float(np.where(serving != prev, real.r_ho[idx, serving], real.r_st[idx, serving]).sum())


# ---------------------------------------------------------------------------
# Training of one trajectory
# ---------------------------------------------------------------------------

def train_trajectory(instance: Mapping[str, np.ndarray], *, tracking: bool = True, episodes: int = EPISODES,
                     seed: int = 0, hidden: int = HIDDEN, warmup: int = WARMUP, batch: int = BATCH,
                     state: str = "paper", n_train: int | None = None) -> tuple[dict, dict]:
    """Train the Q-network of one trajectory on its ``train_*`` realisations.

    The snapshot kept is the one with the best greedy return on the ``val_*``
    realisations (on the training ones when the instance has none). The
    evaluated realisation (``rate``, ``rate_track``, ``tau_track``,
    ``rate_keep``) is never read. ``n_train``: only the first ``n_train``
    training realisations (default: all).

    Returns ``(model, info)``: ``model`` holds the layer tensors (``w0``, ``b0``,
    ...), ``info`` the TD losses per update, the greedy validation returns and
    the wall time.
    """
    import torch

    if state not in STATES:
        raise MmoptError(f"trajectory DQN: state must be one of {STATES}, not {state!r}")
    t0, c0 = time.perf_counter(), time.process_time()
    reals = realisations(instance, "train")[:n_train]
    if not reals:
        raise MmoptError("trajectory DQN: the instance has no training realisations (train_* keys)")
    vals = realisations(instance, "validation") or reals
    fp = fingerprint(instance)
    ss = np.random.SeedSequence([int(seed), int(fp[:8], 16)])
    rng = np.random.default_rng(ss)
    torch.manual_seed(int(ss.generate_state(1)[0]))
    torch.set_num_threads(1)
    M, NB = reals[0].M, reals[0].NB
    j0 = int(np.asarray(instance["initial_bs"]))
    scale = 1.0 / max(float(np.asarray(instance["lam"])), 1.0)
    sms = [_SMDP(r, scale) for r in reals]
    d, nA = obs_size(NB, state), NB + 1
    net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                              torch.nn.ReLU(), torch.nn.Linear(hidden, nA))
    tgt = torch.nn.Sequential(*[type(m)(m.in_features, m.out_features) if isinstance(m, torch.nn.Linear)
                                else torch.nn.ReLU() for m in net])
    tgt.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    S = np.zeros((REPLAY, d), np.float32)
    A = np.zeros(REPLAY, np.int64)
    Rw = np.zeros(REPLAY, np.float32)
    G = np.zeros(REPLAY, np.float32)          # discount to the next decision (0: terminal)
    S2 = np.zeros((REPLAY, d), np.float32)
    MASK2 = np.zeros((REPLAY, nA), bool)
    n_stored = 0
    losses: list[float] = []
    updates = 0

    def layers_now():
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lin]

    def greedy_returns(layers):
        q = _np_forward(layers)
        return [_episode_return(r, rollout(r, q, j0, tracking, state)[0], j0) for r in vals]

    best = (-np.inf, None)
    order = np.arange(len(reals))
    for ep in range(int(episodes)):
        if ep % len(reals) == 0:
            rng.shuffle(order)
        sm = sms[order[ep % len(reals)]]
        real = sm.real
        eps = max(EPS_END, EPS_START + (EPS_END - EPS_START) * ep / max(1.0, EPS_FRAC * episodes))
        cur = j0
        i = sm.first(cur)
        s = observation(real, i, cur, state) if i < M else None
        while i < M:
            mask = action_mask(NB, cur, True, tracking).astype(bool)
            valid = np.nonzero(mask)[0]
            if rng.random() < eps:
                a = int(valid[rng.integers(len(valid))])
            else:
                with torch.no_grad():
                    q = net(torch.from_numpy(s)).numpy()
                a = int(valid[np.argmax(q[valid])])
            b = _to_bs(a, cur, real, i)
            t, R, g = sm.jump(i, cur, b)
            k = n_stored % REPLAY
            S[k], A[k], Rw[k] = s, a, R
            if t < M:
                s2 = observation(real, t, b, state)
                S2[k], G[k] = s2, g
                MASK2[k] = action_mask(NB, b, True, tracking).astype(bool)
            else:
                s2 = None
                S2[k], G[k], MASK2[k] = 0.0, 0.0, True
            n_stored += 1
            cur, i, s = b, t, s2
            if n_stored >= max(warmup, 1):
                idx = rng.integers(min(n_stored, REPLAY), size=batch)
                sb, s2b = torch.from_numpy(S[idx]), torch.from_numpy(S2[idx])
                with torch.no_grad():
                    m2 = torch.from_numpy(MASK2[idx])
                    a2 = net(s2b).masked_fill(~m2, -1e9).argmax(1, keepdim=True)
                    y = torch.from_numpy(Rw[idx]) + torch.from_numpy(G[idx]) * tgt(s2b).gather(1, a2)[:, 0]
                qsa = net(sb).gather(1, torch.from_numpy(A[idx])[:, None])[:, 0]
                loss = torch.nn.functional.smooth_l1_loss(qsa, y)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                opt.step()
                losses.append(loss.item())
                updates += 1
                if updates % TARGET_SYNC == 0:
                    tgt.load_state_dict(net.state_dict())
        if (ep + 1) % EVAL_EVERY == 0 or ep + 1 == episodes:
            L = layers_now()
            ret = float(np.mean(greedy_returns(L)))
            if ret > best[0]:
                best = (ret, L)
    if best[1] is None:
        best = (float(np.mean(greedy_returns(layers_now()))), layers_now())
    model = {}
    for k, (W, b) in enumerate(best[1]):
        model[f"w{k}"] = torch.from_numpy(W)
        model[f"b{k}"] = torch.from_numpy(b)
    model.update({"M": M, "NB": NB, "tracking": bool(tracking), "episodes": int(episodes), "state": state,
                  "val_return": float(best[0]), "train_realisations": len(reals),
                  "val_realisations": len(vals) if vals is not reals else 0})
    info = {"losses": losses, "updates": updates, "transitions": n_stored, "val_return": float(best[0]),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "realisations": len(reals), "val_realisations": len(vals) if vals is not reals else 0}
    model["train_seconds"] = float(info["seconds"])
    return model, info


# ---------------------------------------------------------------------------
# Weights: one file per solver, one model per trajectory
# ---------------------------------------------------------------------------

_CACHE: dict = {}


def _models(name: str) -> dict:
    path = weights_path(name, PROBLEM)
    key = (str(path), file_sha256(path))
    if key not in _CACHE:
        if not path.is_file():
            _CACHE[key] = {}
        else:
            state = load_weights(path)
            models = {}
            for fp, m in dict(state.get("models", {})).items():
                n = sum(1 for k in m if k.startswith("w"))
                layers = [(m[f"w{k}"].numpy(), m[f"b{k}"].numpy()) for k in range(n)]
                models[fp] = {"layers": layers, "NB": int(m["NB"]), "M": int(m["M"]),
                              "state": str(m.get("state", "rich")),
                              "train_seconds": float(m.get("train_seconds", 0.0))}
            _CACHE[key] = models
    return _CACHE[key]


#: weight file of each (solver, state)
WEIGHTS = {("dqn", "paper"): "dqn.pt", ("dqn", "rich"): "dqn_rich.pt",
           ("dqn-handover-only", "paper"): "dqn_handover_only.pt",
           ("dqn-handover-only", "rich"): "dqn_handover_only_rich.pt"}


def _weights(tool: str):
    def weights(state: str = "paper", **params) -> str:
        if state not in STATES:
            raise MmoptError(f"{tool}: state must be one of {STATES}, not {state!r}")
        return WEIGHTS[(tool, state)]
    return weights


def _applies(tool: str):
    def applies(instance, state: str = "paper", **params):
        if state not in STATES:
            return f"{tool}: state must be one of {STATES}, not {state!r}"
        name = WEIGHTS[(tool, state)]
        fp = fingerprint(instance)
        if fp is None:
            return f"{tool}: the instance has no training realisations (train_* keys)"
        m = _models(name).get(fp)
        rate = np.asarray(instance["rate"])
        if m is None:
            return (f"{tool}: no trained model for this trajectory (fingerprint {fp}, state {state}); train one "
                    f"with `mmopt train --problem {PROBLEM} --solver {tool}"
                    + ("" if state == "paper" else f" --param state={state}") + "`")
        if rate.shape != (m["M"], m["NB"]):
            return f"{tool}: model trained for M, NB = {m['M']}, {m['NB']}, instance has {rate.shape}"
        if m["state"] != state:
            return f"{tool}: the model in {name} was trained with state {m['state']!r}, not {state!r}"
        return None
    return applies


def _solve(instance, tool: str, tracking: bool, state: str):
    reason = _applies(tool)(instance, state=state)
    if reason:
        raise MmoptError(reason)
    t0 = time.perf_counter()
    m = _models(WEIGHTS[(tool, state)])[fingerprint(instance)]
    real = realisations(instance, "instance")[0]
    j0 = int(np.asarray(instance["initial_bs"]))
    serving, n = rollout(real, _np_forward(m["layers"]), j0, tracking, state)
    return {"serving": serving}, {"decisions": n, "train_seconds": m["train_seconds"],
                                  "inference_seconds": time.perf_counter() - t0}


def _train(tracking: bool, tool: str):
    def train(*, epochs: int = EPISODES, seed: int = 0, count: int | None = None, progress=True,
              suites=TRAIN_SUITES, state: str = "paper", **params):
        """One model per trajectory of ``suites`` (first ``count`` instances of each)."""

        prob = get_problem(PROBLEM)
        jobs = [(s, i) for s in suites for i in range(min(prob.suite(s).count, count or prob.suite(s).count))]
        bar = progress if callable(progress) else Progress(len(jobs), f"{tool} ({state} state) per trajectory",
                                                           bool(progress))
        models, secs, cpus, final_losses, rets, nreal = {}, [], [], [], [], []
        try:
            for s, i in jobs:
                inst = prob.generate(s, i)
                model, info = train_trajectory(inst, tracking=tracking, episodes=int(epochs), seed=seed,
                                               state=state)
                model["suite"], model["index"] = s, int(i)
                models[fingerprint(inst)] = model
                secs.append(info["seconds"])
                cpus.append(info["cpu_seconds"])
                tail = info["losses"][-200:]
                final_losses.append(float(np.mean(tail)) if tail else float("nan"))
                rets.append(info["val_return"])
                nreal.append((info["realisations"], info["val_realisations"]))
                bar(1, loss=final_losses[-1], sec=secs[-1])
        finally:
            if not callable(progress):
                bar.close()
        weights = {"format": FORMAT, "tracking": bool(tracking), "state": state, "models": models}
        finite = [x for x in final_losses if np.isfinite(x)]
        info = {"train_suite": ",".join(suites) + " (per trajectory: its 50 train_* realisations; model "
                                                  "selection on its val_* realisation; never the evaluated one)",
                "train_size": len(jobs), "epochs": int(epochs), "state": state,
                "train_realisations_per_trajectory": sorted({a for a, _ in nreal}),
                "val_realisations_per_trajectory": sorted({b for _, b in nreal}),
                "train_loss": float(np.mean(finite)) if finite else None,
                "val_loss": None, "seconds_per_trajectory_mean": float(np.mean(secs)),
                "seconds_per_trajectory_max": float(np.max(secs)), "train_seconds_total": float(np.sum(secs)),
                "cpu_seconds_per_trajectory_mean": float(np.mean(cpus)),
                "cpu_seconds_per_trajectory_max": float(np.max(cpus)), "cpu_seconds_total": float(np.sum(cpus)),
                "per_trajectory": [{"suite": s, "index": int(i), "seconds": round(a, 3), "cpu_seconds": round(c, 3),
                                    "val_return": round(r, 3)}
                                   for (s, i), a, c, r in zip(jobs, secs, cpus, rets)],
                "hyper": {"eta": ETA, "hidden": HIDDEN, "lr": LR, "batch": BATCH, "replay": REPLAY,
                          "warmup": WARMUP, "target_sync": TARGET_SYNC, "eps": [EPS_START, EPS_END, EPS_FRAC],
                          "eval_every": EVAL_EVERY, "threads": 1}}
        return weights, info
    return train


def _setup(tool: str):
    def setup(state: str = "paper", **params):
        if state in STATES:
            _models(WEIGHTS[(tool, state)])
    return setup


@solver("dqn", problems=[PROBLEM], kind="learned", version=2, requires=("torch",), weights=_weights("dqn"),
        train=_train(True, "dqn"), setup=_setup("dqn"), applies=_applies("dqn"), choices={"state": STATES})
def dqn(instance, *, state="paper"):
    """Deep Q-learning joint handover and beam tracking (Alg. 1), one model per trajectory.

    ``state``: ``paper`` (the paper's (location, serving BS, SNR before tracking,
    tracking indicator)) or ``rich`` (plus every BS's best-beam rate at the slot).
    """
    return _solve(instance, "dqn", True, state)


@solver("dqn-handover-only", problems=[PROBLEM], kind="learned", version=2, requires=("torch",),
        weights=_weights("dqn-handover-only"), train=_train(False, "dqn-handover-only"),
        setup=_setup("dqn-handover-only"), applies=_applies("dqn-handover-only"), choices={"state": STATES})
def dqn_handover_only(instance, *, state="paper"):
    """Baseline 2: the same deep Q-learner without the tracking action (hand over on every trigger)."""
    return _solve(instance, "dqn-handover-only", False, state)

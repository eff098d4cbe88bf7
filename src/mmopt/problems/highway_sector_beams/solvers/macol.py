r"""MACOL: multi-agent context learning (Kose, Lee, Foh, Shojafar, Algorithm 1).

One agent per beam. When its beam is free and some unserved vehicle is
inside it, the agent observes its *context*: the on/off status of the beams
that can interfere with it (the mask of eq. (14): the beams whose sectors
share a stretch of some lane with its own, :func:`layout_neighbours`),
encoded as an integer. It then decides to serve or to back off:

* explore-first: during the first ``explore_s`` seconds it always serves;
* afterwards, with probability ``epsilon`` it serves anyway (exploration),
  otherwise it serves when the context's value
  :math:`\bar r_b(c)` (eq. (16): the mean reward of the services started in
  context :math:`c`) is at least the threshold
  :math:`\tau_b = \frac{1}{|C_b|}\sum_{c \in C_b} \bar r_b(c)` (eq. (17):
  the mean value over the contexts seen), and an unseen context is served;
* backing off keeps the beam idle for the mean connection duration
  observed in that context, then it decides again with the new context.

The agents run on the engine's message-passing runtime
(:class:`mmopt.distributed.Network`, one agent per beam): before a decision
the agent's interfering neighbours send it their on/off status (one float
each, one round per decision, because decisions within a step are taken one
after another and each sees the statuses left by the previous one); the
context is read from that inbox. ``rounds``, ``messages`` and
``payload_floats`` in the stats count this exchange.

A service lasts until the vehicle leaves the beam (no pre-emption). Its
reward is its goodput: the mean over its steps of
:math:`\log_2(1 + \mathrm{SINR})` for interference-free steps and 0 for
interfered ones (bit/s/Hz; the SINR is the SNR in the geometric model). The
agent learns it from the link's own acknowledgements only: no agent knows
where the other beams' vehicles are.

Which vehicle a serving agent picks is ``pick``: ``random`` by default, as
Algorithm 1 says ("Select a vehicle randomly", lines 5 and 18), or
``best-snr`` (the nearest vehicle; the default of solver version 2); the
order in which free agents decide within a step is random.
"""
from __future__ import annotations

import math
import time

import numpy as np

from mmopt import solver
from mmopt.distributed import Network
from mmopt.problems.highway_sector_beams import scenario as sim
from mmopt.problems.highway_sector_beams.layout import layout_neighbours
from mmopt.problems.highway_sector_beams.solvers.baselines import departed, pick_vehicle

PROBLEM = "highway-sector-beams"


class _Agent:
    """Per-beam context statistics: mean reward (eq. (16)) and mean duration per context."""

    __slots__ = ("value", "count", "duration")

    def __init__(self):
        self.value: dict[int, float] = {}
        self.count: dict[int, int] = {}
        self.duration: dict[int, float] = {}

    def update(self, ctx: int, reward: float, steps: int) -> None:
        n = self.count.get(ctx, 0) + 1
        self.count[ctx] = n
        self.value[ctx] = self.value.get(ctx, 0.0) + (reward - self.value.get(ctx, 0.0)) / n
        self.duration[ctx] = self.duration.get(ctx, 0.0) + (steps - self.duration.get(ctx, 0.0)) / n

    def threshold(self) -> float:
        """Eq. (17): mean value over the contexts seen."""
        return sum(self.value.values()) / len(self.value)


@solver("macol", problems=[PROBLEM], kind="distributed", version=3, choices={"pick": ("random", "best-snr")})
def macol(instance, *, explore_s: float = 120.0, epsilon: float = 0.05, pick: str = "random", seed: int = 0):
    """MACOL (Algorithm 1): per-beam contextual agents that serve or back off.

    Parameters
    ----------
    explore_s : float
        Explore-first period (s); the paper uses 120 to 600 s.
    epsilon : float
        Exploration probability after the explore-first period.
    pick : str
        ``random`` (Algorithm 1, lines 5 and 18) or ``best-snr``: which vehicle a serving beam picks.
    seed : int
        Random seed (decision order, epsilon draws, random picks).
    """
    if pick not in ("best-snr", "random"):
        raise ValueError("pick must be 'best-snr' or 'random'")
    t_start = time.perf_counter()
    sc = sim.scenario(instance)
    ins_all = sc.inside_all()
    T, B, N = ins_all.shape
    rng = np.random.default_rng(seed)
    nbrs = layout_neighbours(instance)
    agents = [_Agent() for _ in range(B)]
    net = Network(range(B))
    explore_steps = int(math.ceil(explore_s / sc.dt - 1e-9))

    A = np.full((T, B), -1, dtype=np.int16)
    cur = np.full(B, -1, dtype=np.int64)
    busy = np.zeros(N, dtype=bool)
    backoff_until = np.zeros(B, dtype=np.int64)
    ctx_of = np.zeros(B, dtype=np.int64)
    rate_sum = np.zeros(B)
    n_steps = np.zeros(B, dtype=np.int64)
    ar = np.arange(B)
    counts = {"serve_explore_first": 0, "serve_epsilon": 0, "serve_exploit": 0, "serve_unseen": 0,
              "backoff": 0, "rewards": 0}

    for t in range(T):
        ins = ins_all[t]
        for b in np.flatnonzero(departed(cur, ins, ar)):
            agents[b].update(int(ctx_of[b]), rate_sum[b] / n_steps[b], int(n_steps[b]))
            counts["rewards"] += 1
            busy[cur[b]] = False
            cur[b] = -1
        want = (cur < 0) & (backoff_until <= t) & (ins & ~busy).any(axis=1)
        if want.any():
            for b in rng.permutation(np.flatnonzero(want)):
                c = np.flatnonzero(ins[b] & ~busy)
                if c.size == 0:
                    continue
                for k in nbrs[b]:  # the context exchange: each interfering neighbour reports its status
                    net.send(k, b, float(cur[k] >= 0))
                status = dict(net.next_round()[b])
                ctx = 0
                for i, k in enumerate(nbrs[b]):
                    if status[k]:
                        ctx |= 1 << i
                ag = agents[b]
                if t < explore_steps:
                    counts["serve_explore_first"] += 1
                elif rng.random() < epsilon:
                    counts["serve_epsilon"] += 1
                elif ctx not in ag.value:
                    counts["serve_unseen"] += 1
                elif ag.value[ctx] >= ag.threshold():
                    counts["serve_exploit"] += 1
                else:
                    counts["backoff"] += 1
                    backoff_until[b] = t + max(1, int(round(ag.duration[ctx])))
                    continue
                v = pick_vehicle(sc, t, b, c, pick, rng)
                cur[b] = v
                busy[v] = True
                ctx_of[b] = ctx
                rate_sum[b] = 0.0
                n_steps[b] = 0
        A[t] = cur
        if (cur >= 0).any():
            _, rate = sc.step_status(t, cur)
            on = cur >= 0
            rate_sum[on] += rate[on]
            n_steps[on] += 1

    explore_until = min(explore_steps, T) * sc.dt
    decisions = sum(v for k, v in counts.items() if k != "rewards")
    stats = {
        "explore_s": explore_until,
        "decisions": decisions,
        "decisions_explore": counts["serve_explore_first"] + counts["serve_epsilon"],
        "decisions_exploit": counts["serve_exploit"] + counts["serve_unseen"] + counts["backoff"],
        **counts,
        "contexts_seen": int(sum(len(a.value) for a in agents)),
        **net.stats(),  # rounds, messages, payload_floats of the context exchange
        "seconds": time.perf_counter() - t_start,
    }
    return {"assign": A, "explore_until": np.array(float(explore_until))}, stats

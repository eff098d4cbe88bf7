r"""Baselines of ``sumrate-bs-beam`` (Li et al., Sec. IV-C-2) and a classical greedy.

* ``genie-max-gain``: the paper's "optimal mobility management", each user to
  the (BS, beam) of highest true gain :math:`|h_{b,u}^H f_n|^2` at :math:`t + T_f`
  (the denominator of ASRR); not optimal for (4), which charges interference.
* ``reactive-handoff``: the pilot-based reactive handoff of [17]. Every BS
  sweeps its codebook in every history frame (``sweep_power``); the user starts
  on the best measured BS of frame :math:`t - T_p + 1` and, frame by frame, hands
  off to the BS whose best measured beam beats the serving BS's best beam by
  more than ``hysteresis_db`` (0 dB: no hysteresis, the paper states none). The
  BS and its best measured beam of frame :math:`t` are applied at :math:`t + T_f`:
  the measurement is :math:`T_f` = 200 ms stale. With 0 dB this is the
  instance's ``serving_bs`` / ``serving_beam``.
* ``max-gain-interference-aware``: adds users one at a time (best gain first),
  each taking the (BS, beam) that maximises the sum rate (5) of the users placed
  so far, itself included (a strong classical heuristic none of the papers
  tried; also the incumbent of ``bnb``).

All respect the loads (4b): a user whose chosen BS is full takes its best
choice among BSs with a free RF chain (never binds for :math:`U \le N_{RF}`).
"""
from __future__ import annotations

import numpy as np

from mmopt import phy, solver
from mmopt.problems.sumrate_bs_beam import gain_table, genie_assignment, greedy_capacity_assign
from mmopt.problems.sumrate_bs_beam.solvers.bnb import greedy_interference_aware


@solver("genie-max-gain", problems=["sumrate-bs-beam"], kind="baseline", version=1)
def genie_max_gain(instance):
    """Each user to its max-true-gain (BS, beam) at t + T_f (the paper's ASRR denominator)."""
    G = gain_table(instance)
    bs, beam = genie_assignment(instance)
    return {"bs": bs, "beam": beam}, {"beam_scores": [G[u, bs[u]].tolist() for u in range(len(bs))],
                                      "csi": "genie", "pilot_beams": 0}


def reactive_rule(sweep: np.ndarray, hysteresis_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Serving BS and beam at the last history frame under the reactive handoff rule.

    ``sweep`` (U, B, T_p, C) measured beam powers. Returns (bs, beam), (U,) each.
    """
    best = sweep.max(axis=3)                                   # (U, B, T_p)
    U, B, T = best.shape
    h = float(phy.db2lin(hysteresis_db))
    serving = best[:, :, 0].argmax(axis=1)
    for k in range(1, T):
        cand = best[:, :, k].argmax(axis=1)
        better = best[np.arange(U), cand, k] > h * best[np.arange(U), serving, k]
        serving = np.where(better, cand, serving)
    beam = sweep[np.arange(U), serving, T - 1].argmax(axis=1)
    return serving.astype(np.int64), beam.astype(np.int64)


def _needs_sweep(instance, **_):
    return None if "sweep_power" in instance else "instance has no sweep_power (beam-sweep history)"


@solver("reactive-handoff", problems=["sumrate-bs-beam"], kind="baseline", version=1, applies=_needs_sweep)
def reactive_handoff(instance, *, hysteresis_db=0.0):
    """Pilot-based reactive handoff: beam sweeps up to t, applied at t + T_f (module docstring)."""
    sweep = np.asarray(instance["sweep_power"])
    U, B, T, C = sweep.shape
    bs, beam = reactive_rule(sweep, hysteresis_db)
    n_rf = np.asarray(instance["n_rf"])
    if np.any(np.bincount(bs, minlength=B) > n_rf):
        bs, beam = greedy_capacity_assign(sweep[:, :, -1], n_rf)
    scores = [sweep[u, bs[u], -1].tolist() for u in range(U)]
    return {"bs": bs, "beam": beam}, {"beam_scores": scores, "pilot_beams": int(B * C), "csi": "beam-sweep"}


@solver("max-gain-interference-aware", problems=["sumrate-bs-beam"], kind="baseline", version=1)
def max_gain_interference_aware(instance):
    """Greedy: users one at a time, each to the (BS, beam) maximising the current sum rate (perfect CSI)."""
    bs, beam = greedy_interference_aware(gain_table(instance), np.asarray(instance["n_rf"]))
    return {"bs": bs, "beam": beam}, {"csi": "perfect", "pilot_beams": 0}

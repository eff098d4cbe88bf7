r"""Exact dynamic programming (Viterbi) for ``trajectory-assoc``.

Khosravi, Ghadikolaei, Zander, Petrova, arXiv:2301.05305, eq. (5): with the
per-(slot, BS) overheads and rates of the problem (see
:mod:`mmopt.problems.trajectory_assoc`), slot ``i`` contributes
:math:`r^{HO}_{ij} = \Gamma^{HO}_{ij} - \lambda[\Gamma^{HO}_{ij} \le \Gamma_{thr}]` when it
is served by ``j`` after a handover and :math:`r^{st}_{ij}` (same with the tracking
values) when ``j`` also served slot ``i-1``. The best value of a sequence
ending at slot ``i`` with BS ``j`` is

.. math::

    V_i(j) = \max\Bigl(V_{i-1}(j) + r^{st}_{ij},\ \max_{k \ne j} V_{i-1}(k) + r^{HO}_{ij}\Bigr),

with :math:`V_0(j_0) = 0` for the initial BS :math:`j_0` and :math:`-\infty` elsewhere
(all BSs reachable by handover when :math:`j_0 = -1`). The inner
:math:`\max_{k \ne j}` is read off the two largest values of :math:`V_{i-1}`, so the
whole recursion is :math:`O(M N_B)`. The optimum is exact: the bound equals the
value (up to floating-point summation order).
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import solver
from mmopt.problems.trajectory_assoc import slot_rewards, gamma_of


def viterbi(r_ho: np.ndarray, r_st: np.ndarray, initial_bs: int) -> tuple[np.ndarray, float]:
    """Best serving sequence for per-slot handover / stay rewards (M, NB).

    Returns ``(serving, value)``; ties are broken towards staying, then the
    lowest BS index.
    """
    M, NB = r_ho.shape
    if M == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    back = np.empty((M, NB), dtype=np.int64)
    idx = np.arange(NB)
    # slot 0: from the virtual initial state
    V = r_ho[0].copy()
    back[0] = -1
    if 0 <= initial_bs < NB:
        V[initial_bs] = r_st[0, initial_bs]
        back[0, initial_bs] = initial_bs
    for i in range(1, M):
        # two best predecessors, for max over k != j
        k1 = int(np.argmax(V))
        v1 = V[k1]
        if NB > 1:
            W = V.copy()
            W[k1] = -np.inf
            k2 = int(np.argmax(W))
            v2 = W[k2]
        else:
            k2, v2 = k1, -np.inf
        other = np.where(idx == k1, v2, v1)
        other_k = np.where(idx == k1, k2, k1)
        stay = V + r_st[i]
        move = other + r_ho[i]
        take_stay = stay >= move
        back[i] = np.where(take_stay, idx, other_k)
        V = np.where(take_stay, stay, move)
    serving = np.empty(M, dtype=np.int64)
    serving[-1] = int(np.argmax(V))
    value = float(V[serving[-1]])
    for i in range(M - 1, 0, -1):
        serving[i - 1] = back[i, serving[i]]
    return serving, value


@solver("dp", problems=["trajectory-assoc"], kind="reference", version=1)
def trajectory_dp(instance):
    """Exact Viterbi DP over the serving BS, O(M NB) (eq. (5); certificate: bound = value)."""
    t0 = time.perf_counter()
    r_ho, r_st = slot_rewards(instance)
    serving, v_dp = viterbi(r_ho, r_st, int(instance["initial_bs"]))
    g, _ = gamma_of(instance, serving)
    lam, thr = float(instance["lam"]), float(instance["gamma_thr"])
    value = float(g.sum() - lam * np.count_nonzero(g <= thr))
    secs = time.perf_counter() - t0
    return {"serving": serving}, {"value": value, "bound": value, "status": "opt", "tolerance": 1e-9,
                                  "dp_value": v_dp, "states": int(r_ho.size), "seconds": secs}

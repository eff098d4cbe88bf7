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

``dp-alg1``: the optimum of Algorithm 1's policy class. A policy of the class
may change BS at slot ``i`` only when the BS ``k`` that served slot ``i-1``
triggers there (:math:`T_{ik}`: its previous best beam misses SNR\ :sub:`thr`,
:func:`~mmopt.problems.trajectory_assoc.alg1_triggers`; always at an initial
access), so the same recursion runs with the handover arcs of non-triggering
predecessors removed:

.. math::

    V_i(j) = \max\Bigl(V_{i-1}(j) + r^{st}_{ij},\ \max_{k \ne j,\ T_{ik}} V_{i-1}(k) + r^{HO}_{ij}\Bigr).

Staying is always allowed (forced at a non-trigger slot, beam tracking at a
trigger slot); the action set at a trigger is every BS (Alg. 1: track, or hand
over to any BS), so the value is the best return of any policy of the class
on the realisation, clairvoyant within the class. ``dp`` keeps it in its
reference record (``reference_solution.class_optimum``) for the metrics
``rule_gap`` and ``class_gap``.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import solver
from mmopt.problems.trajectory_assoc import alg1_triggers, gamma_of, slot_rewards


def viterbi(r_ho: np.ndarray, r_st: np.ndarray, initial_bs: int, movable: np.ndarray | None = None
            ) -> tuple[np.ndarray, float]:
    """Best serving sequence for per-slot handover / stay rewards (M, NB).

    ``movable`` (M, NB), optional: the UE may leave BS ``k`` at slot ``i`` only
    where ``movable[i, k]`` (Alg. 1's triggers; ``None``: everywhere). Returns
    ``(serving, value)``; ties are broken towards staying, then the lowest BS
    index.
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
        if movable is not None and not movable[0, initial_bs]:
            V[:] = -np.inf  # slot 1 is not a trigger: the initial BS must stay
        V[initial_bs] = r_st[0, initial_bs]
        back[0, initial_bs] = initial_bs
    for i in range(1, M):
        # two best predecessors that may move, for max over k != j
        U = V if movable is None else np.where(movable[i], V, -np.inf)
        k1 = int(np.argmax(U))
        v1 = U[k1]
        if NB > 1:
            W = U.copy()
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


def _value(instance, serving) -> float:
    g, _ = gamma_of(instance, serving)
    lam, thr = float(instance["lam"]), float(instance["gamma_thr"])
    return float(g.sum() - lam * np.count_nonzero(g <= thr))


def class_optimum(instance) -> tuple[np.ndarray, float]:
    """The best serving sequence of Algorithm 1's policy class and its value (eq. (5a))."""
    r_ho, r_st = slot_rewards(instance)
    serving, _ = viterbi(r_ho, r_st, int(instance["initial_bs"]), movable=alg1_triggers(instance))
    return serving, _value(instance, serving)


@solver("dp", problems=["trajectory-assoc"], kind="reference", version=2)
def trajectory_dp(instance):
    """Exact Viterbi DP over the serving BS, O(M NB) (eq. (5); certificate: bound = value).

    The stats' ``reference_solution`` keeps the optimum of Alg. 1's class
    (``class_optimum``, the ``dp-alg1`` value) for the metrics that split the gap.
    """
    t0 = time.perf_counter()
    r_ho, r_st = slot_rewards(instance)
    serving, v_dp = viterbi(r_ho, r_st, int(instance["initial_bs"]))
    value = _value(instance, serving)
    _, v_class = class_optimum(instance)
    secs = time.perf_counter() - t0
    return {"serving": serving}, {"value": value, "bound": value, "status": "opt", "tolerance": 1e-9,
                                  "dp_value": v_dp, "states": int(r_ho.size), "seconds": secs,
                                  "class_optimum": v_class,
                                  "reference_solution": {"class_optimum": v_class}}


@solver("dp-alg1", problems=["trajectory-assoc"], kind="reference", certifies=False, version=1)
def trajectory_dp_alg1(instance):
    """Optimum of Algorithm 1's policy class (BS changes only at trigger slots): Viterbi DP, O(M NB).

    Certified for the class (bound = value), not for eq. (5): it is the second
    reference of the tables (``class_gap``), never the suite's reference record.
    """
    t0 = time.perf_counter()
    serving, value = class_optimum(instance)
    return {"serving": serving}, {"value": value, "bound": value, "status": "opt", "tolerance": 1e-9,
                                  "policy_class": "alg1", "triggers": int(alg1_triggers(instance).sum()),
                                  "seconds": time.perf_counter() - t0}

r"""Online baselines for ``trajectory-assoc`` (Khosravi et al., arXiv:2301.05305, Sec. V).

All are *online*: the decision for slot ``i`` uses slots ``0..i`` of the
instance only (what the UE has measured so far and at the present slot:
every BS's best-beam rate after a beam sweep, and the outcome of tracking
its serving beam), never a later slot. They are scored by the problem's
objective, eq. (5a), like every solver. Which of them obey Algorithm 1's
rule (change BS only at a trigger slot, where the serving beam misses
SNR\ :sub:`thr`) matters for reading their gaps: the rule alone costs the
``rule_gap`` of the tables (the ``dp-alg1`` class optimum below the ``dp``
optimum); ``greedy`` and ``greedy-stale`` break it, the others obey it.

* ``greedy``: re-decides every slot with a free sweep of all BSs: the BS with
  the largest :math:`\Gamma_i` given the previous slot's BS (stay: tracking
  overhead and rate; move: handover overhead and rate), computed from the
  present slot's rates of *every* BS at no cost. Since
  :math:`\Gamma - \lambda[\Gamma \le \Gamma_{thr}]` increases with :math:`\Gamma`, this
  is the myopic optimum of eq. (5a). Outside Alg. 1's class: it may hand over
  at any slot, and it knows the slot's rates before choosing.
* ``greedy-stale``: ``greedy`` on one-slot-stale measurements: slot ``i`` is
  decided on the sweep of slot ``i-1`` (slot 1 on its own sweep, the initial
  access), then played on slot ``i``'s real rates. Still outside Alg. 1.
* ``greedy-alg1``: ``greedy`` restricted to Alg. 1's triggers: it keeps BS and
  beam while the serving beam meets SNR\ :sub:`thr` and, at a trigger slot (and
  the initial access), takes the largest :math:`\Gamma_i` over tracking and the
  handovers, from that slot's sweep. Myopic and inside Alg. 1's class.
* ``reactive-max-snr``: stay (beam tracking) while the serving link meets
  SNR\ :sub:`thr` after tracking; otherwise hand over to the currently strongest
  other BS (largest best-beam SNR).
* ``multi-connectivity`` (the paper's Baseline 1): the UE keeps a backup BS,
  the strongest BS other than the serving one when it was chosen, and keeps
  it while its tracked link meets SNR\ :sub:`thr` (else it re-picks the strongest
  other BS). On blockage of the serving link it switches to the backup if the
  backup's link meets SNR\ :sub:`thr`, else to the strongest other BS, and
  re-picks a backup. *Overhead accounting*: the solution is scored by eq. (3)
  like every other, so each switch, to the backup or not, costs the handover
  time :math:`\tau_c/3`; keeping the backup (tracking its beam, training a new
  backup) is not charged, i.e. the baseline gets its backup for free. The
  paper's fast switch to an already-aligned backup beam is outside eq. (3),
  which charges by change of serving BS; ``switches_to_backup`` and
  ``backup_changes`` in the stats let a reader re-count under other rules.
* ``q-learning-handover`` (Baseline 2 flavour: Khosravi, Ghadikolaei,
  Petrova, "Learning-based handover in mobile millimeter-wave networks",
  IEEE TCCN 2021): tabular Q-learning over the state (location index = slot,
  serving BS) whose action is the handover target. Handover is considered
  only when the serving link is blocked (tracking fails to meet SNR\ :sub:`thr`)
  or at initial access; the action may be the serving BS itself (stay).
  The Q-table is trained offline with SMDP Q-learning (rewards accumulated,
  discounted, between decision points) on the ``train_*`` realisations of
  the instance (same trajectory and BSs, other blockers), deterministically
  from ``seed``, and then applied greedily to the instance; states never
  visited in training fall back to the strongest BS. Training time is
  reported as ``train_seconds``.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import MmoptError, solver
from mmopt.problems.trajectory_assoc import alg1_triggers, slot_gammas, track_ok

PROBLEM = "trajectory-assoc"


def _strongest_other(rate_i: np.ndarray, exclude: int) -> int:
    if len(rate_i) == 1 or exclude < 0:
        return int(np.argmax(rate_i))
    r = rate_i.copy()
    r[exclude] = -np.inf
    return int(np.argmax(r))


def _myopic(g_ho_i: np.ndarray, g_st_i: np.ndarray, prev: int) -> int:
    """Largest Gamma given the previous BS (stay: tracking; move: handover); ties: stay, then lowest index."""
    g = g_ho_i.copy()
    if prev >= 0:
        g[prev] = g_st_i[prev]
    j = int(np.argmax(g))
    if prev >= 0 and g[prev] >= g[j]:
        j = prev
    return j


@solver("greedy", problems=[PROBLEM], kind="baseline", version=1)
def greedy(instance):
    """Re-decides every slot with a free sweep of all BSs: largest Gamma_i given the previous slot's BS.

    Ties: stay, then the lowest index. Not a policy of Alg. 1's class (it may
    hand over while the serving beam still meets SNR_thr).
    """
    g_ho, g_st = slot_gammas(instance)
    M, NB = g_ho.shape
    prev = int(instance["initial_bs"])
    serving = np.empty(M, dtype=np.int64)
    for i in range(M):
        serving[i] = prev = _myopic(g_ho[i], g_st[i], prev)
    return {"serving": serving}, {}


@solver("greedy-stale", problems=[PROBLEM], kind="baseline", version=1)
def greedy_stale(instance):
    """``greedy`` on one-slot-stale rates: slot i chosen on slot i-1's sweep (slot 1 on its own)."""
    g_ho, g_st = slot_gammas(instance)
    M, NB = g_ho.shape
    prev = int(instance["initial_bs"])
    serving = np.empty(M, dtype=np.int64)
    for i in range(M):
        k = max(i - 1, 0)
        serving[i] = prev = _myopic(g_ho[k], g_st[k], prev)
    return {"serving": serving}, {}


@solver("greedy-alg1", problems=[PROBLEM], kind="baseline", version=1)
def greedy_alg1(instance):
    """Myopic at Alg. 1's triggers only: keep BS and beam while it meets SNR_thr, else the largest Gamma_i."""
    g_ho, g_st = slot_gammas(instance)
    trig = alg1_triggers(instance)
    M, NB = g_ho.shape
    prev = int(instance["initial_bs"])
    serving = np.empty(M, dtype=np.int64)
    decisions = 0
    for i in range(M):
        if prev < 0 or trig[i, prev]:
            decisions += 1
            prev = _myopic(g_ho[i], g_st[i], prev)
        serving[i] = prev
    return {"serving": serving}, {"decisions": decisions}


@solver("reactive-max-snr", problems=[PROBLEM], kind="baseline", version=1)
def reactive_max_snr(instance):
    """Stay while the tracked serving link meets SNR_thr, else hand over to the strongest other BS."""
    rate = np.asarray(instance["rate"])
    ok = track_ok(instance)
    M, NB = rate.shape
    prev = int(instance["initial_bs"])
    serving = np.empty(M, dtype=np.int64)
    triggers = 0
    for i in range(M):
        if prev < 0 or not ok[i, prev]:
            triggers += prev >= 0
            prev = _strongest_other(rate[i], prev)
        serving[i] = prev
    return {"serving": serving}, {"blockage_triggers": triggers}


@solver("multi-connectivity", problems=[PROBLEM], kind="baseline", version=1)
def multi_connectivity(instance):
    """Baseline 1: serving + backup BS; on blockage switch to the backup (each switch scored as a handover)."""
    rate = np.asarray(instance["rate"])
    ok = track_ok(instance)
    M, NB = rate.shape
    serv = int(instance["initial_bs"])
    backup = -1
    serving = np.empty(M, dtype=np.int64)
    to_backup = backup_changes = 0
    for i in range(M):
        if serv < 0:
            serv = int(np.argmax(rate[i]))
            backup = -1
        elif not ok[i, serv]:
            # the backup's beam has been tracked like the serving one: usable iff its tracking succeeds
            if 0 <= backup != serv and ok[i, backup]:
                serv, backup = backup, -1
                to_backup += 1
            else:
                serv = _strongest_other(rate[i], serv)
                backup = -1 if backup == serv else backup
        if NB > 1 and (backup < 0 or backup == serv or not ok[i, backup]):
            new = _strongest_other(rate[i], serv)
            backup_changes += new != backup
            backup = new
        serving[i] = serv
    return {"serving": serving}, {"switches_to_backup": to_backup, "backup_changes": backup_changes}


def _episode_rewards(g_ho, g_st, lam, thr):
    return g_ho - lam * (g_ho <= thr), g_st - lam * (g_st <= thr)


@solver("q-learning-handover", problems=[PROBLEM], kind="baseline", version=1)
def q_learning_handover(instance, *, episodes=300, alpha=0.2, gamma=0.9, eps_start=0.5, eps_end=0.02,
                        seed=0):
    """Baseline 2: tabular Q-learning over (slot, serving BS) choosing the handover target on blockage.

    Trained on the instance's ``train_*`` realisations (same trajectory, other blockers).
    """
    needed = ("train_rate", "train_tau_track")
    if any(k not in instance for k in needed):
        raise MmoptError("q-learning-handover needs the training realisations 'train_rate' and "
                         "'train_tau_track' in the instance")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    tr_rate = np.asarray(instance["train_rate"], dtype=np.float64)
    tr_rate_track = np.asarray(instance.get("train_rate_track", instance["train_rate"]), dtype=np.float64)
    tr_tau = np.asarray(instance["train_tau_track"], dtype=np.float64)
    R, M, NB = tr_rate.shape
    if R == 0:
        raise MmoptError("q-learning-handover: the instance has no training realisations (R = 0)")
    tau_c, tau_ho = float(instance["tau_c"]), float(instance["tau_ho"])
    lam, thr = float(instance["lam"]), float(instance["gamma_thr"])
    j0 = int(instance["initial_bs"])
    # per-realisation rewards (eq. (5a) terms) and blockage flags
    sims = []
    for r in range(R):
        real = {"rate": tr_rate[r], "rate_track": tr_rate_track[r], "tau_track": tr_tau[r],
                "tau_c": np.array(tau_c), "tau_ho": np.array(tau_ho)}
        g_ho, g_st = slot_gammas(real)
        r_ho, r_st = _episode_rewards(g_ho, g_st, lam, thr)
        ok = track_ok(instance, tr_rate_track[r])
        sims.append((r_ho, r_st, ok, tr_rate[r]))
    NONE = NB  # "no serving BS" (initial access)
    Q = np.zeros((M, NB + 1, NB))
    visits = np.zeros((M, NB + 1), dtype=np.int64)
    updates = 0
    for ep in range(int(episodes)):
        eps = eps_start + (eps_end - eps_start) * ep / max(1, int(episodes) - 1)
        r_ho, r_st, ok, _ = sims[ep % R]
        serv = j0
        k_state = None  # (slot, prev) of the pending decision
        k_action = 0
        G, disc = 0.0, 1.0
        for i in range(M):
            if serv < 0 or not ok[i, serv]:
                s_prev = NONE if serv < 0 else serv
                if k_state is not None:  # close the pending SMDP transition
                    target = G + disc * Q[i, s_prev].max()
                    Q[k_state][k_action] += alpha * (target - Q[k_state][k_action])
                    updates += 1
                a = int(rng.integers(NB)) if rng.random() < eps else int(np.argmax(Q[i, s_prev]))
                visits[i, s_prev] += 1
                k_state, k_action, G, disc = (i, s_prev), a, 0.0, 1.0
                rew = r_st[i, a] if a == serv else r_ho[i, a]
                serv = a
            else:
                rew = r_st[i, serv]
            G += disc * rew
            disc *= gamma
        if k_state is not None:
            Q[k_state][k_action] += alpha * (G - Q[k_state][k_action])
            updates += 1
    train_seconds = time.perf_counter() - t0

    # greedy application to the instance (online)
    rate = np.asarray(instance["rate"])
    ok = track_ok(instance)
    serving = np.empty(M, dtype=np.int64)
    serv = j0
    fallback = decisions = 0
    for i in range(M):
        if serv < 0 or not ok[i, serv]:
            s_prev = NONE if serv < 0 else serv
            decisions += 1
            if visits[i, s_prev] == 0:
                serv = _strongest_other(rate[i], serv)
                fallback += 1
            else:
                serv = int(np.argmax(Q[i, s_prev]))
        serving[i] = serv
    return {"serving": serving}, {"train_seconds": train_seconds, "episodes": int(episodes),
                                  "q_updates": updates, "decisions": decisions,
                                  "fallback_decisions": fallback, "train_realisations": R,
                                  "inference_seconds": time.perf_counter() - t0 - train_seconds}

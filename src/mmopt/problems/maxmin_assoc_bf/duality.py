r"""Max-min SINR beamforming with per-AP power constraints by uplink-downlink duality.

For a fixed association ``a`` (user k served by AP :math:`a_k`) the problem of
Li, Liu, Yu eqs. (1)-(6) is

.. math::

    \gamma^\star(a) = \max_{V} \min_k
      \frac{|h_{k,a_k}^H v_k|^2}{\sum_{i\ne k}|h_{k,a_i}^H v_i|^2 + \sigma_k^2}
    \quad\text{s.t.}\quad p_l(V) := \sum_{k: a_k = l}\|v_k\|^2 \le P_l .

This module solves it for many associations at once (NumPy batched linear
algebra), following D. W. H. Cai, T. Q. S. Quek, C. W. Tan, S. H. Low,
"Max-min SINR coordinated multipoint downlink transmission - duality and
algorithms", IEEE Trans. Signal Process. 60(10), 2012 (Sec. IV: the
multi-constraint problem decouples, through uplink-downlink duality, into
single weighted-sum-power-constraint problems), and it certifies every
answer with a two-sided bound.

What is implemented
-------------------
**Decoupling (Cai et al., Sec. IV).** For dual noise weights
:math:`\mu \ge 0` on the served APs, normalised to
:math:`\sum_l \mu_l P_l = 1`, let :math:`\gamma(\mu)` be the max-min SINR
under the single constraint :math:`\sum_l \mu_l p_l(V) \le \sum_l \mu_l P_l`.
Every per-AP feasible ``V`` meets it, so :math:`\gamma(\mu) \ge
\gamma^\star` for every :math:`\mu` (weak duality), and
:math:`\min_\mu \gamma(\mu) = \gamma^\star` (strong duality, attained at
the optimal weights :math:`\mu^\star`; :math:`\mu^\star_l = 0` for an AP
whose budget is slack at the optimum).

**Dual uplink (Cai et al., nonlinear Perron-Frobenius, their eqs. for the
single-constraint problem).** :math:`\gamma(\mu)` equals the max-min SINR of
the dual uplink in which user k transmits with power :math:`q_k`, its MMSE
receiver sits at AP :math:`a_k` with receiver noise
:math:`\mu_{a_k} I`, and :math:`\sum_k \sigma_k^2 q_k = 1`:

.. math::

    \mathrm{SINR}^{UL}_k(q) = q_k\, h^H\Big(\sum_{i\ne k} q_i h_{i,a_k}
        h_{i,a_k}^H + \mu_{a_k} I\Big)^{-1} h = \frac{q_k}{I_k(q)},
    \qquad h = h_{k,a_k}.

:math:`I` is a concave standard interference function; the normalised
fixed-point iteration :math:`q \leftarrow I(q) / \sigma^T I(q)` (Krause;
Cai et al.) converges to the unique :math:`q^\star` with all uplink SINRs
equal to :math:`\gamma(\mu)`. It is used for the first ``perron_after``
steps of an association (cheap; most associations of a search are pruned
within them); afterwards each step sets ``q`` to the exact max-min uplink
power allocation for the current receivers, the Perron vector of
:math:`D(F^T + \mu_a \sigma^T)` (Schubert, Boche; same fixed point, far
fewer steps when users are strongly coupled), followed by one sweep of that
matrix so that tiny components keep their relative accuracy.

**Upper bound at every iterate.** For any :math:`q > 0` with
:math:`\sigma^T q = 1`,
:math:`\min_k \mathrm{SINR}^{UL}_k(q) \le \gamma(\mu) \le \max_k
\mathrm{SINR}^{UL}_k(q)`. (Proof: with :math:`t = \max_k q_k/q^\star_k \ge 1`,
monotonicity and :math:`I(tq) \le t I(q)` give :math:`I(q) \le t q^\star /
\gamma(\mu)`, so the user attaining ``t`` has SINR at least
:math:`\gamma(\mu)`; the lower side is symmetric with concavity.) Hence
``ub = min over iterations of max_k SINR^UL_k`` is a valid upper bound on
:math:`\gamma^\star` whatever :math:`\mu` and ``q`` are.

**Feasible lower bound (downlink recovery).** The MMSE receive directions
:math:`w_k = u_k/\|u_k\|` are used as downlink beam directions. With
:math:`G_{ki} = |h_{k,a_i}^H w_i|^2`, :math:`D = \mathrm{diag}(1/G_{kk})`
and ``F`` the off-diagonal part, the downlink powers reaching a common
target :math:`\gamma_t = \min_k \mathrm{SINR}^{UL}_k` are
:math:`p = \gamma_t (I - \gamma_t D F)^{-1} D \sigma` (duality for fixed
directions: same :math:`\gamma_t`, same weighted power); scaled by
:math:`1/\max_l (p_l/P_l)` they meet every AP budget and their achieved min
SINR is the lower bound ``lb``. The returned beamformers are finally
re-optimised exactly for their directions by multi-constraint Perron power
control, :math:`1/\gamma = \max_l \rho(D(F + \sigma e_l^T/P_l))` (Tan,
Chiang, Srikant; Cai et al. Sec. III), and the reported value is the min
SINR that the returned ``V`` achieves, evaluated in the antenna domain.

**Noise-weight update.** After the inner fixed point has (nearly)
converged, :math:`\mu_l \leftarrow \mu_l (p_l/P_l)^{\eta_l}` with ``p`` the
dual downlink powers above (their gradient direction: raising the price of
an AP that overspends lowers :math:`\gamma(\mu)`), renormalised, with a
floor of ``1e-9`` on :math:`\mu_l P_l` for slack APs; the step exponent
:math:`\eta_l` grows by 1.5 while the sign of :math:`\log(p_l/P_l)` repeats
and halves when it flips (so slack APs reach the floor in a few steps).
Cai et al. use a projected subgradient step instead; the multiplicative
step has the same fixed points (:math:`p_l = P_l` on APs with
:math:`\mu_l > 0`). Uplink powers of users at an AP whose weight changes are
rescaled by the same factor (their interference function is proportional
to it in the noise-limited limit), which keeps the upper bound tight while
a weight decays.

**Convergence decision.** An association is ``converged`` when
:math:`(ub - lb)/ub \le` ``tol``; ``pruned`` when its ``ub`` does not
exceed a given threshold (an incumbent) by more than ``tol`` relative;
``capped`` when neither happens within ``max_iter`` fixed-point steps (the
callers then fall back to the SOCP bisection, so answers stay certified).

**Reduced coordinates.** Each AP's channel matrix :math:`H_l` (rows
:math:`h_{k,l}^H`, K x M) is factored once, :math:`H_l = U_l S_l V_l^H` with
:math:`d = \min(K, M)` columns in :math:`V_l`; every channel
:math:`h_{k,l}` lies in the span of :math:`V_l`, and so does every MMSE
receiver :math:`u_k = R_l^{-1} h_{k,l}`
(:math:`R_l = \mu_l I + \sum_i q_i h_{i,l} h_{i,l}^H` maps that span onto
itself). With reduced channels :math:`C_l = H_l V_l = U_l S_l` (K x d) the
receiver is :math:`u_k = V_l \tilde u_k`,
:math:`\tilde u_k = (\mu_l I_d + C_l^H Q C_l)^{-1} \bar c_{k,l}`, and
:math:`h_{j,l}^H u_k = c_{j,l} \tilde u_k`, :math:`\|u_k\| = \|\tilde
u_k\|`. One iteration therefore costs one batched d x d inverse per served
(association, AP) pair, independent of M; only the winner's beamformers are
formed in the antenna domain. (The K x K Gram form
:math:`(\mu_l I + Q G_l)^{-1}` with :math:`G_l = H_l H_l^H` is equivalent in
exact arithmetic but loses about :math:`\epsilon/\mu_l` relative accuracy
when K > M, where :math:`G_l` is singular: the large null-space components
cancel in :math:`H_l^H z`. The reduced form has no such cancellation, which
keeps the upper bound valid when a slack AP's weight is at its floor.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmopt.problems.maxmin_assoc_bf.model import sinr
from mmopt.problems.maxmin_assoc_bf.socp import maxmin_socp

#: floor on mu_l P_l (normalised weights) of a served AP
MU_FLOOR = 1e-9
CONVERGED, PRUNED, CAPPED = 0, 1, 2
STATUS_NAMES = {CONVERGED: "converged", PRUNED: "pruned", CAPPED: "capped", -1: "running"}


def reduced_channels(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced channels ``C`` (L, K, d) and bases ``V`` (L, M, d), ``d = min(K, M)``.

    ``H_l = H[:, l, :].conj()`` (rows ``h_{k,l}^H``) ``= U S V^H``; ``C_l = H_l V_l``, so
    that ``h_{j,l}^H (V_l x) = C_l[j] @ x``. Deterministic (one SVD per AP).
    """
    H = np.asarray(H)
    Hl = np.moveaxis(H.conj(), 1, 0)                             # (L, K, M)
    U, S, Vh = np.linalg.svd(Hl, full_matrices=False)            # d = min(K, M)
    C = U * S[:, None, :]
    return C, np.swapaxes(Vh.conj(), 1, 2)


def reduce_rows(C: np.ndarray) -> np.ndarray:
    """Re-reduce reduced channels of a user subset, (..., n, d) -> (..., n, min(n, d))."""
    n, d = C.shape[-2:]
    if n >= d:
        return C
    U, S, _ = np.linalg.svd(C, full_matrices=False)
    return U * S[..., None, :]


class _Layout:
    """Index bookkeeping of a batch of associations: served (association, AP) pairs."""

    def __init__(self, assocs: np.ndarray, L: int):
        A, K = assocs.shape
        self.A, self.K, self.L = A, K, L
        served = np.zeros((A, L), bool)
        served[np.arange(A)[:, None], assocs] = True
        self.served = served
        self.pa, self.pl = np.nonzero(served)
        pidx = np.full((A, L), -1)
        pidx[self.pa, self.pl] = np.arange(self.pa.size)
        self.upair = pidx[np.arange(A)[:, None], assocs]          # (A, K) pair of user k's AP
        self.assocs = assocs
        self.rows = np.broadcast_to(np.arange(A)[:, None], (A, K))

    def per_ap(self, x: np.ndarray) -> np.ndarray:
        """Sum a per-user array (A, K) over the users of each AP -> (A, L)."""
        out = np.zeros((self.A, self.L))
        np.add.at(out, (self.rows, self.assocs), x)
        return out


def _directions(C, lay: _Layout, q, mu, rowC: bool = False):
    """MMSE receive directions for uplink powers ``q`` and noise weights ``mu``.

    ``C`` holds reduced channels, shared (L, K, d) or per association
    (A, L, K, d) (``rowC``). Returns ``(Gn, u, n)``: normalised gains
    ``Gn[a, k, i] = |h_{k,a_i}^H w_i|^2``, reduced receivers ``u[a, i]`` (d,)
    and ``n = ||u_i||^2``.
    """
    K = lay.K
    ar = np.arange(K)
    Cp = C[lay.pa, lay.pl] if rowC else C[lay.pl]               # (Np, K, d)
    d = Cp.shape[-1]
    CH = np.conj(np.swapaxes(Cp, 1, 2))                         # (Np, d, K): columns conj(c_k)
    Mat = (CH * q[lay.pa][:, None, :]) @ Cp                     # C^H Q C
    Mat[:, np.arange(d), np.arange(d)] += mu[lay.pa, lay.pl][:, None]
    W = np.linalg.solve(Mat, CH)                                # column k: receiver of user k at this AP
    u = W[lay.upair, :, ar[None, :]]                            # (A, K, d): u[a, i] at AP a_i
    Y = Cp @ W                                                  # Y[p, j, k] = c_j u_k
    B = np.swapaxes(Y[lay.upair, :, ar[None, :]], 1, 2)         # B[a, j, i] = h_{j,a_i}^H u_i
    n = np.einsum("aid,aid->ai", u.real, u.real) + np.einsum("aid,aid->ai", u.imag, u.imag)
    Gn = (B.real ** 2 + B.imag ** 2) / n[:, None, :]
    return Gn, u, n


def _uplink_sinr(Gn, q, mua):
    g = np.einsum("akk->ak", Gn)
    tot = np.einsum("aik,ai->ak", Gn, q)
    return q * g / (tot - q * g + mua)


def _uplink_perron(Gn, mua, sigma):
    """Uplink max-min power allocation for fixed receivers (Perron vector), ``sigma^T q = 1``.

    With ``D = diag(1/Gn_kk)``, cross gains ``F[i, k] = Gn[i, k]`` seen by receiver k,
    the powers with all uplink SINRs equal solve ``q = gamma D (F^T q + mu_a)`` and
    ``sigma^T q = 1``: ``q`` is the Perron vector of ``D (F^T + mu_a sigma^T)`` and
    ``1/gamma`` its Perron root (Schubert, Boche).
    """
    K = Gn.shape[1]
    g = np.einsum("akk->ak", Gn)
    FT = np.swapaxes(Gn, 1, 2).copy()
    FT[:, np.arange(K), np.arange(K)] = 0.0
    Lam = (FT + mua[:, :, None] * sigma[:, None, :]) / g[:, :, None]
    w, V = np.linalg.eig(Lam)
    j = np.argmax(w.real, axis=1)
    q = np.abs(np.take_along_axis(V, j[:, None, None], 2)[..., 0].real)
    q = np.maximum(q, 1e-300)
    q /= (q * sigma).sum(1)[:, None]
    # one sweep of q <- Lam q (sums of positive terms): the eigenvector is accurate only normwise,
    # this restores the relative accuracy of tiny components (users of an AP at the weight floor)
    q = np.einsum("akj,aj->ak", Lam, q)
    return q / (q * sigma).sum(1)[:, None]


def _downlink_sinr(Gn, p, sigma):
    """Downlink SINRs for gains ``Gn`` (A, K, K), powers ``p`` and noise ``sigma`` (A, K)."""
    g = np.einsum("akk->ak", Gn)
    tot = np.einsum("aki,ai->ak", Gn, p)
    return p * g / (np.maximum(tot - p * g, 0.0) + sigma)


@dataclass
class DualityResult:
    """Per-association outcome of :func:`solve_associations`.

    ``lb`` is the min SINR achieved by a per-AP feasible downlink solution
    (stored as unit reduced receivers ``z`` (A, K, d) and powers ``p``), ``ub`` a certified upper
    bound on the association's optimum, ``status`` one of
    :data:`CONVERGED`, :data:`PRUNED`, :data:`CAPPED`.
    """

    assocs: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    z: np.ndarray
    p: np.ndarray
    total_iterations: int = 0
    pair_solves: int = 0
    extra: dict = field(default_factory=dict)


def solve_associations(H: np.ndarray, P: np.ndarray, noise: np.ndarray, assocs: np.ndarray, *,
                       tol: float = 1e-7, max_iter: int = 3000, incumbent: float = -np.inf,
                       C: np.ndarray | None = None, kappa: float = 0.1, inner_tol: float = 1e-10,
                       ub_init: np.ndarray | None = None, prune: bool = True, perron_after: int = 4,
                       batch_incumbent: bool = True) -> DualityResult:
    """Max-min SINR beamforming for every association in ``assocs`` (A, K), batched.

    Parameters
    ----------
    H, P, noise
        Instance arrays (K, L, M), (L,), (K,). ``H`` may be ``None`` when ``C``
        is given; ``noise`` may be per association (A, K).
    assocs
        Associations, one per row, values in ``0..L-1``.
    tol
        Relative gap ``(ub - lb) / ub`` at which an association is converged.
    max_iter
        Fixed-point steps per association before it is ``capped``.
    incumbent
        A min SINR known to be achievable (for pruning). Associations whose
        upper bound is at most ``max(incumbent, best lb in the batch) *
        (1 + tol)`` stop as ``pruned``.
    C
        Precomputed :func:`reduced_channels` ``C`` (L, K, d) (optional), or one
        set per association (A, L, K, d) (sub-problems on different users).
    kappa, inner_tol
        The noise weights are updated once the uplink SINR spread
        ``(max - min) / max`` is at most ``max(inner_tol, kappa * gap)``.
    ub_init
        Known upper bounds (A,) to start from (optional).
    prune
        ``False``: no association stops as ``pruned`` (each closes its own gap).
    perron_after
        Iterations of the (cheaper, slower) Krause step before an association
        switches to Perron steps for its uplink powers.
    batch_incumbent
        Whether the best lower bound found in the batch raises the pruning
        threshold (``False`` for sub-problems whose values are not achievable
        in the full problem).
    """
    if C is None:
        C = reduced_channels(np.asarray(H))[0]
    rowC = C.ndim == 4
    L, K, d = C.shape[-3:]
    assocs = np.ascontiguousarray(assocs, dtype=np.int64).reshape(-1, K)
    A = assocs.shape[0]
    P = np.asarray(P, dtype=float)
    sig = np.broadcast_to(np.asarray(noise, dtype=float), (A, K)).copy()
    gdiag = np.einsum("...lkd,...lkd->...lk", C.real, C.real) + np.einsum("...lkd,...lkd->...lk", C.imag, C.imag)

    lb = np.zeros(A)
    ub = np.full(A, np.inf) if ub_init is None else np.array(ub_init, dtype=float)
    status = np.full(A, -1)
    iters = np.zeros(A, dtype=np.int64)
    z_best = np.zeros((A, K, d), dtype=complex)
    p_best = np.zeros((A, K))
    best_lb = float(incumbent)

    # state of the running associations (compacted as they finish)
    idx = np.arange(A)
    lay = _Layout(assocs, L)
    mu = lay.served / (lay.served.sum(1, keepdims=True) * P[None, :])
    mua = np.take_along_axis(mu, assocs, 1)
    own = (np.take_along_axis(gdiag, assocs[:, None, :], 1)[:, 0] if rowC
           else gdiag[assocs, np.arange(K)[None, :]])
    q = mua / np.maximum(own, 1e-300)
    q /= (q * sig).sum(1)[:, None]
    eta = np.ones((A, L))
    prev_lr = np.zeros((A, L))
    gap_prev = np.ones(A)
    it_local = np.zeros(A, dtype=np.int64)
    total = pairs = 0
    eyeK = np.eye(K)

    while idx.size:
        total += 1
        pairs += lay.pa.size
        a_ = lay.assocs
        Gn, z, n = _directions(C, lay, q, mu, rowC)
        mua = np.take_along_axis(mu, a_, 1)
        s = _uplink_sinr(Gn, q, mua)
        smax, smin = s.max(1), s.min(1)
        ub[idx] = np.minimum(ub[idx], smax)
        it_local += 1
        spread = (smax - smin) / smax
        outer = spread <= np.maximum(inner_tol, kappa * gap_prev)
        outer |= it_local >= max_iter                       # last chance: evaluate the lower bound

        # Krause step q <- I(q) / sigma^T I(q) for the first iterations (cheap; most
        # associations are pruned within a few), then Schubert-Boche Perron steps
        Iq = q / s
        q_new = Iq / (Iq * sig).sum(1)[:, None]
        sb = np.flatnonzero(it_local > perron_after)
        if sb.size:
            q_new[sb] = _uplink_perron(Gn[sb], mua[sb], sig[sb])

        if outer.any():
            o = np.flatnonzero(outer)
            Gno, go = Gn[o], np.einsum("akk->ak", Gn[o])
            DF = Gno / go[:, :, None]
            DF[:, np.arange(K), np.arange(K)] = 0.0
            gt = smin[o]
            rhs = gt[:, None] * sig[o] / go
            p = np.linalg.solve(eyeK - gt[:, None, None] * DF, rhs[..., None])[..., 0]
            p = np.maximum(p, 0.0)
            sub = _Layout(a_[o], L)
            pap = sub.per_ap(p)
            ratio = np.where(sub.served, pap / P[None, :], 1.0)
            c = ratio.max(1)
            ps = p / c[:, None]
            lbo = _downlink_sinr(Gno, ps, sig[o]).min(1)
            glob = idx[o]
            better = lbo > lb[glob]
            if better.any():
                gb = glob[better]
                lb[gb] = lbo[better]
                z_best[gb] = z[o][better] / np.sqrt(n[o][better])[:, :, None]     # unit receivers
                p_best[gb] = ps[better]
            gap_prev[o] = (ub[glob] - lb[glob]) / ub[glob]
            # noise-weight update (adaptive multiplicative step)
            lr = np.where(sub.served, np.log(np.maximum(ratio, 1e-300)), 0.0)
            same = np.sign(lr) == np.sign(prev_lr[o])
            eta[o] = np.where(same, np.minimum(eta[o] * 1.5, 64.0), np.maximum(eta[o] * 0.5, 1.0))
            prev_lr[o] = lr
            mu_o = mu[o] * np.exp(np.clip(eta[o] * lr, -700, 700))
            mu_o = np.where(sub.served, mu_o, 0.0)
            mu_o /= (mu_o @ P)[:, None]
            mu_o = np.where(sub.served, np.maximum(mu_o, MU_FLOOR / P[None, :]), 0.0)
            mu_o /= (mu_o @ P)[:, None]
            fac = np.take_along_axis(mu_o / np.where(sub.served, mu[o], 1.0), a_[o], 1)
            qo = q_new[o] * fac
            q_new[o] = qo / (qo * sig[o]).sum(1)[:, None]
            mu[o] = mu_o
        if prune and batch_incumbent and lb[idx].size:
            best_lb = max(best_lb, float(lb[idx].max()))
        q = q_new

        # finished associations
        cur_ub, cur_lb = ub[idx], lb[idx]
        conv = cur_ub - cur_lb <= tol * cur_ub
        prun = ~conv & (cur_ub <= best_lb * (1.0 + tol)) if prune else np.zeros_like(conv)
        cap = ~conv & ~prun & (it_local >= max_iter)
        done = conv | prun | cap
        if done.any():
            status[idx[conv]] = CONVERGED
            status[idx[prun]] = PRUNED
            status[idx[cap]] = CAPPED
            iters[idx[done]] = it_local[done]
            keep = ~done
            idx = idx[keep]
            if not idx.size:
                break
            q, mu, eta, prev_lr, sig = q[keep], mu[keep], eta[keep], prev_lr[keep], sig[keep]
            if rowC:
                C = C[keep]
            gap_prev, it_local = gap_prev[keep], it_local[keep]
            lay = _Layout(lay.assocs[keep], L)
    return DualityResult(assocs=assocs, lb=lb, ub=ub, status=status, iterations=iters, z=z_best, p=p_best,
                         total_iterations=total, pair_solves=pairs)


# ---------------------------------------------------------------------------
# One association: beamformers in the antenna domain
# ---------------------------------------------------------------------------


def perron_power_control(Gn: np.ndarray, sigma: np.ndarray, P: np.ndarray, assoc: np.ndarray
                         ) -> tuple[float, np.ndarray]:
    """Exact max-min power control for fixed unit beams under per-AP budgets.

    ``Gn[k, i] = |h_{k,a_i}^H w_i|^2``. With ``D = diag(1/Gn_kk)`` and ``F``
    the off-diagonal gains, ``1/gamma = max_l rho(D (F + sigma e_l^T / P_l))``
    (e_l: indicator of AP l's users), and the powers are the Perron vector of
    the maximising AP scaled to its budget (Tan, Chiang, Srikant; Cai et al.
    Sec. III). Returns ``(gamma, p)``; ``p`` meets every budget.
    """
    g = np.diag(Gn).copy()
    F = Gn - np.diag(g)
    DF = F / g[:, None]
    Ds = sigma / g
    best_rho, best_p = -np.inf, None
    for l in np.unique(assoc):
        e = (assoc == l).astype(float)
        Bm = DF + np.outer(Ds, e) / P[l]
        w, Vr = np.linalg.eig(Bm)
        j = int(np.argmax(w.real))
        if w[j].real > best_rho:
            v = np.abs(Vr[:, j].real)
            best_rho, best_p = float(w[j].real), v
    p = best_p
    pap = np.bincount(assoc, weights=p, minlength=len(P))
    p = p / np.max(pap / P)
    return 1.0 / best_rho, p


def beamformers(H: np.ndarray, assoc: np.ndarray, z: np.ndarray, p: np.ndarray,
                basis: np.ndarray | None = None) -> np.ndarray:
    """Antenna-domain beams ``v_k = sqrt(p_k) u_k / ||u_k||`` from reduced receivers.

    ``u_k = V_{a_k} z_k`` with the bases ``V`` of :func:`reduced_channels`
    (recomputed from ``H`` when ``basis`` is None).
    """
    if basis is None:
        basis = reduced_channels(H)[1]
    U = np.einsum("kmd,kd->km", basis[assoc], z)
    U /= np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-300)
    return U * np.sqrt(np.maximum(p, 0.0))[:, None]


def maxmin_duality(H, P, noise, assoc, rel_tol: float = 1e-6, max_iter: int = 3000
                   ) -> tuple[np.ndarray, dict]:
    """Max-min SINR beamformers for one association by the duality fixed point.

    Same contract as :func:`~mmopt.problems.maxmin_assoc_bf.beamforming.maxmin_socp`:
    ``info['sinr']`` is the min SINR achieved by the returned ``V`` (per-AP
    feasible), ``info['sinr_upper']`` a certified upper bound, their relative
    gap at most ``rel_tol``. If the fixed point does not close the gap within
    ``max_iter`` steps, the SOCP bisection is used (``info['fallback']``).
    """
    H = np.asarray(H)
    P, noise = np.asarray(P, dtype=float), np.asarray(noise, dtype=float)
    assoc = np.asarray(assoc, dtype=np.int64)
    res = solve_associations(H, P, noise, assoc[None, :], tol=0.1 * rel_tol, max_iter=max_iter)
    V, val = finish_beamformers(H, P, noise, assoc, res.z[0], res.p[0])
    upper = max(float(res.ub[0]), val)
    info = {"sinr": val, "sinr_upper": upper, "iterations": int(res.iterations[0]),
            "status": STATUS_NAMES[int(res.status[0])], "fallback": False}
    if upper - val > rel_tol * upper:
        V2, info2 = maxmin_socp(H, P, noise, assoc, rel_tol=rel_tol)
        upper = min(upper, float(info2["sinr_upper"]))
        if info2["sinr"] > val:
            V, val = V2, float(info2["sinr"])
        info.update(sinr=val, sinr_upper=max(upper, val), fallback=True, socp_solves=info2["socp_solves"])
    info["bracket"] = (info["sinr_upper"] - info["sinr"]) / max(info["sinr_upper"], 1e-300)
    return V, info


def finish_beamformers(H, P, noise, assoc, z, p) -> tuple[np.ndarray, float]:
    """Antenna-domain beams of a stored lower-bound solution, with powers re-optimised.

    ``z``, ``p``: unit-norm reduced receivers and powers from
    :func:`solve_associations` (reduced coordinates of :func:`reduced_channels`). The powers are the better of the stored ones
    and exact Perron power control (:func:`perron_power_control`) for the
    same directions. Returns ``(V, min SINR achieved by V)``; ``V`` meets
    every per-AP budget.
    """
    H = np.asarray(H)
    P, noise = np.asarray(P, dtype=float), np.asarray(noise, dtype=float)
    assoc = np.asarray(assoc, dtype=np.int64)
    V0 = _to_budget(assoc, beamformers(H, assoc, z, p), P)
    best_V, best = V0, float(sinr(H, noise, assoc, V0).min())
    norms = np.linalg.norm(V0, axis=1, keepdims=True)
    if np.all(norms > 0):
        W = V0 / norms
        Gn = np.abs(np.einsum("kim,im->ki", H[:, assoc, :].conj(), W)) ** 2
        try:
            _, pp = perron_power_control(Gn, noise, P, assoc)
        except np.linalg.LinAlgError:
            pp = None
        if pp is not None and np.all(np.isfinite(pp)):
            V1 = _to_budget(assoc, W * np.sqrt(pp)[:, None], P)
            v1 = float(sinr(H, noise, assoc, V1).min())
            if v1 > best:
                best_V, best = V1, v1
    return best_V, best


def _to_budget(assoc, V, P):
    """Scale all beams by one factor so that the tightest AP budget holds (never above it)."""
    pw = np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=len(P))
    r = np.max(pw / P)
    if r <= 0:
        return V
    V = V / np.sqrt(r)
    # guard against rounding: never exceed a budget
    pw = np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=len(P))
    over = np.max(pw / P)
    if over > 1.0:
        V = V / np.sqrt(over * (1 + 1e-15))
    return V

r"""Max-min SINR downlink beamforming for a fixed association (``maxmin-assoc-bf``).

For a fixed association ``a`` the problem of Li, Liu, Yu eqs. (1)-(6) is

.. math::

    \gamma^\star(a) = \max_{V} \min_k \mathrm{SINR}_k
    \quad\text{s.t.}\quad \sum_{k: a_k = l} \|v_k\|^2 \le P_l .

This module holds the ``socp`` inner method; the fast default ``duality``
is :mod:`mmopt.problems.maxmin_assoc_bf.duality`, and
:mod:`mmopt.problems.maxmin_assoc_bf.beamforming` chooses between them.

SOCP bisection (Wiesel, Eldar, Shamai, "Linear precoding via conic
optimization for fixed MIMO receivers", IEEE TSP 2006): for a target
:math:`\gamma`, ``SINR_k >= gamma`` is equivalent (after fixing the phase of
:math:`h_{k,a_k}^H v_k` to be real) to the second-order cone

.. math::

    \left\| \left[ (h_{k,a_i}^H v_i)_{i=1..K},\ \sigma_k \right] \right\|_2
    \le \sqrt{1 + 1/\gamma}\ \mathrm{Re}(h_{k,a_k}^H v_k),\qquad
    \mathrm{Im}(h_{k,a_k}^H v_k) = 0 .

To decide feasibility robustly we solve the bounded problem
``max s`` with the noise term scaled to ``s sigma_k`` and per-AP power rows
``||V_l||_F <= sqrt(P_l)``; the target is feasible iff ``s* >= 1`` (then
``V / s*`` meets it with power ``P / s*^2``). Bisection on ``gamma`` keeps
the largest feasible target (with its beamformers) and the smallest
infeasible one; it stops when their relative bracket is at most ``rel_tol``.
The returned value is the min SINR actually achieved by the returned
beamformers (scaled up to the tightest per-AP budget), so it is always a
feasible lower bound; the infeasible end of the bracket is an upper bound.
A conic solve that fails, or returns a margin contradicting the
monotonicity of ``s*(gamma)`` (observed with Clarabel on badly conditioned
channels: ``s* = 0`` reported as optimal), is retried with SCS; if that
fails too, the bisection stops with ``info['unreliable'] = True`` and an
open bracket rather than a wrong upper bound.
"""
from __future__ import annotations

__all__ = ["SocpBisection", "maxmin_socp", "scale_to_budget", "single_user_bound"]

import warnings
from collections.abc import Mapping

import numpy as np
from mmopt.problems.maxmin_assoc_bf.model import sinr


def single_user_bound(H: np.ndarray, P: np.ndarray, noise: np.ndarray, assoc: np.ndarray) -> float:
    """Interference-free upper bound on ``gamma*(a)``.

    Users sharing AP l share ``P_l``: ``gamma <= P_l / sum_{k in S_l} sigma_k^2 / ||h_{k,l}||^2``.
    """
    g = np.linalg.norm(H[np.arange(len(assoc)), assoc], axis=1) ** 2
    need = np.bincount(assoc, weights=noise / np.maximum(g, 1e-300), minlength=len(P))
    served = need > 0
    return float(np.min(P[served] / need[served]))


def scale_to_budget(assoc: np.ndarray, V: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Scale all beams by one factor so that the tightest AP budget is met with equality."""
    pw = np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=len(P))
    ratio = np.max(pw / P)
    return V / np.sqrt(ratio) if ratio > 0 else V


class SocpBisection:
    """Wiesel-Eldar-Shamai SOCP for one association, compiled once (cvxpy DPP)."""

    def __init__(self, H: np.ndarray, P: np.ndarray, noise: np.ndarray, assoc: np.ndarray):
        import cvxpy as cp

        K, L, M = H.shape
        self.H, self.P, self.noise, self.assoc = H, P, noise, np.asarray(assoc)
        self.V = cp.Variable((K, M), complex=True)
        self.s = cp.Variable(nonneg=True)
        self.c = cp.Parameter(nonneg=True)            # sqrt(1 + 1/gamma)
        cons = []
        for k in range(K):
            Ak = H[k, self.assoc, :].conj()           # row i: h_{k,a_i}^H
            g = cp.sum(cp.multiply(Ak, self.V), axis=1)
            cons.append(cp.norm(cp.hstack([g, self.s * np.sqrt(noise[k])]), 2) <= self.c * cp.real(g[k]))
            cons.append(cp.imag(g[k]) == 0)
        for l in range(L):
            idx = np.flatnonzero(self.assoc == l)
            if idx.size:
                cons.append(cp.norm(cp.vec(self.V[idx, :], order="F"), 2) <= np.sqrt(P[l]))
        self.prob = cp.Problem(cp.Maximize(self.s), cons)
        self.solves = 0

    def margin(self, gamma: float, solver: str = "CLARABEL") -> tuple[float, np.ndarray | None]:
        """``s*(gamma)`` and the beamformers (None when the solver fails).

        The bounded problem is always feasible (``s = 0, V = 0``), so a
        non-optimal status is a solver failure, never a proof of infeasibility.
        """
        import cvxpy as cp

        self.c.value = float(np.sqrt(1.0 + 1.0 / gamma))
        self.solves += 1
        kw = {"eps": 1e-10, "max_iters": 200000} if solver == "SCS" else {}
        try:
            with warnings.catch_warnings():          # inaccurate solves are handled below, not warned about
                warnings.simplefilter("ignore", UserWarning)
                self.prob.solve(solver=getattr(cp, solver), **kw)
        except cp.error.SolverError:
            return 0.0, None
        if self.prob.status not in ("optimal", "optimal_inaccurate") or self.V.value is None:
            return 0.0, None
        return float(self.s.value), np.asarray(self.V.value)

    def solve(self, rel_tol: float = 1e-6, max_iter: int = 100) -> tuple[np.ndarray, dict]:
        H, P, noise, assoc = self.H, self.P, self.noise, self.assoc
        # feasible start: matched filters scaled to the budget
        V_best = scale_to_budget(assoc, H[np.arange(len(assoc)), assoc].copy(), P)
        best = float(sinr(H, noise, assoc, V_best).min())
        lo = best                                   # bisection's feasible end
        hi = max(single_user_bound(H, P, noise, assoc), best)
        it = 0
        seen: list[tuple[float, float]] = []        # (gamma, s*) evaluated; s* is non-increasing in gamma
        unreliable = False

        def consistent(g, s_):
            tol_s = 1e-6 * max(1.0, s_)
            return all(not ((g2 > g and s2 > s_ + tol_s) or (g2 < g and s2 < s_ - tol_s)) for g2, s2 in seen)

        while it < max_iter and hi - max(lo, best) > rel_tol * hi:
            it += 1
            gamma = 0.5 * (lo + hi)
            s, V = self.margin(gamma)
            if V is None or (s < 1.0 and not consistent(gamma, s)):
                # solver failure or a margin contradicting monotonicity: retry with SCS
                s, V = self.margin(gamma, solver="SCS")
                if V is None or (s < 1.0 and not consistent(gamma, s)):
                    unreliable = True               # cannot certify infeasibility of this target
                    break
            seen.append((gamma, s))
            if s >= 1.0:
                lo = gamma
                Vs = scale_to_budget(assoc, V, P)
                achieved = float(sinr(H, noise, assoc, Vs).min())
                if achieved > best:
                    best, V_best = achieved, Vs
                    lo = max(lo, min(best, hi))
            else:
                hi = gamma
        hi = max(hi, best)
        return V_best, {"sinr": best, "sinr_upper": hi, "iterations": it, "socp_solves": self.solves,
                        "bracket": (hi - best) / max(hi, 1e-300), "unreliable": unreliable}


def maxmin_socp(H, P, noise, assoc, rel_tol: float = 1e-6) -> tuple[np.ndarray, dict]:
    """Max-min SINR beamformers for ``assoc`` by SOCP bisection.

    Returns ``(V, info)`` with ``info['sinr']`` the achieved min SINR (lower
    end of the certificate) and ``info['sinr_upper']`` the smallest
    infeasible target (upper end); ``(upper - lower) / upper <= rel_tol``.
    """
    return SocpBisection(H, P, noise, np.asarray(assoc)).solve(rel_tol)

r"""MILP certificate for ``trajectory-assoc`` (Pyomo + HiGHS, mip_rel_gap = 0).

Khosravi, Ghadikolaei, Zander, Petrova, arXiv:2301.05305, eq. (5) written as
a mixed-integer linear program:

* :math:`x_{ij} \in \{0,1\}`: BS ``j`` serves slot ``i``; :math:`\sum_j x_{ij} = 1` (5b)-(5c);
* :math:`h_{ij} \in \{0,1\}`: slot ``i`` is a handover *into* ``j``,
  :math:`h_{ij} = x_{ij}(1 - x_{i-1,j})`, linearised as
  :math:`h_{ij} \ge x_{ij} - x_{i-1,j}`, :math:`h_{ij} \le x_{ij}`,
  :math:`h_{ij} \le 1 - x_{i-1,j}` (slots numbered from 1, :math:`x_{0j} = [j = j_0]` fixed);
  staying is :math:`x_{ij} - h_{ij}`;
* :math:`\Gamma_i = \sum_j \Gamma^{HO}_{ij} h_{ij} + \Gamma^{st}_{ij} (x_{ij} - h_{ij})` (eq. (3));
* :math:`z_i \in \{0,1\}`: :math:`\Gamma_i \le \Gamma_{thr}`, linearised either
  exactly through the active arc (``indicator="arc"``, default):
  :math:`z_i \ge \sum_j [\Gamma^{HO}_{ij} \le \Gamma_{thr}] h_{ij}
  + [\Gamma^{st}_{ij} \le \Gamma_{thr}](x_{ij} - h_{ij})`,
  or with a big-M on :math:`\Gamma_i` (``indicator="bigm"``):
  :math:`\Gamma_i \ge (\Gamma_{thr} + \epsilon)(1 - z_i)`, with :math:`\epsilon` half the
  smallest positive margin :math:`\Gamma - \Gamma_{thr}` of the instance (so it is
  exact as long as that margin exceeds HiGHS's feasibility tolerance;
  ``eps_margin`` in the stats says how much room there was);

maximise :math:`\sum_i \Gamma_i - \lambda \sum_i z_i`. Both linearisations are exact
at integer points: the objective pushes :math:`z_i` to 0 whenever allowed.
The returned value is the problem's own evaluation of the incumbent; the
bound is HiGHS's dual bound.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import MmoptError, solver
from mmopt.problems.trajectory_assoc import gamma_of, slot_gammas


def build_model(instance, indicator: str = "arc"):
    """The Pyomo model of eq. (5) (see the module docstring)."""
    import pyomo.environ as pyo

    g_ho, g_st = slot_gammas(instance)
    M, NB = g_ho.shape
    thr, lam = float(instance["gamma_thr"]), float(instance["lam"])
    j0 = int(instance["initial_bs"])
    m = pyo.ConcreteModel("trajectory_assoc")
    m.I = pyo.RangeSet(0, M - 1)
    m.J = pyo.RangeSet(0, NB - 1)
    m.x = pyo.Var(m.I, m.J, domain=pyo.Binary)
    m.h = pyo.Var(m.I, m.J, domain=pyo.Binary)
    m.z = pyo.Var(m.I, domain=pyo.Binary)

    def prev(i, j):
        return m.x[i - 1, j] if i > 0 else (1 if j == j0 else 0)

    m.one = pyo.Constraint(m.I, rule=lambda m, i: sum(m.x[i, j] for j in m.J) == 1)
    m.h_lo = pyo.Constraint(m.I, m.J, rule=lambda m, i, j: m.h[i, j] >= m.x[i, j] - prev(i, j))
    m.h_x = pyo.Constraint(m.I, m.J, rule=lambda m, i, j: m.h[i, j] <= m.x[i, j])
    m.h_prev = pyo.Constraint(m.I, m.J, rule=lambda m, i, j: m.h[i, j] <= 1 - prev(i, j))

    def gamma(m, i):
        return sum(float(g_ho[i, j]) * m.h[i, j] + float(g_st[i, j]) * (m.x[i, j] - m.h[i, j]) for j in m.J)

    m.gamma = pyo.Expression(m.I, rule=gamma)
    eps = None
    if indicator == "arc":
        p_ho, p_st = g_ho <= thr, g_st <= thr

        def ind(m, i):
            terms = [m.h[i, j] for j in range(NB) if p_ho[i, j]]
            terms += [m.x[i, j] - m.h[i, j] for j in range(NB) if p_st[i, j]]
            return m.z[i] >= sum(terms) if terms else pyo.Constraint.Skip

        m.ind = pyo.Constraint(m.I, rule=ind)
    elif indicator == "bigm":
        allg = np.concatenate([g_ho.ravel(), g_st.ravel()])
        above = allg[allg > thr] - thr
        eps = float(above.min() / 2) if above.size else 1.0
        m.ind = pyo.Constraint(m.I, rule=lambda m, i: m.gamma[i] >= (thr + eps) * (1 - m.z[i]))
    else:
        raise MmoptError(f"milp: indicator must be 'arc' or 'bigm', not {indicator!r}")
    m.obj = pyo.Objective(expr=sum(m.gamma[i] for i in m.I) - lam * sum(m.z[i] for i in m.I),
                          sense=pyo.maximize)
    return m, eps


@solver("milp", problems=["trajectory-assoc"], kind="reference", version=1, imports=("pyomo.environ",),
        choices={"indicator": ("arc", "bigm")})
def trajectory_milp(instance, *, indicator="arc", time_limit=600.0, threads=1):
    """Pyomo MILP of eq. (5) solved by HiGHS with mip_rel_gap = 0 (certificate: HiGHS's dual bound)."""
    import pyomo.environ as pyo
    from pyomo.contrib.solver.common.factory import SolverFactory

    t0 = time.perf_counter()
    m, eps = build_model(instance, indicator)
    t_build = time.perf_counter() - t0
    opt = SolverFactory("highs")
    res = opt.solve(m, time_limit=float(time_limit), load_solutions=False, raise_exception_on_nonoptimal_result=False,
                    solver_options={"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9, "threads": int(threads),
                                    "random_seed": 0})
    tc = str(res.termination_condition).split(".")[-1]
    try:
        res.solution_loader.load_vars()
    except Exception as e:  # no incumbent
        raise MmoptError(f"milp: HiGHS returned no solution ({tc}): {e}") from None
    M, NB = instance["rate"].shape
    X = np.array([[pyo.value(m.x[i, j]) for j in range(NB)] for i in range(M)])
    serving = X.argmax(1).astype(np.int64)
    g, _ = gamma_of(instance, serving)
    lam, thr = float(instance["lam"]), float(instance["gamma_thr"])
    value = float(g.sum() - lam * np.count_nonzero(g <= thr))
    bound = res.objective_bound
    bound = float(bound) if bound is not None else None
    nodes = None
    try:
        nodes = int(opt._solver_model.getInfo().mip_node_count)
    except Exception:
        pass
    tol = 1e-6
    proven = (tc == "convergenceCriteriaSatisfied" and bound is not None
              and bound - value <= tol * max(1.0, abs(value)))
    gap = None if bound is None else (bound - value) / max(abs(value), 1e-9)
    stats = {"value": value, "bound": bound, "status": "opt" if proven else "best", "tolerance": tol,
             "mip_gap": gap, "nodes": nodes, "termination": tc, "incumbent": res.incumbent_objective,
             "build_seconds": t_build, "seconds": time.perf_counter() - t0,
             "variables": 2 * M * NB + M}
    if eps is not None:
        stats["eps_margin"] = eps
    return {"serving": serving}, stats

r"""CRAB: coverage-rate aware belief propagation (Limani Fazliu et al., IEEE TWC 2022, Sec. V), and two
named variants that sharpen its beliefs.

On the engine's message-passing runtime (:class:`mmopt.distributed.Network`),
one agent per gNB.

* **Interaction graph** (Sec. V-A, coverage criterion): :math:`Z_g` is the set of
  non-empty zones gNB g can cover alone with *any* beam pointing at one of
  its visible non-empty zones (``reach``; :func:`~mmopt.problems.random_beam_config.coverage_sets`),
  not only with the beams kept in its candidate set (mmopt <= 0.x used the
  kept beams' main lobes, which left 4-7 gNBs of a generator-1 ``paper`` instance
  isolated; on the generator-2 ``paper`` instances 0-4 with the kept lobes, 0-3 with ``reach``);
  the overlap is the Jaccard index :math:`c_{g,h} = |Z_g \cap Z_h| / |Z_g \cup Z_h|`
  (our choice of the denominator the paper leaves ambiguous) and
  :math:`e_{g,h} \in \mathcal E \iff c_{g,h} > c_{thr} = 0.15`.
* **Compatibility** (eq. (15)): :math:`\chi^{(g,h)}(\mathbf b_g, \mathbf b_h)` is the network
  rate :math:`T` when only g and h transmit (every other gNB silent), over the
  valid configurations of both; computed by g from its own channel knowledge
  (not counted as messages).
* **Messages** (eq. (16)), in the log domain and each normalised:
  :math:`m^{g \to h}(\mathbf b_h) \propto \bigoplus_{\mathbf b_g} \chi^{(g,h)}(\mathbf b_g, \mathbf b_h)^\beta
  \prod_{k \in \nu(g) \setminus h} m^{k \to g}(\mathbf b_g)` with :math:`\oplus = \sum` (sum-product) or
  :math:`\max` (max-product); **beliefs** (eq. (17)):
  :math:`\pi_g(\mathbf b_g) = \frac1{C_g} \prod_{h \in \nu(g)} m^{h \to g}(\mathbf b_g)`.
  On a graph that still has a cycle, messages are damped,
  :math:`\log m \leftarrow (1 - \lambda) \log m_{new} + \lambda \log m_{old}` (``damping`` = 0.5
  for the variants, 0 for the literal ``crab``); on a forest they are not.
* **Schedule** (Sec. V-B, VI): messages initialised uniform in (0, 1)
  (seeded) and sent by every node in iteration 1; later a node sends only
  the messages that changed by at least ``tol`` = 1e-5 times the smallest
  positive value they carry (the paper's rule; literal ``crab``) or times
  their largest value (the variants, whose sharp messages carry values far
  below the float resolution of their largest one); a node that sends
  nothing has converged, and the network has when an iteration sends
  nothing. One iteration is one round of the runtime.
* **Pruning** (Sec. V-C): if the network has not converged within 50
  iterations, reverse delete removes the non-bridge edge with the smallest
  overlap (lowest index on ties) and BP restarts from fresh random messages;
  at worst the graph becomes a forest, on which BP converges.
* **Isolated gNBs** (no edge): the paper has no node potential; an isolated
  gNB uses its own rate :math:`T(\mathbf b_g)` alone (to the power :math:`\beta`) as
  its belief weights (a deviation, stated).

The three named solvers:

* ``crab``: the literal eqs. (15)-(17), sum-product, :math:`\beta = 1`. Each gNB draws
  its configuration from :math:`\pi_g` every 100 ms (Sec. VI); the solution holds
  ``draws`` = 100 such slots (the paper's 10 s), and its value is the mean of
  :math:`T` over them (eq. (11) with the empirical distribution). Since the largest
  :math:`\chi` of an edge is only 1.4-1.7 times its median, :math:`\pi_g` is nearly
  uniform.
* ``crab-map``: max-product on the same :math:`\chi` (``mode="max"``), each gNB taking
  the argmax of its max-marginal (a deterministic configuration).
* ``crab-beta``: sum-product on :math:`\chi^\beta` and draws as ``crab``; ``beta`` is
  calibrated (``benchmarks/bench_beamconfig.py --calibrate``) so that the
  expected changes per second :math:`10 (1 - \sum \pi_g^2)` (Fig. 9, 10 draws per
  second) match the paper's: half of the gNBs below 0.75, 40 % above 1.
  Calibrated on the 90 gNBs of ``paper`` (generator version 2): beta = 120
  gives 57 % below 0.75 and 40 % above 1 (beta = 85: 51 % and 47 %; beta = 1,
  the literal CRAB: 0 % and 100 %, median 9.6 changes per second, max pi 0.06).

Every variant's stats carry :math:`\mathbb E_\pi[T]` (eq. (13); exact by enumeration
over each group of interacting gNBs when that group has at most
``enum_max`` = 2e5 configurations, else the mean of ``samples`` = 2,000 draws,
with its 95 % half-width), the expected changes per second of every gNB,
the rate with the paper's 23 ms beam-reselection overhead charged per change
(``overhead_ms``; 0 by default, the objective never charges it), :math:`T` at the
argmax of :math:`\pi`, the iterations, pruned edges and the runtime's rounds,
messages and payload.
"""
from __future__ import annotations

import time

import networkx as nx
import numpy as np

from mmopt import solver
from mmopt.distributed import Network
from mmopt.problems.random_beam_config import (components, coverage_sets, network_rates, schedule_stats,
                                               touches)

PROBLEM = "random-beam-config"
#: the calibrated exponent of ``crab-beta`` (see ``benchmarks/bench_beamconfig.py --calibrate``)
BETA = 120.0


def overlap_graph(instance, c_thr: float = 0.15, kept_only: bool = False) -> tuple[list[tuple[int, int]], dict]:
    """Edges ``(g, h)``, ``g < h``, with Jaccard coverage overlap ``c_{g,h} > c_thr``, and the overlaps."""
    Zc = coverage_sets(instance, kept_only=kept_only)
    G = Zc.shape[0]
    edges, c = [], {}
    for g in range(G):
        for h in range(g + 1, G):
            union = np.count_nonzero(Zc[g] | Zc[h])
            ov = np.count_nonzero(Zc[g] & Zc[h]) / union if union else 0.0
            if ov > c_thr:
                edges.append((g, h))
                c[(g, h)] = float(ov)
    return edges, c


def chi_table(instance, g: int, h: int) -> np.ndarray:
    """Eq. (15): :math:`T` with only g and h transmitting, (|F_g|, |F_h|) over their valid configurations."""
    fg, fh = np.nonzero(instance["valid"][g])[0], np.nonzero(instance["valid"][h])[0]
    rows = np.stack(np.meshgrid(fg, fh, indexing="ij"), axis=-1).reshape(-1, 2)
    t = touches(instance)
    zs = np.nonzero(t[g] | t[h])[0]
    return network_rates(instance, rows, gnbs=[g, h], zones=zs).reshape(len(fg), len(fh))


def _log(x) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(x, dtype=float))


def _normalise(lm: np.ndarray, mode: str) -> np.ndarray:
    """A log message normalised to sum 1 (``sum``) or max 1 (``max``); uniform if it is all zero."""
    top = lm.max() if lm.size else -np.inf
    if not np.isfinite(top):
        return np.full(lm.shape, -np.log(max(len(lm), 1)) if mode == "sum" else 0.0)
    lm = lm - top
    if mode == "sum":
        lm = lm - np.log(np.exp(lm).sum())
    return lm


def _reduce(L: np.ndarray, pre: np.ndarray, mode: str) -> np.ndarray:
    """``out[b_h] = (+)_{b_g} exp(L[b_g, b_h] + pre[b_g])`` in the log domain (``L`` is (|F_g|, |F_h|))."""
    A = L + pre[:, None]
    top = A.max(axis=0)
    if mode == "max":
        return top
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(A - safe[None, :]).sum(axis=0))


def has_cycle(n: int, edges) -> bool:
    """Whether the graph on ``n`` nodes with ``edges`` has a cycle."""
    gr = nx.Graph()
    gr.add_nodes_from(range(n))
    gr.add_edges_from(edges)
    return not nx.is_forest(gr)


def belief_propagation(sizes, edges, chi, rng, net=None, max_iter: int = 50, tol: float = 1e-5,
                       unary=None, *, mode: str = "sum", beta: float = 1.0, damping: float = 0.0,
                       return_log: bool = False):
    """Sum- or max-product on a pairwise model (eqs. (16)-(17)) with CRAB's flooding schedule.

    Parameters
    ----------
    sizes : list of int
        States of each node.
    edges : list of (g, h)
        Undirected edges.
    chi : dict
        ``chi[(g, h)]`` array (sizes[g], sizes[h]) >= 0 for each listed edge.
    net : Network or None
        The runtime that carries (and counts) the messages; a new one if None.
    unary : list of arrays or None
        Node weights of isolated nodes (the product's neutral element elsewhere).
    mode : ``"sum"`` or ``"max"``
        Sum-product (marginals) or max-product (max-marginals).
    beta : float
        Exponent of the compatibilities (and of the isolated nodes' weights).
    damping : float
        Weight of the previous log message in each update (0: none).
    return_log : bool
        Also return the log beliefs (exact argmax where the beliefs underflow).

    Returns
    -------
    beliefs : list of arrays (normalised to sum 1), iterations, converged, sends per iteration
    (and the log beliefs when ``return_log``)
    """
    if mode not in ("sum", "max"):
        raise ValueError(f"belief_propagation: mode must be 'sum' or 'max', not {mode!r}")
    literal = mode == "sum" and beta == 1.0 and damping == 0.0
    n = len(sizes)
    net = net if net is not None else Network(range(n))
    nbrs = {g: [] for g in range(n)}
    table = {}
    for (g, h) in edges:
        nbrs[g].append(h)
        nbrs[h].append(g)
        table[(g, h)] = float(beta) * _log(chi[(g, h)])
        table[(h, g)] = table[(g, h)].T
    recv = {}      # recv[(k, g)]: latest log message from k to g (indexed by g's states)
    sent = {}      # sent[(g, h)]: last log message g sent to h
    sends = []

    def payload(lm):
        return np.exp(lm)

    # iteration 1: every node sends its initialised random messages
    for g in range(n):
        for h in nbrs[g]:
            m = rng.uniform(0.0, 1.0, size=sizes[h])
            lm = _normalise(_log(m), mode)
            sent[(g, h)] = lm
            net.send(g, h, payload(lm))
    sends.append(sum(len(nbrs[g]) for g in range(n)))
    for (key, m) in _deliver(net):
        recv[key] = _log(m)
    iterations, converged = 1, False
    while iterations < max_iter:
        iterations += 1
        count = 0
        for g in range(n):
            for h in nbrs[g]:
                pre = np.zeros(sizes[g])
                for k in nbrs[g]:
                    if k != h and (k, g) in recv:
                        pre = pre + recv[(k, g)]
                lm = _normalise(_reduce(table[(g, h)], pre, mode), mode)
                old = sent[(g, h)]
                if damping > 0:
                    with np.errstate(invalid="ignore"):
                        mix = (1.0 - damping) * lm + damping * old
                    lm = _normalise(np.where(np.isnan(mix), -np.inf, mix), mode)
                if literal:
                    m, mo = np.exp(lm), np.exp(old)
                    pos = m[m > 0]
                    scale = pos.min() if pos.size else 1.0
                    diff = np.max(np.abs(m - mo))
                else:
                    m, mo = np.exp(lm - lm.max()), np.exp(old - old.max())
                    scale, diff = 1.0, np.max(np.abs(m - mo))
                if diff >= tol * scale:
                    sent[(g, h)] = lm
                    net.send(g, h, payload(lm))
                    count += 1
        sends.append(count)
        for (key, m) in _deliver(net):
            recv[key] = _log(m)
        if count == 0:
            converged = True
            break
    logs, beliefs = [], []
    for g in range(n):
        lb = np.zeros(sizes[g])
        if nbrs[g]:
            for h in nbrs[g]:
                lb = lb + recv[(h, g)]
        elif unary is not None:
            lb = float(beta) * _log(unary[g])
        lb = _normalise(lb, "sum")
        logs.append(lb)
        beliefs.append(np.exp(lb) / np.exp(lb).sum())
    if return_log:
        return beliefs, iterations, converged, sends, logs
    return beliefs, iterations, converged, sends


def _deliver(net: Network):
    inbox = net.next_round()
    for dst, msgs in inbox.items():
        for src, payload in msgs:
            yield (src, dst), payload


def bp_with_pruning(sizes, edges, c, chi, rng, net, max_iter=50, tol=1e-5, unary=None, *, mode="sum",
                    beta=1.0, damping=0.0, return_log=False):
    """BP, and while it has not converged within ``max_iter`` iterations, reverse delete of the
    non-bridge edge with the smallest overlap ``c[e]`` and a restart from fresh random messages.
    Messages are damped (``damping``) only while the graph has a cycle."""
    G = len(sizes)
    cur = list(edges)
    pruned, total_iter, runs = [], 0, 0
    while True:
        runs += 1
        d = float(damping) if has_cycle(G, cur) else 0.0
        beliefs, it, conv, sends, logs = belief_propagation(sizes, cur, chi, rng, net, max_iter, tol, unary,
                                                            mode=mode, beta=beta, damping=d, return_log=True)
        total_iter += it
        if conv:
            break
        gr = nx.Graph()
        gr.add_nodes_from(range(G))
        gr.add_edges_from(cur)
        bridges = {tuple(sorted(e)) for e in nx.bridges(gr)}
        cand = [e for e in cur if e not in bridges]
        if not cand:
            break
        drop = min(cand, key=lambda e: (c[e], e))
        cur.remove(drop)
        pruned.append(drop)
    if return_log:
        return beliefs, cur, pruned, total_iter, it, conv, runs, sends, logs
    return beliefs, cur, pruned, total_iter, it, conv, runs, sends


def crab_setup(instance, c_thr=0.15, kept_only=False) -> dict:
    """The interaction graph, the chi tables and the isolated gNBs' own rates (no message exchanged)."""
    valid = instance["valid"]
    G = valid.shape[0]
    F = [np.nonzero(valid[g])[0] for g in range(G)]
    edges, c = overlap_graph(instance, c_thr, kept_only=kept_only)
    chi = {e: chi_table(instance, *e) for e in edges}
    deg = np.zeros(G, dtype=int)
    for g, h in edges:
        deg[g] += 1
        deg[h] += 1
    unary = [network_rates(instance, F[g][:, None], gnbs=[g]) if deg[g] == 0 else None for g in range(G)]
    return {"F": F, "edges": edges, "c": c, "chi": chi, "unary": unary, "degree": deg}


def crab_run(instance, *, c_thr=0.15, max_iter=50, tol=1e-5, seed=0, mode="sum", beta=1.0, damping=0.0,
             setup=None, kept_only=False):
    """Graph, chi tables, BP with pruning; returns a dict of everything (beliefs over valid configurations)."""
    s = setup if setup is not None else crab_setup(instance, c_thr, kept_only)
    F = s["F"]
    G = len(F)
    rng = np.random.default_rng(seed)
    net = Network(range(G))
    beliefs, cur, pruned, total_iter, it, conv, runs, sends, logs = bp_with_pruning(
        [len(f) for f in F], s["edges"], s["c"], s["chi"], rng, net, max_iter, tol, s["unary"],
        mode=mode, beta=float(beta), damping=float(damping), return_log=True)
    return {"F": F, "beliefs": beliefs, "log_beliefs": logs, "edges": s["edges"], "final_edges": cur,
            "pruned": pruned, "iterations": total_iter, "last_iterations": it, "converged": conv, "runs": runs,
            "sends": sends, "net": net, "rng": rng, "degree": s["degree"]}


def expected_rate(instance, F, beliefs, rng, enum_max: int = 200_000, samples: int = 2000):
    """E_pi[T] (eq. (13)) under independent pi_g: exact per group of interacting gNBs when small, else sampled.

    Returns ``(value, exact, ci95)``: ``ci95`` is the 95 % half-width of the sampled part (0 if exact).
    """
    total, exact, var = 0.0, True, 0.0
    for gs, zs in components(instance):
        n = int(np.prod([len(F[g]) for g in gs], dtype=float))
        if n <= enum_max:
            grids = np.meshgrid(*[np.arange(len(F[g])) for g in gs], indexing="ij")
            idx = np.stack([x.ravel() for x in grids], axis=1)
            rows = np.stack([F[g][idx[:, i]] for i, g in enumerate(gs)], axis=1)
            w = np.prod(np.stack([beliefs[g][idx[:, i]] for i, g in enumerate(gs)], axis=1), axis=1)
            keep = w > 0
            total += float(np.dot(w[keep], network_rates(instance, rows[keep], gnbs=gs, zones=zs)))
        else:
            exact = False
            rows = np.stack([F[g][rng.choice(len(F[g]), size=samples, p=beliefs[g])] for g in gs], axis=1)
            t = network_rates(instance, rows, gnbs=gs, zones=zs)
            total += float(t.mean())
            var += float(t.var(ddof=1)) / samples
    return total, exact, float(1.96 * np.sqrt(var))


def _finish(instance, r, *, decision, draws, overhead_ms, t0, beta, mode, damping):
    """Solution and stats common to the three variants."""
    F, beliefs, rng = r["F"], r["beliefs"], r["rng"]
    G = len(F)
    mode_cfg = np.array([F[g][int(np.argmax(r["log_beliefs"][g]))] for g in range(G)], dtype=np.int64)
    sol = {"config": mode_cfg}
    if decision == "sample":
        idx = np.stack([rng.choice(len(F[g]), size=int(draws), p=beliefs[g]) for g in range(G)], axis=1)
        sched = np.stack([F[g][idx[:, g]] for g in range(G)], axis=1).astype(np.int64)
        sol = {"config": sched[0].copy(), "schedule": sched}
    if decision == "sample":
        e_t, exact, ci = expected_rate(instance, F, beliefs, rng)
        chg = [float(10.0 * (1.0 - np.sum(b ** 2))) for b in beliefs]  # Fig. 9: expected changes/s, 10 draws/s
    else:   # a deterministic decision: the value is T at the argmax, no change
        e_t, exact, ci = float(network_rates(instance, mode_cfg[None, :])[0]), True, 0.0
        chg = [0.0] * G
    stats = dict(r["net"].stats())
    stats.update({
        "mode": mode, "beta": float(beta), "damping": float(damping),
        "iterations": int(r["iterations"]), "last_run_iterations": int(r["last_iterations"]),
        "bp_runs": int(r["runs"]), "converged": bool(r["converged"]),
        "edges": len(r["edges"]), "pruned_edges": len(r["pruned"]),
        "isolated_gnbs": int(np.sum(r["degree"] == 0)), "mean_degree": float(np.mean(r["degree"])),
        "expected_rate": e_t, "expected_rate_exact": bool(exact), "expected_rate_ci95": ci,
        "rate_at_argmax": float(network_rates(instance, mode_cfg[None, :])[0]),
        "max_pi": [float(b.max()) for b in beliefs],
        "changes_per_s_gnb": chg, "expected_changes_per_s": float(np.mean(chg)),
        "overhead_ms": float(overhead_ms),
    })
    if "schedule" in sol:
        ss = schedule_stats(instance, sol["schedule"], overhead_s=float(overhead_ms) / 1e3)
        stats.update({"draws": int(draws), "schedule_rate": ss["mean"], "schedule_rate_ci95": ss["ci95"],
                      "schedule_changes_per_s": float(ss["changes_per_s"].mean()),
                      "rate_after_overhead": ss["mean_after_overhead"]})
    else:
        stats["rate_after_overhead"] = stats["rate_at_argmax"]
    stats["seconds"] = time.perf_counter() - t0
    return sol, stats


_DRAWS = 100   # 10 draws per second (every 100 ms) over the paper's 10 s


@solver("crab", problems=[PROBLEM], kind="distributed", version=2, choices={"decision": ("sample", "argmax")})
def crab(instance, *, c_thr=0.15, max_iter=50, tol=1e-5, damping=0.0, decision="sample", draws=_DRAWS,
         overhead_ms=0.0, seed=0):
    """CRAB as published (eqs. (15)-(17)): sum-product, ``draws`` configurations drawn from pi (100 ms each).

    ``decision="argmax"`` returns the mode of each pi_g instead (a diagnostic, not the paper's rule).
    """
    if decision not in ("sample", "argmax"):
        raise ValueError(f"crab: decision must be 'sample' or 'argmax', not {decision!r}")
    t0 = time.perf_counter()
    r = crab_run(instance, c_thr=float(c_thr), max_iter=int(max_iter), tol=float(tol), seed=int(seed),
                 mode="sum", beta=1.0, damping=float(damping))
    return _finish(instance, r, decision=decision, draws=draws, overhead_ms=overhead_ms, t0=t0, beta=1.0,
                   mode="sum", damping=damping)


@solver("crab-map", problems=[PROBLEM], kind="distributed", version=1)
def crab_map(instance, *, c_thr=0.15, max_iter=50, tol=1e-5, damping=0.5, seed=0):
    """CRAB with max-product messages on eq. (15)'s chi; each gNB takes the argmax of its max-marginal."""
    t0 = time.perf_counter()
    r = crab_run(instance, c_thr=float(c_thr), max_iter=int(max_iter), tol=float(tol), seed=int(seed),
                 mode="max", beta=1.0, damping=float(damping))
    return _finish(instance, r, decision="argmax", draws=0, overhead_ms=0.0, t0=t0, beta=1.0, mode="max",
                   damping=damping)


@solver("crab-beta", problems=[PROBLEM], kind="distributed", version=1)
def crab_beta(instance, *, beta=BETA, c_thr=0.15, max_iter=50, tol=1e-5, damping=0.5, draws=_DRAWS,
              overhead_ms=0.0, seed=0):
    """CRAB on chi^beta (sharpened beliefs; ``beta`` calibrated on Fig. 9), ``draws`` configurations from pi."""
    t0 = time.perf_counter()
    r = crab_run(instance, c_thr=float(c_thr), max_iter=int(max_iter), tol=float(tol), seed=int(seed),
                 mode="sum", beta=float(beta), damping=float(damping))
    return _finish(instance, r, decision="sample", draws=draws, overhead_ms=overhead_ms, t0=t0, beta=beta,
                   mode="sum", damping=damping)

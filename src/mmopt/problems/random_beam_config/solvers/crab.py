r"""CRAB: coverage-rate aware belief propagation (Limani Fazliu et al., IEEE TWC 2022, Sec. V).

On the engine's message-passing runtime (:class:`mmopt.distributed.Network`),
one agent per gNB.

* **Interaction graph** (Sec. V-A, coverage criterion): :math:`Z_g` is the set of
  non-empty zones gNB g can serve alone (in the main lobe of one of its
  candidate beams with SNR :math:`\ge \mathrm{SINR}_{\min}`); the overlap is the
  Jaccard index :math:`c_{g,h} = |Z_g \cap Z_h| / |Z_g \cup Z_h|` (our choice of the
  denominator the paper leaves ambiguous: zones covered by both over zones
  covered by either) and :math:`e_{g,h} \in \mathcal E \iff c_{g,h} > c_{thr} = 0.15`.
* **Compatibility** (eq. (15)): :math:`\chi^{(g,h)}(\mathbf b_g, \mathbf b_h)` is the network
  rate :math:`T` when only g and h transmit (every other gNB silent), over the
  valid configurations of both. It is computed by g from its own channel
  knowledge; that set-up is not counted as messages.
* **Messages** (eq. (16), sum-product), each normalised to sum 1:
  :math:`m^{g \to h}(\mathbf b_h) \propto \sum_{\mathbf b_g} \chi^{(g,h)}(\mathbf b_g, \mathbf b_h)
  \prod_{k \in \nu(g) \setminus h} m^{k \to g}(\mathbf b_g)`; **beliefs** (eq. (17)):
  :math:`\pi_g(\mathbf b_g) = \frac1{C_g} \prod_{h \in \nu(g)} m^{h \to g}(\mathbf b_g)`.
* **Schedule** (Sec. V-B, VI): messages initialised uniform in (0, 1)
  (seeded) and sent by every node in iteration 1; in every later iteration a
  node recomputes its outgoing messages from the latest message received
  from each neighbour and sends only those that changed by at least
  :math:`10^{-5}` times the smallest positive value it carries (max-norm);
  a node that sends nothing has converged, and the network has converged
  when an iteration sends nothing. One iteration is one round of the runtime.
* **Pruning** (Sec. V-C): if the network has not converged within 50
  iterations, reverse delete removes the least significant edge (smallest
  overlap :math:`c_{g,h}`, lowest index on ties) among those whose removal keeps
  the graph's components connected (non-bridges), and BP restarts from fresh
  random messages; in the worst case the graph becomes a forest, on which BP
  converges (exact marginals).
* **Isolated gNBs** (no edge): the paper's model has no node potential, which
  leaves their belief uniform; here an isolated gNB uses its own rate
  :math:`T(\mathbf b_g)` alone as its belief weights (a deviation, stated).
* **Decision**: each gNB draws its configuration from :math:`\pi_g` (seeded;
  ``decision="argmax"`` takes the mode instead, a diagnostic).
  The stats carry :math:`\mathbb E_\pi[T]` (eq. (13); exact by enumeration over each
  group of interacting gNBs when that group has at most ``enum_max``
  configurations, else a ``samples``-draw Monte-Carlo mean), :math:`T` at
  :math:`\arg\max \pi`, the iterations, pruned edges, and the runtime's rounds,
  messages and payload.
"""
from __future__ import annotations

import time

import networkx as nx
import numpy as np

from mmopt import solver
from mmopt.distributed import Network
from mmopt.problems.random_beam_config import components, coverage_sets, network_rates, touches

PROBLEM = "random-beam-config"


def overlap_graph(instance, c_thr: float = 0.15) -> tuple[list[tuple[int, int]], dict]:
    """Edges ``(g, h)``, ``g < h``, with Jaccard coverage overlap ``c_{g,h} > c_thr``, and the overlaps."""
    Zc = coverage_sets(instance)
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


def belief_propagation(sizes, edges, chi, rng, net=None, max_iter: int = 50, tol: float = 1e-5,
                       unary=None):
    """Sum-product on a pairwise model (eqs. (16)-(17)) with CRAB's flooding schedule.

    Parameters
    ----------
    sizes : list of int
        States of each node.
    edges : list of (g, h)
        Undirected edges.
    chi : dict
        ``chi[(g, h)]`` array (sizes[g], sizes[h]) for each listed edge.
    net : Network or None
        The runtime that carries (and counts) the messages; a new one if None.
    unary : list of arrays or None
        Node weights of isolated nodes (the product's neutral element elsewhere).

    Returns
    -------
    beliefs : list of arrays (normalised), iterations, converged, sends per iteration
    """
    n = len(sizes)
    net = net if net is not None else Network(range(n))
    nbrs = {g: [] for g in range(n)}
    table = {}
    for (g, h) in edges:
        nbrs[g].append(h)
        nbrs[h].append(g)
        table[(g, h)] = np.asarray(chi[(g, h)], dtype=float)
        table[(h, g)] = table[(g, h)].T
    recv = {}      # recv[(k, g)]: latest message from k to g (indexed by g's states)
    sent = {}      # sent[(g, h)]: last message g sent to h
    sends = []
    # iteration 1: every node sends its initialised random messages
    for g in range(n):
        for h in nbrs[g]:
            m = rng.uniform(0.0, 1.0, size=sizes[h])
            m /= m.sum()
            sent[(g, h)] = m
            net.send(g, h, m)
    sends.append(sum(len(nbrs[g]) for g in range(n)))
    for src_dst in _deliver(net):
        recv[src_dst[0]] = src_dst[1]
    iterations, converged = 1, False
    while iterations < max_iter:
        iterations += 1
        count = 0
        for g in range(n):
            for h in nbrs[g]:
                prod = np.ones(sizes[g])
                for k in nbrs[g]:
                    if k != h and (k, g) in recv:
                        prod = prod * recv[(k, g)]
                m = prod @ table[(g, h)]
                s = m.sum()
                m = m / s if s > 0 else np.full(sizes[h], 1.0 / sizes[h])
                old = sent[(g, h)]
                pos = m[m > 0]
                scale = pos.min() if pos.size else 1.0
                if np.max(np.abs(m - old)) >= tol * scale:
                    sent[(g, h)] = m
                    net.send(g, h, m)
                    count += 1
        sends.append(count)
        for (key, m) in _deliver(net):
            recv[key] = m
        if count == 0:
            converged = True
            break
    beliefs = []
    for g in range(n):
        b = np.ones(sizes[g])
        if nbrs[g]:
            for h in nbrs[g]:
                b = b * recv[(h, g)]
        elif unary is not None:
            b = np.asarray(unary[g], dtype=float).copy()
        s = b.sum()
        beliefs.append(b / s if s > 0 else np.full(sizes[g], 1.0 / sizes[g]))
    return beliefs, iterations, converged, sends


def _deliver(net: Network):
    inbox = net.next_round()
    for dst, msgs in inbox.items():
        for src, payload in msgs:
            yield (src, dst), payload


def bp_with_pruning(sizes, edges, c, chi, rng, net, max_iter=50, tol=1e-5, unary=None):
    """BP, and while it has not converged within ``max_iter`` iterations, reverse delete of the
    non-bridge edge with the smallest overlap ``c[e]`` and a restart from fresh random messages."""
    G = len(sizes)
    cur = list(edges)
    pruned, total_iter, runs = [], 0, 0
    while True:
        runs += 1
        beliefs, it, conv, sends = belief_propagation(sizes, cur, chi, rng, net, max_iter, tol, unary)
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
    return beliefs, cur, pruned, total_iter, it, conv, runs, sends


def crab_run(instance, *, c_thr=0.15, max_iter=50, tol=1e-5, seed=0):
    """Graph, chi tables, BP with pruning; returns a dict of everything (beliefs over valid configurations)."""
    valid = instance["valid"]
    G = valid.shape[0]
    F = [np.nonzero(valid[g])[0] for g in range(G)]
    sizes = [len(f) for f in F]
    edges, c = overlap_graph(instance, c_thr)
    chi = {e: chi_table(instance, *e) for e in edges}
    deg = np.zeros(G, dtype=int)
    for g, h in edges:
        deg[g] += 1
        deg[h] += 1
    unary = [network_rates(instance, F[g][:, None], gnbs=[g]) if deg[g] == 0 else None for g in range(G)]
    rng = np.random.default_rng(seed)
    net = Network(range(G))
    beliefs, cur, pruned, total_iter, it, conv, runs, sends = bp_with_pruning(
        sizes, edges, c, chi, rng, net, max_iter, tol, unary)
    return {"F": F, "beliefs": beliefs, "edges": edges, "final_edges": cur, "pruned": pruned,
            "iterations": total_iter, "last_iterations": it, "converged": conv, "runs": runs,
            "sends": sends, "net": net, "rng": rng}


def expected_rate(instance, F, beliefs, rng, enum_max: int = 200_000, samples: int = 2000):
    """E_pi[T] (eq. (13)) under independent pi_g: exact per group of interacting gNBs when small, else sampled."""
    total, exact = 0.0, True
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
            total += float(network_rates(instance, rows, gnbs=gs, zones=zs).mean())
    return total, exact


@solver("crab", problems=[PROBLEM], kind="distributed", version=1)
def crab(instance, *, c_thr=0.15, max_iter=50, tol=1e-5, decision="sample", seed=0):
    """CRAB (Sec. V): BP over the coverage-overlap interaction graph, pruning, configuration drawn from pi.

    ``decision="argmax"`` returns the mode of each pi_g instead of a draw (a diagnostic, not the paper's rule).
    """
    if decision not in ("sample", "argmax"):
        raise ValueError(f"crab: decision must be 'sample' or 'argmax', not {decision!r}")
    t0 = time.perf_counter()
    r = crab_run(instance, c_thr=float(c_thr), max_iter=int(max_iter), tol=float(tol), seed=int(seed))
    F, beliefs, rng = r["F"], r["beliefs"], r["rng"]
    G = len(F)
    draw = np.array([F[g][rng.choice(len(F[g]), p=beliefs[g])] for g in range(G)], dtype=np.int64)
    mode = np.array([F[g][int(np.argmax(beliefs[g]))] for g in range(G)], dtype=np.int64)
    e_t, exact = expected_rate(instance, F, beliefs, rng)
    stats = dict(r["net"].stats())
    stats.update({
        "iterations": int(r["iterations"]), "last_run_iterations": int(r["last_iterations"]),
        "bp_runs": int(r["runs"]), "converged": bool(r["converged"]),
        "edges": len(r["edges"]), "pruned_edges": len(r["pruned"]),
        "expected_rate": e_t, "expected_rate_exact": bool(exact),
        "rate_at_argmax": float(network_rates(instance, mode[None, :])[0]),
        "seconds": time.perf_counter() - t0,
    })
    return {"config": draw if decision == "sample" else mode}, stats

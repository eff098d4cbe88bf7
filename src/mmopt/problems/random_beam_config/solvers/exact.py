r"""Exact references for ``random-beam-config`` (Limani Fazliu et al., CRAB, eqs. (10), (12), Lemma 1).

By Lemma 1 the randomised problems (12)/(14) have the deterministic optimum
:math:`\mathbf B^{\max} = \arg\max_{\mathbf B} T(\mathbf B)`, so the references maximise
:math:`T` (eq. (10)) over :math:`\mathcal F_1 \times \cdots \times \mathcal F_G`.

* ``exhaustive``: every network configuration, vectorised over chunks of
  configurations and zones. Groups of gNBs that share no zone (no gain at a
  common zone) are independent and searched apart
  (:func:`~mmopt.problems.random_beam_config.components`); declines an
  instance whose products exceed ``max_products`` (1e7).
* ``bnb``: depth-first branch-and-bound over the gNBs of each group, children
  of a node bounded in one batch. :math:`T = \sum_g F_g` with
  :math:`F_g = W \sum_{b \text{ of } g} \bar s_b` (eq. (10) regrouped: a serving beam
  delivers W times the mean spectral efficiency :math:`\bar s_b` of its vehicles), and
  :math:`F_g` depends only on the configurations of g and of the gNBs sharing a
  zone with it. Under a partial assignment, each beam b of g is bounded as
  follows (:class:`BeamBounds`): the interference at zone z is at least
  :math:`I^{lo}_z` (g's other beams and the assigned gNBs; an unassigned gNB may
  stay silent) and at most :math:`I^{hi}_z` (plus every unassigned gNB at its
  loudest configuration); z is *possibly* served by b if b beats g's other
  beams and every assigned beam (ties to the lowest (g, s) index, as in the
  objective) and
  :math:`\gamma_{b,z}/(1+I^{lo}_z) \ge \mathrm{SINR}_{\min}`, and *certainly* served if
  b also beats every beam an unassigned gNB can emit there and
  :math:`\gamma_{b,z}/(1+I^{hi}_z) \ge \mathrm{SINR}_{\min}`; then
  :math:`\bar s_b \le \max_{\text{certain} \subseteq S \subseteq \text{possible}}`
  of the vehicle-weighted mean of :math:`\log_2(1+\gamma_{b,z}/(1+I^{lo}_z))` over S
  (solved exactly by Dinkelbach's iteration: from the mean over the certain zones, add the possible
  zones above the mean, recompute, until the set is stable; only the active (configuration, slot) pairs
  are evaluated). An unassigned gNB
  takes its best configuration. The gNBs are branched on in clusters of
  ``cluster`` = 3 that share many zones, one cluster after the other; each
  cluster also has a static table, over its members' joint configurations,
  of the sum of its members' bounds with every outside gNB unassigned,
  max-projected over the members not yet assigned. The bound of a node is
  :math:`\sum_{\text{clusters}} \min(\text{table}, \sum_{g \in \text{cluster}} \text{bound}_g)`;
  its value at the root is ``cluster-bound``. Incumbent:
  best response (coordinate ascent) from the empty, the selfish and
  ``restarts`` = 8 random (fixed seed) configurations, then group moves
  (:func:`local_search`: 2, then 3 interacting gNBs re-optimised jointly by
  enumeration) for at most half the time limit; at ``paper`` these moves
  raise the best-known value by up to 4 % over best response alone.
  Certified optimal when the search completes (status
  ``opt``), else (``time_limit``) ``best`` with the largest open bound (capped
  by the root and the interference-free bounds; the root bound itself when the
  time limit passes before the root is expanded, as when the cluster tables of
  a 15-20 gNB ``paper`` instance take the rest of it). Declines instances with more than
  ``max_products`` (1e8) network configurations unless told otherwise. With ``scheduler`` (what
  ``mmopt references --workers N`` passes) the same tree is searched by the workers of a Dask cluster,
  checkpointed (:mod:`~mmopt.problems.random_beam_config.solvers.distributed`).
* ``cluster-bound``: the root bound of ``bnb`` with clusters of ``cluster`` = 4
  (at most the interference-free bound), status ``bound``, at any scale; at ``paper`` it is 1.10-1.60 times the
  best-known value where the interference-free bound is 2.3-3.6 times.
* ``interference-free-bound``: :func:`~mmopt.problems.random_beam_config.interference_free_bound`,
  status ``bound``, at any scale.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from mmopt import MmoptError, solver
from mmopt.problems.random_beam_config import components, interference_free_bound, network_rates
from mmopt.runner import make_client

from .bnb_tree import TOL, _product_rows, _selfish, bnb_search, cluster_bound
from .distributed import distributed_bnb

PROBLEM = "random-beam-config"


def _products(instance) -> list[float]:
    n = instance["valid"].sum(axis=1).astype(float)
    return [float(np.prod(n[gs])) for gs, _ in components(instance)]


def _exhaustive_applies(instance, max_products=1e7, **_):
    p = sum(_products(instance))
    if p > max_products:
        return f"{p:.3g} network configurations > max_products = {max_products:.3g}"
    return None


def exhaustive_search(instance, chunk: int = 20000):
    """Best configuration by enumeration, per independent group; returns ``(config, evaluated)``."""
    G = instance["valid"].shape[0]
    best = np.zeros(G, dtype=np.int64)
    evaluated = 0
    for gs, zs in components(instance):
        lists = [np.nonzero(instance["valid"][g])[0] for g in gs]
        total = int(np.prod([len(x) for x in lists]))
        bv, bc = -np.inf, None
        for a in range(0, total, chunk):
            rows = _product_rows(lists, a, min(total, a + chunk))
            t = network_rates(instance, rows, gnbs=gs, zones=zs)
            k = int(np.argmax(t))  # first maximum: lowest index in product order
            if t[k] > bv + TOL * max(1.0, abs(bv)) or bc is None:
                bv, bc = float(t[k]), rows[k]
            evaluated += len(rows)
        best[gs] = bc
    return best, evaluated


@solver("exhaustive", problems=[PROBLEM], kind="reference", version=1, applies=_exhaustive_applies)
def exhaustive(instance, *, max_products=1e7):
    """Brute force over the product of the candidate sets (per independent group of gNBs); exact."""
    t0 = time.perf_counter()
    reason = _exhaustive_applies(instance, max_products)
    if reason:  # a runner that does not consult applies() gets an immediate error, not a long search
        raise MmoptError(f"exhaustive declines this instance: {reason}")
    cfg, n = exhaustive_search(instance)
    value = float(network_rates(instance, cfg[None, :])[0])
    return {"config": cfg}, {"value": value, "bound": value, "status": "opt", "tolerance": TOL,
                             "evaluated": int(n), "seconds": time.perf_counter() - t0}


def _bnb_applies(instance, max_products=1e8, **_):
    p = sum(_products(instance))
    if p > max_products:
        return (f"{p:.3g} network configurations > max_products = {max_products:.3g} (the search would not "
                f"complete; pass a larger max_products with a time_limit for a best-known value)")
    return None


_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s:/]+(:\d+)?$|^[^\s:/]+:\d+$")


def _bnb_check(*, scheduler="", checkpoint="", slice_s=10.0, **_):
    """Free-text parameters of ``bnb``, refused before any cell runs when malformed."""
    if scheduler and not _ADDRESS.match(str(scheduler)):
        return f"scheduler={scheduler!r} is not a Dask scheduler address (tcp://HOST:PORT or HOST:PORT)"
    ck = Path(str(checkpoint)) if checkpoint else None
    if ck is not None and ck.is_file() and ck.suffix != ".json":
        return f"checkpoint={checkpoint!r} is a file but not a .json checkpoint"
    if float(slice_s) <= 0:
        return f"slice_s={slice_s} must be positive"
    return None


@solver("bnb", problems=[PROBLEM], kind="reference", version=3, applies=_bnb_applies, check_params=_bnb_check)
def bnb(instance, *, time_limit=600.0, max_products=1e8, restarts=8, cluster=3, scheduler="", checkpoint="",
        slice_s=10.0, search_s=60.0):
    """Branch-and-bound on T over the gNBs of each independent group (exact when it completes).

    With ``scheduler`` (a Dask scheduler's address; ``mmopt references --workers N`` starts one) the tree is
    searched by that cluster's workers (:mod:`~mmopt.problems.random_beam_config.solvers.distributed`,
    incumbent heuristics for at most ``search_s``, subtrees of at most ``slice_s`` seconds), with its open
    nodes checkpointed to the JSON file ``checkpoint`` (or, when it names a folder, a file named by the
    instance hash in it) from which a killed run resumes.
    """
    t0 = time.perf_counter()
    reason = _bnb_applies(instance, max_products)
    if reason:
        raise MmoptError(f"bnb declines this instance: {reason}")
    extra = {}
    if scheduler:
        ck = None
        if checkpoint:
            ck = Path(checkpoint)
            if ck.suffix != ".json":
                ck = ck / f"{instance.hash[:16]}.json"
        client = make_client(scheduler=str(scheduler))
        try:
            cfg, proven, bound, extra = distributed_bnb(instance, client, time_limit=float(time_limit),
                                                        cluster=int(cluster), restarts=int(restarts),
                                                        slice_s=float(slice_s), search_s=float(search_s),
                                                        checkpoint=ck)
        finally:
            client.close()
        nodes, root = extra.pop("nodes"), extra.pop("root_bound")
        extra = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in extra.items()}
    else:
        cfg, proven, bound, nodes, root = bnb_search(instance, float(time_limit), int(restarts), int(cluster))
    value = float(network_rates(instance, cfg[None, :])[0])
    if proven:
        bound = value
    else:
        bound = max(min(bound, interference_free_bound(instance)), value)
        # the time ran out, but no open node's bound exceeds the incumbent: certified all the same
        proven = bound - value <= TOL * abs(value)
    return {"config": cfg}, {"value": value, "bound": float(bound), "status": "opt" if proven else "best",
                             "tolerance": TOL, "nodes": int(nodes), "root_bound": float(root),
                             "seconds": time.perf_counter() - t0, **extra}


@solver("cluster-bound", problems=[PROBLEM], kind="reference", version=2)
def cluster_bound_solver(instance, *, cluster=4):
    """Cluster upper bound on T (status ``bound``, value = bound): :func:`cluster_bound`.

    The solution returned is every gNB's best configuration alone; its objective is in the stats.
    """
    t0 = time.perf_counter()
    ub = cluster_bound(instance, int(cluster))
    cfg = _selfish(instance)
    return {"config": cfg}, {"value": ub, "bound": ub, "status": "bound", "tolerance": 0.0,
                             "selfish_value": float(network_rates(instance, cfg[None, :])[0]),
                             "seconds": time.perf_counter() - t0}


@solver("interference-free-bound", problems=[PROBLEM], kind="reference", version=2)
def if_bound(instance):
    """Interference-free upper bound on T (status ``bound``, value = bound).

    The solution returned is every gNB's best configuration alone (the
    selfish choice the bound starts from); its objective is in the stats.
    """
    t0 = time.perf_counter()
    ub = interference_free_bound(instance)
    cfg = _selfish(instance)
    value = float(network_rates(instance, cfg[None, :])[0])
    return {"config": cfg}, {"value": ub, "bound": ub, "status": "bound", "tolerance": 0.0,
                             "selfish_value": value, "seconds": time.perf_counter() - t0}

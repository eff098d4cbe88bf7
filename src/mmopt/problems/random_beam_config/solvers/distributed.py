r"""``bnb`` on a Dask cluster: the branch-and-bound tree of ``random-beam-config`` split over workers.

The serial search (:class:`~mmopt.problems.random_beam_config.solvers.bnb_tree._BnB`) walks
the tree depth first. Here the same tree is cut into subtrees that Dask workers search
in parallel, with the driver (the process running the ``bnb`` cell) as the only
holder of the open nodes:

1. **Set-up, in parallel.** One task per cluster tabulates its static cluster table
   (:func:`~mmopt.problems.random_beam_config.solvers.exact.cluster_table`, the costly
   part at ``paper`` scale: 54 s on one core for a 10-gNB instance), one task runs
   the incumbent heuristics (best response and group moves, at most ``search_s``).
2. **Split.** The driver expands the nodes of largest bound until there are
   ``4 x workers`` open nodes.
3. **Search.** Each task takes one open node (largest bound first) and searches its
   subtree depth first for at most ``slice_s`` seconds; what it leaves unexplored
   comes back as open nodes with their bounds (the frontier of its depth-first
   stack), so long subtrees are re-split and no worker waits on another for long.
   Tasks share the incumbent *value* through a Dask ``Variable``: each polls it every
   0.5 s and raises it when it finds a better completion (a lost race only delays
   pruning; every value in it is attained by a configuration some task returns).
4. **Checkpoint.** After every finished task (at most every 2 s) the driver writes the
   open nodes (queued and in flight), the incumbent and the counters to a JSON file,
   and the cluster tables once to ``.npz`` beside it. A killed run started again with
   the same ``checkpoint`` resumes from them.

The bound reported when time runs out is the largest bound of an open node (capped by
the root bound); with no open node above the incumbent the instance is certified
(``opt``). Stats: ``nodes``, ``tasks``, ``busy_s`` (task time summed over workers),
``wait_s`` (time inside the ``Variable`` calls), ``idle_share`` (share of worker time
in the search phase not spent in a task: scheduling latency, the driver's own
work, starvation), ``max_open`` (largest open-node count), ``setup_s``.

Scaling (measured with ``benchmarks/bench_beamconfig_bnb.py`` and on a 16-core machine)
-----------------------------------------------------------------------------------------
* The incumbent ``Variable`` costs little: its calls took 0.3-3 % of the worker time at 2-15 workers
  (two polls a second per worker; 64 workers would send the scheduler about 130 small requests a
  second, far below what one Dask scheduler serves).
* The open nodes are plentiful on ``paper`` trees (1,500-7,600 open at once at 2-15 workers), so 64
  workers would not starve in the search; a small tree starves: ``medium/0005`` (29,400 nodes)
  took 101.8 s at 2 workers, 36.8 s at 8 and 29.3 s at 15 (idle share 3 %, 10 %, 12 %).
* The set-up does not scale as well: the cluster tables are cut into about two pieces per worker, but
  the incumbent heuristics are one task (``search_s``). At 15 workers on ``paper/0003`` (clusters of 4)
  the tables took 1,060 CPU-seconds in 71 s and the set-up 91 s; at 64 workers the set-up would be
  bounded by that one task (60-90 s), the tables by their largest piece.
* What limits the certificate is the bound, not the workers: on ``paper/0003`` the root bound of
  clusters of 4 lies 10.0 % above the best-known value (clusters of 3: 18.5 %), and 83 s of search on
  15 workers (75,600 nodes) brought the largest open bound to 6.6 %.
"""
from __future__ import annotations

import heapq
import json
import os
import time
from pathlib import Path

import numpy as np

from mmopt import MmoptError
from mmopt.problems.random_beam_config import components

from .bnb_tree import (TOL, BeamBounds, _BnB, _clusters, _incumbent, candidate_lists, cluster_table_rows,
                       project_table)

CHECKPOINT_VERSION = 1
_CACHE: dict = {}   # per worker process: the searcher of the instance being solved


def _table_task(instance, gs, zs, cluster, q, first):
    t0 = time.perf_counter()
    bb = BeamBounds(instance, list(gs), zs)
    cl = _clusters(instance, list(gs), cluster)[q]
    tab = cluster_table_rows(bb, candidate_lists(instance, gs), cl, instance["valid"].shape[0], first)
    return q, first, tab, time.perf_counter() - t0


def _table_jobs(instance, clusters, nw):
    """(cluster, rows of its first member) pieces: every cluster cut into about ``2 nw`` pieces of work."""
    jobs = []
    for q, cl in enumerate(clusters):
        if len(cl) == 1:
            jobs.append((q, None))
            continue
        n = int(instance["valid"][cl[0]].sum())
        for part in np.array_split(np.arange(n), min(n, 2 * nw)):
            jobs.append((q, [int(i) for i in part]))
    return jobs


def _incumbent_task(instance, gs, zs, restarts, seconds):
    t0 = time.perf_counter()
    inc, iv = _incumbent(instance, list(gs), zs, restarts, t0 + seconds)
    return inc, iv, time.perf_counter() - t0


def _searcher(key, instance, gs, zs, cluster, tables):
    b = _CACHE.get(key)
    if b is None:
        _CACHE.clear()
        b = _CACHE[key] = _BnB(instance, list(gs), zs, np.inf, cluster, tables=tables)
    return b


def _subtree_task(key, instance, gs, zs, cluster, tables, prefix, bound, inc_val, slice_s, var_name):
    """Search the subtree of ``prefix`` for at most ``slice_s`` seconds (runs on a worker)."""
    t0 = time.perf_counter()
    b = _searcher(key, instance, gs, zs, cluster, tables)
    wait = [0.0]
    if var_name:
        from distributed import Variable, get_client

        var = Variable(var_name, client=get_client())

        def poll():
            t = time.perf_counter()
            try:
                return float(var.get(timeout=10))
            finally:
                wait[0] += time.perf_counter() - t

        def publish(v):
            t = time.perf_counter()
            try:
                if v > float(var.get(timeout=10)):
                    var.set(float(v))
            finally:
                wait[0] += time.perf_counter() - t

        b.poll, b.publish = poll, publish
    b._next_poll = 0.0
    b.deadline = t0 + float(slice_s)
    b.nodes = 0
    b.search(tuple(prefix), np.zeros(len(b.order), dtype=np.int64), float(inc_val), float(bound))
    b.poll = b.publish = None
    found = None if b.found is None else (float(b.found[0]), [int(c) for c in b.found[1]])
    return {"frontier": [(list(p), float(v)) for p, v in b.frontier], "found": found, "nodes": int(b.nodes),
            "seconds": time.perf_counter() - t0, "wait": wait[0]}


# ---------------------------------------------------------------------------
# Checkpoint
# ---------------------------------------------------------------------------


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def _tables_path(path: Path, ci: int) -> Path:
    return path.with_name(f"{path.stem}.tables-{ci}.npz")


def _save_tables(path: Path, ci: int, tables) -> None:
    arrays = {f"t{q}_{j}": np.asarray(t) for q, proj in enumerate(tables) for j, t in enumerate(proj)}
    tp = _tables_path(path, ci)
    tmp = tp.with_name(tp.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, tp)


def _load_tables(path: Path, ci: int, n_clusters: int):
    tp = _tables_path(path, ci)
    if not tp.exists():
        return None
    with np.load(tp) as z:
        out = []
        for q in range(n_clusters):
            proj, j = [], 0
            while f"t{q}_{j}" in z:
                proj.append(z[f"t{q}_{j}"])
                j += 1
            out.append(proj)
    return out


def load_checkpoint(path: Path, instance_hash: str, cluster: int) -> dict | None:
    """The checkpoint at ``path`` if it belongs to this instance and cluster size (else ``None``)."""
    if not path.exists():
        return None
    try:
        ck = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise MmoptError(f"checkpoint {path} is unreadable ({e}); delete it to start afresh") from None
    if ck.get("version") != CHECKPOINT_VERSION or ck.get("hash") != instance_hash or ck.get("cluster") != cluster:
        return None
    return ck


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------


def distributed_bnb(instance, client, *, time_limit: float = 600.0, cluster: int = 3, restarts: int = 8,
                    slice_s: float = 10.0, search_s: float = 60.0, checkpoint: str | os.PathLike | None = None,
                    log=None, max_tasks: int | None = None):
    """Branch-and-bound of ``T`` over each independent group on the workers of ``client``.

    Returns ``(config, proven, bound, stats)``; ``bound`` is certified (the best configuration's value when
    ``proven``). ``max_tasks`` stops submitting subtrees after that many (a run cut short on purpose: its
    checkpoint then holds the open nodes, as after a kill).
    """
    t_start = time.perf_counter()
    deadline = t_start + float(time_limit)
    nw = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    h = instance.hash if hasattr(instance, "hash") else ""
    path = Path(checkpoint) if checkpoint else None
    ck = load_checkpoint(path, h, int(cluster)) if path else None
    state = ck or {"version": CHECKPOINT_VERSION, "hash": h, "cluster": int(cluster), "done": {}, "open": {},
                   "elapsed_s": 0.0, "nodes": 0}
    elapsed0 = float(state.get("elapsed_s", 0.0))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    G = instance["valid"].shape[0]
    cfg = np.zeros(G, dtype=np.int64)
    arrays = {k: np.asarray(v) for k, v in instance.items()}
    [inst_f] = client.scatter([arrays], broadcast=True, hash=False)
    proven, bound = True, 0.0
    st = {"nodes": int(state.get("nodes", 0)), "tasks": 0, "busy_s": 0.0, "wait_s": 0.0, "max_open": 0,
          "setup_s": 0.0, "search_wall_s": 0.0, "workers": nw, "resumed": ck is not None, "root_bound": 0.0}
    say = log or (lambda msg: None)

    def save(ci, inc, inc_val, heap, in_flight, force=False):
        if not path:
            return
        now = time.perf_counter()
        if not force and now < save.next:
            return
        save.next = now + 2.0
        state["open"][str(ci)] = {"incumbent": [int(c) for c in inc], "value": float(inc_val),
                                  "open": [[list(p), -nb] for nb, p in heap]
                                  + [[list(p), b] for p, b in in_flight.values()]}
        state["nodes"] = st["nodes"]
        state["elapsed_s"] = elapsed0 + now - t_start
        _write_json(path, state)
    save.next = 0.0

    for ci, (gs, zs) in enumerate(components(instance)):
        gs = [int(g) for g in gs]
        if str(ci) in state["done"]:
            d = state["done"][str(ci)]
            cfg[np.asarray(d["order"])] = d["config"]
            bound += float(d["bound"])
            proven &= bool(d["proven"])
            st["root_bound"] += float(d.get("root", d["bound"]))
            continue
        key = f"{h[:16]}-{ci}-{cluster}-{id(client)}-{t_start}"
        clusters = _clusters(instance, gs, cluster)
        cur = state["open"].get(str(ci))
        t0 = time.perf_counter()
        tables = _load_tables(path, ci, len(clusters)) if (path and cur) else None
        futs = []
        if tables is None:
            futs = [client.submit(_table_task, inst_f, gs, zs, cluster, q, first, pure=False)
                    for q, first in _table_jobs(instance, clusters, nw)]
        inc_f = None if cur else client.submit(_incumbent_task, inst_f, gs, zs, restarts,
                                               max(0.0, min(float(search_s), 0.5 * (deadline - t0))), pure=False)
        if futs:
            raw: dict = {}
            for q, first, tab, sec in client.gather(futs):
                raw.setdefault(q, []).append((first[0] if first else 0, tab))
                st["table_s"] = st.get("table_s", 0.0) + sec
            tables = [project_table(np.concatenate([t for _, t in sorted(raw[q], key=lambda x: x[0])], axis=0))
                      for q in range(len(clusters))]
            if path:
                _save_tables(path, ci, tables)
        b = _BnB(instance, gs, zs, deadline, cluster, tables=tables)
        pos = {g: i for i, g in enumerate(gs)}
        if cur:
            inc, inc_val = np.asarray(cur["incumbent"], dtype=np.int64), float(cur["value"])
            heap = [(-float(bd), tuple(p)) for p, bd in cur["open"]]
        else:
            i_cfg, inc_val, st["incumbent_s"] = inc_f.result()
            inc = np.array([i_cfg[pos[g]] for g in b.order], dtype=np.int64)
            heap = [(-float(b.root), ())]
        heapq.heapify(heap)
        st["setup_s"] += time.perf_counter() - t0
        st["root_bound"] += max(float(b.root), inc_val)
        say(f"component {ci}: {len(gs)} gNBs, root bound {b.root:.6g}, incumbent {inc_val:.6g}, "
            f"set-up {time.perf_counter() - t0:.1f} s, {len(heap)} open node(s)")

        def better(val, conf):
            nonlocal inc, inc_val
            if val > inc_val * (1 + 1e-12):
                inc, inc_val = np.asarray(conf, dtype=np.int64), float(val)
                return True
            return False

        # split on the driver until every worker has a few nodes to start with
        while heap and len(heap) < 4 * nw and time.perf_counter() < deadline:
            nb, p = heapq.heappop(heap)
            if -nb <= inc_val * (1 + TOL):
                continue
            if len(p) == len(b.order):   # a leaf: its bound is its value
                better(-nb, np.asarray(p))
                continue
            for cp, cb in b.children(p):
                if cb > inc_val * (1 + TOL):
                    heapq.heappush(heap, (-cb, cp))
        from distributed import Variable, as_completed

        var_name = f"mmopt-bnb-{key}"
        var = Variable(var_name, client=client)
        var.set(float(inc_val))
        [tab_f] = client.scatter([tables], broadcast=True, hash=False)
        in_flight: dict = {}
        submitted = [st["tasks"]]
        ac = as_completed()
        t_search = time.perf_counter()

        def submit_more():
            while len(in_flight) < 2 * nw and heap and (max_tasks is None or submitted[0] < max_tasks):
                left = deadline - time.perf_counter()
                if left < 0.5:
                    return
                nb, p = heapq.heappop(heap)
                if -nb <= inc_val * (1 + TOL):
                    continue
                f = client.submit(_subtree_task, key, inst_f, gs, zs, cluster, tab_f, p, -nb, inc_val,
                                  min(float(slice_s), left), var_name, pure=False)
                in_flight[f] = (p, -nb)
                submitted[0] += 1
                ac.add(f)

        submit_more()
        last_log = time.perf_counter()
        for f in ac:
            p, pb = in_flight.pop(f)
            res = f.result()
            st["nodes"] += res["nodes"]
            st["tasks"] += 1
            st["busy_s"] += res["seconds"]
            st["wait_s"] += res["wait"]
            if res["found"] is not None and better(*res["found"]):
                var.set(float(inc_val))
            for fp, fb in res["frontier"]:
                if fb > inc_val * (1 + TOL):
                    heapq.heappush(heap, (-fb, tuple(fp)))
            st["max_open"] = max(st["max_open"], len(heap) + len(in_flight))
            submit_more()
            save(ci, inc, inc_val, heap, in_flight)
            if time.perf_counter() - last_log > 30:
                last_log = time.perf_counter()
                top = max(([-heap[0][0]] if heap else []) + [b_ for _, b_ in in_flight.values()], default=inc_val)
                say(f"  {st['nodes']} nodes, incumbent {inc_val:.6g}, {len(heap) + len(in_flight)} open, "
                    f"largest open bound {top:.6g} ({top / inc_val - 1:+.2%})")
        st["search_wall_s"] += time.perf_counter() - t_search
        open_b = [-nb for nb, _ in heap if -nb > inc_val * (1 + TOL)]
        done = not open_b
        comp_bound = inc_val if done else min(max(inc_val, max(open_b)), max(float(b.root), inc_val))
        cfg[b.order] = inc
        bound += comp_bound
        proven &= done
        if done:
            state["done"][str(ci)] = {"order": [int(g) for g in b.order], "config": [int(c) for c in inc],
                                      "bound": float(comp_bound), "proven": True, "root": float(b.root)}
            state["open"].pop(str(ci), None)
        else:
            save(ci, inc, inc_val, heap, {}, force=True)
        var.delete()
    if path:   # an unfinished component keeps its open nodes and incumbent for the next run
        state["elapsed_s"] = elapsed0 + time.perf_counter() - t_start
        state["nodes"] = st["nodes"]
        _write_json(path, state)
    wall = time.perf_counter() - t_start
    search_wall = max(st["search_wall_s"], 1e-9)
    st["idle_share"] = max(0.0, 1.0 - st["busy_s"] / (nw * search_wall)) if st["tasks"] else 0.0
    st["elapsed_total_s"] = elapsed0 + wall
    return cfg, proven, bound, st

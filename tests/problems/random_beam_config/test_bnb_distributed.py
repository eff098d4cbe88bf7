"""``bnb`` of ``random-beam-config`` split over Dask workers: same optimum as enumeration, node bounds that
dominate every completion, a checkpoint that resumes, and ``mmopt references`` splitting each instance."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmopt.problems.random_beam_config import components, network_rates
from mmopt.problems.random_beam_config.solvers import bnb_tree as exact
from mmopt.problems.random_beam_config.solvers.distributed import distributed_bnb
from mmopt.registry import get_solver
from mmopt.runner import make_client

from test_beamconfig import P, small4  # noqa: E402  (the test folder is on sys.path)


@pytest.fixture(scope="module")
def client():
    c = make_client(workers=2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


def _subtree_max(inst, b, prefix):
    """max T over every completion of ``prefix`` (in ``b.order``), by enumeration."""
    rest = [b.lists[int(g)] for g in b.order[len(prefix):]]
    n = int(np.prod([len(x) for x in rest]))
    rows = np.empty((n, len(b.order)), dtype=np.int64)
    rows[:, :len(prefix)] = prefix
    if rest:
        rows[:, len(prefix):] = exact._product_rows(rest, 0, n)
    return float(network_rates(inst, rows, b.order, b.zones).max())


def test_node_bounds_dominate_every_completion():
    """The bounds by which the tree is split and handed out hold for every subtree (two levels, G = 4)."""
    inst = small4(8)
    (gs, zs), = components(inst)
    b = exact._BnB(inst, gs, zs, np.inf, 3)
    opt = get_solver("exhaustive", P.name).solve(inst)[1]["value"]
    assert b.root >= opt * (1 - 1e-9)
    kids = b.children(())
    assert len(kids) == len(b.lists[int(b.order[0])])
    slack = []
    for p, ub in kids:
        m = _subtree_max(inst, b, p)
        assert m <= ub * (1 + 1e-9), (p, m, ub)
        slack.append(ub - m)
    p0 = max(kids, key=lambda x: x[1])[0]
    for p, ub in b.children(p0):
        assert _subtree_max(inst, b, p) <= ub * (1 + 1e-9)
    assert min(slack) >= -1e-6 * opt and max(slack) > 0   # bounds, and not all tight


@pytest.mark.parametrize("i,cluster", [(8, 3), (2, 3), pytest.param(1, 4, marks=pytest.mark.slow)])
def test_distributed_bnb_equals_exhaustive(client, i, cluster):
    inst = small4(i)
    opt = get_solver("exhaustive", P.name).solve(inst)[1]["value"]
    cfg, proven, bound, st = distributed_bnb(inst, client, time_limit=120, slice_s=0.2, search_s=0.5,
                                             cluster=cluster)
    assert proven
    assert float(network_rates(inst, cfg[None, :])[0]) == pytest.approx(opt, rel=1e-9)
    assert bound == pytest.approx(opt, rel=1e-9)
    assert st["workers"] == 2 and 0.0 <= st["idle_share"] <= 1.0


def test_checkpoint_resumes_a_run_cut_short(client, tmp_path):
    inst = small4(8)
    opt = get_solver("exhaustive", P.name).solve(inst)[1]["value"]
    ck = tmp_path / "ck.json"
    cfg, proven, bound, st = distributed_bnb(inst, client, time_limit=120, slice_s=0.01, search_s=0.0,
                                            checkpoint=ck, max_tasks=1)
    state = json.loads(ck.read_text())
    assert not proven and state["open"]["0"]["open"], "the cut run leaves open nodes"
    assert bound >= opt * (1 - 1e-9)                    # its bound is still a bound
    assert (tmp_path / "ck.tables-0.npz").exists()
    cfg2, proven2, bound2, st2 = distributed_bnb(inst, client, time_limit=120, slice_s=0.2, checkpoint=ck)
    assert st2["resumed"] and proven2
    assert float(network_rates(inst, cfg2[None, :])[0]) == pytest.approx(opt, rel=1e-9)
    done = json.loads(ck.read_text())
    assert done["done"]["0"]["proven"] and not done["open"] and done["nodes"] >= st2["nodes"] - 1


def test_references_split_each_instance_over_the_workers(tmp_path, monkeypatch):
    from mmopt.certify import compute_references

    monkeypatch.setenv("MMOPT_CHECKPOINTS", str(tmp_path / "ck"))
    path = compute_references(P.name, "smoke", "bnb", {"time_limit": 60.0, "slice_s": 0.2, "search_s": 0.5},
                              indices=[0], root=tmp_path / "refs", workers=2, progress=False)
    from mmopt.references import load_references

    rec = json.loads(path.read_text().splitlines()[0])
    ref = load_references(P.name, "smoke")[rec["hash"]]
    assert rec["status"] == "opt" and rec["bracket"] == 0.0 and rec["workers"] == 2 and rec["wall_s"] > 0
    assert "scheduler" not in rec["params"] and "checkpoint" not in rec["params"]
    assert list((tmp_path / "ck" / P.name / "smoke").glob("*.json"))
    assert rec["value"] == pytest.approx(ref["value"], rel=1e-9)

r"""GNN-I, GNN-P, GNN-C and the direct multimodal GNN for ``maxmin-assoc-bf`` (learned).

Li, Liu, Yu, "Multimodal visual image based user association and beamforming using graph neural
networks", Sec. III-IV; the network, inputs and training are in
:mod:`mmopt.problems.maxmin_assoc_bf.solvers.gnn_net` (eqs. (17)-(22), Table II, with the widths reduced for
CPU training: GNN-I 128 [paper 512], GNN-P 128 [1024], GNN-C 256 [1536], direct 256).

* ``gnn-i``: location estimates from each AP (3L numbers per user); one model for every N_u.
* ``gnn-p``: de-spread pilot observations (2LM reals per user).
* ``gnn-c``: GNN-I and GNN-P features concatenated, fine-tuned jointly (the paper's proposed GNN).
* ``gnn-direct``: one GNN on the concatenated raw inputs.

Pilot-dependent models (P, C, direct) take ``train_pilots``: ``0`` (default, the paper's "Standard"
of Fig. 7(b)) uses the model trained at the instance's N_u (one shipped model per N_u of the
``pilots-*`` sweep, see :data:`STANDARD_PILOTS`); ``16`` or ``64`` uses the model trained at that
N_u for every instance (the generalisation study of Fig. 7(b)).

Every output is feasible: eq. (19) meets each AP's budget with equality over all K beamformers of
the AP, so the users an AP serves use at most P_l. Models are trained for K = 6, L = 4, M = 16 (the
``train`` suite). They take any number of users K (one message-passing network shared over the user
nodes: the generalisation of Sec. V-H, Fig. 7(a)); other L or M are declined by ``applies``.
"""
from __future__ import annotations

import os
import time
from functools import lru_cache

import numpy as np

from mmopt.api import MmoptError, solver
from mmopt.learned import Progress, file_sha256, load_weights, weights_path

#: N_u values with a shipped "Standard" model (trained at that N_u); the runner skips the others
PROBLEM = "maxmin-assoc-bf"
STANDARD_PILOTS = (1, 16, 64, 1024)
#: N_u values trained from scratch (the generalisation models of Fig. 7(b)); the other standard
#: models are fine-tuned from the nearest of them (N_u = 1 from 16, N_u = 1024 from 64)
BASE_PILOTS = (16, 64)
#: default training set size (``train`` suite; 300 more instances are the validation set), epochs,
#: batch, learning rate and CPU budget (the sidecars record what was used). The budget caps each
#: model's training at 30 CPU-minutes (``MMOPT_TRAIN_BUDGET_S`` overrides it); the epochs are sized so
#: that a base model trains in under 10 CPU-minutes on one thread (paper: about 800 epochs).
TRAIN_COUNT = 10_000
TRAIN_EPOCHS = {"i": 150, "p": 150, "c": 80, "direct": 150}
FINETUNE_EPOCHS = 20
BATCH, LR = 64, 2e-3
CPU_BUDGET_S = 1800.0

_NAMES = {"i": "gnn-i", "p": "gnn-p", "c": "gnn-c", "direct": "gnn-direct"}


def weights_name(kind: str, n_pilots: int) -> str:
    if kind == "i":
        return "gnn_i.pt"
    return f"gnn_{kind}_nu{int(n_pilots)}.pt"


def _weights_fn(kind):
    def weights(*, train_pilots: int = 0, **_):
        if kind == "i":
            return weights_name("i", 0)
        if int(train_pilots) == 0:
            return [weights_name(kind, nu) for nu in STANDARD_PILOTS]
        return weights_name(kind, train_pilots)
    return weights


def _model(name: str):
    """The model of weight file ``name`` (or of the solver's ``weights`` file), memoised per path and sha256."""
    path = weights_path(name, PROBLEM)
    return _load_model(str(path), file_sha256(path))


@lru_cache(maxsize=64)
def _load_model(path: str, sha256: str):
    from mmopt.problems.maxmin_assoc_bf.solvers.gnn_net import Model

    return Model(load_weights(path))


def _pick(kind: str, instance, train_pilots: int) -> str:
    if kind == "i":
        return weights_name("i", 0)
    nu = int(train_pilots) or int(instance["n_pilots"])
    return weights_name(kind, nu)


def _applies_fn(kind):
    def applies(instance, *, train_pilots: int = 0, **_):
        K, L, M = instance["H"].shape
        if kind != "p" and "user_pos_est" not in instance:
            return "the instance has no location estimates (user_pos_est)"
        if kind != "i" and "pilots" not in instance:
            return "the instance has no pilot observations (pilots)"
        name = _pick(kind, instance, train_pilots)
        if not weights_path(name, PROBLEM).is_file():
            return f"no model trained at N_u = {int(train_pilots) or int(instance['n_pilots'])} ({name})"
        cfg = _model(name).cfg
        if (L, M) != (cfg["L"], cfg["M"]):   # any K: the GNN is shared over the users (Sec. IV, Fig. 7(a))
            return (f"model trained for L = {cfg['L']} APs of M = {cfg['M']} antennas; "
                    f"instance has L = {L}, M = {M}")
        return None
    return applies


def _setup_fn(kind):
    def setup(*, train_pilots: int = 0, **_):
        names = _weights_fn(kind)(train_pilots=train_pilots)
        for n in [names] if isinstance(names, str) else names:
            if weights_path(n, PROBLEM).is_file():
                _model(n)
    return setup


def _train_fn(kind):
    def train(*, epochs: int | None = None, seed: int = 0, count: int | None = None, progress=True,
              train_pilots: int = 0, **_):
        from mmopt.problems.maxmin_assoc_bf.solvers import gnn_net as net

        if kind != "i" and int(train_pilots) < 1:
            raise MmoptError(f"{_NAMES[kind]}: one model per N_u; pass --param train_pilots=N "
                             f"(shipped: {', '.join(map(str, STANDARD_PILOTS))})")
        nu = 0 if kind == "i" else int(train_pilots)
        count = int(count or TRAIN_COUNT)
        init, init_from = None, "random"
        if kind != "i" and nu not in BASE_PILOTS:
            base = min(BASE_PILOTS, key=lambda b: abs(np.log(b) - np.log(nu)))
            init_from = weights_name(kind, base)
            init = {"self": load_weights(init_from, problem=PROBLEM)}
            epochs = int(epochs or FINETUNE_EPOCHS)
        elif kind == "c":
            init_from = f"{weights_name('i', 0)} + {weights_name('p', nu)}"
            init = {"i": load_weights(weights_name("i", 0), problem=PROBLEM),
                    "p": load_weights(weights_name("p", nu), problem=PROBLEM)}
        epochs = int(epochs or TRAIN_EPOCHS[kind])
        bar = progress if callable(progress) else Progress(epochs, f"{_NAMES[kind]} N_u={nu}", bool(progress))
        c0 = time.process_time()
        try:
            # GNN-I does not read the pilots (n_pilots only sets the unused pilot draw)
            budget = float(os.environ.get("MMOPT_TRAIN_BUDGET_S") or CPU_BUDGET_S)
            state, info = net.train(kind, epochs=epochs, seed=seed, count=count, n_pilots=nu or 16,
                                    init=init, progress=bar, batch=BATCH, lr=LR, cpu_budget_s=budget)
        finally:
            if not callable(progress):
                bar.close()
        info["cpu_seconds"] = round(time.process_time() - c0, 1)
        info["init_from"] = init_from
        if kind == "i":
            info["train_pilots"] = "any (no pilot input)"
        info.update(train_size=info["train_count"], train_instances=info["train_count"], train_loss=info["final_train_loss"],
                    val_loss=-info["best_val_min_rate"])
        return state, info
    return train


def _solve(kind, instance, train_pilots):
    t0 = time.perf_counter()
    name = _pick(kind, instance, train_pilots)
    model = _model(name)
    K, L, M = instance["H"].shape
    if (L, M) != (model.cfg["L"], model.cfg["M"]):
        raise MmoptError(f"{name}: trained for L, M = {model.cfg['L']}, {model.cfg['M']}")
    from mmopt.problems.maxmin_assoc_bf.solvers.gnn_net import to_solution

    a_hat, v = model.outputs(instance)
    assoc, V = to_solution(a_hat, v)
    return {"assoc": assoc, "V": V}, {"weights": name, "model_pilots": int(model.cfg["n_pilots"]),
                                      "inference_seconds": time.perf_counter() - t0}


_COMMON = dict(problems=[PROBLEM], kind="learned", requires=("torch",))


@solver("gnn-i", **_COMMON, weights=_weights_fn("i"), train=_train_fn("i"), setup=_setup_fn("i"),
        applies=_applies_fn("i"))
def gnn_i(instance):
    """GNN-I: location estimates from each AP (-1 where unseen) -> association and beamformers
    (Sec. IV; eq. (19) normalisation, eq. (20) argmax); one model for every N_u."""
    return _solve("i", instance, 0)


@solver("gnn-p", **_COMMON, weights=_weights_fn("p"), train=_train_fn("p"), setup=_setup_fn("p"),
        applies=_applies_fn("p"))
def gnn_p(instance, *, train_pilots: int = 0):
    """GNN-P: de-spread uplink pilots (eqs. (7)-(8)) -> association and beamformers.
    ``train_pilots=0``: the model trained at the instance's N_u; else the model trained at that N_u."""
    return _solve("p", instance, train_pilots)


@solver("gnn-c", **_COMMON, weights=_weights_fn("c"), train=_train_fn("c"), setup=_setup_fn("c"),
        applies=_applies_fn("c"))
def gnn_c(instance, *, train_pilots: int = 0):
    """GNN-C (the paper's proposed image-and-pilot GNN): the GNN-I and GNN-P features concatenated and
    combined by two further AC blocks, fine-tuned jointly. ``train_pilots`` as for ``gnn-p``."""
    return _solve("c", instance, train_pilots)


@solver("gnn-direct", **_COMMON, weights=_weights_fn("direct"), train=_train_fn("direct"),
        setup=_setup_fn("direct"), applies=_applies_fn("direct"))
def gnn_direct(instance, *, train_pilots: int = 0):
    """Direct multimodal GNN: one GNN on the concatenated raw location and pilot inputs.
    ``train_pilots`` as for ``gnn-p``."""
    return _solve("direct", instance, train_pilots)

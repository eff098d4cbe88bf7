r"""Training of BEM-GBPN and its variants for ``sumrate-bs-beam`` (what ``mmopt train`` calls).

Li, Zhou, Guo, Gao, Yang, Ma, "Out-of-Band Modality Synergy Based Multi-User Beam Prediction and
Proactive BS Selection with Zero Pilot Overhead", Sec. III-B-3..4 and IV-B: the gain label
normalisation (eq. (20)), the gain MSE (eq. (23)) and the beam binary cross entropy (eq. (25)).
torch is imported inside functions only. The samples come from :mod:`.gbpn_features`, the networks
from :mod:`.gbpn_net`; :mod:`.gbpn` registers :func:`train_for` as each solver's ``train``.

**Loss.** Labels from the instance at :math:`t + T_f`: the gain
:math:`r_{b,u} = \max_n |h_{b,u}^H f_n|^2` (eq. (21), ``gain_future``) normalised in dB as
:math:`r' = (r_{dB} - P_{min})/(P_{max} - P_{min})` (eq. (20); :math:`P_{min}, P_{max}` are the training
set's 1st and 99th percentiles, the paper says only "roughly estimated according to the measured
values") with MSE loss (eq. (23)); the one-hot optimal beam :math:`p` with the binary cross entropy
:math:`-\sum_n [p_n \log \hat p_n + (1 - p_n)\log(1 - \hat p_n)]` (eq. (25), which the paper names
binary cross entropy but writes with the first term only; that term alone is minimised by
:math:`\hat p = 1` everywhere). Loss = :data:`GAIN_WEIGHT` x MSE + BCE with :data:`GAIN_WEIGHT` = 10
(the paper gives no weighting; with weight 1 the MSE, about 0.02 against a BCE of about 2, left the
gain head at the label mean: validation RMSE 7.1 dB against a label spread of 7.8 dB, so eq. (26)
ranked the BSs almost at random). Adam, learning rate 1e-3, batch 128 (the paper's),
best-validation-loss checkpoint (the paper's). A sample is a (user, BS) pair of a ``train``-suite
instance whose user the BS sees at :math:`t` (``visible``); the validation set is 10 % of the
instances (the paper: 500 of 5000 samples, a random split).

**Reductions** (the paper's value in brackets): one model shared by the B BSs [one per BS], trained
on the BSs' pooled samples (see :mod:`.gbpn_net`); epochs: ``epochs`` (default
:data:`DEFAULT_EPOCHS` = 10) [100], on the samples of the first ``count`` (default
:data:`TRAIN_COUNT` = 2000) instances of the ``train`` suite: 14,375 (user, BS) samples, 12,981 for
training and 1,394 for validation [4,500 + 500 per BS, 18,000 + 2,000 over the four BSs].

Measured on the project's shared 2-core machine (one torch thread per training): 246 CPU-s for each
BEM network, 56 CPU-s for BB/P, 39 CPU-s for the shared sample extraction; about 11.5 minutes wall
for the four (two at a time).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from mmopt.learned import Progress, deterministic
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_features import decode_x, select, training_samples
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_net import CONFIG, build_model

__all__ = ["DEFAULT_EPOCHS", "TRAIN_COUNT", "BATCH", "LR", "GAIN_WEIGHT", "fit", "train_for"]

DEFAULT_EPOCHS = 10
#: training instances of the ``train`` suite used by default (about 7 samples each)
TRAIN_COUNT = 2000
BATCH = 128
LR = 1e-3
#: weight of the gain MSE (eq. (23)) against the beam BCE (eq. (25)) in the loss (the paper gives none)
GAIN_WEIGHT = 10.0


def _metrics(gain_logit, beam_logit, g_true, b_true) -> dict:
    import torch

    with torch.no_grad():
        top = beam_logit.topk(3, dim=1).indices
        hit = top == b_true[:, None]
        mse = float(((torch.sigmoid(gain_logit) - g_true) ** 2).mean())
        return {"top1": float(hit[:, 0].float().mean()), "top3": float(hit.any(1).float().mean()),
                "gain_mse": mse}


def _bs_accuracy(inst: np.ndarray, user: np.ndarray, pred: np.ndarray, true: np.ndarray) -> float:
    """Eq. (26) on validation users seen by at least two BSs: predicted best BS == true best BS."""
    groups: dict = {}
    for k, key in enumerate(zip(inst.tolist(), user.tolist())):
        groups.setdefault(key, []).append(k)
    hits = [np.argmax(pred[g]) == np.argmax(true[g]) for g in groups.values() if len(g) > 1]
    return float(np.mean(hits)) if hits else float("nan")


def fit(variant: str, data: dict, *, epochs: int = DEFAULT_EPOCHS, seed: int = 0, batch: int = BATCH,
        lr: float = LR, max_steps: int | None = None, progress=None, cfg: dict | None = None,
        val_fraction: float = 0.1, budget_s: float | None = None) -> tuple[dict, dict]:
    """Train one variant on extracted samples; returns (state, info) with the best-validation weights.

    ``budget_s``: stop after the first epoch that ends past this many seconds
    (the info's ``epochs`` says how many ran).
    """
    import torch

    deterministic(seed)
    rng = np.random.default_rng(seed)
    shape = data["shape"]
    n_beams = int(data.get("n_beams", 64))
    g = data["gain_db"].astype(float)
    p_min, p_max = float(np.percentile(g, 1)), float(np.percentile(g, 99))
    if p_max - p_min < 1e-6:
        p_max = p_min + 1.0
    insts = np.unique(data["inst"])
    n_val = max(1, int(round(val_fraction * len(insts)))) if len(insts) > 1 else 0
    val_inst = rng.choice(insts, size=n_val, replace=False) if n_val else np.array([], int)
    is_val = np.isin(data["inst"], val_inst)
    tr, va = np.nonzero(~is_val)[0], np.nonzero(is_val)[0]
    if len(va) == 0:
        va = tr
    model = build_model(variant, shape, n_beams, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    bce = torch.nn.BCEWithLogitsLoss(reduction="sum")

    def batch_tensors(idx):
        x = torch.from_numpy(decode_x(data["x"][idx], shape, variant, p_min, p_max))
        gt = torch.from_numpy(np.clip((data["gain_db"][idx] - p_min) / (p_max - p_min), 0, 1).astype(np.float32))
        return x, torch.from_numpy(data["bs"][idx]), gt, torch.from_numpy(data["beam"][idx])

    def loss_fn(gl, bl, gt, bt):
        onehot = torch.nn.functional.one_hot(bt, n_beams).float()
        mse = ((torch.sigmoid(gl) - gt) ** 2).mean()                     # eq. (23)
        return GAIN_WEIGHT * mse + bce(bl, onehot) / len(bt)             # eq. (25) as BCE, summed over beams

    def evaluate(idx):
        model.eval()
        outs = []
        with torch.no_grad():
            for s in range(0, len(idx), 512):
                x, bs, gt, bt = batch_tensors(idx[s:s + 512])
                gl, bl = model(x, bs)
                outs.append((gl, bl, gt, bt))
        gl, bl, gt, bt = (torch.cat(t) for t in zip(*outs))
        m = _metrics(gl, bl, gt, bt)
        m["loss"] = float(loss_fn(gl, bl, gt, bt))
        if "user" in data:
            m["bs_acc"] = _bs_accuracy(data["inst"][idx], data["user"][idx], gl.numpy(), gt.numpy())
        m["gain_rmse_db"] = float(torch.sqrt(((torch.sigmoid(gl) - gt) ** 2).mean())) * (p_max - p_min)
        return m

    best, best_state, history = None, None, []
    steps = 0
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        order = rng.permutation(tr)
        tot, cnt = 0.0, 0
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            if len(idx) < 2:
                continue
            x, bs, gt, bt = batch_tensors(idx)
            gl, bl = model(x, bs)
            loss = loss_fn(gl, bl, gt, bt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            cnt += len(idx)
            steps += 1
            if progress is not None:
                progress(0, loss=float(loss.detach()))
            if max_steps is not None and steps >= max_steps:
                break
        vm = evaluate(va)
        history.append({"epoch": ep + 1, "train_loss": tot / max(cnt, 1), **vm,
                        "seconds": round(time.perf_counter() - t0, 1)})
        if best is None or vm["loss"] < best["loss"]:
            best = {**vm, "epoch": ep + 1, "train_loss": tot / max(cnt, 1)}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress is not None:
            progress(1, loss=tot / max(cnt, 1), val=vm["loss"], top1=vm["top1"])
        if max_steps is not None and steps >= max_steps:
            break
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            break
    state = {"model": best_state, "variant": variant, "config": json.dumps(cfg or CONFIG),
             "in_shape": [int(v) for v in shape], "n_beams": n_beams, "p_min": p_min, "p_max": p_max}
    info = {"train_size": int(len(tr)), "val_size": int(len(va)), "epochs": len(history),
            "best_epoch": best["epoch"], "train_loss": round(best["train_loss"], 5),
            "val_loss": round(best["loss"], 5), "val_top1": round(best["top1"], 4),
            "val_top3": round(best["top3"], 4), "val_gain_mse": round(best["gain_mse"], 5),
            "val_gain_rmse_db": round(best["gain_rmse_db"], 3),
            "val_bs_acc": round(best.get("bs_acc", float("nan")), 4), "gain_weight": GAIN_WEIGHT, "p_min_db": round(p_min, 3),
            "p_max_db": round(p_max, 3), "train_seconds": round(time.perf_counter() - t0, 1),
            "steps": steps, "history": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items()}
                                        for h in history]}
    return state, info


def train_for(variant: str):
    """The ``train`` entry of solver ``variant``: ``train(*, epochs, seed, count, progress) -> (state, info)``.

    Extracts (or reads from the cache) the samples of the first ``count`` ``train``-suite instances
    and runs :func:`fit`; ``MMOPT_TRAIN_BUDGET_S`` caps the training seconds.
    """
    def train(*, epochs: int = DEFAULT_EPOCHS, seed: int = 0, count: int | None = None, progress=True,
              **_params):
        import torch

        t0, c0 = time.perf_counter(), time.process_time()
        data, meta = training_samples("train", TRAIN_COUNT if count is None else count)
        data = select(data, variant)
        gen = time.perf_counter() - t0
        bar = Progress(epochs, f"{variant}", enabled=bool(progress) and not callable(progress))
        cb = progress if callable(progress) else bar
        try:
            budget = os.environ.get("MMOPT_TRAIN_BUDGET_S")
            state, info = fit(variant, data, epochs=epochs, seed=seed, progress=cb,
                              budget_s=float(budget) if budget else None)
        finally:
            bar.close()
        return state, {**meta, **info, "data_seconds": round(gen, 1),
                       "cpu_seconds": round(time.process_time() - c0, 1),
                       "threads": torch.get_num_threads(),
                       "reductions": "shared model over the BSs (one-hot BS); 48x80 map, T_p 10, "
                                     "3 CNN cells, GRU 128x2, experts 128-128-64 (see module docstring)"}

    train.__name__ = f"train_{variant.replace('-', '_')}"
    return train

r"""Training of BEM-GBPN and its variants for ``sumrate-bs-beam`` (what ``mmopt train`` calls).

Li, Zhou, Guo, Gao, Yang, Ma, "Out-of-Band Modality Synergy Based Multi-User Beam Prediction and
Proactive BS Selection with Zero Pilot Overhead", Sec. III-B-3..4 and IV-B: the gain label
normalisation (eq. (20)), the gain MSE (eq. (23)) and the beam loss (eq. (25), here a soft-label
cross entropy).
torch is imported inside functions only. The samples come from :mod:`.gbpn_features`, the networks
from :mod:`.gbpn_net`; :mod:`.gbpn` registers :func:`train_for` as each solver's ``train``.

**Loss.** Labels from the instance at :math:`t + T_f`: the gain
:math:`r_{b,u} = \max_n |h_{b,u}^H f_n|^2` (eq. (21), ``gain_future``) normalised in dB as
:math:`r' = (r_{dB} - P_{min})/(P_{max} - P_{min})` (eq. (20); :math:`P_{min}, P_{max}` are the training
set's 1st and 99th percentiles, the paper says only "roughly estimated according to the measured
values") with MSE loss (eq. (23)). The optimal beam :math:`n^*` enters as a **soft label**
:math:`q_n \propto \exp(-(n - n^*)^2 / (2 \sigma^2))`, :math:`\sigma` = :data:`SOFT_SIGMA` = 1 beam,
with the cross entropy :math:`-\sum_n q_n \log \mathrm{softmax}(z)_n` of the beam logits :math:`z`
(a departure: eq. (25) is a cross entropy on the one-hot label :math:`p` with sigmoid outputs,
which the paper names binary cross entropy but writes with the first term only, a term minimised by
:math:`\hat p = 1` everywhere). Neighbouring DFT beams overlap, and a beam one off the best still
carries most of the gain, so the soft label teaches the ranking that top-3 accuracy and the
rate reward. Loss = :data:`GAIN_WEIGHT` x MSE + CE with :data:`GAIN_WEIGHT` = 30 (the paper gives
no weighting; the MSE is about 0.02 against a cross entropy of about 2, and with weight 1 the gain
head stayed at the label mean, so eq. (26) ranked the BSs almost at random; with 10 the validation
BS choice of eq. (26) was right for 66 % of the users seen by two or more BSs). Adam, learning rate 1e-3,
batch 128 (the paper's) with the learning rate decayed to 0 along a cosine over the ``epochs``
(not in the paper), best-validation-loss checkpoint (the paper's). A sample is a (user, BS) pair of a ``train``-suite
instance whose user the BS sees at :math:`t` (``visible``); the validation set is 10 % of the
instances (the paper: 500 of 5000 samples, a random split).

**Reductions** (the paper's value in brackets): one model shared by the B BSs [one per BS], trained
on the BSs' pooled samples (see :mod:`.gbpn_net`); epochs: ``epochs`` (default
:data:`DEFAULT_EPOCHS`) [100], on the samples of the first ``count`` (default
:data:`TRAIN_COUNT` = 3000, the whole suite) instances of the ``train`` suite (the counts and
times of each shipped model are in its weights' sidecar).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from mmopt.learned import Progress, deterministic
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_features import decode_x, select, training_samples
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_net import CONFIG, build_model

__all__ = ["DEFAULT_EPOCHS", "TRAIN_COUNT", "BATCH", "LR", "GAIN_WEIGHT", "SOFT_SIGMA", "soft_labels",
           "fit", "train_for"]

DEFAULT_EPOCHS = 30
#: training instances of the ``train`` suite used by default
TRAIN_COUNT = 3000
BATCH = 128
LR = 1e-3
#: weight of the gain MSE (eq. (23)) against the beam BCE (eq. (25)) in the loss (the paper gives none)
GAIN_WEIGHT = 30.0
#: width of the soft beam label, in beams
SOFT_SIGMA = 1.0


def soft_labels(best: np.ndarray, n_beams: int, sigma: float = SOFT_SIGMA) -> np.ndarray:
    """Soft beam labels (n, n_beams): a Gaussian of width ``sigma`` beams around each best beam, summing to 1."""
    d = np.arange(n_beams)[None, :] - np.asarray(best)[:, None]
    q = np.exp(-0.5 * (d / sigma) ** 2)
    return (q / q.sum(axis=1, keepdims=True)).astype(np.float32)


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
    per_epoch = max(1, sum(1 for s0 in range(0, len(tr), batch) if len(tr[s0:s0 + batch]) >= 2))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * per_epoch))

    def batch_tensors(idx):
        x = torch.from_numpy(decode_x(data["x"][idx], shape, variant, p_min, p_max))
        gt = torch.from_numpy(np.clip((data["gain_db"][idx] - p_min) / (p_max - p_min), 0, 1).astype(np.float32))
        return x, torch.from_numpy(data["bs"][idx]), gt, torch.from_numpy(data["beam"][idx])

    def loss_fn(gl, bl, gt, bt):
        q = torch.from_numpy(soft_labels(bt.numpy(), n_beams))
        mse = ((torch.sigmoid(gl) - gt) ** 2).mean()                     # eq. (23)
        ce = -(q * torch.log_softmax(bl, dim=1)).sum(1).mean()          # eq. (25) with soft labels
        return GAIN_WEIGHT * mse + ce

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
            sched.step()
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
            "val_bs_acc": round(best.get("bs_acc", float("nan")), 4), "gain_weight": GAIN_WEIGHT,
            "soft_sigma": SOFT_SIGMA, "p_min_db": round(p_min, 3),
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
                       "reductions": "shared model over the BSs (one-hot BS); SFE on binned row/column "
                                     "profiles of the 320x480 map (paper: 4 CNN cells); GRU 128x2 (paper 256x2); "
                                     "experts 256-128 as the paper; soft-label CE (see gbpn_net, gbpn_train)"}

    train.__name__ = f"train_{variant.replace('-', '_')}"
    return train

r"""Graph neural networks of Li, Liu, Yu (multimodal GNN), Sec. IV, for ``maxmin-assoc-bf``.

The network, its inputs, the rate of eq. (5) in torch, and the unsupervised training loop shared by
the four learned solvers of :mod:`mmopt.problems.maxmin_assoc_bf.solvers.gnn` (``gnn-i``, ``gnn-p``, ``gnn-c``,
``gnn-direct``). torch is imported inside functions only.

Inputs per user node k (Sec. IV-A-1):

* GNN-I: the location estimate of user k from each AP, 3L numbers divided by 56 m (the authors'
  scaling); ``-1`` where AP l does not see the user (eq. (9)).
* GNN-P: the de-spread pilot observation of eqs. (7)-(8) from each AP, scaled to the least-squares
  estimate ``pilots / sqrt(rho N_u) = h + n / sqrt(rho N_u)`` and divided by the RMS channel
  amplitude of the training set, 2LM reals.
* GNN-C: the node features of the trained GNN-I and GNN-P encoders, concatenated, then two further
  aggregation-and-combination blocks (the authors' code has no separate embedding psi_0^C);
  the I and P encoders are initialised from their trained weights and fine-tuned jointly.
* direct multimodal GNN: one GNN on the concatenated raw inputs (3L + 2LM numbers).

Layers (Sec. IV-A-2..4, Table II): every FCN is ``Linear-BN-ReLU, Linear-BN-ReLU``; the initial
embedding psi_0 (eq. (17)); ``N = 2`` aggregation-and-combination blocks (eq. (18))

$$ d_{k,n} = \xi_n\big(\mathrm{mean}_{i \ne k}\, \psi_n(d_{i,n-1}),\ \varrho_n(d_{k,n-1})\big) $$

(mean over the *other* users, concatenated with the node's own transform); a linear output g_0 of
L association scores and 2ML beamformer reals; the normalisation of eq. (19)

$$ \hat a_{kl} = |\tilde a_{kl}| / \textstyle\sum_j |\tilde a_{kj}|, \qquad
   \hat v_{kl} = \sqrt{P_l}\, \tilde v_{kl} / \sqrt{\textstyle\sum_i \|\tilde v_{il}\|^2} $$

which meets every per-AP power budget with equality over all K beamformers of the AP (so the power of
the users the AP actually serves is at most P_l: every output is feasible); association by argmax
(eq. (20)), trained through the modified straight-through estimator of eq. (22)
``a = a_hat + lam * stopgrad(onehot(argmax a_hat) - a_hat)`` with ``lam`` ramped 0 -> 1.

Widths (CPU reduction; the paper's Table II in brackets): GNN-I 128 [512], GNN-P 128 [1024],
GNN-C 256 = 128 + 128 [1536], direct 128 [-]. Loss (Sec. IV-A-5): minus the batch mean of the
minimum user rate of eq. (5) (interference weighted by the association) plus
``lam_p * mean_k sum_l (a_kl - 1/L)^2`` with ``lam_p`` decaying 1 -> 0.
"""
from __future__ import annotations

import math
import os
import time
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from mmopt.api import PROBLEMS
from mmopt.learned import deterministic
from mmopt.problems.maxmin_assoc_bf.scenario import GENERATOR_VERSION
from mmopt.registry import load_plugins

#: metres per unit of the location input (the authors' code)
LOC_SCALE = 56.0
#: hidden widths per model (paper: I 512, P 1024, C 1536)
WIDTHS = {"i": 128, "p": 128, "direct": 128}
KINDS = ("i", "p", "c", "direct")


# ----------------------------------------------------------------------------- inputs (numpy)
def loc_features(instance) -> np.ndarray:
    """(K, 3L) location input of GNN-I: AP l's estimate of user k / 56 m, -1 where AP l does not see k.

    Reads ``user_pos_est_ap`` (K, L, 3) and ``visible`` (K, L) (the cameras of Sec. V-A); an instance
    with only ``user_pos_est`` (K, 3) gives that estimate to every AP.
    """
    H = instance["H"]
    K, L, _ = H.shape
    if "user_pos_est_ap" in instance:
        est = np.asarray(instance["user_pos_est_ap"], dtype=float)
    else:
        est = np.broadcast_to(np.asarray(instance["user_pos_est"], dtype=float)[:, None, :], (K, L, 3))
    vis = np.all(np.isfinite(est), axis=2)
    if "visible" in instance:
        vis = vis & np.asarray(instance["visible"], dtype=bool).reshape(K, L)
    f = np.where(vis[:, :, None], np.nan_to_num(est) / LOC_SCALE, -1.0)
    return f.reshape(K, 3 * L)


def ls_estimates(instance) -> np.ndarray:
    """(K, L, M) least-squares channel estimates ``pilots / sqrt(rho N_u)`` (eq. (8))."""
    scale = math.sqrt(float(instance["pilot_snr"]) * float(instance["n_pilots"]))
    return np.asarray(instance["pilots"]) / scale


def pilot_features(R: np.ndarray, amp: float) -> np.ndarray:
    """(..., K, 2LM) real input of GNN-P from LS estimates R (..., K, L, M), divided by ``amp``."""
    R = np.asarray(R) / amp
    flat = R.reshape(*R.shape[:-2], -1)
    return np.concatenate([flat.real, flat.imag], axis=-1)


# ----------------------------------------------------------------------------- torch model
@lru_cache(maxsize=1)
def _torch():
    """The torch building blocks (built once): ``torch``, ``FCN``, ``AC``, ``Encoder`` and ``GNN``."""
    import torch
    import torch.nn as nn

    class FCN(nn.Module):
        """Two layers, each Linear + BatchNorm + ReLU (Table II)."""

        def __init__(self, n_in, n_hid, n_out):
            super().__init__()
            self.l1, self.b1 = nn.Linear(n_in, n_hid), nn.BatchNorm1d(n_hid)
            self.l2, self.b2 = nn.Linear(n_hid, n_out), nn.BatchNorm1d(n_out)

        def forward(self, x):
            s = x.shape
            x = x.reshape(-1, s[-1])
            x = torch.relu(self.b1(self.l1(x)))
            x = torch.relu(self.b2(self.l2(x)))
            return x.reshape(*s[:-1], x.shape[-1])

    class AC(nn.Module):
        """Aggregation-and-combination block of eq. (18)."""

        def __init__(self, w_in, w):
            super().__init__()
            self.psi, self.rho, self.xi = FCN(w_in, w, w), FCN(w_in, w, w), FCN(2 * w, w, w)

        def forward(self, d):
            m = self.psi(d)                                       # (B, K, w)
            K = d.shape[1]
            agg = (m.sum(1, keepdim=True) - m) / max(K - 1, 1)    # mean over the other users
            return self.xi(torch.cat([agg, self.rho(d)], dim=-1))

    class Encoder(nn.Module):
        """psi_0 (eq. (17)) and N = 2 AC blocks."""

        def __init__(self, n_in, w):
            super().__init__()
            self.psi0 = FCN(n_in, w, w)
            self.ac = nn.ModuleList([AC(w, w), AC(w, w)])

        def forward(self, x):
            d = self.psi0(x)
            for blk in self.ac:
                d = blk(d)
            return d

    class GNN(nn.Module):
        def __init__(self, kind, K, L, M, widths):
            super().__init__()
            self.kind, self.L, self.M = kind, L, M
            n_loc, n_pil = 3 * L, 2 * L * M
            if kind == "i":
                self.enc, w = Encoder(n_loc, widths["i"]), widths["i"]
            elif kind == "p":
                self.enc, w = Encoder(n_pil, widths["p"]), widths["p"]
            elif kind == "direct":
                self.enc, w = Encoder(n_loc + n_pil, widths["direct"]), widths["direct"]
            else:  # GNN-C: encoders of GNN-I and GNN-P, then 2 AC blocks on the concatenation
                self.enc_i, self.enc_p = Encoder(n_loc, widths["i"]), Encoder(n_pil, widths["p"])
                w = widths["i"] + widths["p"]
                self.ac = nn.ModuleList([AC(w, w), AC(w, w)])
            self.g0 = nn.Linear(w, L + 2 * L * M)

        def features(self, loc, pil):
            if self.kind == "i":
                return self.enc(loc)
            if self.kind == "p":
                return self.enc(pil)
            if self.kind == "direct":
                return self.enc(torch.cat([loc, pil], dim=-1))
            d = torch.cat([self.enc_i(loc), self.enc_p(pil)], dim=-1)
            for blk in self.ac:
                d = blk(d)
            return d

        def forward(self, loc, pil, P):
            """Normalised outputs of eq. (19): ``a_hat`` (B, K, L), ``v`` complex (B, K, L, M)."""
            out = self.g0(self.features(loc, pil))
            L, M = self.L, self.M
            a = out[..., :L].abs()
            a_hat = a / (a.sum(-1, keepdim=True) + 1e-3)
            re = out[..., L:L + L * M].reshape(*out.shape[:-1], L, M)
            im = out[..., L + L * M:].reshape(*out.shape[:-1], L, M)
            v = torch.complex(re, im)
            per_ap = (re ** 2 + im ** 2).sum(dim=(1, 3))          # (B, L): sum_i ||v~_il||^2
            v = v * (torch.sqrt(P) / torch.sqrt(per_ap + 1e-12))[:, None, :, None]
            return a_hat, v

    return SimpleNamespace(torch=torch, FCN=FCN, AC=AC, Encoder=Encoder, GNN=GNN)


def build(kind: str, K: int, L: int, M: int, widths: dict | None = None):
    return _torch().GNN(kind, K, L, M, dict(widths or WIDTHS))


def ste(a_hat, lam: float):
    """Modified straight-through estimator of eq. (22): forward ``a_hat + lam (onehot - a_hat)``."""
    import torch

    hard = torch.nn.functional.one_hot(a_hat.argmax(-1), a_hat.shape[-1]).to(a_hat.dtype)
    return a_hat + lam * (hard - a_hat).detach()


def rates(H, noise, a, v):
    """Rates of eq. (5), (B, K): ``H`` complex (B, K, L, M), ``a`` (B, K, L), ``v`` (B, K, L, M).

    Signal ``sum_l a_kl |h_kl^H v_kl|^2``; interference ``sum_{i != k} sum_l a_il |h_kl^H v_il|^2``.
    """
    import torch

    g = torch.einsum("bklm,bilm->bkil", H.conj(), v)            # h_kl^H v_il
    pw = g.real ** 2 + g.imag ** 2
    tot = (pw * a[:, None, :, :]).sum(-1)                        # (B, K, K): from user i's beams
    sig = torch.diagonal(tot, dim1=1, dim2=2)
    interf = tot.sum(-1) - sig
    return torch.log2(1.0 + sig / (interf + noise))


def minrate_loss(H, noise, a, v, lam_p: float):
    """The unsupervised loss of Sec. IV-A-5: minus the batch mean of the min rate (eq. (5)) plus
    ``lam_p * mean_k sum_l (a_kl - 1/L)^2`` (keeps the association soft early in training)."""
    r = rates(H, noise, a, v)
    return -r.min(-1).values.mean() + lam_p * ((a - 1.0 / a.shape[-1]) ** 2).sum(-1).mean()


def to_solution(a_hat, v):
    """Hard association (eq. (20)) and the beamformer of each user at its AP, numpy."""
    assoc = a_hat.argmax(-1)                                     # (K,)
    V = v[np.arange(v.shape[0]), assoc]
    return assoc.astype(np.int64), np.ascontiguousarray(V, dtype=np.complex128)


# ----------------------------------------------------------------------------- training data
@lru_cache(maxsize=2)
def training_arrays(count: int, suite: str = "train") -> dict:
    """Stacked arrays of the first ``count`` instances of the problem's ``train`` suite.

    The pilot observations are not taken from the instances: the trainer draws them for its N_u by
    eq. (8) (:func:`pilot_ls`), the generator's model, with fresh noise every epoch.
    """

    load_plugins()
    prob = PROBLEMS["maxmin-assoc-bf"]
    s = prob.suite(suite)
    n = min(int(count), s.count)
    H, P, noise, loc, rho = [], [], [], [], []
    for i in range(n):
        inst = prob.generate(suite, i)
        H.append(inst["H"])
        P.append(inst["P"])
        noise.append(inst["noise"])
        loc.append(loc_features(inst))
        rho.append(float(inst["pilot_snr"]))
    return {"H": np.stack(H), "P": np.stack(P), "noise": np.stack(noise), "loc": np.stack(loc),
            "rho": np.array(rho), "suite": suite, "seed": s.seed}


def cached_training_arrays(n: int) -> dict:
    """The first ``n`` ``train`` instances (:func:`training_arrays`), cached as ``.npz`` in the folder
    ``MMOPT_TRAIN_CACHE`` when it is set (file named by generator version, suite seed and ``n``): the
    10,300 instances of a GNN training run take minutes to generate, once."""

    folder = os.environ.get("MMOPT_TRAIN_CACHE")
    if not folder:
        return training_arrays(n)
    load_plugins()
    seed = PROBLEMS["maxmin-assoc-bf"].suite("train").seed
    f = Path(folder) / f"maxmin_train_g{GENERATOR_VERSION}_s{seed}_n{n}.npz"
    if f.is_file():
        z = np.load(f, allow_pickle=False)
        return {**{k: z[k] for k in z.files}, "suite": "train", "seed": seed}
    d = training_arrays(n)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_name(f".{f.name}.{os.getpid()}.npz")
    np.savez(tmp, **{k: v for k, v in d.items() if isinstance(v, np.ndarray)})
    os.replace(tmp, f)
    return d


def pilot_ls(H, rho, n_pilots: int, gen):
    """LS estimates from de-spread pilots (eq. (8)): ``H + n / sqrt(rho N_u)``, n ~ CN(0, I); torch."""
    import torch

    sd = (1.0 / torch.sqrt(2.0 * rho * float(n_pilots))).reshape(-1, *([1] * (H.dim() - 1)))
    re = torch.randn(H.shape, generator=gen) * sd
    im = torch.randn(H.shape, generator=gen) * sd
    return H + torch.complex(re, im)


def pilot_features_t(R, amp: float):
    """torch version of :func:`pilot_features`."""
    import torch

    flat = (R / amp).reshape(*R.shape[:-3], R.shape[-3], -1)
    return torch.cat([flat.real, flat.imag], dim=-1).float()


def train(kind: str, *, epochs: int, seed: int, count: int, n_pilots: int, batch: int = 256,
          lr: float = 1e-3, val_count: int = 300, init: dict | None = None, progress=None,
          widths: dict | None = None, data: dict | None = None,
          cpu_budget_s: float | None = None) -> tuple[dict, dict]:
    """Unsupervised training (Sec. IV-A-5); returns (state, info) for :func:`mmopt.learned.save_weights`.

    Adam (paper: lr 2e-4, batch 512/1024, ~800 epochs; here lr 1e-3, batch 256, a few tens of epochs);
    ``lam`` of eq. (22) ramps 0 -> 1 over the first 60 % of the epochs, the association penalty weight
    ``lam_p`` decays 1 -> 0 over the first 10 %; gradient norm clipped at 2; the checkpoint with the
    best validation mean min-rate (hard association) over the last ``val_count`` instances is kept.
    ``init``: state dicts ``{"i": ..., "p": ...}`` of trained GNN-I / GNN-P (GNN-C starts from them), or
    ``{"self": ...}`` a trained model of the same kind to fine-tune (the models at other N_u).
    ``cpu_budget_s``: stop after the epoch that exceeds this many CPU seconds of the process (the
    schedules of ``lam`` and ``lam_p`` still follow ``epochs``; the sidecar records the stop).
    """
    import torch

    deterministic(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    d = data if data is not None else cached_training_arrays(int(count) + int(val_count))
    n_all = d["H"].shape[0]
    n_tr = min(int(count), n_all - 1)   # exactly ``count`` training instances; the rest validate
    n_val = n_all - n_tr
    _, K, L, M = d["H"].shape
    amp = float(np.sqrt(np.mean(np.abs(d["H"][:n_tr]) ** 2)))
    H = torch.tensor(d["H"], dtype=torch.complex64)
    P = torch.tensor(d["P"], dtype=torch.float32)
    noise = torch.tensor(d["noise"], dtype=torch.float32)
    loc = torch.tensor(d["loc"], dtype=torch.float32)
    rho = torch.tensor(d["rho"], dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    # validation pilots: one fixed draw; training pilots: a fresh draw every epoch
    pil_val = pilot_features_t(pilot_ls(H[n_tr:], rho[n_tr:], n_pilots, gen), amp)
    net = build(kind, K, L, M, widths)
    needs_pil = kind != "i"
    if init and "self" in init:   # fine-tune a trained model of the same kind (another N_u)
        net.load_state_dict(init["self"]["model"])
    elif init:
        for part, st in init.items():
            sub = {k[len("enc."):]: v for k, v in st["model"].items() if k.startswith("enc.")}
            getattr(net, f"enc_{part}").load_state_dict(sub)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    epochs = max(1, int(epochs))
    history, best, best_state = [], -math.inf, None

    def evaluate():
        net.eval()
        with torch.no_grad():
            a_hat, v = net(loc[n_tr:], pil_val, P[n_tr:])
            r = rates(H[n_tr:], noise[n_tr:], ste(a_hat, 1.0), v)
        net.train()
        return float(r.min(-1).values.mean())

    initial = evaluate()
    for ep in range(epochs):
        lam = min(1.0, ep / max(1.0, 0.6 * epochs))
        lam_p = max(0.0, 1.0 - ep / max(1.0, 0.1 * epochs))
        perm = torch.randperm(n_tr, generator=gen)
        pil = pilot_features_t(pilot_ls(H[:n_tr], rho[:n_tr], n_pilots, gen), amp) if needs_pil else \
            torch.zeros(n_tr, K, 2 * L * M)
        tot, nb = 0.0, 0
        for s in range(0, n_tr - batch // 2, batch):
            idx = perm[s:s + batch]
            a_hat, v = net(loc[idx], pil[idx], P[idx])
            a = ste(a_hat, lam)
            loss = minrate_loss(H[idx], noise[idx], a, v, lam_p)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
            opt.step()
            tot, nb = tot + loss.item(), nb + 1
        val = evaluate()
        history.append({"epoch": ep + 1, "train_loss": round(tot / max(nb, 1), 5), "val_min_rate": round(val, 5)})
        if val > best:
            best = val
            best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
        if progress:
            progress(1, loss=tot / max(nb, 1), val_min_rate=val)
        if cpu_budget_s and time.process_time() - c0 > cpu_budget_s and ep + 1 < epochs:
            break
    state = {"model": best_state,
             "config": {"kind": kind, "K": int(K), "L": int(L), "M": int(M), "n_pilots": int(n_pilots),
                        "amp": amp, **{f"width_{k}": int(v) for k, v in dict(widths or WIDTHS).items()}}}
    info = {"train_suite": d["suite"], "train_count": int(n_tr), "val_count": int(n_val), "epochs": len(history),
            "epochs_planned": epochs, "cpu_budget_s": cpu_budget_s,
            "best_epoch": max(history, key=lambda h: h["val_min_rate"])["epoch"],
            "train_pilots": int(n_pilots), "batch": int(batch), "lr": lr, "final_train_loss": history[-1]["train_loss"],
            "final_val_min_rate": history[-1]["val_min_rate"], "best_val_min_rate": round(best, 5),
            "initial_val_min_rate": round(initial, 5),
            "train_seconds": round(time.perf_counter() - t0, 2), "threads": torch.get_num_threads(),
            "widths": dict(widths or WIDTHS), "history": history}
    return state, info


# ----------------------------------------------------------------------------- inference
class Model:
    """A loaded model in eval mode: ``solve(instance) -> (assoc, V)``."""

    def __init__(self, state: dict):
        cfg = dict(state["config"])
        self.cfg = cfg
        widths = {k: int(cfg[f"width_{k}"]) for k in ("i", "p", "direct") if f"width_{k}" in cfg}
        self.net = build(cfg["kind"], cfg["K"], cfg["L"], cfg["M"], widths)
        self.net.load_state_dict(state["model"])
        self.net.eval()

    def outputs(self, instance):
        import torch

        H = instance["H"]
        K, L, M = H.shape
        loc = np.zeros((K, 3 * L))
        pil = np.zeros((K, 2 * L * M))
        if self.cfg["kind"] in ("i", "c", "direct"):
            loc = loc_features(instance)
        if self.cfg["kind"] in ("p", "c", "direct"):
            pil = pilot_features(ls_estimates(instance), float(self.cfg["amp"]))
        with torch.no_grad():
            a_hat, v = self.net(torch.tensor(loc[None], dtype=torch.float32),
                                torch.tensor(pil[None], dtype=torch.float32),
                                torch.tensor(np.asarray(instance["P"])[None], dtype=torch.float32))
        v = v[0].to(torch.complex128).numpy()
        # eq. (19) once more in float64, so every AP's K beamformers meet P_l to rounding
        per_ap = np.sum(np.abs(v) ** 2, axis=(0, 2))
        v = v * np.sqrt(np.asarray(instance["P"], dtype=float) / per_ap)[None, :, None]
        return a_hat[0].double().numpy(), v

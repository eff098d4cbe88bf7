r"""Structure-aware GNNs for ``maxmin-assoc-bf`` (learned): ``gnn-csi-struct``, ``gnn-p-struct``, ``gnn-p-lmmse``.

* ``gnn-csi-struct``: perfect channel input, structured output (below), Perron power control.
* ``gnn-p-struct``: LMMSE estimate from the pilots (one model per N_u: 16, 64), structured output
  built on the estimate with its error covariance (robust MMSE), Perron power control on expected gains.
* ``gnn-p-lmmse``: the same input as ``gnn-p-struct`` with the paper's direct output of eq. (19): the
  input half of the gnn-p fix, kept apart to show what the input alone changes.

Variants of the GNNs of Li, Liu, Yu (multimodal GNN, Sec. IV; :mod:`.gnn_net`) whose output layer is
built on the structure of the optimal max-min beamformer (uplink-downlink duality, Cai, Quek, Tan, Low
2012; :mod:`mmopt.problems.maxmin_assoc_bf.duality`) instead of the paper's direct output of eq. (19).

Network (eqs. (17)-(18), as in :mod:`.gnn_net`): an initial embedding psi_0 and N = 2
aggregation-and-combination blocks (mean over the other users), each FCN Linear-BN-ReLU x 2, width
:data:`WIDTH` (paper: 512-1536). Per user node k the linear output g_0 gives, per AP l, an association
score ``s_kl``, a log-power ``x_kl`` and a log-weight ``y_kl``; a linear map of the mean node feature
gives one scalar log ``mu`` per instance. The output block (replacing eq. (19)):

$$ \hat a_{kl} = \mathrm{softmax}_l(s_{kl}), \qquad p_{kl} = e^{x_{kl}}, \qquad q_{kl} = e^{y_{kl}}, $$
$$ u_{kl} \propto \Big(\sum_i q_{il} (\hat h_{il} \hat h_{il}^H + C^e_l) + \mu I\Big)^{-1} \hat h_{kl},\ \|u_{kl}\| = 1,
   \qquad v_{kl} = \sqrt{\frac{P_l\, p_{kl}}{\sum_i a_{il} p_{il} + \epsilon_p}}\; u_{kl} $$

with ``a`` the (straight-through, eq. (22)) association and :data:`POWER_FLOOR` ``epsilon_p``: the power
of the users an AP serves, ``sum_k a_kl ||v_kl||^2 = P_l S_l / (S_l + epsilon_p) < P_l``, meets the
budget for soft and hard associations alike, and an AP with no users (``S_l = 0``) divides by
``epsilon_p``, not by zero. ``\hat h`` is the channel the solver knows: the true ``H`` for
``gnn-csi-struct`` (``C^e = 0``), the LMMSE estimate from the pilots (the estimator of
``strongest-channel-lmmse``, :func:`.baselines.lmmse_estimate`) with the covariance ``C^e_l`` of its
error for ``gnn-p-struct``; the rate of eq. (5) in the loss is always computed on the true channel.

Inference: hard association by argmax (eq. (20)), the beam ``v_{k,a_k}``; then exact multi-constraint
Perron power control (:func:`~mmopt.problems.maxmin_assoc_bf.duality.perron_power_control`) on the
GNN's unit directions, kept only if it raises the min SINR computed on the known channel (so on the
true channel for ``gnn-csi-struct`` it never lowers the min rate; for ``gnn-p-struct`` the gains are
the expected ones under the LMMSE error, ``|h^H w|^2 + w^H C^e w``, so the true rate may drop).
``power="gnn"`` skips it (the default of ``gnn-p-lmmse``).

Node input per user k (per-link features of the known channel ``\hat h_{kl}``, L = 4 APs):
``log10(P_l ||h_kl||^2)`` (L), the same minus its max over l (L), the largest and the mean over other
users i of the squared correlation ``|h_kl^H h_il|^2 / (||h_kl||^2 ||h_il||^2)`` (2L), and the unit
direction ``h_kl / ||h_kl||`` (2LM reals): 4L + 2LM = 144 numbers.

Departures from the paper (paper's value in brackets):

* output block: the structured beamformer above [eq. (19): free beamformer reals, normalised per AP];
  association ``softmax`` [``|a| / sum |a|``]; Perron power control at inference [none];
* input: per-link log powers, correlations and unit directions of the perfect channel (csi) or of the
  LMMSE estimate (pilots) [raw channel ``h_kl`` (perfect-CSI GNN) or de-spread pilots (GNN-P), 2LM reals];
* width 128, N = 2 AC blocks [512 / 1024 / 1536];
* training (see :data:`TRAIN_COUNT`, :data:`STEPS`): Adam lr 1e-3 with cosine decay, batch 128,
  1,500 (csi) / 2,000 (gnn-p-struct) / 1,200 (gnn-p-lmmse) steps on 10,000 ``train`` instances
  (about 19 / 26 / 15 epochs), one
  thread, about 1 CPU-minute plus about 3 minutes to generate the data (cached with
  ``MMOPT_TRAIN_CACHE``) [lr 2e-4,
  batch 512/1024, 800 epochs on 1.97e5 samples, GPU]; ``lam`` of eq. (22) ramped 0 -> 1 over the
  first 50 % of the steps (all of them for gnn-p-struct, :data:`LAM_FRAC`) [over 100 epochs], the penalty ``lam_p`` 1 -> 0 over the first 5 %
  [10 epochs]; the checkpoint with the best validation mean min-rate (hard association, the
  network's own powers) over 300 held-out ``train`` instances [same rule];
* ``gnn-p-struct``: one model per N_u (16 and 64 shipped); pilot noise drawn afresh per batch.

Why GNN-P (:mod:`.gnn`) collapses at N_u = 16 and 64 and what this variant changes: its
input is the least-squares estimate ``H + n / sqrt(rho N_u)`` divided by the RMS amplitude; with the
pilot SNR rho = -25 dB the per-antenna SNR of that estimate is about ``rho N_u |h|^2``, around 0 dB
(median) at the best AP for N_u = 16, so the 2LM raw reals are mostly noise with a random phase and
the free beamformer output of eq. (19) must learn both the denoising and the nulling from them; the
trained GNN-P reaches a validation min rate near 0 (its sidecars). ``gnn-p-struct`` gives the network
per-link log powers of the LMMSE estimate (denoised by the channel statistics) and builds the beams
from the estimate by the MMSE structure, so the network only has to choose the association, the
powers and the regularisation.
"""
from __future__ import annotations

import json
import math
import time
from functools import lru_cache

import numpy as np

from mmopt.api import MmoptError, solver
from mmopt.learned import Progress, deterministic, file_sha256, load_weights, weights_path
from mmopt.problems.maxmin_assoc_bf import DEFAULTS
from mmopt.problems.maxmin_assoc_bf.duality import perron_power_control
from mmopt.problems.maxmin_assoc_bf.solvers.baselines import (CHANNEL_PARAMS, channel_statistics, estimated_instance,
                                                              scenario_params)
from mmopt.problems.maxmin_assoc_bf.solvers import gnn_net

PROBLEM = "maxmin-assoc-bf"
#: width of every hidden layer (paper: 512 / 1024 / 1536)
WIDTH = 128
#: epsilon_p of the power normalisation: an AP without users divides by it, not by zero
POWER_FLOOR = 1e-6
#: inference power modes: exact Perron power control on the GNN's directions, or the network's own powers
POWER_MODES = ("perron", "gnn")
#: training set (first instances of the ``train`` suite), validation instances (the next ones), steps
TRAIN_COUNT, VAL_COUNT, BATCH, LR = 10000, 300, 128, 1e-3
#: steps and the fraction of them over which lam of eq. (22) ramps 0 -> 1, per variant (a slower ramp
#: for gnn-p-struct: at N_u = 16 it raised the validation min rate 0.99 -> 1.06 and lowered assoc_gap)
STEPS = {"csi": 1500, "pilots": 2000, "lmmse": 1200}
LAM_FRAC = {"csi": 0.5, "pilots": 1.0, "lmmse": 0.5}
#: N_u with a shipped gnn-p-struct model
PILOT_MODELS = (16, 64)


# ----------------------------------------------------------------------------- features (torch)
def node_features(Hh, P):
    """(B, K, 4L + 2LM) node input from the known channel ``Hh`` (B, K, L, M) complex and ``P`` (B, L)."""
    import torch

    B, K, L, M = Hh.shape
    g = (Hh.real ** 2 + Hh.imag ** 2).sum(-1).clamp_min(1e-12)              # (B, K, L)
    logg = torch.log10(g * P[:, None, :] + 1e-6)
    rel = logg - logg.max(-1, keepdim=True).values
    U = Hh / torch.sqrt(g)[..., None]
    C = torch.einsum("bklm,bilm->blki", U.conj(), U)
    C = C.real ** 2 + C.imag ** 2                                           # (B, L, K, K)
    eye = torch.eye(K, dtype=torch.bool)
    Cm = C.masked_fill(eye, 0.0)
    cmax = Cm.max(-1).values.transpose(1, 2)                                # (B, K, L)
    cmean = (Cm.sum(-1) / max(K - 1, 1)).transpose(1, 2)
    d = U.reshape(B, K, L * M)
    return torch.cat([logg, rel, cmax, cmean, d.real, d.imag], dim=-1).float()


def structured_beams(Hh, P, a, p, q, mu, floor: float = POWER_FLOOR, Ce=None):
    """Structured output: ``v`` (B, K, L, M) from the known channel and the learned ``p, q, mu``.

    ``Hh`` complex (B, K, L, M); ``a, p, q`` (B, K, L) (``a`` the association used to share each
    AP's budget); ``mu`` (B,). ``u_kl = (sum_i q_il h_il h_il^H + mu I)^{-1} h_kl`` normalised;
    ``v_kl = sqrt(P_l p_kl / (sum_i a_il p_il + floor)) u_kl``. ``Ce`` (L, M, M), optional: the
    covariance of the estimation error, added as ``sum_i q_il Ce_l`` to the matrix (robust MMSE).
    """
    import torch

    B, K, L, M = Hh.shape
    Hl = Hh.permute(0, 2, 3, 1)                                             # (B, L, M, K): columns h_kl
    R = torch.einsum("blmk,bkl,blnk->blmn", Hl, q.to(Hh.dtype), Hl.conj())
    R = R + mu.to(Hh.dtype)[:, None, None, None] * torch.eye(M, dtype=Hh.dtype)
    if Ce is not None:
        R = R + q.sum(1).to(Hh.dtype)[:, :, None, None] * Ce.to(Hh.dtype)[None]
    Uc = torch.linalg.solve(R, Hl)                                          # (B, L, M, K)
    nrm = torch.sqrt((Uc.real ** 2 + Uc.imag ** 2).sum(2, keepdim=True)).clamp_min(1e-30)
    u = (Uc / nrm).permute(0, 3, 1, 2)                                      # (B, K, L, M) unit
    share = (a * p).sum(1, keepdim=True) + floor                            # (B, 1, L)
    scale = torch.sqrt(P[:, None, :] * p / share)
    return u * scale.to(Hh.dtype)[..., None], u


# ----------------------------------------------------------------------------- network
def build(K: int, L: int, M: int, width: int = WIDTH, output: str = "struct"):
    """The GNN; ``output="struct"`` (this module's output block) or ``"direct"`` (the paper's eq. (19))."""
    import torch
    import torch.nn as nn

    layers = gnn_net._torch()                       # the paper's FCN and AC blocks (eqs. (17)-(18))
    FCN, AC = layers.FCN, layers.AC

    class StructGNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.L, self.M, self.output = L, M, output
            self.psi0 = FCN(4 * L + 2 * L * M, width, width)
            self.ac = nn.ModuleList([AC(width, width), AC(width, width)])
            self.g0 = nn.Linear(width, 3 * L if output == "struct" else L + 2 * L * M)
            self.g_mu = nn.Linear(width, 1)
            with torch.no_grad():
                self.g0.weight.mul_(0.1)
                self.g0.bias.zero_()
                self.g_mu.weight.mul_(0.1)
                self.g_mu.bias.zero_()

        def forward(self, Hh, P, lam: float = 1.0, Ce=None):
            """``a_hat`` (B, K, L), the association ``a`` used (eq. (22) with ``lam``), ``v``, ``u``."""
            d = self.psi0(node_features(Hh, P))
            for blk in self.ac:
                d = blk(d)
            out = self.g0(d)
            Lh = self.L
            if self.output == "direct":     # eq. (19): |a| / sum |a|; per-AP normalisation over all K
                a_abs = out[..., :Lh].abs()
                a_hat = a_abs / (a_abs.sum(-1, keepdim=True) + 1e-3)
                M_ = self.M
                re = out[..., Lh:Lh + Lh * M_].reshape(*out.shape[:-1], Lh, M_)
                im = out[..., Lh + Lh * M_:].reshape(*out.shape[:-1], Lh, M_)
                v = torch.complex(re, im).to(Hh.dtype)
                per_ap = (re ** 2 + im ** 2).sum(dim=(1, 3))
                v = v * (torch.sqrt(P) / torch.sqrt(per_ap + 1e-12)).to(Hh.dtype)[:, None, :, None]
                u = v / torch.sqrt((v.real ** 2 + v.imag ** 2).sum(-1, keepdim=True)).clamp_min(1e-30)
                return a_hat, ste(a_hat, lam), v, u
            a_hat = torch.softmax(out[..., :Lh], dim=-1)
            p = torch.exp(out[..., Lh:2 * Lh].clamp(-12, 12))
            q = torch.exp(out[..., 2 * Lh:].clamp(-12, 12))
            mu = torch.exp(self.g_mu(d.mean(1))[:, 0].clamp(-12, 12))
            a = ste(a_hat, lam)
            v, u = structured_beams(Hh, P, a, p, q, mu, Ce=Ce)
            return a_hat, a, v, u

    return StructGNN()


def ste(a_hat, lam: float):
    """Modified straight-through estimator of eq. (22)."""
    import torch

    hard = torch.nn.functional.one_hot(a_hat.argmax(-1), a_hat.shape[-1]).to(a_hat.dtype)
    return a_hat + lam * (hard - a_hat).detach()


# ----------------------------------------------------------------------------- channel knowledge
@lru_cache(maxsize=32)
def lmmse_operator(n_pilots: int, pilot_snr: float, scenario: str = "{}"):
    """``(mean (L, M), W (L, M, M), Ce (L, M, M))``: the LMMSE estimate ``m + (y' - m) W^T`` of
    :mod:`.baselines` and the covariance of its error, ``Ce = C - W C``, ``W = C (C + I / (rho N_u))^{-1}``;
    ``scenario``: JSON of generator parameters over the defaults (the channel statistics' scenario)."""
    mean, cov = channel_statistics({**DEFAULTS, **json.loads(scenario)})
    g = float(pilot_snr) * float(n_pilots)
    M = mean.shape[-1]
    W = np.stack([cov[l] @ np.linalg.inv(cov[l] + np.eye(M) / g) for l in range(mean.shape[0])])
    Ce = cov - W @ cov
    Ce = 0.5 * (Ce + np.conj(np.swapaxes(Ce, 1, 2)))
    return mean, W, Ce


def known_channel(instance, mode: str):
    """``(Hk, Ce)``: the channel the solver knows, ``H`` (csi, ``Ce = None``) or the LMMSE estimate from
    the pilots with the covariance of its error (pilots)."""
    if mode == "csi":
        return np.asarray(instance["H"]), None
    sp = scenario_params(instance)
    key = json.dumps({k: sp[k] for k in CHANNEL_PARAMS if k in sp}, sort_keys=True, default=float)
    Ce = lmmse_operator(int(instance["n_pilots"]), float(instance["pilot_snr"]), key)[2]
    return estimated_instance(instance)["H"], Ce


# ----------------------------------------------------------------------------- training
def train(mode: str, *, steps: int, seed: int, count: int, n_pilots: int = 0, batch: int = BATCH,
          lr: float = LR, val_count: int = VAL_COUNT, data: dict | None = None, width: int = WIDTH,
          progress=None, eval_every: int = 50, threads: int | None = 1,
          lam_frac: float = 0.5, robust: bool = True, scenario: dict | None = None, output: str = "struct") -> tuple[dict, dict]:
    """Unsupervised training (loss of Sec. IV-A-5 on the true channel); returns ``(state, info)``.

    ``mode``: ``"csi"`` (perfect channel input) or ``"pilots"`` (LMMSE estimate from ``n_pilots``
    pilots, pilot noise drawn afresh for every batch, fixed for the validation set). ``data``: arrays
    ``H, P, noise, rho`` (default: the first ``count + val_count`` ``train`` instances); ``scenario``:
    generator parameters of the data when not the defaults (the LMMSE statistics' scenario).
    """
    import torch

    deterministic(seed, threads=threads)
    c0, t0 = time.process_time(), time.perf_counter()
    d = data if data is not None else gnn_net.cached_training_arrays(int(count) + int(val_count))
    n_all = d["H"].shape[0]
    n_tr = min(int(count), n_all - 1)   # exactly ``count`` training instances; the rest validate
    n_val = n_all - n_tr
    _, K, L, M = d["H"].shape
    H = torch.tensor(d["H"], dtype=torch.complex64)
    P = torch.tensor(d["P"], dtype=torch.float32)
    noise = torch.tensor(d["noise"], dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    if mode == "pilots":
        rho = np.asarray(d["rho"], dtype=float)
        if not np.allclose(rho, rho[0]):
            raise MmoptError("gnn-p-struct: training instances must share one pilot SNR")
        mean, W, Ce = lmmse_operator(int(n_pilots), float(rho[0]), json.dumps(dict(scenario or {}), sort_keys=True))
        Ce_t = torch.tensor(Ce, dtype=torch.complex64) if robust else None
        mean_t = torch.tensor(mean, dtype=torch.complex64)
        WT = torch.tensor(np.swapaxes(W, 1, 2), dtype=torch.complex64)       # (L, M, M): W^T
        sd = 1.0 / math.sqrt(2.0 * rho[0] * n_pilots)

        def know(idx):
            Hx = H[idx]
            n = torch.complex(torch.randn(Hx.shape, generator=gen), torch.randn(Hx.shape, generator=gen)) * sd
            y = Hx + n - mean_t
            return mean_t + torch.einsum("bklm,lmn->bkln", y, WT)
    elif mode == "csi":
        Ce_t = None

        def know(idx):
            return H[idx]
    else:
        raise MmoptError(f"unknown mode {mode!r}")
    val_idx = torch.arange(n_tr, n_all)
    Hk_val = know(val_idx)
    net = build(K, L, M, width, output)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = max(1, int(steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / steps)))

    def evaluate():
        net.eval()
        with torch.no_grad():
            _, a, v, _ = net(Hk_val, P[val_idx], 1.0, Ce_t)
            r = gnn_net.rates(H[val_idx], noise[val_idx], a, v)
        net.train()
        return float(r.min(-1).values.mean())

    initial = evaluate()
    history, best, best_state, best_step = [], -math.inf, None, 0
    tot, nb = 0.0, 0
    for step in range(1, steps + 1):
        lam = min(1.0, step / max(1.0, lam_frac * steps))
        lam_p = max(0.0, 1.0 - step / max(1.0, 0.05 * steps))
        idx = torch.randint(0, n_tr, (batch,), generator=gen)
        a_hat, a, v, _ = net(know(idx), P[idx], lam, Ce_t)
        loss = gnn_net.minrate_loss(H[idx], noise[idx], a, v, lam_p)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 2.0)
        opt.step()
        sched.step()
        tot, nb = tot + loss.item(), nb + 1
        if step % eval_every == 0 or step == steps:
            val = evaluate()
            history.append({"step": step, "train_loss": round(tot / nb, 5), "val_min_rate": round(val, 5),
                            "cpu_seconds": round(time.process_time() - c0, 1)})
            tot, nb = 0.0, 0
            if val > best:
                best, best_step = val, step
                best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            if progress:
                progress(eval_every, loss=history[-1]["train_loss"], val=val)
    state = {"model": best_state,
             "config": {"kind": f"struct-{mode}", "K": int(K), "L": int(L), "M": int(M),
                        "n_pilots": int(n_pilots), "width": int(width),
                        "robust": bool(robust and mode == "pilots" and output == "struct"), "output": output}}
    info = {"train_suite": d.get("suite", "train"), "train_count": int(n_tr), "val_count": int(n_val),
            "steps": steps, "epochs": round(steps * batch / n_tr, 2), "batch": int(batch), "lr": lr,
            "train_pilots": int(n_pilots) if mode == "pilots" else "perfect CSI",
            "final_train_loss": history[-1]["train_loss"], "final_val_min_rate": history[-1]["val_min_rate"],
            "best_val_min_rate": round(best, 5), "best_step": best_step,
            "initial_val_min_rate": round(initial, 5), "train_seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(time.process_time() - c0, 1), "threads": torch.get_num_threads(),
            "width": int(width), "power_floor": POWER_FLOOR, "lam_frac": lam_frac, "history": history}
    return state, info


# ----------------------------------------------------------------------------- inference
class StructModel:
    """A loaded structured GNN in eval mode."""

    def __init__(self, state: dict):
        self.cfg = dict(state["config"])
        self.net = build(self.cfg["K"], self.cfg["L"], self.cfg["M"], int(self.cfg["width"]),
                         self.cfg.get("output", "struct"))
        self.net.load_state_dict(state["model"])
        self.net.eval()

    def outputs(self, Hk: np.ndarray, P: np.ndarray, Ce: np.ndarray | None = None):
        """``a_hat`` (K, L), beams ``v`` (K, L, M) and unit directions ``u`` (K, L, M), float64 numpy."""
        import torch

        if not self.cfg.get("robust"):
            Ce = None
        with torch.no_grad():
            a_hat, a, v0, u0 = self.net(torch.tensor(Hk[None], dtype=torch.complex64),
                                        torch.tensor(np.asarray(P)[None], dtype=torch.float32), 1.0)
            if self.net.output == "direct":
                v = v0[0].to(torch.complex128).numpy()
                v = v * np.sqrt(np.asarray(P, dtype=float) / np.sum(np.abs(v) ** 2, axis=(0, 2)))[None, :, None]
                return a_hat[0].double().numpy(), v, u0[0].to(torch.complex128).numpy()
            # the beams once more in double precision for the hard association (budgets to rounding)
            Hd = torch.tensor(Hk[None], dtype=torch.complex128)
            d = self.net.psi0(node_features(Hd, torch.tensor(np.asarray(P)[None], dtype=torch.float32)))
            for blk in self.net.ac:
                d = blk(d)
            out = self.net.g0(d).double()
            L = self.net.L
            p = torch.exp(out[..., L:2 * L].clamp(-12, 12))
            q = torch.exp(out[..., 2 * L:].clamp(-12, 12))
            mu = torch.exp(self.net.g_mu(d.mean(1))[:, 0].double().clamp(-12, 12))
            v, u = structured_beams(Hd, torch.tensor(np.asarray(P, dtype=float)[None]), a.double(), p, q, mu,
                                    Ce=None if Ce is None else torch.tensor(Ce))
        return a_hat[0].double().numpy(), v[0].numpy(), u[0].numpy()


def gain_matrix(Hk, assoc, W, Ce=None):
    """``G[k, i] = |h_{k,a_i}^H w_i|^2`` on the known channel, plus ``w_i^H Ce_{a_i} w_i`` (the expected
    gain under the LMMSE error) when ``Ce`` is given."""
    G = np.abs(np.einsum("kim,im->ki", Hk[:, assoc, :].conj(), W)) ** 2
    if Ce is not None:
        G = G + np.real(np.einsum("im,imn,in->i", W.conj(), Ce[assoc], W))[None, :]
    return G


def min_sinr_of(G, p, noise):
    sig = np.diag(G) * p
    return float(np.min(sig / (G @ p - sig + noise)))


def perron_refine(Hk, P, noise, assoc, V, Ce=None):
    """Exact Perron power control on the unit directions of ``V``, kept if it raises the min SINR.

    The SINRs are those of the known channel ``Hk``, or their expectation under the LMMSE error of
    covariance ``Ce`` (signal and interference gains ``|h^H w|^2 + w^H Ce w``). Returns ``(V', improved)``;
    ``V'`` meets every per-AP budget.
    """
    P, noise = np.asarray(P, dtype=float), np.asarray(noise, dtype=float)
    norms = np.linalg.norm(V, axis=1)
    if not np.all(norms > 0):
        return V, False
    W = V / norms[:, None]
    G = gain_matrix(Hk, assoc, W, Ce)
    base = min_sinr_of(G, norms ** 2, noise)
    try:
        _, pp = perron_power_control(G, noise, P, assoc)
    except np.linalg.LinAlgError:
        return V, False
    if not np.all(np.isfinite(pp)):
        return V, False
    V1 = W * np.sqrt(pp)[:, None]
    pw = np.bincount(assoc, weights=np.sum(np.abs(V1) ** 2, axis=1), minlength=len(P))
    over = np.max(pw / P)
    if over > 1.0:
        V1 = V1 / np.sqrt(over * (1 + 1e-12))
    if min_sinr_of(G, np.sum(np.abs(V1) ** 2, axis=1), noise) > base:
        return V1, True
    return V, False


def to_budget(assoc, V, P):
    """Per AP: scale the served beams down to the budget if rounding put them above it."""
    pw = np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=len(P))
    f = np.where(pw > P, np.sqrt(P / np.maximum(pw, 1e-300)) * (1 - 1e-13), 1.0)
    return V * f[assoc][:, None]


# ----------------------------------------------------------------------------- solvers
#: variant -> (channel knowledge, output block, solver name, weight file stem)
VARIANTS = {"csi": ("csi", "struct", "gnn-csi-struct", "gnn_csi_struct"),
            "pilots": ("pilots", "struct", "gnn-p-struct", "gnn_p_struct"),
            "lmmse": ("pilots", "direct", "gnn-p-lmmse", "gnn_p_lmmse")}


def weights_name(variant: str, n_pilots: int = 0) -> str:
    stem = VARIANTS[variant][3]
    return f"{stem}.pt" if variant == "csi" else f"{stem}_nu{int(n_pilots)}.pt"


def _model(name: str) -> StructModel:
    """The model of weight file ``name`` (or of the solver's ``weights`` file), memoised per path and sha256."""
    path = weights_path(name, PROBLEM)
    return _load_model(str(path), file_sha256(path))


@lru_cache(maxsize=16)
def _load_model(path: str, sha256: str) -> StructModel:
    return StructModel(load_weights(path))


def _name_for(variant, instance, train_pilots):
    if variant == "csi":
        return weights_name("csi")
    return weights_name(variant, int(train_pilots) or int(instance["n_pilots"]))


def _applies(variant):
    def applies(instance, *, train_pilots: int = 0, **_):
        K, L, M = instance["H"].shape
        if variant != "csi":
            for k in ("pilots", "n_pilots", "pilot_snr"):
                if k not in instance:
                    return f"the instance has no '{k}' (uplink pilot observations)"
        name = _name_for(variant, instance, train_pilots)
        if not weights_path(name, PROBLEM).is_file():
            nu = int(train_pilots) or int(instance["n_pilots"])
            return (f"no model trained at N_u = {nu} ({name}; shipped: "
                    f"{', '.join(map(str, PILOT_MODELS))})")
        cfg = _model(name).cfg
        if (L, M) != (cfg["L"], cfg["M"]):   # any K: the GNN is shared over the users (Sec. IV, Fig. 7(a))
            return (f"model trained for L = {cfg['L']} APs of M = {cfg['M']} antennas; "
                    f"instance has L = {L}, M = {M}")
        if variant != "csi":
            try:
                sp = scenario_params(instance)
            except Exception as e:   # noqa: BLE001 - the reason is the message
                return str(e)
            diff = [k for k in CHANNEL_PARAMS if k in sp and sp[k] != DEFAULTS.get(k, sp[k])]
            if diff:
                return f"LMMSE statistics of the trained model are the default scenario's; instance differs in {diff}"
        return None
    return applies


def _weights(variant):
    def weights(*, train_pilots: int = 0, **_):
        if variant == "csi":
            return weights_name("csi")
        if int(train_pilots) == 0:
            return [weights_name(variant, nu) for nu in PILOT_MODELS]
        return weights_name(variant, train_pilots)
    return weights


def _setup(variant):
    def setup(*, train_pilots: int = 0, **_):
        names = _weights(variant)(train_pilots=train_pilots)
        for n in [names] if isinstance(names, str) else names:
            if weights_path(n, PROBLEM).is_file():
                _model(n)
        if variant != "csi":
            channel_statistics(DEFAULTS)   # the LMMSE statistics, once per worker before the fork
    return setup


def _train(variant):
    def train_entry(*, epochs: int | None = None, seed: int = 0, count: int | None = None, progress=True,
                    train_pilots: int = 0, steps: int | None = None, **_):
        if variant != "csi" and int(train_pilots) < 1:
            raise MmoptError(f"{VARIANTS[variant][2]}: one model per N_u; pass --param train_pilots=N "
                             f"(shipped: {', '.join(map(str, PILOT_MODELS))})")
        count = int(count or TRAIN_COUNT)
        # --epochs N: N passes over the training set (default STEPS[variant] steps of BATCH)
        n_steps = int(steps or (math.ceil(int(epochs) * count / BATCH) if epochs else STEPS[variant]))
        label = VARIANTS[variant][2] + ("" if variant == "csi" else f" N_u={int(train_pilots)}")
        bar = progress if callable(progress) else Progress(n_steps, label, bool(progress))
        try:
            state, info = train(VARIANTS[variant][0], steps=n_steps, output=VARIANTS[variant][1],
                                lam_frac=LAM_FRAC[variant], seed=seed, count=count, n_pilots=int(train_pilots),
                                progress=bar)
        finally:
            if not callable(progress):
                bar.close()
        info.update(train_size=info["train_count"], train_instances=info["train_count"], train_loss=info["final_train_loss"],
                    val_loss=-info["best_val_min_rate"])
        return state, info
    return train_entry


def _solve(variant, instance, train_pilots, power):
    t0 = time.perf_counter()
    name = _name_for(variant, instance, train_pilots)
    model = _model(name)
    K, L, M = instance["H"].shape
    if (L, M) != (model.cfg["L"], model.cfg["M"]):
        raise MmoptError(f"{name}: trained for L, M = {model.cfg['L']}, {model.cfg['M']}")
    if power not in POWER_MODES:
        raise MmoptError(f"power must be 'perron' or 'gnn', got {power!r}")
    Hk, Ce = known_channel(instance, VARIANTS[variant][0])
    if not model.cfg.get("robust"):
        Ce = None
    t_est = time.perf_counter() - t0
    P, noise = np.asarray(instance["P"], dtype=float), np.asarray(instance["noise"], dtype=float)
    a_hat, v, _ = model.outputs(Hk, P, Ce)
    assoc = a_hat.argmax(-1).astype(np.int64)
    V = to_budget(assoc, np.ascontiguousarray(v[np.arange(K), assoc], dtype=np.complex128), P)
    improved = False
    if power == "perron":
        V, improved = perron_refine(Hk, P, noise, assoc, V, Ce)
    return {"assoc": assoc, "V": V}, {"weights": name, "model_pilots": int(model.cfg["n_pilots"]),
                                      "perron_improved": bool(improved), "estimation_seconds": t_est,
                                      "inference_seconds": time.perf_counter() - t0}


_COMMON = dict(problems=[PROBLEM], kind="learned", requires=("torch",))
#: workers compute the default scenario's LMMSE statistics once, before forking cells
_WARM = ("mmopt.problems.maxmin_assoc_bf.solvers._lmmse_warm",)


@solver("gnn-csi-struct", **_COMMON, version=1, weights=_weights("csi"), train=_train("csi"), setup=_setup("csi"),
        applies=_applies("csi"), choices={"power": POWER_MODES})
def gnn_csi_struct(instance, *, power: str = "perron"):
    """Perfect-CSI structured GNN (the paper's "Perfect-CSI-based GNN" with the structured output of
    this module; most likely the curve of the paper's 7.6 % claim). Input: the true channel ``H``.
    ``power="perron"`` (default): exact Perron power control on the GNN's directions when it helps
    (on the true channel: it never lowers the min rate); ``"gnn"``: the network's own powers.
    Trained: 10,000 ``train`` instances (+ 300 for validation), 1,500 steps of 128, one thread, about
    1 CPU-minute (the sidecar records steps, CPU seconds and the validation curve)."""
    return _solve("csi", instance, 0, power)


@solver("gnn-p-struct", **_COMMON, version=1, weights=_weights("pilots"), train=_train("pilots"),
        setup=_setup("pilots"), applies=_applies("pilots"), imports=_WARM, choices={"power": POWER_MODES})
def gnn_p_struct(instance, *, train_pilots: int = 0, power: str = "perron"):
    """Pilot-based structured GNN: the LMMSE estimate from the pilots is both the input and the channel of
    the structured beams (robust MMSE: the estimate's error covariance is added to the matrix), scored
    on the true channel. ``train_pilots=0``: the model trained at the instance's N_u (16 and 64
    shipped; other N_u are declined), else the model trained at that N_u. ``power="perron"``: Perron
    power control on the expected gains under the LMMSE error, kept when it raises the expected min
    SINR (the true rate may still drop). Trained: 10,000 ``train`` instances (+ 300), fresh pilot
    noise per batch, 2,000 steps of 128 (lam ramped over all of them), one thread, about 1.5 CPU-minutes."""
    return _solve("pilots", instance, train_pilots, power)


@solver("gnn-p-lmmse", **_COMMON, version=1, weights=_weights("lmmse"), train=_train("lmmse"),
        setup=_setup("lmmse"), applies=_applies("lmmse"), imports=_WARM, choices={"power": POWER_MODES})
def gnn_p_lmmse(instance, *, train_pilots: int = 0, power: str = "gnn"):
    """GNN-P with the LMMSE input fix and the paper's output: the node input is the per-link
    features of the LMMSE estimate (log powers, correlations, directions) [paper: the raw de-spread
    pilots, 2LM reals]; the output is eq. (19) (free beamformers normalised per AP, ``|a| / sum |a|``)
    and the argmax association of eq. (20). ``train_pilots`` as for ``gnn-p-struct``; ``power="perron"``
    adds Perron power control as there. Trained: 10,000 ``train`` instances (+ 300), 1,200 steps of
    128, one thread."""
    return _solve("lmmse", instance, train_pilots, power)

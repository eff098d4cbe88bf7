r"""The BEM-GBPN network and its variants for ``sumrate-bs-beam`` (torch, imported lazily).

Li, Zhou, Guo, Gao, Yang, Ma, "Out-of-Band Modality Synergy Based Multi-User Beam Prediction and
Proactive BS Selection with Zero Pilot Overhead", Sec. III-B-2..4 and IV-C-1: the spatial feature
extraction (SFE, eqs. (9)-(11)), the GRU (eqs. (12)-(17)), the experts (eq. (18)), the linear routers
(eq. (19)), the gain head (eq. (22)) and the beam head (eq. (24)). torch is imported inside functions
only (:func:`build_model` builds the classes on first use), so importing this module is cheap. The
inputs are in :mod:`.gbpn_features`, the training in :mod:`.gbpn_train`, the decision rule and the
solvers in :mod:`.gbpn`.

* ``bem-gbpn``: per frame, the SFE reads the 2-channel binary encoding map (the user's box, every
  other vehicle's box; 320 x 480 pixels) through its row and column occupancy profiles (40 row bins
  and 160 column bins per channel, :mod:`.gbpn_features`) with one fully connected layer
  400 -> 128 (ReLU; the paper's FC 128 of eqs. (10)-(11)); a 2-layer GRU over
  the :math:`T_p` = 20 frames (eqs. (12)-(17)), its last output :math:`V`; :math:`I = 3` experts
  :math:`K_i = \mathrm{EXP}_i(V)` (eq. (18)); two linear routers :math:`\eta_1 = W_1 V`,
  :math:`\eta_2 = W_2 V` (eq. (19), no softmax, as written) mixing the experts into the gain head
  :math:`\hat r' = \sigma(\mathrm{FC}(\sum_i \eta_{1,i} K_i))` (eq. (22)) and the beam head
  :math:`\mathrm{FC}(\sum_i \eta_{2,i} K_i)` (eq. (24), with a softmax over the :math:`N_T` beams in
  place of the paper's sigmoid: see :mod:`.gbpn_train`). The network returns the logits; the
  sigmoid / softmax are applied by the loss and by inference.
* ``bb-gbpn``: the same network with the SFE an MLP (128-256-512-128, the paper's sizes) on the
  10 x 4 box matrix ``box_matrix``.
* ``p-gbpn``: the same MLP on the past beam-sweep powers ``sweep_power``.
* ``bem-gbpn-nomoe``: ``bem-gbpn`` with the MoE replaced by two MLPs,
  :math:`V`-32-1 (gain) and :math:`V`-128-64 (beam), as in Fig. 10's ablation.

**Departures** (the paper's value in brackets; :data:`CONFIG`):

* SFE: fully connected layers on the binned row / column occupancy profiles
  [4 CNN cells (2,4,11,2), (4,16,7,2), (16,64,5,1), (64,256,3,1) with 2x2 max-pools on the full
  320 x 480 map, ending at 2 x 5 x 256, then FC 128]. The profiles keep the box's horizontal
  position at 3-pixel resolution (160 column bins, against the paper's 5 columns at the last
  cell), which is what fixes the beam; a CNN on the full map is about 2 s per sample step on
  this CPU, weeks for the paper's 100 epochs;
* GRU 128 x 2 layers [256 x 2], so that a decision for four users (about 10 (user, BS) pairs of
  20 frames) stays within milliseconds on one core (GRU 256 costs 3.5x the GRU 128's operations);
  3 experts 132 -> 256 -> 128 [256 -> 256 -> 128], no-MoE heads 132-32-1 and 132-128-64
  [256-32-1, 256-128-64] (132 = the GRU's 128 + the BS one-hot);
* **one model shared by the B BSs** [one model per BS], with a one-hot of the BS index appended to
  :math:`V` (the experts', routers' and heads' input), so each BS keeps its own bias.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from mmopt.problems.sumrate_bs_beam.solvers.gbpn_features import INPUT

__all__ = ["CONFIG", "build_model", "model_from_state"]

#: sizes (the paper's in the module docstring)
CONFIG = {
    "profile": [128],           # SFE on the binned profiles: the paper's FC 128
    "mlp": [128, 256, 512, 128],
    "gru": 128,
    "gru_layers": 2,
    "experts": 3,
    "expert_hidden": 256,
    "expert_out": 128,
    "nomoe_gain": 32,
    "nomoe_beam": 128,
    "n_bs": 4,
}


@lru_cache(maxsize=1)
def _torch_classes():
    import torch
    from torch import nn

    class MLPSFE(nn.Module):
        """Per-frame MLP: the profile SFE of BEM-GBPN, the 128-256-512-128 SFE of BB-GBPN / P-GBPN."""

        def __init__(self, sizes, n_in):
            super().__init__()
            layers, d = [], n_in
            for h in sizes:
                layers += [nn.Linear(d, h), nn.ReLU()]
                d = h
            self.net = nn.Sequential(*layers)
            self.out = d

        def forward(self, x):
            return self.net(x.flatten(1))

    class GBPN(nn.Module):
        """SFE per frame -> GRU -> MoE (or MLP) gain and beam heads."""

        def __init__(self, variant, cfg, in_shape, n_beams):
            super().__init__()
            self.variant, self.cfg = variant, cfg
            frame = tuple(int(v) for v in in_shape[1:])        # in_shape = (T_p, *frame)
            sizes = cfg["profile"] if INPUT[variant] == "bem_profile" else cfg["mlp"]
            self.sfe = MLPSFE(sizes, int(np.prod(frame)))
            self.gru = nn.GRU(self.sfe.out, cfg["gru"], num_layers=cfg["gru_layers"], batch_first=True)
            d = cfg["gru"] + cfg["n_bs"]
            self.moe = not variant.endswith("nomoe")
            if self.moe:
                self.experts = nn.ModuleList(
                    nn.Sequential(nn.Linear(d, cfg["expert_hidden"]), nn.ReLU(),
                                  nn.Linear(cfg["expert_hidden"], cfg["expert_out"]), nn.ReLU())
                    for _ in range(cfg["experts"]))
                self.router1 = nn.Linear(d, cfg["experts"], bias=False)
                self.router2 = nn.Linear(d, cfg["experts"], bias=False)
                self.gain_fc = nn.Linear(cfg["expert_out"], 1)
                self.beam_fc = nn.Linear(cfg["expert_out"], n_beams)
            else:
                self.gain_mlp = nn.Sequential(nn.Linear(d, cfg["nomoe_gain"]), nn.ReLU(),
                                              nn.Linear(cfg["nomoe_gain"], 1))
                self.beam_mlp = nn.Sequential(nn.Linear(d, cfg["nomoe_beam"]), nn.ReLU(),
                                              nn.Linear(cfg["nomoe_beam"], n_beams))

        def forward(self, x, bs):
            """``x`` (n, T_p, *frame) float; ``bs`` (n,) long. Returns gain logit (n,), beam logits (n, N)."""
            n, tp = x.shape[:2]
            z = self.sfe(x.reshape(n * tp, *x.shape[2:])).reshape(n, tp, -1)
            o, _ = self.gru(z)
            v = torch.cat([o[:, -1], nn.functional.one_hot(bs, self.cfg["n_bs"]).to(o.dtype)], dim=1)
            if self.moe:
                k = torch.stack([e(v) for e in self.experts], dim=1)          # (n, I, E)
                m1 = (self.router1(v).unsqueeze(2) * k).sum(1)               # eq. (19)
                m2 = (self.router2(v).unsqueeze(2) * k).sum(1)
                return self.gain_fc(m1).squeeze(1), self.beam_fc(m2)
            return self.gain_mlp(v).squeeze(1), self.beam_mlp(v)

    return GBPN


def build_model(variant: str, in_shape, n_beams: int, cfg: dict | None = None):
    """A fresh network of ``variant`` for inputs ``in_shape`` = (T_p, *frame) and ``n_beams`` beams.

    ``forward(x, bs)``: ``x`` (n, T_p, *frame) float, ``bs`` (n,) long -> gain logit (n,), beam
    logits (n, N).
    """
    return _torch_classes()(variant, dict(cfg or CONFIG), in_shape, n_beams)


def model_from_state(st: dict) -> dict:
    """A saved state (``mmopt train`` / :func:`.gbpn_train.fit`) -> evaluation-mode network and its scaling.

    Returns ``{"net", "variant", "p_min", "p_max", "in_shape"}``.
    """
    m = build_model(st["variant"], st["in_shape"], int(st["n_beams"]), json.loads(st["config"]))
    m.load_state_dict(st["model"])
    m.eval()
    return {"net": m, "variant": st["variant"], "p_min": float(st["p_min"]), "p_max": float(st["p_max"]),
            "in_shape": list(st["in_shape"])}

r"""BEM-GBPN and its variants for ``sumrate-bs-beam``: inference, the decision rule and the solvers.

Li, Zhou, Guo, Gao, Yang, Ma, "Out-of-Band Modality Synergy Based Multi-User Beam Prediction and
Proactive BS Selection with Zero Pilot Overhead", Sec. III-C: the proactive BS selection (eq. (26))
and beam switching (eq. (27)) on top of four learned predictors of each user's beamforming gain and
optimal beam at :math:`t + T_f`, from side information of frames :math:`t - T_p + 1 .. t`
(Sec. III-B, IV-B, IV-C-1). The pieces live in:

* :mod:`.gbpn_features`: the inputs (binary encoding maps, box matrices, sweep powers) and the
  labels (eqs. (20)-(21)), the training samples;
* :mod:`.gbpn_net`: the networks (eqs. (9)-(19), (22), (24)) and their reduced sizes; torch is
  imported lazily;
* :mod:`.gbpn_train`: the losses (eqs. (23), (25)) and the training loop (``mmopt train``).

The solvers (``kind="learned"``, weights in the problem's ``weights/`` folder):

* ``bem-gbpn``: SFE on the 2-channel binary encoding map (its row and column occupancy profiles),
  GRU, MoE gain and beam heads;
* ``bb-gbpn``: the CNN replaced by an MLP on the 10 x 4 box matrix;
* ``p-gbpn``: the same MLP on the past beam-sweep powers; it needs an exhaustive beam sweep in every
  history frame: pilot overhead :math:`B \cdot N_T \cdot T_p` per decision (``pilot_beams`` in the
  stats);
* ``bem-gbpn-nomoe``: ``bem-gbpn`` with the MoE replaced by two MLPs (Fig. 10's ablation);
* ``oracle-visible`` (kind ``reference``, not certifying problem (4)): the decision rule below fed
  with perfect predictions, the true gain :math:`r_{b,u}` and the true best beam at every BS that
  sees the user; the ceiling of every predictor under eqs. (26)-(27) (its stats status ``best``:
  the best value of the rule, not the optimum of (4)).

**Decision rule** (eqs. (26)-(27)). Every BS that sees user :math:`u` at :math:`t`
(``visible``) predicts :math:`\hat r_{b,u}` and :math:`\hat p_{b,u}`; the user goes to
the BS of highest :math:`\hat r_{b,u}` (eq. (26)) with that BS's top beam
:math:`\arg\max_n \hat p_{b,u,n}` (eq. (27)). A user seen by no BS is predicted
by every BS (its own-box channel is empty) and ranks them all. Load limit (4b):
the candidate (user, BS) pairs are taken in decreasing predicted gain (ties:
lower user index, then lower BS index; beam ties: lower beam index); a pair is
accepted if the user is still unassigned and the BS has fewer than
``n_rf[b]`` users. So when eq. (26) overloads a BS, the users with the lowest
predicted gain there overflow to their next-best seeing BS with a free RF
chain; a user whose seeing BSs are all full goes to the lowest-index BS with a
free RF chain (no prediction exists there; its beam is then beam 0). With
:math:`U \le \sum_b N_{RF,b}` every user is served.

Stats: ``beam_scores`` (per user, the :math:`N_T` beam scores
:math:`\hat p_{b_u,u}` of the chosen BS, 6 significant digits), ``seen_scores`` (``[u, b, scores]`` for
every pair whose camera sees the user: the paper's per-BS top-k of Fig. 9), ``beam_rank`` (per user, the
chosen BS's beams by decreasing score, the first 3), ``pred_gain_db``
(:math:`\hat r_{b_u,u}` in dB), ``overflow_users`` (users moved by the load limit), ``pilot_beams``
and ``inference_seconds``.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt import MmoptError, solver
from mmopt.learned import file_sha256, load_weights, weights_path
from mmopt.problems.sumrate_bs_beam import gain_table, sum_rate
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_features import (HM, INPUT, PROBLEM, VARIANTS, WM, bin_profiles,
                                                                  decode_x, to_db)
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_net import model_from_state
from mmopt.problems.sumrate_bs_beam.solvers.gbpn_train import train_for

__all__ = ["VARIANTS", "load_model", "candidate_pairs", "predict", "decide", "seen_scores",
           "bem_gbpn", "bb_gbpn", "p_gbpn", "bem_gbpn_nomoe", "oracle_visible"]


def _weights_name(variant: str) -> str:
    return f"{variant.replace('-', '_')}.pt"


# ---------------------------------------------------------------------------
# Inference and the decision rule
# ---------------------------------------------------------------------------
_MODELS: dict = {}


def load_model(variant: str, path=None):
    """The trained network of ``variant`` (memoised per file and sha256)."""

    p = weights_path(path or _weights_name(variant), PROBLEM)
    key = (str(p), file_sha256(p))
    if key not in _MODELS:
        st = load_weights(p)
        return _MODELS.setdefault(key, model_from_state(st))
    return _MODELS[key]


def candidate_pairs(visible: np.ndarray) -> np.ndarray:
    """(user, BS) pairs a decision needs: the BSs that see each user; every BS for a user seen by none."""
    vis = np.asarray(visible, bool)
    need = vis | ~vis.any(axis=1, keepdims=True)
    return np.argwhere(need)


def predict(model: dict, instance, pairs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted gains (U, B) in dB and beam scores (U, B, N) (softmax probabilities); NaN where not predicted.

    ``pairs`` (n, 2): the (user, BS) pairs to predict (default :func:`candidate_pairs`).
    """
    import torch

    U, B = np.asarray(instance["visible"]).shape
    if pairs is None:
        pairs = candidate_pairs(instance["visible"])
    v = model["variant"]
    key = INPUT[v]
    arr = np.asarray(instance[key])[pairs[:, 0], pairs[:, 1]]
    if key == "bem_profile":     # (n, T_p, 2, HM + WM) pixel counts, binned as in training
        ok = arr.shape[1] == model["in_shape"][0] and arr.shape[-1] == HM + WM
    else:
        ok = list(arr.shape[1:]) == model["in_shape"]
    if not ok:
        raise MmoptError(f"{v}: the model was trained on inputs {model['in_shape']}, "
                         f"the instance has {list(arr.shape[1:])}")
    if key == "bem_profile":
        x = decode_x(bin_profiles(arr), model["in_shape"], v, model["p_min"], model["p_max"])
    else:
        x = decode_x(to_db(arr) if key == "sweep_power" else arr, arr.shape[1:], v, model["p_min"], model["p_max"])
    with torch.no_grad():
        gl, bl = model["net"](torch.from_numpy(x), torch.from_numpy(pairs[:, 1].astype(np.int64)))
    N = bl.shape[1]
    gain = np.full((U, B), np.nan)
    scores = np.full((U, B, N), np.nan)
    gain[pairs[:, 0], pairs[:, 1]] = torch.sigmoid(gl).numpy() * (model["p_max"] - model["p_min"]) + model["p_min"]
    scores[pairs[:, 0], pairs[:, 1]] = torch.softmax(bl, dim=1).numpy()
    return gain, scores


def decide(gain: np.ndarray, visible: np.ndarray, n_rf: np.ndarray, scores: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """Eqs. (26)-(27) with the load limit (module docstring). Returns bs, beam, number of moved users.

    ``gain`` (U, B) predicted gains (NaN allowed outside :func:`candidate_pairs`);
    ``visible`` (U, B); ``n_rf`` (B,); ``scores`` (U, B, N) beam scores (a user
    placed at a BS without scores gets beam 0).
    """
    gain = np.asarray(gain, float)
    U, B = gain.shape
    vis = np.asarray(visible, bool)
    cand = vis | ~vis.any(axis=1, keepdims=True)
    key = np.where(cand, -np.nan_to_num(gain, nan=-np.inf), 0.0)
    # tier (candidates first), then decreasing gain, then user, then BS index
    u_idx, b_idx = np.meshgrid(np.arange(U), np.arange(B), indexing="ij")
    order = np.lexsort((b_idx.ravel(), u_idx.ravel(), key.ravel(), ~cand.ravel()))
    load = np.zeros(B, np.int64)
    cap = np.asarray(n_rf, np.int64)
    bs = np.full(U, -1, np.int64)
    for k in order:
        u, b = divmod(int(k), B)
        if bs[u] < 0 and load[b] < cap[b]:
            bs[u] = b
            load[b] += 1
    if (bs < 0).any():
        raise MmoptError(f"{int((bs < 0).sum())} users left without a BS: more users than RF chains")
    # eq. (26) without the load limit
    first = np.where(cand, np.nan_to_num(gain, nan=-np.inf), -np.inf).argmax(axis=1)
    sc = np.nan_to_num(np.asarray(scores, float)[np.arange(U), bs], nan=-np.inf)
    beam = sc.argmax(axis=1)                                                      # eq. (27)
    return bs, beam.astype(np.int64), int((first != bs).sum())


def seen_scores(scores: np.ndarray, visible: np.ndarray) -> list:
    """``[[u, b, scores], ...]`` for every (user, BS) pair whose camera sees the user (6 significant digits)."""
    return [[int(u), int(b), [float(f"{x:.6g}") for x in scores[u, b]]]
            for u, b in np.argwhere(np.asarray(visible, bool)) if np.all(np.isfinite(scores[u, b]))]


def _solve(variant: str, instance) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    model = load_model(variant)
    gain, scores = predict(model, instance)
    bs, beam, overflow = decide(gain, instance["visible"], instance["n_rf"], scores)
    dt = time.perf_counter() - t0
    U = len(bs)
    sc = np.nan_to_num(scores[np.arange(U), bs], nan=0.0)
    N = sc.shape[1]
    tp = int(model["in_shape"][0])
    B = int(np.asarray(instance["n_rf"]).shape[0])
    stats = {"beam_scores": [[float(f"{v:.6g}") for v in row] for row in sc],
             "seen_scores": seen_scores(scores, instance["visible"]),
             "beam_rank": [[int(i) for i in np.argsort(-row, kind="stable")[:3]] for row in sc],
             "pred_gain_db": [round(float(gain[u, bs[u]]), 3) for u in range(U)],
             "overflow_users": overflow,
             "pilot_beams": int(B * N * tp) if INPUT[variant] == "sweep_power" else 0,
             "inference_seconds": dt}
    return {"bs": bs, "beam": beam}, stats


def _setup_for(variant: str):
    def setup(**_params):
        """Load the weights and run one forward pass, so forked cells start warm."""
        import torch

        m = load_model(variant)
        shape = [1] + list(m["in_shape"])       # (1, T_p, *frame)
        with torch.no_grad():
            m["net"](torch.zeros(shape), torch.zeros(1, dtype=torch.int64))
    return setup


def _register(variant: str, doc: str):
    def fn(instance):
        return _solve(variant, instance)

    fn.__doc__ = doc
    fn.__name__ = variant.replace("-", "_")
    fn.__qualname__ = fn.__name__
    return solver(variant, problems=[PROBLEM], kind="learned", requires=("torch",), imports=("torch",),
                  weights=_weights_name(variant), train=train_for(variant),
                  setup=_setup_for(variant))(fn)


bem_gbpn = _register("bem-gbpn", "BEM-GBPN (CNN on binary encoding maps, GRU, MoE heads) + eqs. (26)-(27). "
                     "Zero pilot overhead. Inference is deterministic (no parameters).")
bb_gbpn = _register("bb-gbpn", "BB-GBPN (MLP on the 10 x 4 box matrix, GRU, MoE heads) + eqs. (26)-(27).")
p_gbpn = _register("p-gbpn", "P-GBPN (MLP on past beam-sweep powers, GRU, MoE heads) + eqs. (26)-(27); "
                   "uses pilots (B * N_T * T_p per decision).")
bem_gbpn_nomoe = _register("bem-gbpn-nomoe", "BEM-GBPN without MoE (MLP heads V-32-1 and V-128-64) + "
                           "eqs. (26)-(27).")


@solver("oracle-visible", problems=[PROBLEM], kind="reference", certifies=False, version=1)
def oracle_visible(instance):
    """Eqs. (26)-(27) with perfect predictions: the true gain and best beam at every BS that sees the user.

    The ceiling of every predictor under the paper's decision rule (module docstring); status ``best``
    is the rule's value, not a certificate for problem (4).
    """
    G = gain_table(instance)
    vis = np.asarray(instance["visible"], bool)
    need = vis | ~vis.any(axis=1, keepdims=True)
    gain = np.where(need, 10.0 * np.log10(np.maximum(G.max(axis=2), 1e-30)), np.nan)
    scores = np.where(need[:, :, None], G, np.nan)
    bs, beam, overflow = decide(gain, vis, instance["n_rf"], scores)
    U = len(bs)
    return {"bs": bs, "beam": beam}, {
        "value": sum_rate(G, bs, beam), "status": "best", "method": "eq. (26)-(27) with true gains",
        "beam_scores": [G[u, bs[u]].tolist() for u in range(U)],
        "seen_scores": seen_scores(np.where(need[:, :, None], G, np.nan), vis),
        "overflow_users": overflow, "csi": "genie", "pilot_beams": 0}

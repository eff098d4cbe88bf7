r"""Inputs and labels of BEM-GBPN and its variants for ``sumrate-bs-beam`` (numpy only).

Li, Zhou, Guo, Gao, Yang, Ma, "Out-of-Band Modality Synergy Based Multi-User Beam Prediction and
Proactive BS Selection with Zero Pilot Overhead", Sec. III-B-1 (the binary encoding map), Sec. IV-A-3
(the data set), Sec. IV-C-1 (the BB-GBPN and P-GBPN inputs), eqs. (20)-(21) (the labels). The networks
are in :mod:`.gbpn_net`, their training in :mod:`.gbpn_train`, the decision rule and the solvers in
:mod:`.gbpn`.

**Inputs** of user :math:`u` at BS :math:`b` over the frames :math:`t - T_p + 1 .. t` (instance keys;
raw here, scaled by :func:`decode_x`):

* ``bem-gbpn``, ``bem-gbpn-nomoe``: the 2-channel binary encoding map :math:`E_{b,u}`
  (Sec. III-B-1, Fig. 6: channel 0 the user's box, channel 1 every other vehicle's box) at the
  paper's 320 x 480 pixels, read through its row and column occupancy profiles (instance key
  ``bem_profile``), averaged over bins of :data:`ROW_BIN` = 8 rows and :data:`COL_BIN` = 3 columns
  (40 row and 160 column bins: one column bin is 0.75 degree of the 120 degree view) and stored as
  the occupied fraction in 1/255 steps (uint8);
* ``bb-gbpn``: the 10 x 4 box matrix ``box_matrix`` (the user's box first, then the nearest 9 other
  boxes, zero-padded);
* ``p-gbpn``: the past beam-sweep powers ``sweep_power`` (:math:`N_T` per frame), in dB and
  normalised as the gain label (eq. (20)); they need an exhaustive beam sweep in every history frame.

**Labels** from the instance at :math:`t + T_f`: the optimal beamforming gain
:math:`r_{b,u} = \max_n |h_{b,u}^H f_n|^2` (eq. (21); ``gain_future``) in dB, normalised in
training as :math:`r' = (r_{dB} - P_{min})/(P_{max} - P_{min})` (eq. (20)), and the optimal beam
:math:`\arg\max_n |h_{b,u}^H f_n|^2` (the one-hot label :math:`p` of eq. (25); training spreads it
into a soft label, :mod:`.gbpn_train`).

**Samples**: one per (user, BS) pair of a ``train``-suite instance whose user the BS sees at
:math:`t` (``visible``; the paper: vehicles "visually detected by the b-th BS"), pooled over the
BSs. :func:`training_samples` caches the extraction on disk; the four variants share it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from mmopt.registry import get_problem

__all__ = ["PROBLEM", "VARIANTS", "INPUT", "best_beams", "to_db", "features", "instance_samples", "select",
           "training_samples", "decode_x"]

PROBLEM = "sumrate-bs-beam"
VARIANTS = ("bem-gbpn", "bb-gbpn", "p-gbpn", "bem-gbpn-nomoe")
#: input modality of each variant
INPUT = {"bem-gbpn": "bem_profile", "bb-gbpn": "box_matrix", "p-gbpn": "sweep_power",
         "bem-gbpn-nomoe": "bem_profile"}
#: encoding-map size (the scenario's) and the profile bins the networks read
HM, WM = 320, 480
ROW_BIN, COL_BIN = 8, 3
#: version of the extracted samples (part of the cache key)
SAMPLES_VERSION = 3


_BIN_START = np.concatenate([np.arange(0, HM, ROW_BIN), HM + np.arange(0, WM, COL_BIN)])
_BIN_SCALE = np.concatenate([np.full(HM // ROW_BIN, 255.0 / (ROW_BIN * WM)),
                             np.full(WM // COL_BIN, 255.0 / (COL_BIN * HM))]).astype(np.float32)


def bin_profiles(prof: np.ndarray) -> np.ndarray:
    """``bem_profile`` (..., 2, HM + WM) pixel counts -> occupied fractions per bin (..., 2, HM/ROW_BIN + WM/COL_BIN),
    quantised to uint8 (fraction x 255)."""
    prof = np.asarray(prof)
    if prof.shape[-1] != HM + WM:
        raise ValueError(f"bem_profile has {prof.shape[-1]} entries per channel, the networks read {HM} + {WM}")
    return np.rint(np.add.reduceat(prof, _BIN_START, axis=-1, dtype=np.int32) * _BIN_SCALE).astype(np.uint8)


def best_beams(instance) -> np.ndarray:
    """Optimal beam index (U, B) at :math:`t + T_f`: ``argmax_n |H[u,b]^H f_n|^2``."""
    g = np.abs(np.asarray(instance["H"]).conj() @ np.asarray(instance["codebook"]).T) ** 2
    return g.argmax(axis=-1)


def to_db(x) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(np.asarray(x, float), 1e-12))


def features(instance, variant: str, pairs: np.ndarray) -> dict:
    """Network input of the (user, BS) ``pairs`` (n, 2) of one instance (raw: scaling happens in the model).

    ``x``: binned profiles of ``bem_profile`` (bem, uint8, :func:`bin_profiles`), the box matrix
    (bb) or the sweep powers in dB (p); ``bs``: the BS index.
    """
    u, b = pairs[:, 0], pairs[:, 1]
    key = INPUT[variant]
    arr = np.asarray(instance[key])[u, b]
    if key == "bem_profile":
        arr = bin_profiles(arr)
        x = arr.reshape(len(pairs), -1)
    elif key == "sweep_power":
        x = to_db(arr).astype(np.float32)
    else:
        x = arr.astype(np.float32)
    return {"x": x, "bs": b.astype(np.int64), "shape": np.array(arr.shape[1:], np.int64)}


def instance_samples(instance, variants=VARIANTS) -> dict:
    """Training samples of one instance: every (user, BS) pair with ``visible``.

    ``x:<key>`` holds the raw input of each input key the ``variants`` use.
    """
    vis = np.asarray(instance["visible"], bool)
    pairs = np.argwhere(vis)
    out = {}
    for v in variants:
        key = INPUT[v]
        if f"x:{key}" not in out:
            f = features(instance, v, pairs)
            out[f"x:{key}"], out[f"shape:{key}"] = f["x"], f["shape"]
    out["bs"] = pairs[:, 1].astype(np.int64)
    out["user"] = pairs[:, 0].astype(np.int64)
    out["gain_db"] = to_db(np.asarray(instance["gain_future"]))[pairs[:, 0], pairs[:, 1]].astype(np.float32)
    out["beam"] = best_beams(instance)[pairs[:, 0], pairs[:, 1]].astype(np.int64)
    out["n_beams"] = np.array(np.asarray(instance["codebook"]).shape[0], np.int64)
    return out


def select(data: dict, variant: str) -> dict:
    """The samples of ``data`` (from :func:`training_samples`) as one variant's input ``x`` and ``shape``."""
    key = INPUT[variant]
    out = {k: v for k, v in data.items() if ":" not in k}
    out["x"], out["shape"] = data[f"x:{key}"], data[f"shape:{key}"]
    return out


def _cache_dir() -> Path | None:
    d = os.environ.get("MMOPT_TRAIN_CACHE")
    if d == "0":
        return None
    return Path(d) if d else Path.home() / ".cache" / "mmopt" / "train"


def training_samples(suite: str = "train", count: int | None = None) -> tuple[dict, dict]:
    """Samples (every input key) of the first ``count`` instances of ``suite`` (all if None).

    Each sample carries its instance index (``inst``, for the validation
    split). Extracted samples are cached on disk (``MMOPT_TRAIN_CACHE``,
    default ``~/.cache/mmopt/train``; ``0`` disables) under a key holding the
    first instance's hash, so a changed scenario never reuses them; the four
    variants share one extraction.
    """

    prob = get_problem(PROBLEM)
    s = prob.suite(suite)
    n = s.count if count is None else min(int(count), s.count)
    first = prob.generate(suite, 0)
    key = hashlib.sha256(json.dumps([first.hash, suite, n, s.seed, SAMPLES_VERSION]).encode()).hexdigest()[:16]
    cdir = _cache_dir()
    path = cdir / f"{PROBLEM}-{suite}-{key}.npz" if cdir else None
    meta = {"train_suite": suite, "train_instances": n}
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, meta
    parts = []
    for i in range(n):
        inst = first if i == 0 else prob.generate(suite, i)
        smp = instance_samples(inst)
        smp["inst"] = np.full(len(smp["bs"]), i, np.int64)
        parts.append(smp)
    out = {k: (np.concatenate([p[k] for p in parts]) if not (k.startswith("shape:") or k == "n_beams")
               else parts[0][k]) for k in parts[0]}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez(tmp, **out)
        os.replace(tmp, path)
    return out, meta


def decode_x(x: np.ndarray, shape: np.ndarray, variant: str, p_min: float, p_max: float) -> np.ndarray:
    """Raw sample input -> float32 network input (n, *shape).

    Binned profiles become fractions in [0, 1]; sweep powers (dB) are normalised with the gain label's
    :math:`P_{min}, P_{max}` as in eq. (20), clipped to [-1, 1.5]; box matrices pass unchanged.
    """
    n = len(x)
    if INPUT[variant] == "bem_profile":
        return (np.asarray(x, np.float32).reshape(n, *shape) / 255.0).astype(np.float32)
    if INPUT[variant] == "sweep_power":
        return np.clip((x - p_min) / (p_max - p_min), -1.0, 1.5).astype(np.float32)
    return np.asarray(x, np.float32)

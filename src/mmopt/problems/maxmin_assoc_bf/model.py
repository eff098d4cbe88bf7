r"""The SINR and objective of ``maxmin-assoc-bf`` (Li, Liu, Yu, multimodal GNN, eqs. (1)-(6)).

.. math::

    \mathrm{SINR}_k = \frac{|h_{k,a_k}^H v_k|^2}{\sum_{i \ne k} |h_{k,a_i}^H v_i|^2 + \sigma_k^2},
    \qquad \text{objective } \min_k \log_2(1 + \mathrm{SINR}_k).

Shared by the problem's checker and objective (:mod:`.problem`) and by the certified
fixed-association beamformers (:mod:`.duality`, :mod:`.socp`).
"""
from __future__ import annotations

import numpy as np

__all__ = ["SINR_BLOCK_ELEMENTS", "ap_powers", "min_rate", "sinr"]


#: largest (K, K, M) temporary built in one piece by :func:`sinr`; beyond it the sum runs in blocks
SINR_BLOCK_ELEMENTS = 1 << 22


def sinr(H: np.ndarray, noise: np.ndarray, assoc: np.ndarray, V: np.ndarray) -> np.ndarray:
    """SINR of every user (eq. (2)) for association ``assoc`` (K,) and beams ``V`` (K, M).

    Small instances build ``A[k, i] = h_{k, a_i}`` (K, K, M) at once; large
    ones (K = 10000) sum the received powers AP by AP in row blocks, with
    memory O(block + K M).
    """
    K, _, M = H.shape
    if K * K * M > SINR_BLOCK_ELEMENTS:
        return _sinr_blocked(H, noise, assoc, V)
    A = H[:, assoc, :]                              # A[k, i] = h_{k, a_i}
    amp = np.einsum("kim,im->ki", A.conj(), V)      # h_{k,a_i}^H v_i
    pw = np.abs(amp) ** 2
    sig = np.diag(pw).copy()
    interf = pw.sum(axis=1) - sig
    return sig / (interf + noise)


def _sinr_blocked(H, noise, assoc, V) -> np.ndarray:
    K, _, M = H.shape
    total = np.zeros(K)
    sig = np.zeros(K)
    for l in np.unique(assoc):
        idx = np.flatnonzero(assoc == l)
        Hl = H[:, l, :].conj()                      # (K, M)
        Vl = V[idx]                                  # (n_l, M)
        step = max(1, SINR_BLOCK_ELEMENTS // (4 * max(idx.size, 1)))
        for s0 in range(0, K, step):
            total[s0:s0 + step] += (np.abs(Hl[s0:s0 + step] @ Vl.T) ** 2).sum(axis=1)
        sig[idx] = np.abs(np.einsum("im,im->i", Hl[idx], Vl)) ** 2
    return sig / (total - sig + noise)


def min_rate(H, noise, assoc, V) -> float:
    """Objective: ``min_k log2(1 + SINR_k)`` in bit/s/Hz."""
    return float(np.log2(1.0 + sinr(H, noise, assoc, V)).min())


def ap_powers(assoc: np.ndarray, V: np.ndarray, L: int) -> np.ndarray:
    return np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=L)

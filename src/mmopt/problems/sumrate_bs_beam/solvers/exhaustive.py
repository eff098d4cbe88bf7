r"""Exhaustive search for ``sumrate-bs-beam`` (Li et al., problem (4) with the rate (5)).

Enumerates every (BS, beam) per user, :math:`(B C)^U` joint choices, in
vectorised chunks, discards those that break a BS's load (4b) and keeps the
largest sum rate (5). Exact (bound = value); declines instances with more than
``max_choices`` joint choices through ``applies`` (U = 2 with B = 4 and 64
beams is 65,536; U = 3 is 1.7e7).
"""
from __future__ import annotations

import numpy as np

from mmopt import solver
from mmopt.api import MmoptError
from mmopt.problems.sumrate_bs_beam import gain_table, sum_rate


def n_choices(instance) -> int:
    U, B = instance["H"].shape[:2]
    return (B * instance["codebook"].shape[0]) ** U


def _applies(instance, *, max_choices=2_000_000, chunk=200_000):
    n = n_choices(instance)
    if n > max_choices:
        return f"{n:.3g} joint choices > max_choices = {max_choices:.3g}"
    return None


def exhaustive_search(G: np.ndarray, n_rf: np.ndarray, chunk: int = 200_000) -> tuple[np.ndarray, np.ndarray, float]:
    """Best (bs, beam, value) over all joint choices of the gain table ``G`` (U, B, C)."""
    U, B, C = G.shape
    K = B * C
    Gf = G.reshape(U, K)
    total = K ** U
    best, best_k = -np.inf, None
    radix = K ** np.arange(U - 1, -1, -1)
    for start in range(0, total, chunk):
        idx = np.arange(start, min(start + chunk, total))
        ch = (idx[:, None] // radix[None, :]) % K                   # (n, U) choice per user
        rx = Gf[np.arange(U)[None, :, None], ch[:, None, :]]       # (n, U, U): power at u of u' 's beam
        sig = np.einsum("nuu->nu", rx)
        val = np.log2(1.0 + sig / (1.0 + rx.sum(axis=2) - sig)).sum(axis=1)
        bsn = ch // C
        load = np.stack([(bsn == b).sum(axis=1) for b in range(B)], axis=1)
        val = np.where((load <= n_rf[None, :]).all(axis=1), val, -np.inf)
        k = int(np.argmax(val))
        if val[k] > best:
            best, best_k = float(val[k]), ch[k].copy()
    bs, beam = np.divmod(best_k, C)
    bs, beam = bs.astype(np.int64), beam.astype(np.int64)
    return bs, beam, sum_rate(G, bs, beam)


@solver("exhaustive", problems=["sumrate-bs-beam"], kind="reference", version=1, applies=_applies)
def sumrate_exhaustive(instance, *, max_choices=2_000_000, chunk=200_000):
    """Every (BS, beam) per user within the loads; exact (declines more than max_choices joint choices)."""
    reason = _applies(instance, max_choices=max_choices)
    if reason:  # a runner that ignores applies() gets an error, never a search of hours
        raise MmoptError(f"exhaustive declines this instance: {reason}")
    G = gain_table(instance)
    bs, beam, value = exhaustive_search(G, np.asarray(instance["n_rf"]), chunk)
    return {"bs": bs, "beam": beam}, {"value": value, "bound": value, "status": "opt", "tolerance": 1e-12,
                                      "choices": n_choices(instance), "csi": "perfect", "pilot_beams": 0}

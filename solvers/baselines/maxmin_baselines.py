"""Baselines of Li, Liu, Yu (Sec. V) for ``maxmin-assoc-bf``."""
from __future__ import annotations

import numpy as np

from mmopt.api import solver
from mmopt.solvers.reference.beamforming import maxmin_beamforming


@solver("max-gain", problems=["maxmin-assoc-bf"], kind="baseline", version=1)
def max_gain(instance, *, inner: str = "socp"):
    """Each user to the AP with the largest ``||h_{k,l}||``, then max-min SINR beamforming."""
    assoc = np.linalg.norm(instance["H"], axis=2).argmax(axis=1).astype(np.int64)
    V, info = maxmin_beamforming(instance, assoc, method=inner)
    return {"assoc": assoc, "V": V}, info

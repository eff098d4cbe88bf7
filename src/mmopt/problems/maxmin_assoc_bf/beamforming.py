r"""Max-min SINR downlink beamforming for a fixed association (``maxmin-assoc-bf``).

For a fixed association ``a`` the problem of Li, Liu, Yu eqs. (1)-(6) is

.. math::

    \gamma^\star(a) = \max_{V} \min_k \mathrm{SINR}_k
    \quad\text{s.t.}\quad \sum_{k: a_k = l} \|v_k\|^2 \le P_l .

Two certified inner methods are registered in :data:`INNER_METHODS`:
``duality`` (the fast default, uplink-downlink duality,
:mod:`mmopt.problems.maxmin_assoc_bf.duality`) and ``socp`` (SOCP
bisection, :mod:`mmopt.problems.maxmin_assoc_bf.socp`). Both return
``(V, info)`` with ``info['sinr']`` achieved by ``V`` and
``info['sinr_upper']`` a certified upper bound.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmopt.api import MmoptError
from mmopt.problems.maxmin_assoc_bf.duality import maxmin_duality
from mmopt.problems.maxmin_assoc_bf.socp import maxmin_socp

__all__ = ["INNER_METHODS", "maxmin_beamforming", "maxmin_duality", "maxmin_socp"]

#: inner methods for a fixed association: name -> f(H, P, noise, assoc, rel_tol) -> (V, info)
INNER_METHODS = {"duality": maxmin_duality, "socp": maxmin_socp}


def maxmin_beamforming(instance: Mapping[str, np.ndarray], assoc, method: str = "duality",
                       rel_tol: float = 1e-6) -> tuple[np.ndarray, dict]:
    """Max-min beamforming for a fixed association with the chosen inner method.

    ``method``: ``"duality"`` (default; uplink-downlink duality fixed point,
    certified, fast) or ``"socp"`` (SOCP bisection). Both return ``(V,
    info)`` with ``info['sinr']`` achieved by ``V`` and ``info['sinr_upper']``
    a certified upper bound within ``rel_tol``.
    """
    if method not in INNER_METHODS:
        raise MmoptError(f"unknown inner beamforming method '{method}' (choose from {', '.join(INNER_METHODS)})")
    return INNER_METHODS[method](instance["H"], instance["P"], instance["noise"], np.asarray(assoc, dtype=np.int64),
                                 rel_tol=rel_tol)

r"""Information ceilings of ``maxmin-assoc-bf``: the best a method can do knowing only positions.

Li, Liu, Yu's location-input GNN (``gnn-i``, Sec. IV) sees the users'
camera-estimated positions (Fig. 5 error model, mean 0.3 m) and nothing of the
channel. With that information and a perfect model of the geometry, a method
can compute the deterministic part of eq. (10) that positions determine, the
line-of-sight and the ground reflection, and decide optimally for it:

.. math::

    (a^\dagger, V^\dagger) = \arg\max_{a, V} \min_k \log_2(1 + \mathrm{SINR}_k(\hat H))

with :math:`\hat H` the line-of-sight + ground model at the estimated
positions (:func:`~mmopt.problems.maxmin_assoc_bf.scenario.los_ground_channels`),
solved exactly (exhaustive search, certified duality beamforming), and scored
on the true channel :math:`H`. ``los-oracle`` is that decision: an estimate of
the ceiling of location-only methods, not a certified bound (a learned method
could exploit the wall reflections' statistics better than the model it
ignores). With ``positions="true"`` it uses the exact positions, which shows
that the ceiling comes from the model (a 0.3 m error is 3.5 wavelengths at
3.5 GHz, so reflected phases are unknowable from positions), not only from the
location error.
"""
from __future__ import annotations

import time

import numpy as np

from mmopt.api import InputError, solver
from mmopt.problems.maxmin_assoc_bf.scenario import los_ground_channels
from mmopt.problems.maxmin_assoc_bf.solvers.baselines import scenario_params
from mmopt.problems.maxmin_assoc_bf.solvers.exhaustive import _applies as _exhaustive_applies, exhaustive

__all__ = ["los_oracle", "model_instance"]

POSITIONS = ("estimated", "true")
#: amplitude weight of the unblocked line-of-sight + ground paths added to the model (-60 dB in power)
UNBLOCKED_WEIGHT = 1e-3


def model_instance(instance, positions: str = "estimated") -> dict:
    """The instance with ``H`` replaced by the line-of-sight + ground model at the given positions.

    Parameters
    ----------
    instance : Instance
        A ``maxmin-assoc-bf`` instance with ``user_pos_est`` (or ``user_pos``) and generator metadata.
    positions : {"estimated", "true"}
        Which positions the model is evaluated at.

    Returns
    -------
    dict
        ``H`` (K, L, M), ``P`` and ``noise`` of the model problem.

    Raises
    ------
    InputError
        For an unknown ``positions``.
    """
    if positions not in POSITIONS:
        raise InputError(f"los-oracle: positions must be one of {', '.join(POSITIONS)}, got '{positions}'")
    pos = np.asarray(instance["user_pos_est" if positions == "estimated" else "user_pos"], dtype=float)
    p = scenario_params(instance)
    # a user the inner block hides from every AP has a zero model channel: the unblocked paths at
    # UNBLOCKED_WEIGHT in amplitude break the tie towards the geometry instead of leaving 0/0
    H = los_ground_channels(pos, p) + UNBLOCKED_WEIGHT * los_ground_channels(pos, {**p, "block_half": 0.0})
    return {"H": H, "P": np.asarray(instance["P"]), "noise": np.asarray(instance["noise"])}


def _applies(instance, *, positions: str = "estimated", **_) -> str | None:
    key = "user_pos_est" if positions == "estimated" else "user_pos"
    if key not in instance:
        return f"the instance has no {key}"
    return _exhaustive_applies(instance)


@solver("los-oracle", problems=["maxmin-assoc-bf"], kind="baseline", version=1, applies=_applies,
        choices={"positions": POSITIONS})
def los_oracle(instance, *, positions: str = "estimated"):
    """Exact optimum for the line-of-sight + ground model at the (estimated) positions, scored on the true channel."""
    t0 = time.perf_counter()
    model = model_instance(instance, positions)
    sol, st = exhaustive(model)
    return ({"assoc": np.asarray(sol["assoc"], dtype=np.int64), "V": np.asarray(sol["V"])},
            {"model_value": st["value"], "model_status": st["status"], "positions": positions,
             "model_seconds": time.perf_counter() - t0})

"""Gymnasium environments of mmopt's problems, registered by id.

``import mmopt.envs`` registers them; entry points are strings, so the engine
imports no problem until an environment is made::

    import gymnasium as gym
    import mmopt.envs  # noqa: F401
    env = gym.make("mmopt/TrajectoryAssoc-v0", instance=inst)

============================  ==========================================================
``mmopt/TrajectoryAssoc-v0``  ``trajectory-assoc``: joint handover and beam tracking along
                              one trajectory (Khosravi et al., Alg. 1, reward eq. (6))
============================  ==========================================================
"""
from __future__ import annotations

import gymnasium as gym

__all__ = ["ENVS"]

#: environment id -> entry point ``module:class`` (imported only when the environment is made)
ENVS = {
    "mmopt/TrajectoryAssoc-v0": "mmopt.problems.trajectory_assoc.env:TrajectoryAssocEnv",
}

for _id, _entry in ENVS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)

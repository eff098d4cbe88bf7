"""``trajectory-assoc``: serving BS per slot along a trajectory (Khosravi et al., joint handover and beam tracking)."""
from .problem import TrajectoryAssoc, gamma_of, slot_gammas, slot_rewards, track_ok  # noqa: F401
from .scenario import DEFAULTS, simulate  # noqa: F401

"""``maxmin-assoc-bf``: max-min fair user association and beamforming (Li, Liu, Yu, multimodal GNN)."""
from .problem import *  # noqa: F401,F403
from .problem import MaxMinAssocBF, PILOT_SWEEP, SUITES, ap_powers, min_rate, sinr  # noqa: F401
from .scenario import (AP_POSITIONS, CAMERA_YAW_DEG, DEFAULTS, GENERATOR_VERSION, PARAMS, camera_visible,  # noqa: F401
                       location_errors, loop_channels, normalised_channels, sample_users)

"""``maxmin-assoc-bf``: max-min fair user association and beamforming (Li, Liu, Yu, multimodal GNN)."""
from .problem import MaxMinAssocBF, PILOT_SWEEP, SUITES, ap_powers, min_rate, sinr  # noqa: F401
from .scenario import (AP_POSITIONS, CAMERA_YAW_DEG, DEFAULTS, GENERATOR_VERSION, PARAMS, camera_visible,  # noqa: F401
                       location_errors, loop_channels, normalised_channels, sample_users)

#: the problem's solvers, imported on first use (Gymnasium-style entry points, ``module:function``);
#: ``kind`` is metadata on each ``@solver``: reference, baseline, learned
SOLVERS = {
    "bnb": "mmopt.problems.maxmin_assoc_bf.solvers.bnb:bnb",
    "exhaustive": "mmopt.problems.maxmin_assoc_bf.solvers.exhaustive:exhaustive",
    "max-gain": "mmopt.problems.maxmin_assoc_bf.solvers.baselines:max_gain",
    "strongest-channel-lmmse": "mmopt.problems.maxmin_assoc_bf.solvers.baselines:strongest_channel_lmmse",
    "exhaustive-lmmse": "mmopt.problems.maxmin_assoc_bf.solvers.baselines:exhaustive_lmmse",
    "los-oracle": "mmopt.problems.maxmin_assoc_bf.solvers.oracles:los_oracle",
    "gnn-i": "mmopt.problems.maxmin_assoc_bf.solvers.gnn:gnn_i",
    "gnn-p": "mmopt.problems.maxmin_assoc_bf.solvers.gnn:gnn_p",
    "gnn-c": "mmopt.problems.maxmin_assoc_bf.solvers.gnn:gnn_c",
    "gnn-direct": "mmopt.problems.maxmin_assoc_bf.solvers.gnn:gnn_direct",
    "gnn-csi-struct": "mmopt.problems.maxmin_assoc_bf.solvers.gnn_struct:gnn_csi_struct",
    "gnn-p-struct": "mmopt.problems.maxmin_assoc_bf.solvers.gnn_struct:gnn_p_struct",
    "gnn-p-lmmse": "mmopt.problems.maxmin_assoc_bf.solvers.gnn_struct:gnn_p_lmmse",
}

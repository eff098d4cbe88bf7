"""``trajectory-assoc``: serving BS per slot along a trajectory (Khosravi et al., joint handover and beam tracking)."""
from .problem import (TrajectoryAssoc, alg1_triggers, gamma_of, off_trigger_switches, slot_gammas,  # noqa: F401
                      slot_rewards, track_ok)
from .scenario import DEFAULTS, draw_realisations, simulate  # noqa: F401

#: the problem's solvers, imported on first use (Gymnasium-style entry points, ``module:function``);
#: ``kind`` is metadata on each ``@solver``: reference, baseline, learned
SOLVERS = {
    "dp": "mmopt.problems.trajectory_assoc.solvers.dp:trajectory_dp",
    "milp": "mmopt.problems.trajectory_assoc.solvers.milp:trajectory_milp",
    "dp-alg1": "mmopt.problems.trajectory_assoc.solvers.dp:trajectory_dp_alg1",
    "greedy": "mmopt.problems.trajectory_assoc.solvers.baselines:greedy",
    "greedy-stale": "mmopt.problems.trajectory_assoc.solvers.baselines:greedy_stale",
    "greedy-alg1": "mmopt.problems.trajectory_assoc.solvers.baselines:greedy_alg1",
    "reactive-max-snr": "mmopt.problems.trajectory_assoc.solvers.baselines:reactive_max_snr",
    "multi-connectivity": "mmopt.problems.trajectory_assoc.solvers.baselines:multi_connectivity",
    "q-learning-handover": "mmopt.problems.trajectory_assoc.solvers.baselines:q_learning_handover",
    "dqn": "mmopt.problems.trajectory_assoc.solvers.dqn:dqn",
    "dqn-handover-only": "mmopt.problems.trajectory_assoc.solvers.dqn:dqn_handover_only",
}

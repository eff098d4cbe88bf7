"""``sumrate-bs-beam``: multi-user sum rate over serving BS and DFT beam (Li et al., OMS / BEM-GBPN)."""
from .problem import (SUITES, SumrateBsBeam, gain_table, genie_assignment, greedy_capacity_assign,  # noqa: F401
                      load_ok, rates, sum_rate, topk_accuracy)
from .scenario import DEFAULTS, beam_gains, simulate  # noqa: F401

#: the problem's solvers, imported on first use (Gymnasium-style entry points, ``module:function``);
#: ``kind`` is metadata on each ``@solver``: reference, baseline, learned
SOLVERS = {
    "bnb": "mmopt.problems.sumrate_bs_beam.solvers.bnb:sumrate_bnb",
    "exhaustive": "mmopt.problems.sumrate_bs_beam.solvers.exhaustive:sumrate_exhaustive",
    "genie-max-gain": "mmopt.problems.sumrate_bs_beam.solvers.baselines:genie_max_gain",
    "reactive-handoff": "mmopt.problems.sumrate_bs_beam.solvers.baselines:reactive_handoff",
    "max-gain-interference-aware": "mmopt.problems.sumrate_bs_beam.solvers.baselines:max_gain_interference_aware",
    "bem-gbpn": "mmopt.problems.sumrate_bs_beam.solvers.gbpn:bem_gbpn",
    "bb-gbpn": "mmopt.problems.sumrate_bs_beam.solvers.gbpn:bb_gbpn",
    "p-gbpn": "mmopt.problems.sumrate_bs_beam.solvers.gbpn:p_gbpn",
    "bem-gbpn-nomoe": "mmopt.problems.sumrate_bs_beam.solvers.gbpn:bem_gbpn_nomoe",
    "oracle-visible": "mmopt.problems.sumrate_bs_beam.solvers.gbpn:oracle_visible",
}

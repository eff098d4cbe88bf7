"""``sumrate-bs-beam``: multi-user sum rate over serving BS and DFT beam (Li et al., OMS / BEM-GBPN)."""
from .problem import (SUITES, SumrateBsBeam, gain_table, genie_assignment, greedy_capacity_assign,  # noqa: F401
                      load_ok, rates, sum_rate, topk_accuracy)
from .scenario import DEFAULTS, beam_gains, simulate  # noqa: F401

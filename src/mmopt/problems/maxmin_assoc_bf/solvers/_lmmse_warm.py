"""Warm-up of the LMMSE baselines (``strongest-channel-lmmse``, ``exhaustive-lmmse``).

Importing this module fills the per-process cache of LMMSE channel
statistics for the default square-road-loop scenario (L = 4 APs, 4 x 4 UPA: the
``small``, ``paper``, ``large`` and ``pilots-*`` suites), about 1 s. The
runner imports a solver's declared ``imports`` once per worker before it
forks the time-limited cells, so the cells inherit the statistics instead of
recomputing them. Other scenarios are computed at first use.
"""
from mmopt.problems.maxmin_assoc_bf import DEFAULTS
from mmopt.problems.maxmin_assoc_bf.solvers.baselines import channel_statistics

channel_statistics(DEFAULTS)

"""``random-beam-config``: beam configurations over zones (Limani Fazliu et al., CRAB, IEEE TWC 2022)."""
from .problem import (RandomBeamConfig, beam_se_bound, components, coverage_sets,  # noqa: F401
                      interference_free_bound, network_rates, own_rates, schedule_stats, single_beam_config, touches,
                      zone_service)
from .scenario import DEFAULTS, simulate  # noqa: F401

#: the problem's solvers, imported on first use (Gymnasium-style entry points, ``module:function``);
#: ``kind`` is metadata on each ``@solver``: reference, baseline, distributed
SOLVERS = {
    "exhaustive": "mmopt.problems.random_beam_config.solvers.exact:exhaustive",
    "bnb": "mmopt.problems.random_beam_config.solvers.exact:bnb",
    "cluster-bound": "mmopt.problems.random_beam_config.solvers.exact:cluster_bound_solver",
    "interference-free-bound": "mmopt.problems.random_beam_config.solvers.exact:if_bound",
    "random": "mmopt.problems.random_beam_config.solvers.baselines:random_config",
    "cawbm": "mmopt.problems.random_beam_config.solvers.baselines:cawbm",
    "dbscan": "mmopt.problems.random_beam_config.solvers.baselines:dbscan",
    "ucb": "mmopt.problems.random_beam_config.solvers.baselines:ucb",
    "ucb-oracle-reward": "mmopt.problems.random_beam_config.solvers.baselines:ucb_oracle",
    "crab": "mmopt.problems.random_beam_config.solvers.crab:crab",
    "crab-map": "mmopt.problems.random_beam_config.solvers.crab:crab_map",
    "crab-beta": "mmopt.problems.random_beam_config.solvers.crab:crab_beta",
}

"""``random-beam-config``: beam configurations over zones (Limani Fazliu et al., CRAB, IEEE TWC 2022)."""
from .problem import (RandomBeamConfig, beam_se_bound, components, coverage_sets,  # noqa: F401
                      interference_free_bound, network_rates, single_beam_config, touches, zone_service)
from .scenario import DEFAULTS, simulate  # noqa: F401

"""``random-beam-config`` with ``mobility="sumo"``: errors without SUMO, vehicles on the streets, determinism."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mmopt.api import Instance, MmoptError
from mmopt.problems.random_beam_config import sumo as sumo_mobility
from mmopt.problems.random_beam_config.scenario import DEFAULTS, simulate, vehicle_positions
from mmopt.registry import get_problem

P = get_problem("random-beam-config")
SMALL = {"G": 3, "nx": 3, "ny": 3, "pitch": 150.0, "vehicles": 40, "drive_s": 5.0, "mobility": "sumo"}


def _sumo_available() -> bool:
    try:
        sumo_mobility.sumo_home()
    except MmoptError:
        return False
    return True


needs_sumo = pytest.mark.skipif(not _sumo_available(), reason='SUMO not installed (pip install "mmopt[sumo]")')


@pytest.fixture
def without_sumo(monkeypatch):
    """A machine without SUMO: no ``sumo`` package to find and no ``$SUMO_HOME``."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "sumo" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delenv("SUMO_HOME", raising=False)


def test_sumo_absent_is_one_line_error_naming_the_extra(without_sumo):
    with pytest.raises(MmoptError) as err:
        P.make_instance(dict(SMALL), np.random.default_rng(0))
    msg = str(err.value)
    assert "\n" not in msg and 'pip install "mmopt[sumo]"' in msg


def test_unknown_mobility_lists_the_allowed_values():
    with pytest.raises(MmoptError) as err:
        simulate({**SMALL, "mobility": "lust"}, np.random.default_rng(0))
    msg = str(err.value)
    assert "\n" not in msg and "'lust'" in msg and "allowed: manhattan, sumo" in msg


def test_explicit_manhattan_is_the_default():
    a = simulate({"G": 3, "vehicles": 30}, np.random.default_rng(5))
    b = simulate({"G": 3, "vehicles": 30, "mobility": "manhattan"}, np.random.default_rng(5))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert all("mobility" not in s.params for s in P.suites.values())


@pytest.mark.parametrize("sumo_installed", [True, False], ids=["sumo-as-installed", "sumo-absent"])
def test_sumo_grid_too_small_is_refused_before_running_sumo(sumo_installed, request):
    if not sumo_installed:
        request.getfixturevalue("without_sumo")     # the grid check needs no SUMO: same error without it
    with pytest.raises(MmoptError, match="nx >= 2, ny >= 2 and one of them >= 3"):
        vehicle_positions({**DEFAULTS, **SMALL, "nx": 2, "ny": 2}, np.random.default_rng(0))


@needs_sumo
def test_sumo_vehicles_on_streets_checked_and_deterministic():
    p = {**DEFAULTS, **SMALL}
    pos = vehicle_positions(p, np.random.default_rng(3))
    assert pos.shape == (40, 2)
    L, half = p["pitch"], p["street_w"] / 2
    lo, hi = -half, (np.array([p["nx"], p["ny"]]) - 1) * L + half
    assert np.all(pos >= lo) and np.all(pos <= hi)
    off_axis = np.abs(pos - np.round(pos / L) * L)          # distance to the nearest x = i L and y = j L
    assert np.all(off_axis.min(axis=1) <= half + 1e-9)
    assert not np.array_equal(pos, vehicle_positions(p, np.random.default_rng(4)))

    arrays = P.make_instance(dict(SMALL), np.random.default_rng(3))
    inst = Instance(arrays, {"problem": P.name})
    P.check_instance(inst)
    assert int(arrays["vehicles"].sum()) == 40
    again = P.make_instance(dict(SMALL), np.random.default_rng(3))
    assert inst.hash == Instance(again, {"problem": P.name}).hash


@needs_sumo
def test_sumo_too_many_vehicles_is_one_line_error():
    p = {**DEFAULTS, **SMALL, "pitch": 60.0, "vehicles": 300, "drive_s": 1.0}
    with pytest.raises(MmoptError) as err:
        vehicle_positions(p, np.random.default_rng(0))
    msg = str(err.value)
    assert "\n" not in msg and "of the 300 vehicles" in msg and "lower 'vehicles'" in msg

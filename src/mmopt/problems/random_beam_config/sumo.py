r"""SUMO mobility of ``random-beam-config`` (``mobility="sumo"``, the optional extra ``sumo``).

The vehicles of the snapshot come from a microscopic simulation of the same
city grid by Eclipse SUMO (the ``eclipse-sumo`` wheel, or the installation at
``$SUMO_HOME``), run headless in a temporary folder:

1. **Network.** ``netgenerate --grid``: ``nx x ny`` junctions ``pitch`` m
   apart, junction (i, j) at (i * pitch, j * pitch) (``--offset.disable-normalization``;
   the net's ``netOffset`` is subtracted all the same), two lanes per
   direction ``street_w / 4`` wide (lane centres 2.5 and 7.5 m right of the
   street axis at ``street_w`` = 20 m, as in the Manhattan model), speed limit
   13.89 m/s, a traffic light at every junction, no U-turns
   (``--no-turnarounds``). The grid needs ``nx, ny >= 2`` and one of them
   ``>= 3``: without U-turns a 2 x 2 grid is two one-way rings, and a single
   street has no edge for ``randomTrips.py`` to route through.
2. **Demand.** ``randomTrips.py`` (run by the current interpreter with
   ``PYTHONHASHSEED=0``, ``--seed`` drawn from the instance generator):
   exactly ``vehicles`` trips departing every ``10 / vehicles`` s over the
   insertion phase [0, 10) s, each at a random free position of its first
   edge (``departPos="random_free"``) at the largest safe speed, through
   ``--intermediate`` random edges: twice as many, plus one, as the streets a
   vehicle at twice the speed limit (SUMO's largest speed factor) could drive
   along by the snapshot, so that routes outlast it.
3. **Simulation.** ``sumo`` (``--seed`` drawn from the instance generator,
   1 s steps, Krauss car following, SUMO's default speed factors, teleporting
   off so every inserted vehicle stays) up to the snapshot at
   t = 10 s + ``ceil(drive_s)`` s, i.e. ``drive_s`` (rounded up to a whole
   step) after the end of the insertion phase; ``--fcd-output`` records that
   step only.

A vehicle's position is SUMO's (the middle of its front bumper), in the
scenario's frame. Every vehicle is in the network at the snapshot unless
SUMO could not insert it (a grid too small for so many vehicles) or its route
ended: then fewer than ``vehicles`` are present, which is an error naming the
parameters to change. The same inputs, seeds and SUMO version give the same
positions; another SUMO version may give others.
"""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from mmopt.api import MmoptError

#: s over which the vehicles depart, before the ``drive_s`` seconds of driving
INSERT_S = 10.0
#: m/s, the grid's speed limit (netgenerate's default, stated)
SPEED = 13.89
#: the largest speed factor of SUMO's default vehicle type (normc(1, 0.1, 0.2, 2))
MAX_SPEED_FACTOR = 2.0
#: m, SUMO's default corner radius at a junction (shortens each street at both ends)
JUNCTION_RADIUS = 4.0

_TOOLS = ("bin/netgenerate", "bin/sumo", "tools/randomTrips.py")


def _exists(home: Path, rel: str) -> bool:
    """Whether SUMO's folder ``home`` holds the tool ``rel`` (with ``.exe`` on Windows)."""
    return (home / rel).is_file() or (home / (rel + ".exe")).is_file()


def sumo_home() -> Path:
    """SUMO's folder: the ``eclipse-sumo`` package's, else ``$SUMO_HOME``; an error naming the extra if neither."""
    homes = []
    spec = importlib.util.find_spec("sumo")
    if spec is not None and spec.origin:
        homes.append(Path(spec.origin).parent)
    if os.environ.get("SUMO_HOME"):
        homes.append(Path(os.environ["SUMO_HOME"]))
    for home in homes:
        if all(_exists(home, rel) for rel in _TOOLS):
            return home
    raise MmoptError('random-beam-config: mobility "sumo" needs SUMO (netgenerate, sumo, randomTrips.py); '
                     'install it with: pip install "mmopt[sumo]"')


def _run(cmd: list[str], env: dict, cwd: str, what: str) -> None:
    """Run one SUMO tool in ``cwd``; its first error line becomes a one-line :class:`MmoptError`."""
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        lines = [ln.strip() for ln in (res.stderr + "\n" + res.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("Error")] or lines or ["no output"]
        raise MmoptError(f"random-beam-config: SUMO's {what} failed (exit {res.returncode}): {errors[0]}")


def _net_offset(net: str) -> np.ndarray:
    """The ``netOffset`` netgenerate added to every coordinate of ``net``."""
    loc = ET.parse(net).getroot().find("location")
    if loc is None:
        return np.zeros(2)
    return np.array([float(v) for v in loc.get("netOffset", "0,0").split(",")], dtype=float)


def _fcd_positions(fcd: str, t: float) -> np.ndarray:
    """(x, y) of the vehicles in the FCD step at time ``t``, ordered by vehicle id (the trip order)."""
    ids, xy = [], []
    for step in ET.parse(fcd).getroot().iter("timestep"):
        if abs(float(step.get("time")) - t) < 1e-6:
            for v in step.iter("vehicle"):
                ids.append(int(v.get("id")))
                xy.append((float(v.get("x")), float(v.get("y"))))
    return np.asarray(xy, dtype=float).reshape(-1, 2)[np.argsort(ids, kind="stable")]


def sumo_snapshot(p: dict, rng: np.random.Generator) -> np.ndarray:
    """Vehicle positions (V, 2) ``drive_s`` seconds after SUMO's insertion phase (see the module docstring)."""
    # the argument checks come first: they need no SUMO, so they give the same error with or without it
    nx, ny, L, w = int(p["nx"]), int(p["ny"]), float(p["pitch"]), float(p["street_w"])
    V = int(p["vehicles"])
    if V < 1:
        raise MmoptError(f"random-beam-config: vehicles must be >= 1, got {V}")
    if min(nx, ny) < 2 or max(nx, ny) < 3:
        raise MmoptError(f'random-beam-config: mobility "sumo" needs nx >= 2, ny >= 2 and one of them >= 3, '
                         f'got {nx} x {ny}')
    home = sumo_home()
    t_snap = INSERT_S + math.ceil(float(p["drive_s"]))
    street = max(L - w - 2 * JUNCTION_RADIUS, 1.0)
    n_via = 2 * math.ceil(t_snap * MAX_SPEED_FACTOR * SPEED / street) + 1
    period = INSERT_S / V
    trip_seed, sim_seed = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    env = dict(os.environ, SUMO_HOME=str(home), PYTHONHASHSEED="0")  # randomTrips.py: no hash-order drift
    with tempfile.TemporaryDirectory(prefix="mmopt-sumo-") as tmp:
        net, trips, fcd = (os.path.join(tmp, f) for f in ("grid.net.xml", "trips.xml", "fcd.xml"))
        _run([str(home / "bin" / "netgenerate"), "--grid",
              "--grid.x-number", str(nx), "--grid.y-number", str(ny), "--grid.length", repr(L),
              "--default.lanenumber", "2", "--default.lanewidth", repr(w / 4), "--default.speed", repr(SPEED),
              "--default-junction-type", "traffic_light", "--no-turnarounds",
              "--offset.disable-normalization", "--no-warnings", "--output-file", net], env, tmp, "netgenerate")
        _run([sys.executable, str(home / "tools" / "randomTrips.py"), "--net-file", net,
              "--output-trip-file", trips, "--seed", str(trip_seed),
              "--begin", "0", "--end", repr((V - 0.5) * period), "--period", repr(period),
              "--intermediate", str(n_via),
              "--trip-attributes", 'departLane="best" departPos="random_free" departSpeed="max"'],
             env, tmp, "randomTrips.py")
        _run([str(home / "bin" / "sumo"), "--net-file", net, "--route-files", trips, "--seed", str(sim_seed),
              "--begin", "0", "--end", repr(t_snap + 1.0), "--step-length", "1", "--time-to-teleport", "-1",
              "--fcd-output", fcd, "--device.fcd.begin", repr(t_snap),
              "--no-step-log", "--no-warnings", "--duration-log.disable"], env, tmp, "sumo")
        offset = _net_offset(net)
        xy = _fcd_positions(fcd, t_snap)
    if len(xy) != V:
        raise MmoptError(f"random-beam-config: SUMO has {len(xy)} of the {V} vehicles on the grid at "
                         f"t = {t_snap:g} s (the others could not enter or have left); lower 'vehicles' or "
                         f"enlarge the grid ('nx', 'ny', 'pitch')")
    return xy - offset

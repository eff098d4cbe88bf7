r"""Simulation core of ``highway-sector-beams`` (Kose, Lee, Foh, Shojafar, MACOL).

A. Kose, H. Lee, C. H. Foh, M. Shojafar, "Multi-agent context learning
strategy for interference-aware beam allocation in mmWave vehicular
communications" (arXiv:2401.02323). This module holds what every strategy,
the oracle and the problem's checker share, so that they all see bit for bit
the same world:

* the mobility (:func:`vehicle_positions`): vehicles on straight lanes at
  constant speed; a vehicle that leaves the section re-enters at its start
  with the next pre-drawn speed (so the number of vehicles stays ``N``).
  Vehicles do not interact (no car following): a lane is a line, not a queue.
  Mobility does not depend on the strategy.
* sector membership (:func:`in_sector`), written only with exactly rounded
  operations (``+ - * ``, comparisons) so that a position tested in any array
  shape gives the same answer;
* the two interference models of the paper: *geometric* (a served vehicle
  inside the sector of another active beam is interfered) and *practical*
  (SINR against a threshold, eq. (1) path loss and Table II link budget,
  ideal sector antennas: full beam gain inside a sector, nothing outside);
* the time-stepped evaluation of a beam -> vehicle assignment and the
  extraction of its connections (maximal runs of one beam serving one
  vehicle).

Time is slotted: step ``t`` covers ``[t dt, (t+1) dt)`` and is evaluated at the
positions at ``t dt``.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from mmopt import phy
from mmopt.api import instance_hash

MODEL_GEOMETRIC = 0
MODEL_PRACTICAL = 1
MODEL_NAMES = {MODEL_GEOMETRIC: "geometric", MODEL_PRACTICAL: "practical"}

_CHUNK = 2048  # time steps per vectorised chunk


# ---------------------------------------------------------------------------
# mobility
# ---------------------------------------------------------------------------


def vehicle_positions(instance: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions and speeds of every vehicle at every step.

    Returns
    -------
    x : ndarray (T, N)
        x coordinate (m) at ``t dt``.
    y : ndarray (N,)
        y coordinate of each vehicle's lane (m), constant.
    speed : ndarray (T, N)
        speed (m/s) during step ``t``.

    Notes
    -----
    Vehicle ``i`` drives lane ``veh_lane[i]`` in direction ``lane_dir``. Pass 0
    starts at ``veh_x0[i]`` at speed ``veh_speed[i, 0]``; when the vehicle
    reaches the end of the section it re-enters at the start with speed
    ``veh_speed[i, k]`` (pass ``k``). Exact piecewise-linear motion, evaluated
    at the step times (no accumulated rounding).
    """
    T = int(instance["n_steps"])
    dt = float(instance["dt"])
    x0s, x1s = (float(v) for v in instance["section"])
    Ls = x1s - x0s
    lanes = np.asarray(instance["veh_lane"])
    d = np.asarray(instance["lane_dir"])[lanes]
    y = np.asarray(instance["lane_y"], dtype=float)[lanes]
    V = np.asarray(instance["veh_speed"], dtype=float)
    N = lanes.size
    times = np.arange(T) * dt
    x = np.empty((T, N))
    speed = np.empty((T, N))
    for i in range(N):
        xi0 = float(instance["veh_x0"][i])
        done0 = (xi0 - x0s) if d[i] > 0 else (x1s - xi0)  # distance already driven on pass 0
        legs = np.concatenate(([(Ls - done0) / V[i, 0]], Ls / V[i, 1:]))
        tau = np.cumsum(legs)  # tau[k]: time the vehicle leaves the section at the end of pass k
        k = np.searchsorted(tau, times, side="right")
        if k.max() >= V.shape[1]:
            raise ValueError(f"vehicle {i}: veh_speed has too few passes for the duration")
        v = V[i, k]
        t_start = np.where(k == 0, 0.0, tau[np.maximum(k - 1, 0)])
        s = np.where(k == 0, done0, 0.0) + v * (times - t_start)
        x[:, i] = x0s + s if d[i] > 0 else x1s - s
        speed[:, i] = v
    return x, y, speed


def passes_needed(duration: float, section_length: float, v_max: float) -> int:
    """Columns of ``veh_speed`` that always cover ``duration`` (with spares)."""
    return int(math.ceil(duration * v_max / section_length)) + 2


# ---------------------------------------------------------------------------
# beams and membership
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BeamArrays:
    """Per-beam constants, computed once (so every caller uses the same bits)."""

    x: np.ndarray
    y: np.ndarray
    cos_t: np.ndarray
    sin_t: np.ndarray
    cos_half: np.ndarray  # cos(width / 2) >= 0 (width <= pi)
    R2: np.ndarray

    @classmethod
    def from_instance(cls, instance: Mapping[str, np.ndarray]) -> "BeamArrays":
        bs = np.asarray(instance["beam_bs"])
        xy = np.asarray(instance["bs_xy"], dtype=float)[bs]
        th = np.asarray(instance["beam_theta"], dtype=float)
        w = np.asarray(instance["beam_width"], dtype=float)
        R = np.asarray(instance["beam_radius"], dtype=float)
        return cls(xy[:, 0].copy(), xy[:, 1].copy(), np.cos(th), np.sin(th), np.cos(w / 2), R * R)

    @property
    def B(self) -> int:
        return self.x.size


def in_sector(px: np.ndarray, py: np.ndarray, beams: BeamArrays, b=None) -> np.ndarray:
    """Whether points are inside sector(s): ``r <= R`` and ``|phi| <= width/2``.

    With ``b=None`` the beam axis is appended last: ``px`` of shape ``S``
    gives ``S + (B,)``. With an index or index array ``b`` broadcastable to
    ``px`` it tests point ``k`` against beam ``b[k]``.
    """
    if b is None:
        px = np.asarray(px)[..., None]
        py = np.asarray(py)[..., None]
        bx, by, c, s, ch, R2 = beams.x, beams.y, beams.cos_t, beams.sin_t, beams.cos_half, beams.R2
    else:
        bx, by, c, s, ch, R2 = (beams.x[b], beams.y[b], beams.cos_t[b], beams.sin_t[b],
                                beams.cos_half[b], beams.R2[b])
    dx = px - bx
    dy = py - by
    d2 = dx * dx + dy * dy
    proj = dx * c + dy * s
    return (d2 <= R2) & (proj >= 0) & (proj * proj >= d2 * (ch * ch))


def distance_to_sector(px, py, bx, by, theta, radius, width) -> np.ndarray:
    """Euclidean distance (m) from points to a sector; 0 inside."""
    px = np.asarray(px, dtype=float)
    py = np.asarray(py, dtype=float)
    dx, dy = px - bx, py - by
    r = np.hypot(dx, dy)
    phi = np.angle(np.exp(1j * (np.arctan2(dy, dx) - theta)))
    half = width / 2
    inside = (r <= radius) & (np.abs(phi) <= half)
    out = np.full(px.shape, np.inf)
    # arc: nearest point on the arc when the angle is inside the wedge
    arc_ok = np.abs(phi) <= half
    out = np.where(arc_ok, np.abs(r - radius), out)
    for a in (theta + half, theta - half):  # the two straight edges (segments)
        ex, ey = math.cos(a), math.sin(a)
        tproj = np.clip(dx * ex + dy * ey, 0.0, radius)
        out = np.minimum(out, np.hypot(dx - tproj * ex, dy - tproj * ey))
    return np.where(inside, 0.0, out)


# ---------------------------------------------------------------------------
# link budget (Table II) and path loss (eq. (1))
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Radio:
    """Link budget in linear units normalised by the noise power."""

    snr0: float  # SNR at 1 m: 10^((P_tx + G - PL0 - N)/10)
    slope: float  # path-loss slope in dB per decade of distance (10 n)
    gamma: float  # SINR threshold, linear

    @classmethod
    def from_instance(cls, instance: Mapping[str, np.ndarray]) -> "Radio":
        noise_dbm = float(phy.w2dbm(phy.thermal_noise_w(float(instance["bandwidth_hz"]), float(instance["noise_figure_db"]))))
        snr0_db = (float(instance["tx_power_dbm"]) + float(instance["beam_gain_db"])
                   - float(instance["pl_intercept_db"]) - noise_dbm)
        return cls(float(phy.db2lin(snr0_db)), float(instance["pl_slope_db"]),
                   float(phy.db2lin(float(instance["sinr_threshold_db"]))))

    def snr_d2(self, d2: np.ndarray) -> np.ndarray:
        """Linear SNR at squared distance ``d2`` (m^2), inside the main lobe (d >= 1 m)."""
        return self.snr0 * np.maximum(d2, 1.0) ** (-self.slope / 20.0)


# ---------------------------------------------------------------------------
# scenario: everything derived from an instance
# ---------------------------------------------------------------------------


class Scenario:
    """Mobility, membership and interference of one instance (read-only)."""

    def __init__(self, instance: Mapping[str, np.ndarray]):
        self.T = int(instance["n_steps"])
        self.dt = float(instance["dt"])
        self.model = int(instance["model"])
        self.beams = BeamArrays.from_instance(instance)
        self.B = self.beams.B
        self.radio = Radio.from_instance(instance)
        self.x, self.y, self.speed = vehicle_positions(instance)
        self.N = self.y.size
        self._inside = None

    # -- membership --------------------------------------------------------
    def inside_all(self) -> np.ndarray:
        """``inside[t, b, v]``: vehicle ``v`` in sector ``b`` at step ``t`` (bool, T x B x N)."""
        if self._inside is None:
            out = np.empty((self.T, self.B, self.N), dtype=bool)
            for t0 in range(0, self.T, _CHUNK):
                t1 = min(t0 + _CHUNK, self.T)
                px = self.x[t0:t1]
                py = np.broadcast_to(self.y, px.shape)
                out[t0:t1] = np.swapaxes(in_sector(px, py, self.beams), 1, 2)
            out.setflags(write=False)
            self._inside = out
        return self._inside

    def vehicle_masks(self) -> np.ndarray:
        """``mask[t, v]``: bit ``b`` set when vehicle ``v`` is in sector ``b`` (int64, T x N)."""
        ins = self.inside_all()
        w = (np.int64(1) << np.arange(self.B, dtype=np.int64))
        out = np.zeros((self.T, self.N), dtype=np.int64)
        for b in range(self.B):
            out |= ins[:, b, :].astype(np.int64) * w[b]
        return out

    def snr(self, b, v, t) -> np.ndarray:
        """Linear SNR of beam(s) ``b`` at vehicle(s) ``v`` at step(s) ``t`` (main lobe)."""
        dx = self.x[t, v] - self.beams.x[b]
        dy = self.y[v] - self.beams.y[b]
        return self.radio.snr_d2(dx * dx + dy * dy)

    # -- interference of one step (strategies) ------------------------------
    def step_status(self, t: int, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interference and rate of the current assignment at step ``t``.

        Parameters
        ----------
        cur : ndarray (B,)
            vehicle served by each beam, ``-1`` idle.

        Returns
        -------
        interfered : ndarray (B,) bool
            served and interfered (geometric: inside another active sector;
            practical: SINR below the threshold).
        rate : ndarray (B,)
            ``log2(1 + SINR)`` bit/s/Hz of served, non-interfered beams, else 0.
        """
        interf, rate = self.evaluate_rows(np.asarray(cur)[None, :], t, t + 1)
        return interf[0], rate[0]

    # -- vectorised evaluation of an assignment -----------------------------
    def evaluate_rows(self, A: np.ndarray, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        """Interference flags and rates of assignment rows ``A`` (steps ``t0..t1-1``)."""
        A = np.asarray(A)
        act = A >= 0
        v = np.where(act, A, 0).astype(np.intp)
        tt = np.arange(t0, t1)[:, None]
        px = self.x[tt, v]  # (C, B)
        py = self.y[v]
        ins = in_sector(px, py, self.beams)  # (C, B, B'): served vehicle of b inside sector b'
        B = self.B
        other = ins & act[:, None, :] & ~np.eye(B, dtype=bool)[None]
        dx = px - self.beams.x[None, :]
        dy = py - self.beams.y[None, :]
        snr = self.radio.snr_d2(dx * dx + dy * dy)  # own link
        if self.model == MODEL_GEOMETRIC:
            interfered = act & other.any(axis=2)
            sinr = snr
        else:
            dxo = px[:, :, None] - self.beams.x[None, None, :]
            dyo = py[:, :, None] - self.beams.y[None, None, :]
            intf = np.where(other, self.radio.snr_d2(dxo * dxo + dyo * dyo), 0.0).sum(axis=2)
            sinr = snr / (1.0 + intf)
            interfered = act & (sinr < self.radio.gamma)
        rate = np.where(act & ~interfered, np.log2(1.0 + sinr), 0.0)
        return interfered, rate

    def evaluate(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interference flags and rates (T x B) of a whole assignment."""
        interf = np.zeros(A.shape, dtype=bool)
        rate = np.zeros(A.shape)
        for t0 in range(0, self.T, _CHUNK):
            t1 = min(t0 + _CHUNK, self.T)
            interf[t0:t1], rate[t0:t1] = self.evaluate_rows(A[t0:t1], t0, t1)
        return interf, rate

    # -- connections ------------------------------------------------------
    def connections(self, A: np.ndarray, interfered: np.ndarray) -> dict[str, np.ndarray]:
        """Connections of an assignment: maximal runs of one beam serving one vehicle.

        Returns a dict of arrays, one entry per connection: ``beam``,
        ``vehicle``, ``start`` (step), ``steps``, ``distance`` (m driven while
        served), ``free_distance`` (m driven during the connection's
        interference-free steps: the total interference-free service distance
        of eq. (10), which integrates over the whole connection),
        ``free_distance_first`` (m driven from the start until the first
        interfered step: generator version 1's definition, which is 0 for a
        connection that starts interfered even when most of it is free),
        ``interfered`` (any interfered step), ``censored`` (still running at
        the last step).
        """
        keys = ("beam", "vehicle", "start", "steps", "distance", "free_distance", "free_distance_first",
                "interfered", "censored")
        out = {k: [] for k in keys}
        T = A.shape[0]
        for b in range(A.shape[1]):
            a = A[:, b].astype(np.int64)
            served = a >= 0
            if not served.any():
                continue
            prev = np.concatenate(([-1], a[:-1]))
            start = served & (a != prev)
            sidx = np.flatnonzero(start)
            run = np.cumsum(start) - 1  # run id of served steps
            ds = np.where(served, self.speed[np.arange(T), np.maximum(a, 0)] * self.dt, 0.0)
            bad = served & interfered[:, b]
            csum = np.concatenate(([0.0], np.cumsum(ds)))
            cfree = np.concatenate(([0.0], np.cumsum(np.where(bad, 0.0, ds))))
            # end (exclusive) of each run
            nxt = np.concatenate((a[1:], [-2]))
            eidx = np.flatnonzero(served & (a != nxt)) + 1
            first_bad = eidx.copy()
            bt = np.flatnonzero(bad)
            if bt.size:
                np.minimum.at(first_bad, run[bt], bt)
            out["beam"].append(np.full(sidx.size, b))
            out["vehicle"].append(a[sidx])
            out["start"].append(sidx)
            out["steps"].append(eidx - sidx)
            out["distance"].append(csum[eidx] - csum[sidx])
            out["free_distance"].append(cfree[eidx] - cfree[sidx])
            out["free_distance_first"].append(csum[first_bad] - csum[sidx])
            out["interfered"].append(first_bad < eidx)
            out["censored"].append(eidx == T)
        if not out["beam"]:
            return {k: np.zeros(0, dtype=bool if k in ("interfered", "censored") else
                                float if "distance" in k else np.int64) for k in out}
        return {k: np.concatenate(v) for k, v in out.items()}


# a few scenarios are reused by check / objective / metrics of the same instance
_CACHE: "OrderedDict[str, Scenario]" = OrderedDict()
_CACHE_SIZE = 3
_LOCK = threading.Lock()


def scenario(instance: Mapping[str, np.ndarray]) -> Scenario:
    """The :class:`Scenario` of an instance (memoised by content hash, thread-safe)."""

    key = instance_hash("highway-sector-beams", {k: np.asarray(v) for k, v in instance.items()})
    with _LOCK:
        sc = _CACHE.get(key)
        if sc is not None:
            _CACHE.move_to_end(key)
            return sc
    sc = Scenario(instance)
    with _LOCK:
        _CACHE[key] = sc
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return sc

r"""Sector geometry and service-distance analysis of the MACOL paper (``highway-sector-beams``).

A. Kose, H. Lee, C. H. Foh, M. Shojafar, "Multi-agent context learning
strategy for interference-aware beam allocation in mmWave vehicular
communications" (MACOL, arXiv:2401.02323), Sec. II and Appendices A and B.
Equation numbers follow the paper: (2) sector travelling-distance CDF,
(3)-(4) the highway CDF, (5)-(7), (9), (10) the interference-free distance,
(8) the interfered area, (11)-(12) its CDF, Appendix A eqs. (18)-(34) the
three exit cases, Appendix B the highway geometry. The paper's highway
layout built on these functions is in
:mod:`mmopt.problems.highway_sector_beams.layout`.

A beam is a sector: origin :math:`(x, y)`, pointing angle :math:`\theta`,
radius :math:`R_B`, beamwidth :math:`\Omega_B`; a point at polar coordinates
:math:`r\angle\phi` relative to the beam axis is inside when
:math:`r \le R_B` and :math:`|\phi| \le \Omega_B/2`.

* :func:`travel_distance` -- the distance a vehicle starting at
  :math:`r\angle\phi` travels in direction :math:`\psi` before it leaves the
  beam, through the left edge, the right edge or the arc (Appendix A):

  .. math::

     L_{\mathrm{left}} = \frac{r \sin(\Omega_B/2 - \phi)}{\sin(\psi - \Omega_B/2)},\quad
     L_{\mathrm{right}} = \frac{r \sin(\Omega_B/2 + \phi)}{-\sin(\psi + \Omega_B/2)},\quad
     L_{\mathrm{arc}} = -r\cos(\psi - \phi) + \sqrt{R_B^2 - r^2 \sin^2(\psi - \phi)},

  the case being set by where :math:`\psi` falls among the directions from
  the start point to the arc's ends :math:`C_R, C_L` and to the origin
  :math:`O` (counter-clockwise: arc between :math:`C_R` and :math:`C_L`, left
  edge between :math:`C_L` and :math:`O`, right edge between :math:`O` and
  :math:`C_R`). :func:`verify_case_geometry` proves with sympy that adjacent
  formulas agree where the cases meet.
* :func:`sector_distance_cdf` -- eq. (2), :math:`F_L(l)` for a start uniform
  in the sector and a uniform direction. It is computed through the chord
  identity: for a fixed direction and a uniform start in a convex set
  :math:`S`, :math:`P(L \le l) = \frac{1}{|S|}\int \min(l, w(t))\,dt`, with
  :math:`w(t)` the length of the chord of :math:`S` at offset :math:`t`
  (a start on a chord of length :math:`w` leaves after a distance uniform on
  :math:`[0, w]`). Hence
  :math:`F_L(l) = \frac{1}{\pi |S|}\int_0^\pi\!\!\int \min(l, w_\psi(t))\,dt\,d\psi`,
  integrated numerically (SciPy ``quad_vec`` over :math:`\psi`,
  Gauss-Legendre over :math:`t` between the chord's breakpoints).
* :func:`service_distance_cdf` -- eqs. (3)-(4) and (11)-(12). On the highway
  the start is uniform on the part of the road inside the beam and the
  direction is set by the lane (:class:`Road`): chords are horizontal, and
  :math:`F^*_L(l) = \int \min(l, w(y))\,dy / \int w(y)\,dy` over the road
  band (Appendix B; by the chord identity the result does not depend on
  which way each lane drives). With neighbour beams :math:`i`, active with
  probability :math:`p_i`, the *interference-free distance* of eq. (10)
  weights each metre of the path by eq. (7)'s :math:`\prod_i \mathcal P_I`
  (:math:`1 - p_i` inside neighbour i's sector, 1 outside):
  :math:`d_\zeta = \int_0^\tau \prod_{i\ne k} \mathcal P_I\,dd`, a
  deterministic length for each start point and direction, and
  :math:`\breve F^*_L(l)` (eqs. (11)-(12)) is the share of start points with
  :math:`d_\zeta \le l`. Along a chord the neighbours cut the path into
  pieces of constant weight g; a start on a piece of length w whose exit-side
  end lies at weighted distance :math:`D_0` from the exit has
  :math:`d_\zeta` uniform on :math:`[D_0, D_0 + g w]`, so

  .. math::

     \breve F^*_L(l) = \frac{1}{A}\int \sum_j \mathrm{clip}\Bigl(\frac{l - D_{0,j}(y)}{g_j(y)}, 0, w_j(y)\Bigr) dy,

  with :math:`A` the road area of the beam; :math:`\breve F^*_L(0) = 0` for
  p < 1 (the direction matters here: the pieces are taken from the exit
  backwards). A variant the paper does not use, ``model="per-connection"``,
  draws each neighbour active for the whole connection with probability
  :math:`p_i` and ends :math:`d_\zeta` at the first active sector
  (:func:`interference_free_distance`; an atom at 0 for starts inside an
  active sector). :func:`interfered_area` is eq. (8),
  :math:`A_I(k) = |S_b \cap S_k \cap \text{road}|`.

**The analysis assumes uniform starts.** Every CDF here averages over
connection starts uniform on the road part of the beam (eq. (12), the
saturated load of Sec. IV-B: the beam picks a vehicle anywhere in it). In
the time-stepped highway (:mod:`mmopt.problems.highway_sector_beams.scenario`)
a beam picks a vehicle when it becomes free, often where the vehicle enters
the beam, so simulated connections are longer than the analysis predicts at
the same activity p: a strategy that avoids interference lies on or right of
the p = 0 curve.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy.integrate import quad_vec
from scipy.special import roots_legendre

__all__ = [
    "TWO_PI", "CASE_LEFT", "CASE_RIGHT", "CASE_ARC", "CASE_NAMES", "DISTANCE_MODELS",
    "Beam", "Road", "travel_distance", "verify_case_geometry", "chord", "sector_distance_cdf",
    "beam_road_area", "interfered_area", "service_distance_cdf", "mean_service_distance",
    "interference_probability", "interference_free_distance",
]

TWO_PI = 2.0 * math.pi
CASE_LEFT, CASE_RIGHT, CASE_ARC = 0, 1, 2
CASE_NAMES = ("left edge", "right edge", "arc")


@dataclass(frozen=True)
class Beam:
    """A sector beam: origin ``(x, y)`` (m), pointing angle ``theta`` (rad,
    counter-clockwise from +x), ``radius`` R_B (m), ``width`` Omega_B (rad,
    at most pi)."""

    x: float
    y: float
    theta: float
    radius: float
    width: float

    def __post_init__(self):
        if not (self.radius > 0):
            raise ValueError(f"beam radius must be > 0, got {self.radius}")
        if not (0 < self.width <= math.pi + 1e-12):
            raise ValueError(f"beam width must be in (0, pi], got {self.width}")

    def contains(self, px, py) -> np.ndarray:
        """Whether points are inside the sector (closed)."""
        dx = np.asarray(px, dtype=float) - self.x
        dy = np.asarray(py, dtype=float) - self.y
        d2 = dx * dx + dy * dy
        proj = dx * math.cos(self.theta) + dy * math.sin(self.theta)
        c = math.cos(self.width / 2)
        return (d2 <= self.radius ** 2) & (proj >= 0) & (proj * proj >= d2 * c * c)

    @property
    def area(self) -> float:
        return 0.5 * self.width * self.radius ** 2


@dataclass(frozen=True)
class Road:
    """The road band ``y_low <= y <= y_high``; vehicles with ``y >= y_split``
    drive towards +x, the others towards -x."""

    y_low: float
    y_high: float
    y_split: float

    def __post_init__(self):
        if not self.y_high > self.y_low:
            raise ValueError("road: y_high must exceed y_low")

    def direction(self, y) -> np.ndarray:
        """+1 (towards +x) or -1 (towards -x) for lane coordinate(s) ``y``."""
        return np.where(np.asarray(y, dtype=float) >= self.y_split, 1, -1)


def _wrap2pi(a):
    return np.mod(a, TWO_PI)


def travel_distance(r, phi, psi, radius: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance travelled inside a beam before leaving it (Appendix A, eqs. (18)-(34)).

    Parameters
    ----------
    r, phi : array_like
        Start point in the beam's polar frame (m, rad; ``phi`` from the beam
        axis, ``|phi| <= width/2``, ``r <= radius``).
    psi : array_like
        Direction of travel in the same frame (rad).
    radius, width : float
        R_B and Omega_B.

    Returns
    -------
    L : ndarray
        Travelling distance (m).
    case : ndarray of int
        ``CASE_LEFT`` (0), ``CASE_RIGHT`` (1) or ``CASE_ARC`` (2): where the
        vehicle leaves.
    """
    r, phi, psi = np.broadcast_arrays(np.asarray(r, float), np.asarray(phi, float), np.asarray(psi, float))
    a = 0.5 * width
    R = float(radius)
    px, py = r * np.cos(phi), r * np.sin(phi)
    psi_L = np.arctan2(R * math.sin(a) - py, R * math.cos(a) - px)  # towards C_L
    psi_R = np.arctan2(-R * math.sin(a) - py, R * math.cos(a) - px)  # towards C_R
    psi_O = np.arctan2(-py, -px)  # towards the origin
    d = _wrap2pi(psi - psi_R)
    aL = _wrap2pi(psi_L - psi_R)
    aO = _wrap2pi(psi_O - psi_R)
    case = np.where(d <= aL, CASE_ARC, np.where(d <= aO, CASE_LEFT, CASE_RIGHT))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(psi - phi)
        L_arc = -r * np.cos(psi - phi) + np.sqrt(np.maximum(R * R - r * r * s * s, 0.0))
        L_left = r * np.sin(a - phi) / np.sin(psi - a)
        L_right = r * np.sin(a + phi) / (-np.sin(psi + a))
    L = np.select([case == CASE_ARC, case == CASE_LEFT], [L_arc, L_left], L_right)
    return np.maximum(L, 0.0), case


def verify_case_geometry() -> dict[str, object]:
    """Check with sympy that the exit formulas of Appendix A agree where the cases meet.

    With the start :math:`P = r\\angle\\phi` and the corners
    :math:`C_{L,R} = R\\angle(\\pm\\Omega/2)`, the direction towards a corner
    is written through its unit vector, and the residuals below simplify to 0:

    * ``left_at_CL``: :math:`L_{left} - |C_L - P|` at :math:`\\psi = \\angle(C_L - P)`;
    * ``arc_at_CL``: :math:`(L + r\\cos(\\psi-\\phi))^2 - (R^2 - r^2\\sin^2(\\psi-\\phi))` with
      :math:`L = |C_L - P|` (the arc formula's square), and the root's sign
      term :math:`L + r\\cos(\\psi - \\phi) = (R^2 - R r\\cos(\\Omega/2 - \\phi))/L \\ge 0`;
    * ``right_at_CR``, ``arc_at_CR``: the same at :math:`C_R`;
    * ``left_at_O``, ``right_at_O``: both edge formulas give :math:`r` towards the origin.

    Returns the simplified residuals (all ``0`` when the geometry holds).
    """
    import sympy as sp

    r, R, phi, a = sp.symbols("r R phi alpha", positive=True)
    P = sp.Matrix([r * sp.cos(phi), r * sp.sin(phi)])
    out: dict[str, object] = {}

    def towards(C):
        D = C - P
        d = sp.sqrt(D[0] ** 2 + D[1] ** 2)
        return D[0] / d, D[1] / d, d  # cos psi, sin psi, |C - P|

    def sin_diff(cp, sp_, ang):  # sin(psi - ang)
        return sp_ * sp.cos(ang) - cp * sp.sin(ang)

    def cos_diff(cp, sp_, ang):  # cos(psi - ang)
        return cp * sp.cos(ang) + sp_ * sp.sin(ang)

    for name, sgn in (("CL", 1), ("CR", -1)):
        C = sp.Matrix([R * sp.cos(a), sgn * R * sp.sin(a)])
        cp, s_, d = towards(C)
        if sgn > 0:
            L_edge = r * sp.sin(a - phi) / sin_diff(cp, s_, a)
            out["left_at_CL"] = sp.simplify(sp.trigsimp(L_edge - d))
        else:
            L_edge = r * sp.sin(a + phi) / (-sin_diff(cp, s_, -a))
            out["right_at_CR"] = sp.simplify(sp.trigsimp(L_edge - d))
        c_pp = cos_diff(cp, s_, phi)
        s_pp = sin_diff(cp, s_, phi)
        sq = sp.expand((d + r * c_pp) ** 2 - (R ** 2 - r ** 2 * s_pp ** 2))
        out[f"arc_at_{name}"] = sp.simplify(sp.trigsimp(sq))
        sign_term = sp.simplify(sp.trigsimp((d + r * c_pp) - (R ** 2 - R * r * sp.cos(a - sgn * phi)) / d))
        out[f"arc_sign_{name}"] = sign_term
    # towards the origin: psi = phi + pi
    psi_O = phi + sp.pi
    out["left_at_O"] = sp.simplify(r * sp.sin(a - phi) / sp.sin(psi_O - a) - r)
    out["right_at_O"] = sp.simplify(r * sp.sin(a + phi) / (-sp.sin(psi_O + a)) - r)
    return out


# -- chords ------------------------------------------------------------------


def chord(beam: Beam, y) -> tuple[np.ndarray, np.ndarray]:
    """The interval ``[lo, hi]`` of x where the horizontal line at ``y`` meets the sector.

    Empty where ``hi <= lo`` (then both are NaN). The sector (width <= pi) is
    the disk intersected with the two half-planes of its straight edges.
    """
    y = np.asarray(y, dtype=float)
    dy = y - beam.y
    h2 = beam.radius ** 2 - dy * dy
    h = np.sqrt(np.maximum(h2, 0.0))
    lo = beam.x - h
    hi = beam.x + h
    ok = h2 >= 0
    for alpha, sgn in ((beam.theta + beam.width / 2, 1.0), (beam.theta - beam.width / 2, -1.0)):
        # inside: sgn * (-sin(alpha) (x - bx) + cos(alpha) dy) <= 0
        k = -sgn * math.sin(alpha)
        c0 = sgn * math.cos(alpha) * dy
        if abs(k) > 1e-12:
            xb = beam.x - c0 / k
            if k > 0:
                hi = np.minimum(hi, xb)
            else:
                lo = np.maximum(lo, xb)
        else:
            ok = ok & (c0 <= 1e-12)
    ok = ok & (hi > lo)
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def _angle_in(ang: float, beam: Beam) -> bool:
    return abs(math.remainder(ang - beam.theta, TWO_PI)) <= beam.width / 2


def _y_breaks(beam: Beam) -> list[float]:
    """y of the vertices and extreme points of the sector (the chord's breakpoints)."""
    a = beam.width / 2
    ys = [beam.y, beam.y + beam.radius * math.sin(beam.theta + a), beam.y + beam.radius * math.sin(beam.theta - a)]
    for ang in (math.pi / 2, -math.pi / 2):
        if _angle_in(ang, beam):
            ys.append(beam.y + beam.radius * math.sin(ang))
    return ys


def _y_range(beam: Beam) -> tuple[float, float]:
    ys = _y_breaks(beam)
    return min(ys), max(ys)


_GL_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _gauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _GL_CACHE:
        _GL_CACHE[n] = roots_legendre(n)
    return _GL_CACHE[n]


def _chord_min_integral(beam: Beam, l: np.ndarray, n: int = 96) -> np.ndarray:
    """``int min(l, w(y)) dy`` over all horizontal chords of the sector (Gauss-Legendre)."""
    ys = sorted(set(_y_breaks(beam)))
    xg, wg = _gauss(n)
    total = np.zeros(l.size)
    for y0, y1 in zip(ys[:-1], ys[1:]):
        if y1 - y0 < 1e-12:
            continue
        yy = 0.5 * (y1 - y0) * xg + 0.5 * (y1 + y0)
        lo, hi = chord(beam, yy)
        w = np.nan_to_num(hi - lo, nan=0.0)
        total += 0.5 * (y1 - y0) * (wg[:, None] * np.minimum(l[None, :], w[:, None])).sum(axis=0)
    return total


def sector_distance_cdf(l, radius: float, width: float, *, epsabs: float = 1e-5, epsrel: float = 1e-5,
                        n: int = 64) -> np.ndarray:
    """Eq. (2): CDF of the travelling distance for a uniform start in the sector and a uniform direction.

    Parameters
    ----------
    l : array_like
        Distances (m).
    radius, width : float
        R_B (m) and Omega_B (rad).

    Returns
    -------
    ndarray
        :math:`F_L(l)`, computed as
        :math:`\\frac{1}{\\pi A}\\int_0^\\pi \\int \\min(l, w_\\psi(t))\\,dt\\,d\\psi`
        (chord identity; see the module docstring). Accuracy about 1e-4
        with the defaults (``n`` Gauss-Legendre nodes per chord piece).
    """
    l = np.atleast_1d(np.asarray(l, dtype=float))
    lp = np.maximum(l, 0.0)
    A = 0.5 * width * radius ** 2
    a = width / 2
    pts = sorted({p % math.pi for p in (a, -a, math.pi / 2 + a, math.pi / 2 - a, math.pi / 2)} - {0.0})

    def f(psi):
        return _chord_min_integral(Beam(0.0, 0.0, -psi, radius, width), lp, n)

    res, _ = quad_vec(f, 0.0, math.pi, epsabs=epsabs, epsrel=epsrel, points=pts)
    return np.where(l < 0, 0.0, np.clip(res / (math.pi * A), 0.0, 1.0))


# -- the highway: road part of a beam and neighbours -------------------------


def _as_probs(p, k: int) -> np.ndarray:
    pv = np.broadcast_to(np.asarray(p, dtype=float), (k,)).astype(float)
    if np.any((pv < 0) | (pv > 1)):
        raise ValueError("activity probabilities must be in [0, 1]")
    return pv


def _road_span(beam: Beam, road: Road) -> tuple[float, float]:
    y0, y1 = _y_range(beam)
    return max(y0, road.y_low), min(y1, road.y_high)


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for c, e in sorted(intervals):
        if out and c <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([c, e])
    return [(c, e) for c, e in out]


def _clipped(beam: Beam, neighbours: Sequence[Beam], y: float):
    """Beam chord [a, b] at y and the neighbours' chords clipped to it (index, c, e)."""
    a, b = (float(v) for v in chord(beam, y))
    if not (b > a):
        return None, []
    cl = []
    for i, nb in enumerate(neighbours):
        c, e = (float(v) for v in chord(nb, y))
        if e > c:
            c, e = max(c, a), min(e, b)
            if e > c:
                cl.append((i, c, e))
    return (a, b), cl


def _subsets(cl, pv):
    """Active subsets of the clipped neighbours with their probabilities."""
    idx = [i for i, _, _ in cl]
    for bits in itertools.product((0, 1), repeat=len(idx)):
        w = 1.0
        act = []
        for bit, (i, c, e) in zip(bits, cl):
            w *= pv[i] if bit else 1.0 - pv[i]
            if bit:
                act.append((c, e))
        if w > 0:
            yield w, act


def _road_integral(beam: Beam, road: Road, neighbours: Sequence[Beam], fun, size: int,
                   epsabs: float = 1e-6, epsrel: float = 1e-6) -> np.ndarray:
    """``int fun(y, chord, clipped neighbours) dy`` over the road band (SciPy ``quad_vec``, max norm).

    The tolerances apply to the integrals (m^2); CDF values come out within
    about 1e-7 of a 1e-9 reference on the paper's beams.
    """
    y0, y1 = _road_span(beam, road)
    if not y1 > y0:
        raise ValueError("the beam does not reach the road")
    pts = set()
    for bm in (beam, *neighbours):
        pts.update(_y_breaks(bm))
    pts = sorted(p for p in pts if y0 < p < y1)

    def f(y):
        ab, cl = _clipped(beam, neighbours, float(y))
        if ab is None:
            return np.zeros(size)
        return fun(float(y), ab, cl)

    res, _ = quad_vec(f, y0, y1, epsabs=epsabs, epsrel=epsrel, points=pts or None, limit=2000, norm="max")
    return res


def beam_road_area(beam: Beam, road: Road) -> float:
    """Area (m^2) of the part of the road inside the beam."""
    return float(_road_integral(beam, road, (), lambda y, ab, cl: np.array([ab[1] - ab[0]]), 1)[0])


def interfered_area(beam: Beam, road: Road, other: Beam) -> float:
    """Eq. (8): :math:`A_I(k)`, the area (m^2) of the road inside both ``beam`` and ``other``."""
    def fun(y, ab, cl):
        return np.array([sum(e - c for _, c, e in cl)])
    return float(_road_integral(beam, road, (other,), fun, 1)[0])


#: models of the interference-free distance: ``"eq10"`` (the paper's eqs. (7), (10): a deterministic,
#: activity-weighted length) and ``"per-connection"`` (a variant the paper does not use: each neighbour
#: active for the whole connection with probability p_i, d_zeta ending at the first active sector)
DISTANCE_MODELS = ("eq10", "per-connection")


def _check_model(model: str) -> None:
    if model not in DISTANCE_MODELS:
        raise ValueError(f"unknown service-distance model '{model}' (choose from {', '.join(DISTANCE_MODELS)})")


def _weighted_pieces(ab, cl, pv, direction: int):
    """Elementary pieces of a chord ordered from the exit backwards: (length w, weight g, D0).

    ``g`` is eq. (7)'s :math:`\\prod_i \\mathcal P_I` on the piece (the product of ``1 - p_i`` over
    the neighbours covering it) and ``D0`` the eq. (10) distance (weighted length) from the
    piece's exit-side end to the exit of the beam.
    """
    a, b = ab
    cuts = sorted({a, b, *[v for _, c, e in cl for v in (c, e)]})
    pieces = []
    for x0, x1 in zip(cuts[:-1], cuts[1:]):
        if x1 - x0 <= 0:
            continue
        mid = 0.5 * (x0 + x1)
        g = 1.0
        for i, c, e in cl:
            if c <= mid <= e:
                g *= 1.0 - pv[i]
        pieces.append((x1 - x0, g))
    if direction > 0:
        pieces = pieces[::-1]
    out, D = [], 0.0
    for w, g in pieces:
        out.append((w, g, D))
        D += g * w
    return out


def service_distance_cdf(beam: Beam, road: Road, l, neighbours: Iterable[Beam] = (), p=0.0, *,
                         model: str = "eq10") -> np.ndarray:
    """:math:`\\breve F^*_L(l)`, eqs. (10)-(12) (:math:`F^*_L`, eqs. (3)-(4), when p = 0 or no neighbours).

    Share of the start points, uniform over the part of the road inside ``beam`` (each driving
    along its lane), whose interference-free distance (eq. (10))

    .. math::

       d_\\zeta = \\int_0^{\\tau} \\prod_{i \\ne k} \\mathcal P_I(r_{i|k}(d), \\phi_{i|k}(d), p_i)\\,dd,
       \\qquad \\mathcal P_I = 1 - p_i \\text{ inside neighbour } i\\text{'s sector, 1 outside (eq. (7))},

    is at most ``l`` (:math:`\\tau` the distance to the beam's exit). :math:`d_\\zeta` is a
    deterministic, activity-weighted length, so :math:`\\breve F^*_L(0) = 0` for every p < 1. Along
    a chord the neighbours cut the path into pieces of constant weight; a start on a piece of
    length w and weight g whose exit-side end is at weighted distance D0 from the exit has
    :math:`d_\\zeta` uniform on [D0, D0 + g w].

    ``model="per-connection"`` is a variant the paper does not use: each neighbour ``i`` is active
    for the whole connection with probability ``p[i]`` and :math:`d_\\zeta` ends at the first active
    sector (an atom :math:`\\breve F^*_L(0)` for starts inside an active neighbour).

    Parameters
    ----------
    beam : Beam
    road : Road
    l : array_like
        Distances (m).
    neighbours : iterable of Beam
        Beams that can interfere.
    p : float or sequence of float
        Activity probabilities :math:`p_i` (a scalar applies to all).
    model : ``"eq10"`` (default) or ``"per-connection"``

    Returns
    -------
    ndarray
        :math:`\\breve F^*_L(l)`.
    """
    _check_model(model)
    l = np.atleast_1d(np.asarray(l, dtype=float))
    lp = np.maximum(l, 0.0)
    nbs = list(neighbours)
    pv = _as_probs(p, len(nbs))
    keep = [i for i in range(len(nbs)) if pv[i] > 0]
    nbs, pv = [nbs[i] for i in keep], pv[keep]

    if model == "eq10":
        def fun(y, ab, cl):
            out = np.zeros(1 + lp.size)
            out[0] = ab[1] - ab[0]
            for w, g, D0 in _weighted_pieces(ab, cl, pv, int(road.direction(y))):
                if g > 0:
                    out[1:] += np.clip((lp - D0) / g, 0.0, w)
                else:
                    out[1:] += np.where(lp >= D0, w, 0.0)
            return out
    else:
        def fun(y, ab, cl):
            a, b = ab
            out = np.zeros(1 + lp.size)
            out[0] = b - a
            for w, act in _subsets(cl, pv):
                merged = _merge(act)
                covered = sum(e - c for c, e in merged)
                edges = [a] + [v for ce in merged for v in ce] + [b]
                pieces = np.array([edges[2 * j + 1] - edges[2 * j] for j in range(len(merged) + 1)])
                pieces = pieces[pieces > 0]
                out[1:] += w * (covered + np.minimum(lp[:, None], pieces[None, :]).sum(axis=1))
            return out

    res = _road_integral(beam, road, nbs, fun, 1 + lp.size)
    return np.where(l < 0, 0.0, np.clip(res[1:] / res[0], 0.0, 1.0))


def mean_service_distance(beam: Beam, road: Road, neighbours: Iterable[Beam] = (), p=0.0, *,
                          model: str = "eq10") -> float:
    """:math:`E[d_\\zeta]` (m) under the same model as :func:`service_distance_cdf`."""
    _check_model(model)
    nbs = list(neighbours)
    pv = _as_probs(p, len(nbs))

    if model == "eq10":
        def fun(y, ab, cl):
            acc = sum(w * (D0 + 0.5 * g * w) for w, g, D0 in _weighted_pieces(ab, cl, pv, int(road.direction(y))))
            return np.array([ab[1] - ab[0], acc])
    else:
        def fun(y, ab, cl):
            a, b = ab
            acc = 0.0
            for w, act in _subsets(cl, pv):
                merged = _merge(act)
                edges = [a] + [v for ce in merged for v in ce] + [b]
                acc += w * sum(max(edges[2 * j + 1] - edges[2 * j], 0.0) ** 2 / 2 for j in range(len(merged) + 1))
            return np.array([b - a, acc])

    res = _road_integral(beam, road, nbs, fun, 2)
    return float(res[1] / res[0])


def interference_probability(beam: Beam, road: Road, neighbours: Iterable[Beam] = (), p=0.0) -> float:
    """Probability that a connection meets an active neighbour before it leaves the beam.

    Direction-dependent (unlike the CDF): a vehicle driving towards +x from
    ``x`` is interfered when an active neighbour's chord ends beyond ``x``.
    """
    nbs = list(neighbours)
    pv = _as_probs(p, len(nbs))

    def fun(y, ab, cl):
        a, b = ab
        d = 1 if y >= road.y_split else -1
        acc = 0.0
        for w, act in _subsets(cl, pv):
            if act:
                acc += w * ((max(e for _, e in act) - a) if d > 0 else (b - min(c for c, _ in act)))
        return np.array([b - a, acc])

    res = _road_integral(beam, road, nbs, fun, 2)
    return float(res[1] / res[0])


def interference_free_distance(beam: Beam, road: Road, x, y, neighbours: Sequence[Beam] = (),
                               active=None) -> np.ndarray:
    """Eqs. (5)-(7): the interference-free distance :math:`d_\\zeta` of vehicles starting at ``(x, y)``.

    Each vehicle drives along its lane (direction from ``road``) until it
    leaves ``beam`` or enters the sector of an active neighbour (0 if it
    starts inside one). ``active`` is a bool array (..., len(neighbours))
    broadcast against the points (default: all active). Points outside the
    beam give NaN.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = np.broadcast_arrays(x, y)
    d = road.direction(y)
    lo, hi = chord(beam, y)
    inside = (x >= lo) & (x <= hi)
    dist = np.where(d > 0, hi - x, x - lo)
    nbs = list(neighbours)
    if nbs:
        act = np.ones(x.shape + (len(nbs),), dtype=bool) if active is None else np.broadcast_to(
            np.asarray(active, dtype=bool), x.shape + (len(nbs),))
        for i, nb in enumerate(nbs):
            c, e = chord(nb, y)
            c = np.where(np.isnan(c), np.inf, c)
            e = np.where(np.isnan(e), -np.inf, e)
            within = (x >= c) & (x <= e)
            ahead = np.where(d > 0, np.where(c > x, c - x, np.inf), np.where(e < x, x - e, np.inf))
            cand = np.where(within, 0.0, ahead)
            dist = np.where(act[..., i], np.minimum(dist, cand), dist)
    return np.where(inside, dist, np.nan)


"""Blockage: which 2-D segments cross which axis-aligned rectangles (buildings, vehicle boxes).

The slab test: a segment ``a + t (b - a)``, ``t`` in ``[shrink, 1 - shrink]``,
crosses the open rectangle ``(xmin, ymin, xmax, ymax)`` when the parameter
intervals inside the two slabs overlap by more than 1e-9.
"""
from __future__ import annotations

import numpy as np

__all__ = ["segments_hit_boxes", "segments_hit_rects"]


def segments_hit_boxes(a: np.ndarray, b: np.ndarray, rects: np.ndarray, shrink: float = 1e-6) -> np.ndarray:
    """Whether segment s (``a[s] -> b[s]``, (S, 2)) crosses the interior of rectangle r, shape (S, R).

    Parameters
    ----------
    a, b : numpy.ndarray
        Segment start and end points, shape (S, 2), in metres.
    rects : numpy.ndarray
        Rectangles ``(xmin, ymin, xmax, ymax)``, shape (R, 4) (or anything that reshapes to it), in metres.
    shrink : float, optional
        Fraction of the segment left out at each end.

    Returns
    -------
    numpy.ndarray
        Boolean, shape (S, R).
    """
    a, b, rects = np.asarray(a, float), np.asarray(b, float), np.asarray(rects, float).reshape(-1, 4)
    out = np.zeros((len(a), len(rects)), dtype=bool)
    if len(a) == 0 or len(rects) == 0:
        return out
    for start in range(0, len(a), 20000):
        A, B = a[start:start + 20000], b[start:start + 20000]
        d = B - A
        t_lo = np.full((len(A), len(rects)), shrink)
        t_hi = np.full((len(A), len(rects)), 1.0 - shrink)
        for ax in (0, 1):
            lo, hi = rects[None, :, ax], rects[None, :, ax + 2]
            da = d[:, ax:ax + 1]
            pa = A[:, ax:ax + 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (lo - pa) / da
                t2 = (hi - pa) / da
            tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
            par = np.abs(da) < 1e-12
            inside = (pa > lo) & (pa < hi)
            tmin = np.where(par, np.where(inside, -np.inf, np.inf), tmin)
            tmax = np.where(par, np.where(inside, np.inf, -np.inf), tmax)
            t_lo = np.maximum(t_lo, tmin)
            t_hi = np.minimum(t_hi, tmax)
        out[start:start + 20000] = t_hi - t_lo > 1e-9
    return out


def segments_hit_rects(a: np.ndarray, b: np.ndarray, rects: np.ndarray, shrink: float = 1e-6) -> np.ndarray:
    """Whether each segment ``a[s] -> b[s]`` crosses any rectangle interior, shape (S,).

    Parameters
    ----------
    a, b : numpy.ndarray
        Segment start and end points, shape (S, 2), in metres.
    rects : numpy.ndarray
        Rectangles ``(xmin, ymin, xmax, ymax)``, shape (R, 4), in metres.
    shrink : float, optional
        Fraction of the segment left out at each end.

    Returns
    -------
    numpy.ndarray
        Boolean, shape (S,).
    """
    return segments_hit_boxes(a, b, rects, shrink).any(axis=1)

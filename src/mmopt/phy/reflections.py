"""Specular reflections: ITU-R P.2040 materials, Fresnel coefficients, the image method."""
from __future__ import annotations

import numpy as np

__all__ = ["itu_permittivity", "fresnel", "mirror"]


def itu_permittivity(material: str, freq_hz: float) -> complex:
    """Complex relative permittivity from ITU-R P.2040 Table 3 (1-100 GHz).

    ``eta = a f^b - j 17.98 c f^d / f`` with ``f`` in GHz.

    Parameters
    ----------
    material : str
        ``concrete``, ``glass``, ``medium-dry-ground`` or ``brick``.
    freq_hz : float
        Frequency in Hz.

    Returns
    -------
    complex
        The relative permittivity ``eta`` (negative imaginary part: losses).

    Raises
    ------
    KeyError
        When the material is not in the table.
    """
    table = {"concrete": (5.24, 0.0, 0.0462, 0.7822), "glass": (6.31, 0.0, 0.0036, 1.3394),
             "medium-dry-ground": (15.0, -0.1, 0.035, 1.63), "brick": (3.91, 0.0, 0.0238, 0.16)}
    a, b, c, d = table[material]
    f = freq_hz / 1e9
    sigma = c * f ** d
    return complex(a * f ** b, -17.98 * sigma / f)


def fresnel(cos_theta, eta: complex, polarisation: str = "TE") -> np.ndarray:
    """Fresnel reflection coefficient at incidence angle ``theta`` from the normal.

    With ``r = sqrt(eta - sin^2 theta)``: ``(cos theta - r) / (cos theta + r)``
    for ``TE``, ``(eta cos theta - r) / (eta cos theta + r)`` otherwise.

    Parameters
    ----------
    cos_theta : array_like
        Cosines of the incidence angles (clipped to [0, 1]), any shape.
    eta : complex
        Relative permittivity of the reflecting material (see :func:`itu_permittivity`).
    polarisation : str, optional
        ``TE`` (perpendicular); anything else gives ``TM`` (parallel).

    Returns
    -------
    numpy.ndarray
        Complex reflection coefficients, the shape of ``cos_theta``.
    """
    cos_theta = np.clip(np.asarray(cos_theta, dtype=float), 0.0, 1.0)
    root = np.sqrt(eta - (1.0 - cos_theta ** 2))
    if polarisation == "TE":
        return (cos_theta - root) / (cos_theta + root)
    return (eta * cos_theta - root) / (eta * cos_theta + root)


def mirror(points, axis: int, plane: float) -> np.ndarray:
    """Image of ``points`` (..., 3) in the plane ``x[axis] = plane`` (image method).

    Parameters
    ----------
    points : array_like
        Points, shape (..., 3) (or (..., D) with ``axis < D``), in metres.
    axis : int
        The coordinate normal to the plane (0: x, 1: y, 2: z).
    plane : float
        The plane's coordinate on that axis, in metres.

    Returns
    -------
    numpy.ndarray
        The mirrored points, a new float array of the same shape.
    """
    img = np.array(points, dtype=float, copy=True)
    img[..., axis] = 2.0 * plane - img[..., axis]
    return img

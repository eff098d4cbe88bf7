"""Physical-layer building blocks shared by the scenario generators.

Antenna arrays, free-space path loss, Fresnel reflection coefficients and
the image method. SI units everywhere (metres, hertz, watts); dB only in
the helpers :func:`db2lin` / :func:`dbm2w`.
"""
from __future__ import annotations

import numpy as np

C0 = 299_792_458.0  # speed of light, m/s


def db2lin(x_db):
    return 10.0 ** (np.asarray(x_db, dtype=float) / 10.0)


def lin2db(x):
    return 10.0 * np.log10(np.asarray(x, dtype=float))


def dbm2w(x_dbm):
    return 10.0 ** ((np.asarray(x_dbm, dtype=float) - 30.0) / 10.0)


def wavelength(freq_hz: float) -> float:
    return C0 / freq_hz


def upa_positions(mr: int, mc: int, spacing: float = 0.5) -> np.ndarray:
    """Element positions of an ``mr x mc`` planar array in wavelengths, (M, 2).

    Column 0 is the horizontal coordinate (across boresight), column 1 the
    vertical one; element ``m = r * mc + c`` sits at ``(c, r) * spacing``,
    centred on the array's phase centre.
    """
    r, c = np.meshgrid(np.arange(mr), np.arange(mc), indexing="ij")
    pos = np.stack([c.ravel(), r.ravel()], axis=1).astype(float) * spacing
    return pos - pos.mean(axis=0)


def array_frame(boresight_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (boresight, horizontal, vertical) of a vertical planar array.

    The array plane is vertical and faces the horizontal direction
    ``boresight_xy``.
    """
    b = np.array([boresight_xy[0], boresight_xy[1], 0.0], dtype=float)
    b /= np.linalg.norm(b)
    e_h = np.array([-b[1], b[0], 0.0])
    e_v = np.array([0.0, 0.0, 1.0])
    return b, e_h, e_v


def steering(directions: np.ndarray, positions: np.ndarray, e_h: np.ndarray, e_v: np.ndarray) -> np.ndarray:
    """Array response ``a(d)_m = exp(j 2 pi p_m . d)`` for unit departure directions.

    ``directions`` (..., 3) unit vectors; ``positions`` (M, 2) in wavelengths.
    Returns (..., M) complex.
    """
    u = directions @ e_h
    w = directions @ e_v
    phase = 2.0 * np.pi * (u[..., None] * positions[:, 0] + w[..., None] * positions[:, 1])
    return np.exp(1j * phase)


def fspl_amplitude(distance: np.ndarray, lam: float) -> np.ndarray:
    """Friis free-space amplitude ``lambda / (4 pi d)`` (path loss law of every path)."""
    return lam / (4.0 * np.pi * np.asarray(distance, dtype=float))


def itu_permittivity(material: str, freq_hz: float) -> complex:
    """Complex relative permittivity from ITU-R P.2040 Table 3 (1-100 GHz).

    ``eta = a f^b - j 17.98 c f^d / f`` with ``f`` in GHz.
    """
    table = {"concrete": (5.24, 0.0, 0.0462, 0.7822), "glass": (6.31, 0.0, 0.0036, 1.3394),
             "medium-dry-ground": (15.0, -0.1, 0.035, 1.63), "brick": (3.91, 0.0, 0.0238, 0.16)}
    a, b, c, d = table[material]
    f = freq_hz / 1e9
    sigma = c * f ** d
    return complex(a * f ** b, -17.98 * sigma / f)


def fresnel(cos_theta: np.ndarray, eta: complex, polarisation: str = "TE") -> np.ndarray:
    """Fresnel reflection coefficient at incidence angle ``theta`` from the normal."""
    cos_theta = np.clip(np.asarray(cos_theta, dtype=float), 0.0, 1.0)
    root = np.sqrt(eta - (1.0 - cos_theta ** 2))
    if polarisation == "TE":
        return (cos_theta - root) / (cos_theta + root)
    return (eta * cos_theta - root) / (eta * cos_theta + root)


def mirror(points: np.ndarray, axis: int, plane: float) -> np.ndarray:
    """Image of ``points`` (..., 3) in the plane ``x[axis] = plane``."""
    img = np.array(points, dtype=float, copy=True)
    img[..., axis] = 2.0 * plane - img[..., axis]
    return img

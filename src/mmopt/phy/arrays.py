"""Antenna arrays: ULA and UPA responses, DFT codebooks."""
from __future__ import annotations

import numpy as np

__all__ = ["upa_positions", "array_frame", "steering", "ula_response", "dft_codebook", "ula_array_factor",
           "contract"]


def upa_positions(mr: int, mc: int, spacing: float = 0.5) -> np.ndarray:
    """Element positions of an ``mr x mc`` planar array in wavelengths, (M, 2).

    Column 0 is the horizontal coordinate (across boresight), column 1 the
    vertical one; element ``m = r * mc + c`` sits at ``(c, r) * spacing``,
    centred on the array's phase centre.

    Parameters
    ----------
    mr : int
        Number of rows (vertical).
    mc : int
        Number of columns (horizontal).
    spacing : float, optional
        Element spacing in wavelengths.

    Returns
    -------
    numpy.ndarray
        Float positions, shape (M, 2) with ``M = mr * mc``, in wavelengths.
    """
    r, c = np.meshgrid(np.arange(mr), np.arange(mc), indexing="ij")
    pos = np.stack([c.ravel(), r.ravel()], axis=1).astype(float) * spacing
    return pos - pos.mean(axis=0)


def array_frame(boresight_xy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (boresight, horizontal, vertical) of a vertical planar array facing ``boresight_xy``.

    Parameters
    ----------
    boresight_xy : array_like
        The horizontal boresight direction ``(x, y)`` (any non-zero length).

    Returns
    -------
    b : numpy.ndarray
        The unit boresight, horizontal, shape (3,).
    e_h : numpy.ndarray
        The horizontal axis across it (``b`` turned 90 degrees counter-clockwise), shape (3,).
    e_v : numpy.ndarray
        The vertical ``(0, 0, 1)``, shape (3,).
    """
    b = np.array([boresight_xy[0], boresight_xy[1], 0.0], dtype=float)
    b /= np.linalg.norm(b)
    e_h = np.array([-b[1], b[0], 0.0])
    e_v = np.array([0.0, 0.0, 1.0])
    return b, e_h, e_v


def steering(directions: np.ndarray, positions: np.ndarray, e_h: np.ndarray, e_v: np.ndarray) -> np.ndarray:
    """Array response ``a(d)_m = exp(j 2 pi p_m . d)`` for unit departure directions.

    Parameters
    ----------
    directions : numpy.ndarray
        Unit departure directions, shape (..., 3).
    positions : numpy.ndarray
        Element positions in wavelengths, shape (M, 2) (horizontal, vertical), see :func:`upa_positions`.
    e_h, e_v : numpy.ndarray
        The array's horizontal and vertical unit vectors, shape (3,), see :func:`array_frame`.

    Returns
    -------
    numpy.ndarray
        Complex responses, shape (..., M), unnormalised (unit-modulus entries).
    """
    u = directions @ e_h
    w = directions @ e_v
    phase = 2.0 * np.pi * (u[..., None] * positions[:, 0] + w[..., None] * positions[:, 1])
    return np.exp(1j * phase)


def ula_response(sin_theta, n: int, spacing: float = 0.5) -> np.ndarray:
    """ULA response ``a(theta)_m = exp(j 2 pi spacing m sin theta)``, m = 0..n-1; shape (..., n), unnormalised.

    Parameters
    ----------
    sin_theta : array_like
        Sines of the angles from broadside, any shape (...).
    n : int
        Number of elements.
    spacing : float, optional
        Element spacing in wavelengths.

    Returns
    -------
    numpy.ndarray
        Complex responses, shape (..., n).
    """
    m = np.arange(n)
    return np.exp(1j * 2.0 * np.pi * spacing * np.asarray(sin_theta, dtype=float)[..., None] * m)


def dft_codebook(n: int) -> np.ndarray:
    """The n-beam DFT codebook of a half-wavelength ULA, (n, n), unit-norm rows.

    Beam ``c`` points at ``sin theta_c = -1 + (2c + 1) / n``:
    ``f_c = a(theta_c) / sqrt(n)``.

    Parameters
    ----------
    n : int
        Number of elements and of beams.

    Returns
    -------
    numpy.ndarray
        Complex codebook, shape (n, n): row ``c`` is beam ``f_c``.
    """
    s = -1.0 + (2.0 * np.arange(n) + 1.0) / n
    return ula_response(s, n) / np.sqrt(n)


def ula_array_factor(x, n: int) -> np.ndarray:
    r""":math:`\frac1n \sum_{m=0}^{n-1} e^{j\pi m x}`: array factor of an n-element half-wavelength ULA.

    Evaluated in closed form (a Dirichlet kernel), with the limit where
    :math:`\sin(\pi x / 2) = 0`.

    Parameters
    ----------
    x : array_like
        Phase step between elements divided by pi, e.g. ``sin(theta) - sin(theta_c)``; any shape.
    n : int
        Number of elements.

    Returns
    -------
    numpy.ndarray
        Complex array factor, the shape of ``x``; modulus at most 1.
    """
    x = np.asarray(x, dtype=float)
    s = np.sin(np.pi * x / 2)
    small = np.abs(s) < 1e-9
    ratio = np.where(small, np.cos(n * np.pi * x / 2) / np.where(small, np.cos(np.pi * x / 2), 1.0),
                     np.sin(n * np.pi * x / 2) / (n * np.where(small, 1.0, s)))
    return np.exp(1j * np.pi * (n - 1) * x / 2) * ratio


def contract(a, b) -> np.ndarray:
    """``a @ b`` for ``a`` (..., K) and ``b`` (K,) or (K, C), bit-identical on every CPU.

    BLAS picks its kernel at run time from the CPU, and kernels round
    differently, so ``@`` can change the last bits of a generated instance
    (and its hash) from one machine to the next. This sums the K products in
    index order with elementwise real arithmetic only (complex operands are
    split into real and imaginary parts), which IEEE 754 rounds the same
    everywhere.

    Parameters
    ----------
    a : array_like
        Left operand, shape (..., K), K >= 1.
    b : array_like
        Right operand, shape (K,) or (K, C).

    Returns
    -------
    numpy.ndarray
        Shape (...) for a vector ``b``, else (..., C); complex when either operand is.
    """
    a, b = np.asarray(a), np.asarray(b)
    vec = b.ndim == 1
    b = b[:, None] if vec else b
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        ar, ai, br, bi = a.real, a.imag, b.real, b.imag
        re = ar[..., 0, None] * br[0] - ai[..., 0, None] * bi[0]
        im = ar[..., 0, None] * bi[0] + ai[..., 0, None] * br[0]
        for k in range(1, a.shape[-1]):
            re = re + (ar[..., k, None] * br[k] - ai[..., k, None] * bi[k])
            im = im + (ar[..., k, None] * bi[k] + ai[..., k, None] * br[k])
        out = re + 1j * im
    else:
        out = a[..., 0, None] * b[0]
        for k in range(1, a.shape[-1]):
            out = out + a[..., k, None] * b[k]
    return out[..., 0] if vec else out


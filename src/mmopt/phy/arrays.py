"""Antenna arrays: ULA and UPA responses, DFT codebooks."""
from __future__ import annotations

import numpy as np


def upa_positions(mr: int, mc: int, spacing: float = 0.5) -> np.ndarray:
    """Element positions of an ``mr x mc`` planar array in wavelengths, (M, 2).

    Column 0 is the horizontal coordinate (across boresight), column 1 the
    vertical one; element ``m = r * mc + c`` sits at ``(c, r) * spacing``,
    centred on the array's phase centre.
    """
    r, c = np.meshgrid(np.arange(mr), np.arange(mc), indexing="ij")
    pos = np.stack([c.ravel(), r.ravel()], axis=1).astype(float) * spacing
    return pos - pos.mean(axis=0)


def array_frame(boresight_xy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (boresight, horizontal, vertical) of a vertical planar array facing ``boresight_xy``."""
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


def ula_response(sin_theta, n: int, spacing: float = 0.5) -> np.ndarray:
    """ULA response ``a(theta)_m = exp(j 2 pi spacing m sin theta)``, m = 0..n-1; shape (..., n), unnormalised."""
    m = np.arange(n)
    return np.exp(1j * 2.0 * np.pi * spacing * np.asarray(sin_theta, dtype=float)[..., None] * m)


def dft_codebook(n: int) -> np.ndarray:
    """The n-beam DFT codebook of a half-wavelength ULA, (n, n), unit-norm rows.

    Beam ``c`` points at ``sin theta_c = -1 + (2c + 1) / n``:
    ``f_c = a(theta_c) / sqrt(n)``.
    """
    s = -1.0 + (2.0 * np.arange(n) + 1.0) / n
    return ula_response(s, n) / np.sqrt(n)


def ula_array_factor(x, n: int) -> np.ndarray:
    r""":math:`\frac1n \sum_{m=0}^{n-1} e^{j\pi m x}`: array factor of an n-element half-wavelength ULA."""
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


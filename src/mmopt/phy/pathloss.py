"""Path-loss laws."""
from __future__ import annotations

import numpy as np

from .units import C0

__all__ = ["fspl_amplitude", "fspl_db", "umi_los_db"]


def fspl_amplitude(distance, lam: float) -> np.ndarray:
    """Friis free-space amplitude ``lambda / (4 pi d)`` (path loss law of every path).

    Parameters
    ----------
    distance : array_like
        Path lengths ``d`` in metres (> 0), any shape.
    lam : float
        Wavelength in metres.

    Returns
    -------
    numpy.ndarray
        Linear amplitude gains, the shape of ``distance``.
    """
    return lam / (4.0 * np.pi * np.asarray(distance, dtype=float))


def fspl_db(distance, freq_hz: float) -> np.ndarray:
    """Free-space path loss ``20 log10(4 pi d f / c)`` in dB.

    Parameters
    ----------
    distance : array_like
        Distances ``d`` in metres (> 0), any shape.
    freq_hz : float
        Carrier frequency ``f`` in Hz.

    Returns
    -------
    numpy.ndarray
        Path losses in dB (positive), the shape of ``distance``.
    """

    return 20.0 * np.log10(4.0 * np.pi * np.asarray(distance, dtype=float) * freq_hz / C0)


def umi_los_db(distance, freq_hz: float, exponent: float = 2.1) -> np.ndarray:
    """3GPP TR 38.901 UMi street-canyon line-of-sight form ``32.4 + 20 log10 f_GHz + 10 n log10 d``.

    Parameters
    ----------
    distance : array_like
        Distances ``d`` in metres (> 0), any shape.
    freq_hz : float
        Carrier frequency in Hz.
    exponent : float, optional
        Path-loss exponent ``n``.

    Returns
    -------
    numpy.ndarray
        Path losses in dB, the shape of ``distance``.
    """
    return 32.4 + 20.0 * np.log10(freq_hz / 1e9) + 10.0 * exponent * np.log10(np.asarray(distance, dtype=float))

"""Path-loss laws."""
from __future__ import annotations

import numpy as np


def fspl_amplitude(distance, lam: float) -> np.ndarray:
    """Friis free-space amplitude ``lambda / (4 pi d)`` (path loss law of every path)."""
    return lam / (4.0 * np.pi * np.asarray(distance, dtype=float))


def fspl_db(distance, freq_hz: float) -> np.ndarray:
    """Free-space path loss ``20 log10(4 pi d f / c)`` in dB."""
    from .units import C0

    return 20.0 * np.log10(4.0 * np.pi * np.asarray(distance, dtype=float) * freq_hz / C0)


def umi_los_db(distance, freq_hz: float, exponent: float = 2.1) -> np.ndarray:
    """3GPP TR 38.901 UMi street-canyon line-of-sight form ``32.4 + 20 log10 f_GHz + 10 n log10 d``."""
    return 32.4 + 20.0 * np.log10(freq_hz / 1e9) + 10.0 * exponent * np.log10(np.asarray(distance, dtype=float))

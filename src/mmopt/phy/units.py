"""Constants and unit conversions (dB only at the edges)."""
from __future__ import annotations

import numpy as np

C0 = 299_792_458.0  # speed of light, m/s
#: thermal noise power spectral density at 290 K, dBm/Hz
N0_DBM_HZ = -174.0


def db2lin(x_db):
    """Power ratio from dB: ``10^(x/10)``."""
    return 10.0 ** (np.asarray(x_db, dtype=float) / 10.0)


def lin2db(x):
    """dB from a power ratio: ``10 log10(x)``."""
    return 10.0 * np.log10(np.asarray(x, dtype=float))


def dbm2w(x_dbm):
    """Watts from dBm."""
    return 10.0 ** ((np.asarray(x_dbm, dtype=float) - 30.0) / 10.0)


def w2dbm(x_w):
    """dBm from watts."""
    return 10.0 * np.log10(np.asarray(x_w, dtype=float)) + 30.0


def wavelength(freq_hz: float) -> float:
    """Wavelength ``c / f`` in metres."""
    return C0 / freq_hz


def thermal_noise_w(bandwidth_hz: float, noise_figure_db: float = 0.0, n0_dbm_hz: float = N0_DBM_HZ) -> float:
    """Noise power ``N0 B F`` in watts (``n0_dbm_hz`` + ``10 log10 B`` + ``noise_figure_db`` in dBm)."""
    return float(dbm2w(n0_dbm_hz + noise_figure_db) * bandwidth_hz)


def db2amp(x_db):
    """Amplitude ratio from dB: ``10^(x/20)``."""
    return 10.0 ** (np.asarray(x_db, dtype=float) / 20.0)

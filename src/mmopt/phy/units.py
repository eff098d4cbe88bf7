"""Constants and unit conversions (dB only at the edges)."""
from __future__ import annotations

import numpy as np

__all__ = ["C0", "N0_DBM_HZ", "db2lin", "lin2db", "db2amp", "dbm2w", "w2dbm", "wavelength", "thermal_noise_w"]

#: speed of light in vacuum, m/s
C0 = 299_792_458.0
#: thermal noise power spectral density at 290 K, dBm/Hz
N0_DBM_HZ = -174.0


def db2lin(x_db):
    """Power ratio from dB: ``10^(x/10)``.

    Parameters
    ----------
    x_db : array_like
        Ratios in dB.

    Returns
    -------
    numpy.ndarray
        Linear power ratios, same shape (a NumPy float for a scalar).
    """
    return 10.0 ** (np.asarray(x_db, dtype=float) / 10.0)


def lin2db(x):
    """dB from a power ratio: ``10 log10(x)``.

    Parameters
    ----------
    x : array_like
        Linear power ratios (> 0).

    Returns
    -------
    numpy.ndarray
        Ratios in dB, same shape (a NumPy float for a scalar).
    """
    return 10.0 * np.log10(np.asarray(x, dtype=float))


def dbm2w(x_dbm):
    """Watts from dBm: ``10^((x - 30) / 10)``.

    Parameters
    ----------
    x_dbm : array_like
        Powers in dBm.

    Returns
    -------
    numpy.ndarray
        Powers in W, same shape (a NumPy float for a scalar).
    """
    return 10.0 ** ((np.asarray(x_dbm, dtype=float) - 30.0) / 10.0)


def w2dbm(x_w):
    """dBm from watts: ``10 log10(x) + 30``.

    Parameters
    ----------
    x_w : array_like
        Powers in W (> 0).

    Returns
    -------
    numpy.ndarray
        Powers in dBm, same shape (a NumPy float for a scalar).
    """
    return 10.0 * np.log10(np.asarray(x_w, dtype=float)) + 30.0


def wavelength(freq_hz: float) -> float:
    """Wavelength ``c / f`` in metres.

    Parameters
    ----------
    freq_hz : float
        Carrier frequency in Hz.

    Returns
    -------
    float
        The wavelength in m.
    """
    return C0 / freq_hz


def thermal_noise_w(bandwidth_hz: float, noise_figure_db: float = 0.0, n0_dbm_hz: float = N0_DBM_HZ) -> float:
    """Noise power ``N0 B F`` in watts (``n0_dbm_hz`` + ``10 log10 B`` + ``noise_figure_db`` in dBm).

    Parameters
    ----------
    bandwidth_hz : float
        Bandwidth ``B`` in Hz.
    noise_figure_db : float, optional
        Receiver noise figure ``F`` in dB.
    n0_dbm_hz : float, optional
        Noise power spectral density ``N0`` in dBm/Hz (thermal noise at 290 K by default).

    Returns
    -------
    float
        The noise power in W.
    """
    return float(dbm2w(n0_dbm_hz + noise_figure_db) * bandwidth_hz)


def db2amp(x_db):
    """Amplitude ratio from dB: ``10^(x/20)``.

    Parameters
    ----------
    x_db : array_like
        Ratios in dB.

    Returns
    -------
    numpy.ndarray
        Linear amplitude ratios, same shape (a NumPy float for a scalar).
    """
    return 10.0 ** (np.asarray(x_db, dtype=float) / 20.0)

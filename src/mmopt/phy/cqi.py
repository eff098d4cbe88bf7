"""LTE 4-bit CQI: 3GPP TS 36.213 Table 7.2.3-1 and the spectral-efficiency SINR -> CQI mapping.

The mapping is the "spectral-efficiency based approach" of the ns-3 LTE AMC
model (``PiroEW2010``): the Shannon spectral efficiency with an SNR gap
``Gamma = -ln(5 BER) / 1.5`` (BER = 5e-5, Gamma about 5.53, 7.4 dB),
``s = log2(1 + SINR / Gamma)``, and the CQI is the largest index whose
table efficiency does not exceed ``s`` (CQI 0: out of range, rate 0).
"""
from __future__ import annotations

import numpy as np

__all__ = ["CQI_SE", "BER", "snr_gap", "cqi_index", "cqi_spectral_efficiency", "cqi_min_sinr"]

#: spectral efficiency (bit/s/Hz) of CQI 0..15, TS 36.213 Table 7.2.3-1 (CQI 0 = out of range)
CQI_SE = np.array([0.0, 0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141, 2.4063,
                   2.7305, 3.3223, 3.9023, 4.5234, 5.1152, 5.5547])
#: target bit error rate of the ns-3 ``PiroEW2010`` AMC model
BER = 5e-5


def snr_gap(ber: float = BER) -> float:
    """SNR gap ``-ln(5 BER) / 1.5`` (linear) of the spectral-efficiency mapping.

    Parameters
    ----------
    ber : float, optional
        Target bit error rate.

    Returns
    -------
    float
        The gap, a linear power ratio (about 5.53 for the default BER).
    """
    return float(-np.log(5.0 * ber) / 1.5)


def cqi_index(sinr, ber: float = BER) -> np.ndarray:
    """4-bit CQI (0..15) of a linear SINR: the largest index with ``CQI_SE[cqi] <= log2(1 + SINR / gap)``.

    Parameters
    ----------
    sinr : array_like
        Linear SINRs (negative values count as 0), any shape.
    ber : float, optional
        Target bit error rate of the SNR gap.

    Returns
    -------
    numpy.ndarray
        Integer CQIs, the shape of ``sinr``.
    """
    s = np.log2(1.0 + np.maximum(np.asarray(sinr, dtype=float), 0.0) / snr_gap(ber))
    return np.searchsorted(CQI_SE, s, side="right") - 1


def cqi_spectral_efficiency(sinr, ber: float = BER) -> np.ndarray:
    """Spectral efficiency (bit/s/Hz) of the CQI selected for a linear SINR.

    Parameters
    ----------
    sinr : array_like
        Linear SINRs, any shape.
    ber : float, optional
        Target bit error rate of the SNR gap.

    Returns
    -------
    numpy.ndarray
        ``CQI_SE`` of :func:`cqi_index`, in bit/s/Hz, the shape of ``sinr`` (0 for CQI 0).
    """
    return CQI_SE[cqi_index(sinr, ber)]


def cqi_min_sinr(cqi: int = 1, ber: float = BER) -> float:
    """Smallest linear SINR that reaches ``cqi``: ``gap (2^SE - 1)``.

    Parameters
    ----------
    cqi : int, optional
        The CQI, 0..15.
    ber : float, optional
        Target bit error rate of the SNR gap.

    Returns
    -------
    float
        The threshold SINR, a linear ratio.
    """
    return float(snr_gap(ber) * (2.0 ** CQI_SE[cqi] - 1.0))

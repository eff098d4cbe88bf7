"""Physical-layer building blocks shared by every scenario generator.

Small documented pieces, SI units inside (metres, hertz, watts, linear
ratios), dB only at the edges:

* :mod:`~mmopt.phy.units`: speed of light, dB conversions, thermal noise;
* :mod:`~mmopt.phy.arrays`: ULA and UPA responses, DFT codebooks, the ULA array factor, and
  :func:`~mmopt.phy.contract`, a matrix product that rounds the same on every CPU;
* :mod:`~mmopt.phy.pathloss`: Friis free space, the 3GPP UMi line-of-sight law;
* :mod:`~mmopt.phy.reflections`: ITU-R P.2040 permittivities, Fresnel coefficients, the image method;
* :mod:`~mmopt.phy.blockage`: segment-versus-box tests for blockage by buildings and vehicles;
* :mod:`~mmopt.phy.cqi`: the LTE 4-bit CQI table and the SINR -> CQI mapping (not re-exported here:
  import it from :mod:`mmopt.phy.cqi`).
"""
from .arrays import array_frame, contract, dft_codebook, steering, ula_array_factor, ula_response, upa_positions  # noqa: F401
from .blockage import segments_hit_boxes, segments_hit_rects  # noqa: F401
from .pathloss import fspl_amplitude, fspl_db, umi_los_db  # noqa: F401
from .reflections import fresnel, itu_permittivity, mirror  # noqa: F401
from .units import C0, db2amp, db2lin, dbm2w, lin2db, thermal_noise_w, w2dbm, wavelength  # noqa: F401

__all__ = [
    "array_frame", "contract", "dft_codebook", "steering", "ula_array_factor", "ula_response", "upa_positions",
    "segments_hit_boxes", "segments_hit_rects",
    "fspl_amplitude", "fspl_db", "umi_los_db",
    "fresnel", "itu_permittivity", "mirror",
    "C0", "db2amp", "db2lin", "dbm2w", "lin2db", "thermal_noise_w", "w2dbm", "wavelength",
]

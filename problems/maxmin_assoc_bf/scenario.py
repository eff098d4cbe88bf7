r"""Scenario of ``maxmin-assoc-bf``: the crossroad, users, and the channel of eq. (10).

Li, Liu, Yu, multimodal GNN, Sec. V-A and eqs. (10), (23)-(27); the model is stated in
:mod:`mmopt.problems.maxmin_assoc_bf.problem` (section "Scenario").
"""
from __future__ import annotations

import numpy as np

from mmopt import phy

AP_POSITIONS = np.array([[60.0, -55.0, 15.0], [-55.0, -60.0, 15.0], [-60.0, 55.0, 15.0], [55.0, 60.0, 15.0]])

#: generator parameters: default and meaning (README / ``mmopt describe``)
PARAMS = {
    "K": (6, "users"),
    "L": (4, "APs (the first L of AP_POSITIONS)"),
    "Mr": (4, "UPA rows"), "Mc": (4, "UPA columns (M = Mr Mc)"),
    "freq_hz": (3.5e9, "carrier frequency, Hz"),
    "p_dbm": (25.0, "per-AP power budget P_l, dBm"),
    "noise_dbm": (-55.0, "receiver noise power sigma_k^2, dBm"),
    "half_size": (75.0, "half side of the square crossroad (building faces), m"),
    "road_width": (20.0, "width of each road, m"),
    "user_height": (0.4, "user antenna height, m"),
    "diffuse_db": (-15.0, "diffuse power relative to the line of sight, dB"),
    "n_diffuse": (16, "diffuse sub-paths N_d"),
    "diffuse_spread_deg": (10.0, "angular spread of the diffuse part, degrees"),
    "loc_error_std": (0.2394, "per-axis std of the location estimate, m"),
    "n_pilots": (16, "N_u orthogonal pilot symbols per user"),
    "pilot_snr_db": (-10.0, "per-symbol pilot SNR rho, dB"),
}
DEFAULTS = {k: v for k, (v, _) in PARAMS.items()}


def sample_users(n: int, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Uniform positions on the two crossing roads, (n, 3)."""
    h, w = p["half_size"], p["road_width"]
    along = rng.uniform(-h, h, n)
    across = rng.uniform(-w / 2, w / 2, n)
    road_b = rng.random(n) < 0.5
    x = np.where(road_b, across, along)
    y = np.where(road_b, along, across)
    return np.stack([x, y, np.full(n, p["user_height"])], axis=1)


def crossroad_channels(users: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Raw channels ``g`` (n, L, M) with received amplitude ``g @ v`` (eq. (10)).

    Vectorised over users; ``rng`` draws the diffuse part.
    """
    lam = phy.wavelength(p["freq_hz"])
    L = int(p["L"])
    aps = AP_POSITIONS[:L]
    pos = phy.upa_positions(int(p["Mr"]), int(p["Mc"]))
    M = pos.shape[0]
    n = users.shape[0]
    h_sz, w = p["half_size"], p["road_width"]
    eta_wall = phy.itu_permittivity("concrete", p["freq_hz"])
    eta_gnd = phy.itu_permittivity("medium-dry-ground", p["freq_hz"])
    g = np.zeros((n, L, M), dtype=complex)
    for l, ap in enumerate(aps):
        _, e_h, e_v = phy.array_frame(-ap[:2])
        # (source image, reflection coefficient or None for LOS, validity) per path
        paths = [(np.broadcast_to(ap, users.shape), np.ones(n, dtype=complex))]
        for axis in (0, 1):
            for plane in (-h_sz, h_sz):
                img = phy.mirror(ap, axis, plane)
                d = users - img
                t = (plane - img[axis]) / d[:, axis]              # where the ray meets the plane
                hit = img + t[:, None] * d
                other = 1 - axis
                valid = (t > 0) & (t < 1) & (np.abs(hit[:, other]) <= h_sz) & (np.abs(hit[:, other]) > w / 2)
                cos_i = np.abs(d[:, axis]) / np.linalg.norm(d, axis=1)
                gam = np.where(valid, phy.fresnel(cos_i, eta_wall, "TE"), 0.0)
                paths.append((np.broadcast_to(img, users.shape), gam))
        img = phy.mirror(ap, 2, 0.0)
        d = users - img
        cos_i = np.abs(d[:, 2]) / np.linalg.norm(d, axis=1)
        paths.append((np.broadcast_to(img, users.shape), phy.fresnel(cos_i, eta_gnd, "TM")))
        for src, gam in paths:
            d = users - src
            dist = np.linalg.norm(d, axis=1)
            a = phy.steering(d / dist[:, None], pos, e_h, e_v)
            amp = gam * phy.fspl_amplitude(dist, lam) * np.exp(-2j * np.pi * dist / lam)
            g[:, l] += amp[:, None] * a
        # weak diffuse part around the line of sight
        d0 = users - ap
        dist0 = np.linalg.norm(d0, axis=1)
        az0 = np.arctan2(d0[:, 1], d0[:, 0])
        el0 = np.arcsin(d0[:, 2] / dist0)
        nd = int(p["n_diffuse"])
        s = np.deg2rad(p["diffuse_spread_deg"])
        az = az0[:, None] + s * rng.standard_normal((n, nd))
        el = el0[:, None] + 0.5 * s * rng.standard_normal((n, nd))
        dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)
        c = (rng.standard_normal((n, nd)) + 1j * rng.standard_normal((n, nd))) / np.sqrt(2)
        scale = np.sqrt(phy.db2lin(p["diffuse_db"]) / nd) * phy.fspl_amplitude(dist0, lam)
        g[:, l] += np.einsum("un,unm->um", c * scale[:, None], phy.steering(dirs, pos, e_h, e_v))
    return g


def normalised_channels(users: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Stored channels ``H = conj(g) / sigma`` (n, L, M) (noise-normalised)."""
    sigma = np.sqrt(phy.dbm2w(p["noise_dbm"]))
    return np.conj(crossroad_channels(users, p, rng)) / sigma

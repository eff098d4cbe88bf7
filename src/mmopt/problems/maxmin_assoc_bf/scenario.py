r"""Scenario of ``maxmin-assoc-bf``: the square road loop, users, cameras and the channel of eq. (10).

Li, Liu, Yu, multimodal GNN, Sec. V-A and eqs. (10), (23)-(27); the model is stated in
:mod:`mmopt.problems.maxmin_assoc_bf.problem` (section "Scenario").
"""
from __future__ import annotations

import numpy as np

from mmopt import phy

#: generator version: 1 = two crossing roads; 2 = the paper's square road loop (Sec. V-A), cameras,
#: per-AP location estimates with the Fig. 5 error distribution
GENERATOR_VERSION = 2

AP_POSITIONS = np.array([[60.0, -55.0, 15.0], [-55.0, -60.0, 15.0], [-60.0, 55.0, 15.0], [55.0, 60.0, 15.0]])
#: camera yaw of each AP (degrees; Sec. V-A gives [pitch, -, yaw] = [-30, -224|-315|-43|-135, 0],
#: the middle value is the direction the camera looks in, towards the centre of the loop)
CAMERA_YAW_DEG = np.array([-224.0, -315.0, -43.0, -135.0])

#: generator parameters: default and meaning (README / ``mmopt describe``)
PARAMS = {
    "generator_version": (GENERATOR_VERSION, "scenario generator version (2: square road loop)"),
    "K": (6, "users"),
    "L": (4, "APs (the first L of AP_POSITIONS)"),
    "Mr": (4, "UPA rows"), "Mc": (4, "UPA columns (M = Mr Mc)"),
    "freq_hz": (3.5e9, "carrier frequency, Hz"),
    "p_dbm": (25.0, "per-AP power budget P_l, dBm"),
    "noise_dbm": (-55.0, "receiver noise power sigma_k^2 (APs and users), dBm"),
    "pilot_dbm": (5.0, "per-symbol pilot (vehicle) transmit power, dBm"),
    "loop_side": (110.0, "side of the square road loop, centre line, m"),
    "road_width": (14.0, "width of the loop road (4 lanes of 3.5 m), m"),
    "wall_half": (75.0, "half side of the 150 m x 150 m area: outer building faces, m"),
    "block_half": (45.0, "half side of the building block inside the loop (0: none), m"),
    "user_height": (0.4, "user antenna height, m"),
    "diffuse_db": (-15.0, "diffuse power relative to the free-space line of sight, dB"),
    "n_diffuse": (16, "diffuse sub-paths N_d"),
    "diffuse_spread_deg": (10.0, "angular spread of the diffuse part, degrees"),
    "camera_fov_deg": (100.0, "horizontal field of view of the cameras (1280 x 720 images), degrees"),
    "camera_pitch_deg": (-30.0, "camera pitch (negative: looking down), degrees"),
    "loc_core_std": (0.10, "location error: per-axis std of the Gaussian core, m"),
    "loc_tail_share": (0.30, "location error: share of detections in the tail"),
    "loc_tail_lo": (0.5, "location error: tail radius lower end (uniform), m"),
    "loc_tail_hi": (0.9, "location error: tail radius upper end (uniform), m"),
    "n_pilots": (16, "N_u orthogonal pilot symbols per user"),
    "extra_loss_db": (0.0, "uniform extra path loss on every link, dB (0: none; 'paper-calibrated' fits it to "
                           "the paper's 3.28 bit/s/Hz optimum)"),
}
DEFAULTS = {k: v for k, (v, _) in PARAMS.items()}


def sample_users(n: int, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Uniform positions on the square road loop, (n, 3).

    Uniform along the centre line of the loop (side ``loop_side``, centred on the origin) and
    uniform across the road width (any of its lanes).
    """
    h, w = 0.5 * p["loop_side"], p["road_width"]
    s = rng.uniform(0.0, 8.0 * h, n)                # arc length along the loop
    side = np.minimum((s // (2.0 * h)).astype(int), 3)
    t = s - side * 2.0 * h - h                      # position along the side, -h..h
    off = rng.uniform(-w / 2, w / 2, n)             # lateral offset from the centre line
    # sides: 0 bottom (y = -h), 1 right (x = +h), 2 top (y = +h), 3 left (x = -h)
    x = np.select([side == 0, side == 1, side == 2], [t, h + off, -t], -h + off)
    y = np.select([side == 0, side == 1, side == 2], [-h + off, t, h + off], -t)
    return np.stack([x, y, np.full(n, p["user_height"])], axis=1)


def _block_rect(p: dict) -> np.ndarray:
    b = float(p["block_half"])
    return np.array([[-b, -b, b, b]]) if b > 0 else np.zeros((0, 4))


def loop_channels(users: np.ndarray, p: dict, rng: np.random.Generator | None, walls: bool = True,
                  diffuse: bool = True) -> np.ndarray:
    """Raw channels ``g`` (n, L, M) with received amplitude ``g @ v`` (eq. (10)).

    Vectorised over users; ``rng`` draws the diffuse part. ``walls=False`` and
    ``diffuse=False`` leave out the wall reflections and the diffuse part: the
    line-of-sight + ground-reflection model a location-only method can compute
    from positions (:func:`los_ground_channels`).
    """
    lam = phy.wavelength(p["freq_hz"])
    L = int(p["L"])
    aps = AP_POSITIONS[:L]
    pos = phy.upa_positions(int(p["Mr"]), int(p["Mc"]))
    M = pos.shape[0]
    n = users.shape[0]
    W, B = float(p["wall_half"]), float(p["block_half"])
    rect = _block_rect(p)
    eta_wall = phy.itu_permittivity("concrete", p["freq_hz"])
    eta_gnd = phy.itu_permittivity("medium-dry-ground", p["freq_hz"])

    def clear(a, b):
        """No leg of the 2-D segments a -> b crosses the inner block."""
        return ~phy.segments_hit_rects(a[:, :2], b[:, :2], rect)

    g = np.zeros((n, L, M), dtype=complex)
    for l, ap in enumerate(aps):
        _, e_h, e_v = phy.array_frame(-ap[:2])
        apb = np.broadcast_to(ap, users.shape)
        los = clear(apb, users)
        # (source image, complex coefficient including validity) per path
        paths = [(apb, los.astype(complex))]
        faces = [(axis, plane, W, True) for axis in (0, 1) for plane in (-W, W)] if walls else []
        if B > 0 and walls:
            faces += [(axis, plane, B, False) for axis in (0, 1) for plane in (-B, B)]
        for axis, plane, half, outer in faces:
            img = phy.mirror(ap, axis, plane)
            d = users - img
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (plane - img[axis]) / d[:, axis]          # where the unfolded ray meets the plane
            hit = img + t[:, None] * d
            other = 1 - axis
            valid = (t > 0) & (t < 1) & (np.abs(hit[:, other]) <= half)
            if not outer:   # a face of the inner block reflects only rays arriving from outside it
                sgn = np.sign(plane)
                valid &= (sgn * ap[axis] > B) & (sgn * users[:, axis] > B)
            hitc = np.where(valid[:, None], hit, users)
            valid &= clear(apb, hitc) & clear(hitc, users)
            cos_i = np.abs(d[:, axis]) / np.linalg.norm(d, axis=1)
            gam = np.where(valid, phy.fresnel(cos_i, eta_wall, "TE"), 0.0)
            paths.append((np.broadcast_to(img, users.shape), gam))
        img = phy.mirror(ap, 2, 0.0)
        d = users - img
        cos_i = np.abs(d[:, 2]) / np.linalg.norm(d, axis=1)
        paths.append((np.broadcast_to(img, users.shape), np.where(los, phy.fresnel(cos_i, eta_gnd, "TM"), 0.0)))
        for src, gam in paths:
            d = users - src
            dist = np.linalg.norm(d, axis=1)
            a = phy.steering(d / dist[:, None], pos, e_h, e_v)
            amp = gam * phy.fspl_amplitude(dist, lam) * np.exp(-2j * np.pi * dist / lam)
            g[:, l] += amp[:, None] * a
        if not diffuse:
            continue
        # weak diffuse part around the direct direction
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
    """Stored channels ``H = conj(g) / sigma`` (n, L, M) (noise-normalised).

    ``extra_loss_db`` (default 0, a fit and not a model: see the ``paper-calibrated`` suite) scales
    every link by ``10 ** (-extra_loss_db / 20)``.
    """
    sigma = np.sqrt(phy.dbm2w(p["noise_dbm"]))
    H = np.conj(loop_channels(users, p, rng)) / sigma
    extra = float(p.get("extra_loss_db", 0.0))
    return H * 10.0 ** (-extra / 20.0) if extra else H


def los_ground_channels(users: np.ndarray, p: dict) -> np.ndarray:
    """Noise-normalised line-of-sight + ground-reflection channels (n, L, M) at ``users``' positions.

    The deterministic part of eq. (10) that positions determine without the
    walls' reflections and the diffuse part: what a method that knows only
    (estimated) positions and the map can compute. Same normalisation and
    ``extra_loss_db`` as :func:`normalised_channels`.
    """
    sigma = np.sqrt(phy.dbm2w(p["noise_dbm"]))
    H = np.conj(loop_channels(users, p, None, walls=False, diffuse=False)) / sigma
    extra = float(p.get("extra_loss_db", 0.0))
    return H * 10.0 ** (-extra / 20.0) if extra else H


def camera_visible(users: np.ndarray, p: dict) -> np.ndarray:
    """Whether user k lies in the image of AP l's camera, (n, L) bool.

    Pinhole camera at the AP position, yaw :data:`CAMERA_YAW_DEG`, pitch ``camera_pitch_deg``,
    horizontal field of view ``camera_fov_deg`` on a 16:9 image; the view is blocked where the
    sight line crosses the building block inside the loop.
    """
    L = int(p["L"])
    aps = AP_POSITIONS[:L]
    yaw = np.deg2rad(CAMERA_YAW_DEG[:L])
    pitch = np.deg2rad(p["camera_pitch_deg"])
    fwd = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.full(L, np.sin(pitch))], axis=1)
    right = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros(L)], axis=1)
    up = np.cross(right, fwd)
    th = np.tan(np.deg2rad(p["camera_fov_deg"]) / 2)
    tv = th * 720.0 / 1280.0
    d = users[:, None, :] - aps[None, :, :]                          # (n, L, 3)
    xc = np.einsum("nld,ld->nl", d, fwd)
    yc = np.einsum("nld,ld->nl", d, right)
    zc = np.einsum("nld,ld->nl", d, up)
    with np.errstate(divide="ignore", invalid="ignore"):
        vis = (xc > 0) & (np.abs(yc) <= th * xc) & (np.abs(zc) <= tv * xc)
    rect = _block_rect(p)
    n = users.shape[0]
    for l in range(L):
        vis[:, l] &= ~phy.segments_hit_rects(np.broadcast_to(aps[l, :2], (n, 2)), users[:, :2], rect)
    return vis


def location_errors(shape: tuple, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Horizontal location-estimate errors (..., 2), m: the image detector of Fig. 5.

    A mixture: with probability ``1 - loc_tail_share`` a 2-D Gaussian of per-axis std
    ``loc_core_std``; otherwise a radius uniform on [``loc_tail_lo``, ``loc_tail_hi``]. Uniform
    direction. Defaults: mean radial error 0.30 m, 70 % under 0.5 m, 100 % under 1 m (paper:
    70 % under 0.5 m, > 99 % under 1 m, mean 0.257-0.316 m per car).
    """
    core = p["loc_core_std"] * rng.standard_normal((*shape, 2))
    r = rng.uniform(p["loc_tail_lo"], p["loc_tail_hi"], shape)
    phi = rng.uniform(0.0, 2.0 * np.pi, shape)
    tail = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=-1)
    return np.where((rng.random(shape) < p["loc_tail_share"])[..., None], tail, core)

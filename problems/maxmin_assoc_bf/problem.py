r"""Max-min fair user association and beamforming (``maxmin-assoc-bf``).

Paper: Y. Li, Y.-F. Liu, W. Yu et al., "Multimodal GNN for joint user
association and beamforming" (crossroad scenario with vision-aided
location side information), eqs. (1)-(6) for the problem and
(7)-(8), (10), (23)-(27) for the pilots and the channel.

Problem (eqs. (1)-(6))
----------------------
L access points (APs) with M antennas each (an ``Mr x Mc`` half-wavelength
uniform planar array), K single-antenna users. Decision: the serving AP
$a_k \in \{1..L\}$ of each user and its beamformer
$v_k \in \mathbb{C}^M$ at AP $a_k$.

$$
\max_{a, V}\ \min_k \log_2\left(1 + \mathrm{SINR}_k\right),\qquad
\mathrm{SINR}_k = \frac{|h_{k,a_k}^H v_k|^2}{\sum_{i \ne k} |h_{k,a_i}^H v_i|^2 + \sigma_k^2}
\qquad \text{s.t.}\ \sum_{k:\,a_k = l} \|v_k\|^2 \le P_l,\ l = 1..L .
$$

Every user is served by exactly one AP; an AP may serve any number of users
(or none).

Scenario (eqs. (10), (23)-(27), parameters below)
-------------------------------------------------
A 150 m x 150 m crossroad centred on the origin: road A along x
(``|y| <= road_width/2``), road B along y (``|x| <= road_width/2``). Building
faces line the square at ``x = +-75`` and ``y = +-75`` m, with gaps where the
roads leave the square. APs at [60,-55,15], [-55,-60,15], [-60,55,15],
[55,60,15] m (the first L of them), each a vertical UPA facing the centre.
Users are uniform on the two roads (each road with probability 1/2, uniform
along the road and across its width) at 0.4 m height.

The channel from AP l to user k is a sum of specular paths plus a weak
diffuse part (eq. (10)):

$$
g_{k,l} = \sum_{p \in \{\text{LOS, walls, ground}\}} \Gamma_p
          \frac{\lambda}{4\pi d_p} e^{-j 2\pi d_p/\lambda} a(\hat d_p)
        + \sqrt{\kappa_d \frac{(\lambda/4\pi d_0)^2}{N_d}}
          \sum_{n=1}^{N_d} c_n\, a(\hat d_n),\quad c_n \sim \mathcal{CN}(0,1)
$$

where $d_p$ is the unfolded length of path p (image method:
first-order reflection off each of the four building faces when its
reflection point lies on a face and not in a road gap, and the ground
reflection), $\Gamma_p$ the Fresnel coefficient (ITU-R P.2040 concrete,
TE, for walls; medium-dry ground, TM, for the ground), the path loss law is
Friis free space over the unfolded length, $a(\hat d)$ the UPA response
for the departure direction, and the diffuse part has total power
$\kappa_d$ = ``diffuse_db`` relative to the line of sight with departure
directions Gaussian around the line of sight (``diffuse_spread_deg``). The
stored channel is noise-normalised: ``H[k, l] = conj(g_{k,l}) / sigma_k`` so
that ``H[k, l].conj() @ v`` is the received amplitude over the noise standard
deviation and ``noise = 1``.

Side information (for learned methods): the true user positions
``user_pos``; location estimates ``user_pos_est`` with a 2-D Gaussian error
of per-axis standard deviation 0.2394 m (Rayleigh radial error: mean 0.30 m,
99 % below 0.73 m, as the paper's image detector); and the uplink pilot
observations of eqs. (7)-(8): each user sends ``n_pilots`` mutually
orthogonal pilot symbols at per-antenna pilot SNR ``pilot_snr_db`` (relative
to the noise-normalised channel); after de-spreading, AP l holds for user k
``pilots[k, l] = sqrt(rho N_u) H[k, l] + n``, ``n ~ CN(0, I)``.
"""
from __future__ import annotations

import numpy as np

from mmopt import phy
from mmopt.api import FeasibilityReport, InputError, Key, Problem, Suite, problem

from .scenario import AP_POSITIONS, DEFAULTS, PARAMS, crossroad_channels, normalised_channels, sample_users

#: largest (K, K, M) temporary built in one piece by :func:`sinr`; beyond it the sum runs in blocks
SINR_BLOCK_ELEMENTS = 1 << 22


def sinr(H: np.ndarray, noise: np.ndarray, assoc: np.ndarray, V: np.ndarray) -> np.ndarray:
    """SINR of every user (eq. (2)) for association ``assoc`` (K,) and beams ``V`` (K, M).

    Small instances build ``A[k, i] = h_{k, a_i}`` (K, K, M) at once; large
    ones (K = 10000) sum the received powers AP by AP in row blocks, with
    memory O(block + K M).
    """
    K, _, M = H.shape
    if K * K * M > SINR_BLOCK_ELEMENTS:
        return _sinr_blocked(H, noise, assoc, V)
    A = H[:, assoc, :]                              # A[k, i] = h_{k, a_i}
    amp = np.einsum("kim,im->ki", A.conj(), V)      # h_{k,a_i}^H v_i
    pw = np.abs(amp) ** 2
    sig = np.diag(pw).copy()
    interf = pw.sum(axis=1) - sig
    return sig / (interf + noise)


def _sinr_blocked(H, noise, assoc, V) -> np.ndarray:
    K, _, M = H.shape
    total = np.zeros(K)
    sig = np.zeros(K)
    for l in np.unique(assoc):
        idx = np.flatnonzero(assoc == l)
        Hl = H[:, l, :].conj()                      # (K, M)
        Vl = V[idx]                                  # (n_l, M)
        step = max(1, SINR_BLOCK_ELEMENTS // (4 * max(idx.size, 1)))
        for s0 in range(0, K, step):
            total[s0:s0 + step] += (np.abs(Hl[s0:s0 + step] @ Vl.T) ** 2).sum(axis=1)
        sig[idx] = np.abs(np.einsum("im,im->i", Hl[idx], Vl)) ** 2
    return sig / (total - sig + noise)


def min_rate(H, noise, assoc, V) -> float:
    """Objective: ``min_k log2(1 + SINR_k)`` in bit/s/Hz."""
    return float(np.log2(1.0 + sinr(H, noise, assoc, V)).min())


def ap_powers(assoc: np.ndarray, V: np.ndarray, L: int) -> np.ndarray:
    return np.bincount(assoc, weights=np.sum(np.abs(V) ** 2, axis=1), minlength=L)


def _suite(name, count, doc, **over):
    return Suite(name, count, {**DEFAULTS, **over}, seed=20240917 + {"smoke": 0, "small": 1, "paper": 2,
                                                                   "large": 3}.get(name, 10), doc=doc)


SUITES = {
    "smoke": _suite("smoke", 5, "K=3 users, L=2 APs, 2x2 UPA (M=4): for tests", K=3, L=2, Mr=2, Mc=2),
    "small": _suite("small", 50, "K=4, L=4, 4x4 UPA (M=16)", K=4),
    "paper": _suite("paper", 200, "K=6, L=4, M=16: the paper's scale", K=6),
    "large": _suite("large", 30, "K=8, 9, 10 (cycling with the index), L=4, M=16: beyond exhaustive search "
                    "(references by branch-and-bound)", K=10, sweep=[{"K": 8}, {"K": 9}, {"K": 10}]),
}

#: pilot counts N_u of the paper's Fig. 6(a) sweep
PILOT_SWEEP = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
for _nu in PILOT_SWEEP:
    # same seed and parameters as "paper" except N_u: instance i has the channels, positions and pilot
    # noise realisation of paper/i, so the sweep isolates the effect of the number of pilots
    SUITES[f"pilots-{_nu}"] = Suite(f"pilots-{_nu}", 50, {**SUITES["paper"].params, "n_pilots": _nu},
                                    seed=SUITES["paper"].seed,
                                    doc=f"paper scale (channels of paper/0..49) with N_u = {_nu} pilot symbols: "
                                        "the sweep of Fig. 6(a)")


@problem
class MaxMinAssocBF(Problem):
    name = "maxmin-assoc-bf"
    title = "Max-min fair user association and beamforming"
    paper = ("Li, Liu, Yu et al., multimodal GNN for user association and beamforming, "
             "eqs. (1)-(6); crossroad channel eqs. (10), (23)-(27); pilots eqs. (7)-(8)")
    statement = __doc__.split("Scenario")[0].split("Problem (eqs. (1)-(6))")[1].strip("-\n ")
    instance_keys = (
        Key("H", "complex128", ("K", "L", "M"), "1/sqrt(W)",
            "noise-normalised channel; H[k,l].conj() @ v is the received amplitude of user k from AP l"),
        Key("P", "float64", ("L",), "W", "per-AP power budget P_l"),
        Key("noise", "float64", ("K",), "-", "noise power sigma_k^2 in the normalised units (1)"),
        Key("ap_pos", "float64", ("L", 3), "m", "AP positions", required=False),
        Key("user_pos", "float64", ("K", 3), "m", "true user positions", required=False),
        Key("user_pos_est", "float64", ("K", 3), "m", "location estimates (image detector error)",
            required=False),
        Key("pilots", "complex128", ("K", "L", "M"), "-",
            "de-spread uplink pilot observations sqrt(rho N_u) H + CN(0, I)", required=False),
        Key("n_pilots", "int64", (), "-", "N_u, pilot symbols per user", required=False),
        Key("pilot_snr", "float64", (), "-", "rho, per-symbol pilot SNR (linear)", required=False),
        Key("array_shape", "int64", (2,), "-", "UPA rows and columns (Mr, Mc)", required=False),
    )
    solution_keys = (
        Key("assoc", "int64", ("K",), "-", "serving AP of each user (0-based)"),
        Key("V", "complex128", ("K", "M"), "sqrt(W)", "row k: beamformer of user k at AP assoc[k]"),
    )
    suites = SUITES
    param_docs = {k: d for k, (_, d) in PARAMS.items()}
    metric_docs = {"min_sinr_db": "smallest SINR over the users, dB",
                   "sum_rate": "sum over users of log2(1 + SINR_k), bit/s/Hz",
                   "active_aps": "number of APs serving at least one user"}

    def make_instance(self, params: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        K, L = int(params["K"]), int(params["L"])
        if not 1 <= L <= len(AP_POSITIONS):
            raise InputError(f"L must be 1..{len(AP_POSITIONS)}, got {L}")
        users = sample_users(K, params, rng)
        H = normalised_channels(users, params, rng)
        est = users.copy()
        est[:, :2] += params["loc_error_std"] * rng.standard_normal((K, 2))
        rho, nu = float(phy.db2lin(params["pilot_snr_db"])), int(params["n_pilots"])
        noise = (rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape)) / np.sqrt(2)
        pilots = np.sqrt(rho * nu) * H + noise
        return {"H": H, "P": np.full(L, float(phy.dbm2w(params["p_dbm"]))), "noise": np.ones(K),
                "ap_pos": AP_POSITIONS[:L].copy(), "user_pos": users, "user_pos_est": est,
                "pilots": pilots, "n_pilots": np.array(nu, dtype=np.int64), "pilot_snr": np.array(rho),
                "array_shape": np.array([params["Mr"], params["Mc"]], dtype=np.int64)}

    def validate_instance(self, instance, dims) -> None:
        if np.any(instance["P"] <= 0):
            raise InputError(f"instance of '{self.name}': key 'P' must be > 0, got min {instance['P'].min():g}")
        if np.any(instance["noise"] <= 0):
            raise InputError(f"instance of '{self.name}': key 'noise' must be > 0")

    def constraints(self, instance, solution, tol: float, report: FeasibilityReport) -> None:
        L = instance["P"].shape[0]
        assoc = solution["assoc"]
        bad = np.flatnonzero((assoc < 0) | (assoc >= L))
        for k in bad:
            report.add("AP index in range 0..L-1", float(max(-assoc[k], assoc[k] - (L - 1))), f"user {k}")
        if bad.size:
            return
        pw = ap_powers(assoc, solution["V"], L)
        P = instance["P"]
        for l in np.flatnonzero(pw > P * (1.0 + tol)):
            report.add("per-AP power sum_{k: a_k=l} ||v_k||^2 <= P_l (relative excess)",
                       float(pw[l] / P[l] - 1.0), f"AP {l}")

    def objective(self, instance, solution) -> float:
        return min_rate(instance["H"], instance["noise"], solution["assoc"], solution["V"])

    def metrics(self, instance, solution) -> dict[str, float]:
        s = sinr(instance["H"], instance["noise"], solution["assoc"], solution["V"])
        return {"min_sinr_db": float(10 * np.log10(max(s.min(), 1e-300))),
                "sum_rate": float(np.log2(1 + s).sum()),
                "active_aps": float(np.unique(solution["assoc"]).size)}

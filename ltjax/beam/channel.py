"""Saleh-Valenzuela channel (paper eq. 2) seen through the DFT codebook: L1-RSRP of every Set A beam.

h = (1/sqrt(L)) sum_l alpha_l g(theta'_l, phi'_l) a(theta'_l, phi'_l)              (eq. 2)
with L equal-power paths, alpha_l ~ CN(0, 1), g the TR 38.901 element field pattern, and path angles
theta_l = theta_LOS + dtheta_l, phi_l = phi_LOS + dphi_l, whose offsets are Laplacian. We read the paper's
"angular spread 5 deg" as the RMS (standard deviation) of the Laplacian, so its scale is b = 5/sqrt(2) deg.
Offsets are carried as latent standard normals z and mapped through the Laplace quantile function
(``laplace_from_normal``): static datasets draw z i.i.d., trajectories evolve z as an AR(1) process in
distance, so the marginal is exactly Laplacian in both cases.

RSRP_b [dBm] = P_tx - PL(d_3D) + 10 log10 |w_b^H h|^2, with the TR 38.901 Table 7.4.1-1 UMa LOS pathloss
PL = 28 + 22 log10(d_3D) + 20 log10(f_c/GHz) (the breakpoint, ~4.8 km at 30 GHz, is far outside the cell).
No shadow fading: it is common to all beams of a location and does not change the best beam.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ltjax.beam.array import element_gain_db, separable_response_uc
from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.geometry import local_direction, los_angles, rotation
from ltjax.numerics import lin_to_db


def pathloss_db(d3, fc_ghz: float):
    """TR 38.901 UMa LOS PL1 [dB] for d_3D [m] (first segment; valid for d_2D < d_BP)."""
    return 28.0 + 22.0 * jnp.log10(d3) + 20.0 * math.log10(fc_ghz)


def laplace_from_normal(z, scale):
    """Maps N(0,1) draws to Laplace(0, scale) draws by the quantile transform (monotone, exact marginal).

    x = scale * sign(z) * (-log(2 Phi(-|z|))) with 2 Phi(-|z|) = erfc(|z| / sqrt 2): one erfc (no
    cancellation at large |z|) instead of ``ndtr``, which evaluates both erf and erfc branches; this was
    a quarter of the channel's cost.
    """
    return scale * jnp.sign(z) * (-jnp.log(jax.lax.erfc(jnp.abs(z) * (1.0 / math.sqrt(2.0)))))


def beam_rsrp_dbm(cfg: BeamConfig, chp: ChannelParams, pos, z, alpha):
    """True L1-RSRP of every Set A beam for one UE.

    Args:
      pos: [2] UE position [m] (BS at the origin).
      z: [L, 2] latent N(0,1) of the (zenith, azimuth) path offsets.
      alpha: [L] complex path gains (E|alpha|^2 = 1).
    Returns:
      [B] RSRP [dBm].
    """
    theta0, phi0, d3 = los_angles(pos, cfg.h_bs_m, cfg.h_ue_m)
    scale = jnp.radians(chp.angular_spread_deg) / math.sqrt(2.0)
    theta = jnp.clip(theta0 + laplace_from_normal(z[:, 0], scale), 1e-3, jnp.pi - 1e-3)
    phi = phi0 + laplace_from_normal(z[:, 1], scale)
    # u = d'_y = sin th' sin ph', c = d'_z = cos th': the steering phases need no local angles.
    dl = local_direction(theta, phi, rotation(cfg.bearing_deg, cfg.downtilt_deg))
    c = jnp.clip(dl[:, 2], -1.0, 1.0)
    a_h, a_v = separable_response_uc(dl[:, 1], c, cfg)  # [L, Q_h], [L, Q_v]
    amp = alpha / math.sqrt(cfg.n_paths)
    if cfg.element_pattern:
        theta_l, phi_l = jnp.arccos(c), jnp.arctan2(dl[:, 1], dl[:, 0])
        amp = amp * jnp.power(10.0, element_gain_db(theta_l, phi_l) / 20.0)
    # y[h, v] = sum_l amp_l A_h[l, h] A_v[l, v]; an explicit fused sum (a tiny einsum is slow on CPU).
    y = jnp.sum(amp[:, None, None] * a_h[:, :, None] * a_v[:, None, :], axis=0).reshape(cfg.n_beams)
    power = y.real ** 2 + y.imag ** 2
    return cfg.tx_power_dbm - pathloss_db(d3, cfg.fc_ghz) + lin_to_db(power)


def quantise(rsrp, chp: ChannelParams):
    """Rounds RSRP [dBm] to multiples of quant_db (identity when quant_db = 0)."""
    q = jnp.maximum(chp.quant_db, 1e-6)
    return jnp.where(chp.quant_db > 0, jnp.round(rsrp / q) * q, rsrp)


def noise_per_re_dbm(chp: ChannelParams):
    """Thermal noise in one resource element [dBm]: -174 dBm/Hz + 10 log10(SCS) + NF."""
    return -174.0 + 10.0 * jnp.log10(chp.scs_khz * 1e3) + chp.noise_figure_db


def estimate_snr_db(rsrp, chp: ChannelParams):
    """SNR [dB] of one L1-RSRP estimate from ``chp.n_re`` REs: per-RE RSRP over per-RE noise, plus the
    averaging gain 10 log10(n_re). ``rsrp`` is on the carrier scale [dBm] (see ``ChannelParams``)."""
    return rsrp - 10.0 * jnp.log10(chp.n_subcarriers) - noise_per_re_dbm(chp) + 10.0 * jnp.log10(chp.n_re)


def add_thermal_noise(key, rsrp, chp: ChannelParams):
    """Measured power [dBm] of each beam with thermal noise: 10 log10 |sqrt(P) + w|^2, w circular Gaussian
    with the power of one estimate's noise (``estimate_snr_db``). The key is consumed (2 normals per beam)."""
    n = jax.random.normal(key, (*rsrp.shape, 2)) * (1.0 / math.sqrt(2.0))
    amp = jnp.power(10.0, estimate_snr_db(rsrp, chp) / 20.0)  # |signal| in units of the noise std
    return rsrp - estimate_snr_db(rsrp, chp) + lin_to_db((amp + n[..., 0]) ** 2 + n[..., 1] ** 2)


def report(rsrp, chp: ChannelParams):
    """The L1-RSRP report [dBm]: without ``awgn`` rounding to quant_db steps on the carrier scale (the
    reading before the noise model existed); with it clipping to the per-RE reporting range and rounding
    to quant_db steps there (TS 38.133), returned on the carrier scale."""
    if not chp.awgn:
        return quantise(rsrp, chp)
    sub_db = 10.0 * jnp.log10(chp.n_subcarriers)
    per_re = jnp.clip(rsrp - sub_db, chp.report_min_dbm, chp.report_max_dbm)
    return quantise(per_re, chp) + sub_db


def measure(key, rsrp, chp: ChannelParams):
    """Measured L1-RSRP [..., B]: thermal noise (``awgn``), Gaussian dB error (std meas_noise_db), then the
    report (``report``). The key is consumed.

    ``key`` None skips every draw (cheaper when there is no noise: awgn off and meas_noise_db = 0).
    """
    if key is None:
        if chp.awgn:
            raise ValueError("measure: thermal noise (awgn) needs a key")
        return report(rsrp, chp)
    if chp.awgn:
        k_awgn, key = jax.random.split(key)
        rsrp = add_thermal_noise(k_awgn, rsrp, chp)
    return report(rsrp + chp.meas_noise_db * jax.random.normal(key, rsrp.shape), chp)


def draw_static(key, cfg: BeamConfig):
    """I.i.d. small-scale draws of one location: (z [L, 2] N(0,1), alpha [L] CN(0,1))."""
    kz, ka = jax.random.split(key)
    z = jax.random.normal(kz, (cfg.n_paths, 2))
    ri = jax.random.normal(ka, (cfg.n_paths, 2)) / math.sqrt(2.0)
    return z, ri[:, 0] + 1j * ri[:, 1]

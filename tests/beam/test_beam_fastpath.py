"""Fast paths of the beam channel against their reference computations.

The channel avoids per-element sin/cos (``_unit_powers``), local angles for the steering phases
(u = d'_y, c = d'_z) and ``ndtr`` in the Laplace quantile (one erfc). Each is compared here with the
direct formula: steering vector (eq. 3) times the DFT codebook (eqs. 4-6), and scipy's Laplace quantile.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from ltjax.beam.array import _unit_powers, codebook, element_gain_db, steering_vector
from ltjax.beam.channel import beam_rsrp_dbm, laplace_from_normal, pathloss_db
from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.geometry import los_angles, rotation, to_local

CFG = BeamConfig()
# float32: |e^k| products of <= 3 rounded factors, plus cos/sin of pi x with |pi x| <= pi: a few ulps.
POW_ATOL = 2e-6


def test_unit_powers_match_direct_exponentials():
    x = jnp.linspace(-1.0, 1.0, 2001, dtype=jnp.float32)
    got = np.asarray(_unit_powers(x, 8))
    ref = np.exp(1j * np.pi * np.asarray(x, np.float64)[:, None] * np.arange(8))
    np.testing.assert_allclose(got, ref, atol=POW_ATOL)


def test_laplace_quantile_matches_scipy():
    z = np.linspace(-6.0, 6.0, 4001)
    got = np.asarray(laplace_from_normal(jnp.asarray(z, jnp.float32), 1.0), np.float64)
    ref = scipy.stats.laplace.ppf(scipy.special.ndtr(z))
    # float32 input rounding (rel 6e-8 of |z| <= 6) moves the quantile by at most ~|z| * 6e-8 * dx/dz (< 7)
    # plus the erfc/log error of a few ulps of |x| <= 21: 1e-5 absolute + 2e-6 relative covers both.
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-5)


def _reference_rsrp(cfg, chp, pos, z, alpha):
    """The direct computation in float64: local angles, eq. (3) steering vector, |C^H h|^2 over 64 beams."""
    theta0, phi0, d3 = (np.asarray(v, np.float64) for v in los_angles(pos, cfg.h_bs_m, cfg.h_ue_m))
    scale = math.radians(chp.angular_spread_deg) / math.sqrt(2.0)
    lap = scipy.stats.laplace.ppf(scipy.special.ndtr(np.asarray(z, np.float64))) * scale
    theta = np.clip(theta0[..., None] + lap[..., 0], 1e-3, np.pi - 1e-3)
    phi = phi0[..., None] + lap[..., 1]
    rot = np.asarray(rotation(cfg.bearing_deg, cfg.downtilt_deg), np.float64)
    d = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1) @ rot
    tl, pl = np.arccos(np.clip(d[..., 2], -1, 1)), np.arctan2(d[..., 1], d[..., 0])
    m = np.arange(cfg.m_h)[:, None]
    n = np.arange(cfg.m_v)[None, :]
    a = np.exp(1j * np.pi * (m * (np.sin(tl) * np.sin(pl))[..., None, None] + n * np.cos(tl)[..., None, None]))
    a = a.reshape(*a.shape[:-2], -1)  # [N, L, 32]
    g = 10.0 ** (np.asarray(element_gain_db(jnp.asarray(tl), jnp.asarray(pl)), np.float64) / 20.0)
    h = np.sum((np.asarray(alpha) * g / math.sqrt(cfg.n_paths))[..., None] * a, axis=-2)  # [N, 32]
    y = h @ codebook(cfg).astype(np.complex128).conj()  # w_b^H h, [N, 64]
    return cfg.tx_power_dbm - np.asarray(pathloss_db(d3, cfg.fc_ghz), np.float64)[:, None] + 10 * np.log10(np.abs(y) ** 2)


def test_fast_channel_matches_direct_codebook_projection():
    cfg, chp = CFG, ChannelParams()
    n = 400
    k1, k2, k3, k4 = jax.random.split(jax.random.key(5), 4)
    ang = jax.random.uniform(k1, (n,), maxval=2 * np.pi)
    r = jax.random.uniform(k2, (n,), minval=10.0, maxval=cfg.radius_m * 0.85)
    pos = jnp.stack([r * jnp.cos(ang), r * jnp.sin(ang)], -1)
    z = jax.random.normal(k3, (n, cfg.n_paths, 2))
    ri = jax.random.normal(k4, (n, cfg.n_paths, 2)) / math.sqrt(2.0)
    alpha = (ri[..., 0] + 1j * ri[..., 1]).astype(jnp.complex64)
    got = np.asarray(jax.jit(jax.vmap(lambda p, a, b: beam_rsrp_dbm(cfg, chp, p, a, b)))(pos, z, alpha), np.float64)
    ref = _reference_rsrp(cfg, chp, pos, z, alpha)
    # Compare linear powers relative to each location's strongest beam: float32 rounding of the 6-path sum
    # gives errors ~1e-6 of the peak; deep nulls (tens of dB down) are meaningless in dB at that precision.
    p_got, p_ref = 10 ** (got / 10), 10 ** (ref / 10)
    peak = p_ref.max(axis=1, keepdims=True)
    np.testing.assert_allclose(p_got / peak, p_ref / peak, atol=1e-4)
    strong = ref > ref.max(axis=1, keepdims=True) - 20.0
    np.testing.assert_allclose(got[strong], ref[strong], atol=0.01)
    assert np.mean(got.argmax(1) == ref.argmax(1)) > 0.99  # ties within rounding may flip a rare argmax

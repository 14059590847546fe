"""Beam geometry, array, codebook and channel: orthonormality, single-path best beam, regions, mobility."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.beam.array import beam_direction, codebook, separable_response, steering_vector
from ltjax.beam.channel import beam_rsrp_dbm, laplace_from_normal
from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.beam.geometry import inside_hexagon, los_angles, region_of, rotation, sample_in_region, to_local
from ltjax.beam.mobility import init_ue, trajectory

CFG = BeamConfig()


def test_codebook_unit_norm_orthonormal_groups_and_tight_frame():
    c = codebook(CFG).astype(np.complex128)  # [32, 64]
    assert c.shape == (32, 64)
    np.testing.assert_allclose(np.linalg.norm(c, axis=0), 1.0, atol=1e-6)
    # 64 vectors in C^32 cannot all be orthogonal: with (O_h, O_v) = (1, 2) the codebook is the union of
    # O_h*O_v = 2 orthonormal bases (v even / v odd), i.e. a tight frame C C^H = O_h O_v I.
    b = np.arange(64)
    for parity in (0, 1):
        g = c[:, (b % CFG.q_v) % CFG.o_v == parity]
        np.testing.assert_allclose(g.conj().T @ g, np.eye(32), atol=1e-6)
    np.testing.assert_allclose(c @ c.conj().T, CFG.o_h * CFG.o_v * np.eye(32), atol=1e-5)


def test_separable_response_equals_codebook_times_steering():
    k1, k2 = jax.random.split(jax.random.key(0))
    th = jax.random.uniform(k1, (50,), minval=0.1, maxval=3.0)
    ph = jax.random.uniform(k2, (50,), minval=-3.1, maxval=3.1)
    full = np.asarray(steering_vector(th, ph, CFG.m_h, CFG.m_v)) @ codebook(CFG).conj()  # w^H a, [50, 64]
    a_h, a_v = separable_response(th, ph, CFG)
    sep = (np.asarray(a_h)[:, :, None] * np.asarray(a_v)[:, None, :]).reshape(50, 64)
    np.testing.assert_allclose(sep, full, atol=2e-5)


def _wrapped(x):
    return (x + 1.0) % 2.0 - 1.0


def test_single_path_best_beam_is_nearest_to_geometric_direction():
    cfg = BeamConfig(n_paths=1)
    chp = ChannelParams(angular_spread_deg=0.0)
    rot = rotation(cfg.bearing_deg, cfg.downtilt_deg)
    grid = np.array([beam_direction(cfg, b) for b in range(cfg.n_beams)])  # [64, 2] (u, c)
    keys = jax.random.split(jax.random.key(1), 120)
    regions = jnp.arange(120) % cfg.n_regions
    pos = jax.vmap(lambda k, r: sample_in_region(k, r, cfg.radius_m, 10.0))(keys, regions)
    rsrp = jax.jit(jax.vmap(lambda p: beam_rsrp_dbm(cfg, chp, p, jnp.zeros((1, 2)), jnp.ones((1,), jnp.complex64))))(pos)
    th, ph, _ = los_angles(pos, cfg.h_bs_m, cfg.h_ue_m)
    tl, pl = to_local(th, ph, rot)
    u = np.asarray(jnp.sin(tl) * jnp.sin(pl))
    c = np.asarray(jnp.cos(tl))
    # DFT beams separate into a horizontal and a vertical Dirichlet kernel; both competitors lie in the
    # main lobe, so the best beam is the nearest grid point in each (wrapped) coordinate.
    h_best = np.argmin(np.abs(_wrapped(grid[:: cfg.q_v, 0][None, :] - u[:, None])), axis=1)
    v_best = np.argmin(np.abs(_wrapped(grid[: cfg.q_v, 1][None, :] - c[:, None])), axis=1)
    np.testing.assert_array_equal(np.argmax(np.asarray(rsrp), axis=1), h_best * cfg.q_v + v_best)
    # The check is not vacuous: the 120 locations use many different beams.
    assert len(np.unique(h_best * cfg.q_v + v_best)) >= 10


def test_region_assignment_on_boundaries():
    r = 50.0

    def reg(deg):
        a = math.radians(deg)
        return int(region_of(jnp.array([r * math.cos(a), r * math.sin(a)])))

    # Half-open [60 k, 60 (k + 1)): just below / just above every boundary.
    for k in range(6):
        assert reg(60 * k + 1e-3) == k
        assert reg(60 * k - 1e-3) == (k - 1) % 6
        assert reg(60 * k) in (k, (k - 1) % 6)  # exactly on a 60-degree ray: rounding picks a neighbour
    # Exactly representable boundaries use the half-open rule.
    assert int(region_of(jnp.array([r, 0.0]))) == 0
    assert int(region_of(jnp.array([-r, 0.0]))) == 3
    assert int(region_of(jnp.array([r, -0.0]))) == 0
    # An azimuth that rounds up to 360 degrees must wrap into the last region, never index 6.
    assert int(region_of(jnp.array([r, -1e-30]))) in (0, 5)
    assert int(region_of(jnp.array([r, -1e-5]))) == 5
    # Sampled region points lie in their region, inside the cell, beyond the minimum distance.
    keys = jax.random.split(jax.random.key(7), 6 * 2000)
    regs = jnp.arange(6 * 2000) % 6
    pts = jax.jit(jax.vmap(lambda kk, k: sample_in_region(kk, k, CFG.radius_m, CFG.min_dist_m)))(keys, regs)
    np.testing.assert_array_equal(np.asarray(region_of(pts)), np.asarray(regs))
    assert np.all(np.asarray(inside_hexagon(pts, CFG.radius_m + 1e-3)))
    assert np.all(np.linalg.norm(np.asarray(pts), axis=-1) >= CFG.min_dist_m)


def test_laplacian_offsets_have_rms_spread():
    n = 200_000
    z = jax.random.normal(jax.random.key(3), (n,))
    b = math.radians(5.0) / math.sqrt(2.0)
    x = np.asarray(laplace_from_normal(z, b), np.float64)
    # Laplace(0, b): E|x| = b, Var|x| = b^2 -> 4-sigma tolerance b * 4 / sqrt(n).
    assert abs(np.mean(np.abs(x)) - b) < 4 * b / math.sqrt(n)
    # RMS = sqrt(2) b = 5 deg; Var(x^2) = E x^4 - (E x^2)^2 = 24 b^4 - 4 b^4 = 20 b^4.
    assert abs(np.mean(x ** 2) - 2 * b ** 2) < 4 * math.sqrt(20) * b ** 2 / math.sqrt(n)


def test_trajectories_stay_in_cell_move_at_speed_and_cross_regions():
    mp = MobilityParams()
    keys = jax.random.split(jax.random.key(4), 40)
    ue0 = jax.vmap(lambda k: init_ue(k, CFG))(keys)
    ue, pos = jax.jit(jax.vmap(lambda k, s: trajectory(k, s, CFG, mp, 2000)))(keys, ue0)
    pos = np.asarray(pos)  # [40, T, 2]
    assert np.all(np.asarray(inside_hexagon(pos, CFG.radius_m + 1e-3)))
    step = np.linalg.norm(np.diff(pos, axis=1), axis=-1)
    # Straight steps are exactly v dt; a reflection step is shorter (folded), never longer.
    assert np.all(step <= mp.speed_mps * mp.dt_s + 1e-4)
    assert np.median(step) == pytest.approx(mp.speed_mps * mp.dt_s, rel=1e-3)
    regions = np.asarray(region_of(pos))
    crossed = np.sum(np.any(regions != regions[:, :1], axis=1))
    assert crossed >= 8  # 33 m paths in a 115 m cell: many UEs change region
    # Spatial consistency: latent angle offsets move by O(sqrt(2 dd / d_corr)) per step, not redrawn.
    assert float(jnp.max(jnp.abs(ue.z - ue0.z))) < 6.0


def test_measurement_noise_and_quantisation():
    from ltjax.beam.channel import measure

    rsrp = jnp.full((100_000,), -80.3)
    q = measure(None, rsrp, ChannelParams(quant_db=1.0))
    np.testing.assert_allclose(np.asarray(q), -80.0)
    np.testing.assert_allclose(np.asarray(measure(None, rsrp, ChannelParams())), -80.3, rtol=1e-6)
    noisy = np.asarray(measure(jax.random.key(0), rsrp, ChannelParams(meas_noise_db=2.0)), np.float64)
    n = noisy.size
    assert abs(noisy.mean() + 80.3) < 4 * 2.0 / math.sqrt(n)
    assert abs(noisy.std() - 2.0) < 4 * 2.0 / math.sqrt(2 * n)


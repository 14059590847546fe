"""Tests of ltjax.csi: Type I codebook, RI/PMI/capacity, SNR / delay-spread / Doppler estimators.

Statistical tolerances are 4 sigma of a sample mean, sigma from the sample; seeds are fixed.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, ChannelParams, channel_freq_response, init_channel
from ltjax.csi import (
    DEFAULT_DOPPLER_LAG_S,
    bessel_j0,
    csi_snr_estimate,
    csi_snr_true,
    estimate_delay_spread,
    estimate_doppler,
    inverse_j0,
    select_ri_pmi,
    type1_codebook,
)

U = 200


def _keys(n, seed):
    return jax.vmap(lambda u: jax.random.fold_in(jax.random.key(seed), u))(jnp.arange(n))


def test_codebook_shapes_norms_and_spec_entries():
    for n_tx, rank, p in ((4, 1, 32), (4, 2, 32), (2, 1, 4), (2, 2, 2)):
        cb = type1_codebook(n_tx, rank)
        assert cb.shape == (p, n_tx, rank)
        np.testing.assert_allclose(np.linalg.norm(cb, axis=1), 1.0 / math.sqrt(rank), atol=1e-12)
        if rank == 2:  # layers are orthogonal
            np.testing.assert_allclose(np.einsum("pi,pi->p", cb[:, :, 0].conj(), cb[:, :, 1]), 0, atol=1e-12)
        flat = cb.reshape(p, -1)
        assert np.min(np.abs(flat[:, None] - flat[None]).sum(-1) + np.eye(p) * 9) > 1e-6  # distinct
    # TS 38.214 Table 5.2.2.2.1-5, i1,1 = 1, i2 = 1: 1/2 [v_1; j v_1], v_1 = [1, e^{j pi/4}].
    v = np.array([1, np.exp(1j * np.pi / 4)])
    np.testing.assert_allclose(type1_codebook(4, 1)[4 * 1 + 1, :, 0], np.concatenate([v, 1j * v]) / 2)
    # Table 5.2.2.2.1-6, i1,1 = 0, i1,3 = 1 (k1 = O1 = 4), i2 = 0: l' = 4, v_4 = [1, -1].
    w = type1_codebook(4, 2)[2]
    np.testing.assert_allclose(w[:, 1], np.array([1, -1, -1, 1]) / math.sqrt(8))
    with pytest.raises(ValueError):
        type1_codebook(8, 1)


def _numpy_capacity(h, w, nv):
    """Reference: mean over RBs of log2 det(I_Nr + H W W^H H^H / nv)."""
    hw = h @ w
    m = np.eye(h.shape[1]) + hw @ hw.conj().transpose(0, 2, 1) / nv
    return np.mean(np.log2(np.linalg.det(m).real))


def test_select_ri_pmi_matches_brute_force():
    rng = np.random.default_rng(1)
    h = ((rng.normal(size=(8, 2, 4)) + 1j * rng.normal(size=(8, 2, 4))) / math.sqrt(2)).astype(np.complex64)
    for nv in (1.0, 0.01):
        rep = select_ri_pmi(jnp.asarray(h), nv)
        best = max(((r, p, _numpy_capacity(h, type1_codebook(4, r)[p], nv))
                    for r in (1, 2) for p in range(32)), key=lambda x: x[2])
        assert (int(rep.ri), int(rep.pmi)) == best[:2]
        assert abs(float(rep.capacity) - best[2]) < 1e-4 * max(1.0, best[2])
        w = np.asarray(rep.precoder)
        np.testing.assert_allclose(w[:, : best[0]], type1_codebook(4, best[0])[best[1]], atol=1e-6)
        assert np.all(w[:, best[0]:] == 0)


def test_best_pmi_of_every_rank_and_one_port():
    """select_ri_pmi also returns each rank's capacity-best PMI and precoder (for RI rules other
    than capacity); a 1-port link (the SISO reference) has the trivial codebook W = [1]."""
    rng = np.random.default_rng(2)
    h = ((rng.normal(size=(8, 2, 4)) + 1j * rng.normal(size=(8, 2, 4))) / math.sqrt(2)).astype(np.complex64)
    rep = select_ri_pmi(jnp.asarray(h), 0.1)
    for r in (1, 2):
        caps = [_numpy_capacity(h, type1_codebook(4, r)[p], 0.1) for p in range(32)]
        assert int(rep.pmi_per_rank[r - 1]) == int(np.argmax(caps))
        np.testing.assert_allclose(np.asarray(rep.precoder_per_rank[r - 1])[:, :r],
                                   type1_codebook(4, r)[int(np.argmax(caps))], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(rep.precoder_per_rank[int(rep.ri) - 1]), np.asarray(rep.precoder))
    r1 = select_ri_pmi(jnp.asarray(h), 0.1, max_rank=1)
    np.testing.assert_array_equal(np.asarray(rep.precoder_per_rank[0])[:, :1], np.asarray(r1.precoder))
    np.testing.assert_array_equal(type1_codebook(1, 1), np.ones((1, 1, 1)))
    with pytest.raises(ValueError, match="rank"):
        type1_codebook(1, 2)
    siso = select_ri_pmi(jnp.ones((8, 1, 1), jnp.complex64), 0.1, max_rank=2)  # rank 2 impossible with 1 port
    assert int(siso.ri) == 1 and float(siso.capacity) == pytest.approx(math.log2(11.0), rel=1e-5)
    assert np.all(np.asarray(siso.precoder_per_rank[1]) == 0)


def test_rank_one_channel_gives_ri_1_and_matching_pmi():
    w = type1_codebook(4, 1)[13, :, 0]
    u = np.array([1.0, 0.5j])
    h = np.broadcast_to(np.outer(u, w.conj()), (5, 2, 4)).astype(np.complex64)
    rep = select_ri_pmi(jnp.asarray(h), 0.01)
    assert int(rep.ri) == 1 and int(rep.pmi) == 13
    assert float(rep.capacity_per_rank[0]) >= float(rep.capacity_per_rank[1])


def _tdl_batch(model, ds, fd, correlation, seed, times):
    cfg = ChannelConfig(model=model, correlation=correlation)
    params = ChannelParams(jnp.float32(ds), jnp.float32(fd))
    fn = jax.vmap(lambda k: jax.vmap(lambda t: channel_freq_response(init_channel(k, cfg), t, cfg, params))(
        jnp.asarray(times, jnp.float32)))
    return jax.jit(fn)(_keys(U, seed))  # [U, T, R, Nr, Nt]


@pytest.fixture(scope="module")
def profiles():
    t = [1.0, 1.0 + DEFAULT_DOPPLER_LAG_S]
    return {
        "A30": _tdl_batch("A", 30e-9, 10.0, "low", 1, t),
        "B50": _tdl_batch("B", 50e-9, 30.0, "low", 2, t),
        "C200": _tdl_batch("C", 200e-9, 50.0, "low", 3, t),
    }


def _mean_sigma(x):
    x = np.asarray(x, np.float64)
    return x.mean(), x.std(ddof=1) / math.sqrt(x.size)


def test_rank_and_capacity_follow_snr_and_correlation():
    h_low = _tdl_batch("C", 200e-9, 10.0, "low", 4, [0.5])[:, 0]
    h_high = _tdl_batch("C", 200e-9, 10.0, "high", 4, [0.5])[:, 0]
    sel = jax.jit(jax.vmap(select_ri_pmi, in_axes=(0, None)))
    lo20, hi20, lo0 = sel(h_low, 0.01), sel(h_high, 0.01), sel(h_low, 1.0)
    # Uncorrelated 2x4 at 20 dB: rank 2 nearly always; high correlation (second eigenmode
    # ~13 dB weaker) falls back to rank 1 far more often (binomial sigma <= 0.5/sqrt(U)).
    assert np.mean(lo20.ri == 2) > 0.9
    assert np.mean(hi20.ri == 1) - np.mean(lo20.ri == 1) > 4 * 0.5 * math.sqrt(2.0 / U)
    assert np.mean(lo0.capacity) < np.mean(lo20.capacity)
    m_lo, s_lo = _mean_sigma(lo20.capacity)
    m_hi, s_hi = _mean_sigma(hi20.capacity)
    assert m_lo - m_hi > 4 * math.hypot(s_lo, s_hi)  # capacity tells correlation levels apart


def test_snr_estimate_is_unbiased_with_measurement_noise(profiles):
    h = profiles["B50"][:, 0]
    for snr_db in (0.0, 10.0, 20.0):
        nv = 10 ** (-snr_db / 10)
        est = jax.jit(jax.vmap(csi_snr_estimate, in_axes=(0, 0, None)))(_keys(U, 5), h, nv)
        true = jax.vmap(csi_snr_true, in_axes=(0, None))(h, nv)
        m, s = _mean_sigma(est - true)
        assert abs(m) < 4 * s + 0.05, (snr_db, m, s)  # 0.05 dB: log of an unbiased power estimate
        assert 0.01 < np.std(est - true) < 1.0  # measurement noise is present and bounded


def test_delay_spread_estimate_tracks_truth(profiles):
    est = {}
    fn = jax.jit(jax.vmap(estimate_delay_spread, in_axes=(0, 0, None)))
    for i, (name, h) in enumerate(profiles.items()):
        est[name] = _mean_sigma(fn(_keys(U, 10 + i), h[:, 0], 0.1))  # 10 dB SNR
    (ma, sa), (mb, sb), (mc, sc) = est["A30"], est["B50"], est["C200"]
    assert mb - ma > 4 * math.hypot(sa, sb) and mc - mb > 4 * math.hypot(sb, sc)
    # Tracks the truth within the documented bias (late weak taps are lost for C200).
    for (m, _), true in ((est["A30"], 30e-9), (est["B50"], 50e-9), (est["C200"], 200e-9)):
        assert 0.8 * true < m < 1.2 * true, (m, true)
    flat = jnp.ones((U, 106, 2, 4), jnp.complex64)
    m, _ = _mean_sigma(fn(_keys(U, 20), flat, 0.1))
    assert m < 10e-9  # a single tap reads near 0


def test_doppler_estimate_tracks_truth(profiles):
    fn = jax.jit(jax.vmap(estimate_doppler, in_axes=(0, 0, 0, None, None)))
    est = {}
    for i, (name, h) in enumerate(profiles.items()):
        est[name] = _mean_sigma(fn(_keys(U, 30 + i), h[:, 0], h[:, 1], DEFAULT_DOPPLER_LAG_S, 0.1))
    for (m, s), true in ((est["A30"], 10.0), (est["B50"], 30.0), (est["C200"], 50.0)):
        assert abs(m - true) < 4 * s + 0.1 * true, (m, s, true)
    (ma, sa), (mb, sb), (mc, sc) = est["A30"], est["B50"], est["C200"]
    assert mb - ma > 4 * math.hypot(sa, sb) and mc - mb > 4 * math.hypot(sb, sc)


def test_inverse_j0_roundtrip():
    x = jnp.linspace(0.0, 2.4, 25)
    np.testing.assert_allclose(inverse_j0(bessel_j0(x)), x, atol=2e-3)
    assert float(inverse_j0(1.5)) == 0.0 or float(inverse_j0(1.5)) < 1e-6
    assert abs(float(inverse_j0(-0.3)) - 2.4048) < 1e-3  # saturates at the first zero


def test_csi_vmap_equals_loop(profiles):
    h = profiles["C200"][:3]
    keys = _keys(3, 40)

    def one(k, hh):
        rep = select_ri_pmi(hh[0], 0.1)
        k1, k2, k3 = jax.random.split(k, 3)
        return (rep.ri, rep.pmi, rep.capacity, csi_snr_estimate(k1, hh[0], 0.1),
                estimate_delay_spread(k2, hh[0], 0.1),
                estimate_doppler(k3, hh[0], hh[1], DEFAULT_DOPPLER_LAG_S, 0.1))

    batched = jax.jit(jax.vmap(one))(keys, h)
    one_jit = jax.jit(one)
    for u in range(3):
        for b, l in zip(batched, one_jit(keys[u], h[u])):
            np.testing.assert_allclose(np.asarray(b[u]), np.asarray(l), rtol=2e-4, atol=1e-10)

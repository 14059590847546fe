"""Statistical and API tests of ltjax.channels (TDL tables, SoS Rayleigh fading, MIMO correlation).

Tolerances come from the sample size: 4 sigma of the sample mean, with sigma from the
known distribution (Exp(1) powers) or from the sample itself. Seeds are fixed.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from ltjax.channels import (
    CORRELATION_LEVELS,
    ChannelConfig,
    ChannelParams,
    channel_freq_response,
    channel_taps,
    correlation_matrix,
    init_channel,
    make_channel_params,
    max_doppler_hz,
    normalized_profile,
    precoded_channel,
    rms_delay_spread,
    slot_duration_s,
    tdl_profile,
    validate_channel_config,
)
from ltjax.csi import type1_codebook

U = 1000  # UEs for the statistical tests
SEED = 20261123


def _keys(n, seed=SEED):
    return jax.vmap(lambda u: jax.random.fold_in(jax.random.key(seed), u))(jnp.arange(n))


@pytest.fixture(scope="module")
def c_batch():
    """TDL-C200, 50 Hz, low correlation: states of U UEs and their taps at several times."""
    cfg = ChannelConfig(model="C", correlation="low")
    params = ChannelParams(jnp.float32(200e-9), jnp.float32(50.0))
    states = jax.jit(jax.vmap(lambda k: init_channel(k, cfg)))(_keys(U))
    lags = np.array([0.0, 2e-3, 5e-3, 10e-3, 20e-3])
    t0 = 3.7
    taps_fn = jax.jit(jax.vmap(jax.vmap(lambda s, t: channel_taps(s, t, cfg, params), (None, 0)), (0, None)))
    taps = np.asarray(taps_fn(states, jnp.asarray(t0 + lags, jnp.float32)))  # [U, lags, L, Nr, Nt]
    return cfg, params, states, lags, taps


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_table_normalised_rms_delay_spread_is_one(name):
    delays, powers = normalized_profile(name)
    assert abs(powers.sum() - 1.0) < 1e-12
    assert abs(rms_delay_spread(delays, powers) - 1.0) < 1e-3


def test_tdl_profile_scales_delays_and_accepts_aliases():
    d, p = tdl_profile("TDL-B", 50e-9)
    d2, p2 = tdl_profile("b", 1.0)
    np.testing.assert_allclose(d, 50e-9 * d2)
    np.testing.assert_array_equal(p, p2)
    assert abs(rms_delay_spread(d, p) - 50e-9) < 1e-3 * 50e-9
    assert len(tdl_profile("C", 200e-9)[0]) == 24


def test_pdp_matches_table(c_batch):
    cfg, _, _, _, taps = c_batch
    _, powers = normalized_profile("C")
    power = np.abs(taps[:, 0]) ** 2  # [U, L, Nr, Nt] at t0
    n = power.shape[0] * power.shape[2] * power.shape[3]
    mean = power.mean(axis=(0, 2, 3))
    # |h|^2 / P_l ~ Exp(1) iid over UEs and (low-correlation) antenna pairs: sigma = 1/sqrt(n).
    np.testing.assert_array_less(np.abs(mean / powers - 1.0), 4.0 / math.sqrt(n))


@pytest.mark.parametrize("t_index", [0, 4])
def test_tap_amplitudes_are_rayleigh(c_batch, t_index):
    _, _, _, _, taps = c_batch
    _, powers = normalized_profile("C")
    for tap in (0, 5, 23):  # a weak, the strongest and the last tap
        amp = np.abs(taps[:, t_index, tap, 0, 1]) / math.sqrt(powers[tap])
        # Rayleigh with E[amp^2] = 1: scale sigma = sqrt(1/2).
        assert stats.kstest(amp, "rayleigh", args=(0.0, math.sqrt(0.5))).pvalue > 1e-3


def test_autocorrelation_matches_j0(c_batch):
    cfg, params, _, lags, taps = c_batch
    _, powers = normalized_profile("C")
    fd = float(params.doppler_hz)
    h0 = taps[:, 0] / np.sqrt(powers)[None, :, None, None]
    for i, lag in enumerate(lags):
        h1 = taps[:, i] / np.sqrt(powers)[None, :, None, None]
        # One sample per (UE, tap): taps of a UE have independent angles and amplitudes.
        samples = np.real(np.conj(h0) * h1).mean(axis=(2, 3)).ravel()
        sigma = samples.std(ddof=1) / math.sqrt(samples.size)
        assert sigma < 0.02  # the test can resolve J0 differences of a few percent
        want = special.j0(2 * math.pi * fd * lag)
        assert abs(samples.mean() - want) < 4.0 * sigma, (lag, samples.mean(), want)


def test_spatial_correlation_matches_ts38101_4():
    # The correlation is applied to the sinusoid amplitudes (H is a fixed linear combination
    # of them, the same for every antenna entry), so testing amplitudes tests H's correlation.
    for level, (alpha, beta) in CORRELATION_LEVELS.items():
        cfg = ChannelConfig(model="B", correlation=level, n_sinusoids=4)
        a = np.asarray(jax.jit(jax.vmap(lambda k: init_channel(k, cfg).amplitudes))(_keys(U, seed=7)))
        a = a[:, :, :, :, 0].reshape(-1, 2, 4)  # one sinusoid; (UE, tap) samples are iid
        n = a.shape[0]
        np.testing.assert_array_less(np.abs((np.abs(a) ** 2).mean(axis=0) - 1.0), 4.0 / math.sqrt(n))
        # E[H_00 H_10^*] = beta (UE antennas), E[H_00 H_03^*] = alpha (gNB ports 0 and 3).
        for got, want in ((a[:, 0, 0] * np.conj(a[:, 1, 0]), beta), (a[:, 0, 0] * np.conj(a[:, 0, 3]), alpha)):
            sigma = np.abs(got - want).std() / math.sqrt(n)
            assert abs(got.mean() - want) < 4.0 * sigma, (level, got.mean(), want)


def test_frequency_response_has_unit_gain():
    cfg = ChannelConfig(model="B", correlation="high")
    params = ChannelParams(jnp.float32(50e-9), jnp.float32(10.0))
    fn = jax.jit(jax.vmap(lambda k: channel_freq_response(init_channel(k, cfg), 1.25, cfg, params)))
    h = np.asarray(fn(_keys(U, seed=8)))[:, 40]  # one RB: [U, Nr, Nt], iid over UEs
    # |H_ij|^2 ~ Exp(1) over UEs: sigma of the mean = 1/sqrt(U).
    np.testing.assert_array_less(np.abs((np.abs(h) ** 2).mean(axis=0) - 1.0), 4.0 / math.sqrt(U))


def test_correlation_matrix_values():
    r = correlation_matrix(4, 0.9)
    np.testing.assert_allclose(r[0], [1.0, 0.9 ** (1 / 9), 0.9 ** (4 / 9), 0.9])
    np.testing.assert_allclose(correlation_matrix(2, 0.3), [[1.0, 0.3], [0.3, 1.0]])
    np.testing.assert_allclose(correlation_matrix(4, 0.0), np.eye(4))


def test_continuous_in_time_and_across_period_boundary():
    cfg = ChannelConfig(model="A")
    params = make_channel_params(cfg, 30e-9, 50.0)
    slot = slot_duration_s(cfg.scs_hz)
    t_last, t_first = 159 * slot, 160 * slot  # last slot of period 0, first of period 1
    fn = jax.jit(jax.vmap(jax.vmap(lambda s, t: channel_freq_response(s, t, cfg, params), (None, 0)), (0, None)))
    states = jax.vmap(lambda k: init_channel(k, cfg))(_keys(U, seed=3))
    h = np.asarray(fn(states, jnp.asarray([t_last, t_last + 1e-6, t_first], jnp.float32)))
    # 1 us later: |dH| <= 2 pi f_D dt * sum_k |a_k| / sqrt(K) ~ 3e-4 relative; float32 adds ~1e-6.
    rel = np.abs(h[:, 1] - h[:, 0]).max() / np.sqrt(np.mean(np.abs(h[:, 0]) ** 2))
    assert rel < 2e-3
    # Across the boundary the correlation is J0(2 pi f_D T_slot), not 0 (no redraw).
    samples = np.real(np.conj(h[:, 0]) * h[:, 2]).mean(axis=(1, 2, 3))
    sigma = samples.std(ddof=1) / math.sqrt(U)
    assert abs(samples.mean() - special.j0(2 * math.pi * 50.0 * slot)) < 4.0 * sigma + 1e-4
    # Same state, same time, separate call: the same H (the channel is a function of t, not
    # redrawn); only float32 rounding of a differently fused program may differ.
    again = np.asarray(fn(states, jnp.asarray([t_first], jnp.float32)))[:, 0]
    np.testing.assert_allclose(again, h[:, 2], rtol=0, atol=2e-5)


def test_vmap_equals_per_ue_loop():
    cfg = ChannelConfig(model="C", correlation="medium")
    params = make_channel_params(cfg, 200e-9, 30.0)
    keys = _keys(4, seed=11)

    def one(k):
        return channel_freq_response(init_channel(k, cfg), 0.0123, cfg, params)

    batched = np.asarray(jax.jit(jax.vmap(one))(keys))
    one_jit = jax.jit(one)  # jit == eager semantics; jitted only to keep the test fast
    looped = np.stack([np.asarray(one_jit(keys[u])) for u in range(4)])
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-5)
    assert batched.shape == (4, 106, 2, 4) and batched.dtype == np.complex64


def test_awgn_is_flat_identity():
    cfg = ChannelConfig(model="AWGN", n_rb=10)
    h = channel_freq_response(init_channel(jax.random.key(0), cfg), 5.0, cfg, ChannelParams())
    np.testing.assert_array_equal(np.asarray(h), np.broadcast_to(np.eye(2, 4), (10, 2, 4)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChannelConfig(model="D"),
        lambda: ChannelConfig(n_rb=0),
        lambda: ChannelConfig(correlation="extreme"),
        lambda: tdl_profile("A", -1e-9),
        lambda: tdl_profile("TDL-Q", 30e-9),
        lambda: make_channel_params(ChannelConfig(), -30e-9, 10.0),
        lambda: make_channel_params(ChannelConfig(), 30e-9, 1000.0),
        lambda: make_channel_params(ChannelConfig(), 30e-9, float("nan")),
    ],
)
def test_bad_parameters_raise_one_line_value_error(make):
    with pytest.raises(ValueError) as err:
        make()
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_validate_channel_config_reports_key_and_problem():
    assert validate_channel_config() is None
    assert validate_channel_config("TDL-A", 30e-9, 10.0) is None
    assert validate_channel_config(model="D")[0] == "model"
    assert validate_channel_config(delay_spread_s=-1e-9)[0] == "delay_spread_s"
    assert validate_channel_config(doppler_hz=max_doppler_hz() * 1.01)[0] == "doppler_hz"
    assert validate_channel_config(n_rb=0)[0] == "n_rb"
    key, problem = validate_channel_config(delay_spread_s=1e-6, names={"delay_spread_s": "ds"})
    assert key == "ds" and "allowed" not in problem and "[0," in problem


@pytest.mark.parametrize("model", ["C", "AWGN"])
def test_precoded_channel_equals_response_times_precoder(model):
    cfg = ChannelConfig(model=model, correlation="medium")
    params = make_channel_params(cfg, 0.0 if model == "AWGN" else 300e-9, 100.0)
    w = jnp.asarray(type1_codebook(4, 2)[13], jnp.complex64)  # [Nt, 2], ||W||_F = 1

    def both(k):
        state = init_channel(k, cfg)
        gr, gi = precoded_channel(state, 0.37, w, cfg, params)
        return jax.lax.complex(gr, gi), channel_freq_response(state, 0.37, cfg, params) @ w

    g, hw = (np.asarray(x) for x in jax.jit(jax.vmap(both))(_keys(16, seed=5)))
    assert g.shape == (16, 106, 2, 2) and g.dtype == np.complex64
    # The same sums in another order: float32 rounding of sums of ~L terms of size ~1/sqrt(L).
    np.testing.assert_allclose(g, hw, rtol=0, atol=2e-5 * max(1.0, float(np.abs(hw).max())))


def test_channel_kernels_jit_equal_no_jit():
    cfg = ChannelConfig(model="A", n_rb=6, n_sinusoids=4, correlation="high")
    params = make_channel_params(cfg, 30e-9, 50.0)
    w = jnp.asarray(type1_codebook(4, 1)[5], jnp.complex64)

    def kernels(key):
        state = init_channel(key, cfg)
        return (state, channel_taps(state, 0.25, cfg, params), channel_freq_response(state, 0.25, cfg, params),
                precoded_channel(state, 0.25, w, cfg, params))

    jitted = jax.jit(kernels)(jax.random.key(4))
    with jax.disable_jit():
        eager = kernels(jax.random.key(4))
    for a, b in zip(jax.tree_util.tree_leaves(jitted), jax.tree_util.tree_leaves(eager)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

"""The per-RE channel of the fading validation (ltjax.experiments.ldpc_fading_validation): the same
taps as ltjax.channels, evaluated at every subcarrier and data symbol."""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import ChannelConfig, channel_freq_response, init_channel, make_channel_params, scenario
from ltjax.experiments.ldpc_fading_validation import (DATA_SYMBOLS, channel_at_frequencies, channel_per_re,
                                                      subcarrier_frequencies_hz)


def _setup(n_rb=4, n_rx=2, channel="TDL-C200", doppler=50.0):
    sc = scenario(channel)
    cc = ChannelConfig(model=sc.model, n_rx=n_rx, n_tx=1, n_rb=n_rb)
    return cc, make_channel_params(cc, sc.delay_spread_s, doppler)


def test_channel_at_rb_centres_is_the_channel_modules_response():
    cc, params = _setup()
    state = init_channel(jax.random.key(1), cc)
    for t in (0.0, 3.7e-4):
        ours = channel_at_frequencies(state, t, cc.rb_frequencies_hz(), cc, params)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(channel_freq_response(state, t, cc, params)[..., 0]))
    # RB r's centre is half a subcarrier between its subcarriers 5 and 6.
    f = subcarrier_frequencies_hz(cc.n_rb, cc.scs_hz).reshape(cc.n_rb, 12)
    np.testing.assert_allclose(0.5 * (f[:, 5] + f[:, 6]), cc.rb_frequencies_hz())


def test_channel_per_re_layout_and_jit_equals_no_jit():
    cc, params = _setup(n_rb=2)
    h_re, h_rb = jax.jit(lambda k: channel_per_re(k, cc, params, cc.scs_hz))(jax.random.key(2))
    with jax.disable_jit():
        h_re_eager, h_rb_eager = channel_per_re(jax.random.key(2), cc, params, cc.scs_hz)
    np.testing.assert_allclose(np.asarray(h_re), np.asarray(h_re_eager), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h_rb), np.asarray(h_rb_eager), rtol=1e-5, atol=1e-6)
    assert h_re.shape == (len(DATA_SYMBOLS) * 12 * cc.n_rb, cc.n_rx)
    # Frequency first: RE s * K + k is data symbol s at subcarrier k.
    state = init_channel(jax.random.key(2), cc)
    t_sym = 1e-3 * 15e3 / cc.scs_hz / 14.0
    s = 3
    direct = channel_at_frequencies(state, jnp.float32(DATA_SYMBOLS[s] * t_sym),
                                    subcarrier_frequencies_hz(cc.n_rb, cc.scs_hz), cc, params)
    k = 12 * cc.n_rb
    np.testing.assert_allclose(np.asarray(h_re[s * k:(s + 1) * k]), np.asarray(direct), rtol=1e-5, atol=1e-6)


def test_per_re_channel_has_unit_mean_power():
    # E|H|^2 = 1 per antenna; over U independent UEs |H|^2 (unit-mean exponential, Rayleigh
    # fading, variance 1) averages to 1 with sigma 1 / sqrt(U) at any one RE.
    cc, params = _setup(n_rb=1, n_rx=1)
    n_ue = 400
    keys = jax.random.split(jax.random.key(3), n_ue)
    h_re, _ = jax.jit(jax.vmap(lambda k: channel_per_re(k, cc, params, cc.scs_hz)))(keys)
    power = np.abs(np.asarray(h_re[:, [0, 100], 0])) ** 2  # two REs, far apart in time and frequency
    assert np.all(np.abs(power.mean(axis=0) - 1.0) < 4.0 / np.sqrt(n_ue)), power.mean(axis=0)

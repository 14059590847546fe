"""ltjax.channels.freq_response: U UEs at T times, the per-UE kernels batched with map_ues' keys."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, channel_freq_response, freq_response, init_channel, make_channel_params

CFG = ChannelConfig(model="C", n_rb=8)
PARAMS = make_channel_params(CFG, delay_spread_s=100e-9, doppler_hz=50.0)
TIMES = jnp.array([0.0, 0.5e-3, 7.0e-3], jnp.float32)


def test_shape_and_ue_u_is_the_per_ue_kernel_with_fold_in():
    key = jax.random.key(3)
    h = jax.jit(freq_response, static_argnums=(1, 3))(key, CFG, PARAMS, 4, TIMES)
    assert h.shape == (4, 3, 8, CFG.n_rx, CFG.n_tx) and h.dtype == jnp.complex64
    one_ue = jax.jit(lambda k, t: channel_freq_response(init_channel(k, CFG), t, CFG, PARAMS))
    for u in (0, 3):
        for i, t in enumerate(TIMES):
            want = one_ue(jax.random.fold_in(key, u), t)
            np.testing.assert_allclose(np.asarray(h[u, i]), np.asarray(want), rtol=1e-5, atol=1e-6)
    scalar_t = jax.eval_shape(lambda k: freq_response(k, CFG, PARAMS, 4, 0.5e-3), key)
    assert scalar_t.shape == (4, 8, CFG.n_rx, CFG.n_tx)


def test_jit_equals_no_jit():
    small = ChannelConfig(model="C", n_rx=1, n_tx=2, n_rb=2, n_sinusoids=4)  # eager mode is op by op: keep it tiny
    params = make_channel_params(small, delay_spread_s=100e-9, doppler_hz=50.0)
    key = jax.random.key(0)
    jitted = jax.jit(freq_response, static_argnums=(1, 3))(key, small, params, 2, TIMES[1:])
    with jax.disable_jit():
        eager = freq_response(key, small, params, 2, TIMES[1:])
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-5, atol=1e-6)


def test_unit_power_over_independent_ues():
    """|H_{r,0,0}(t)|^2 is Exp(1) for every UE (CN(0,1) entries): mean 1, sigma 1/sqrt(U)."""
    n_ue = 2000
    h = jax.jit(freq_response, static_argnums=(1, 3))(jax.random.key(1), CFG, PARAMS, n_ue, 2.0e-3)
    power = np.abs(np.asarray(h[:, 3, 0, 0])) ** 2  # one RB, one antenna pair: independent over UEs
    assert abs(power.mean() - 1.0) < 4.0 / np.sqrt(n_ue)


@pytest.mark.parametrize("args,needle", [
    ((jax.random.key(0), "C", PARAMS, 2, TIMES), "cfg must be a ChannelConfig"),
    ((jax.random.key(0), CFG, (100e-9, 10.0), 2, TIMES), "params must be a ChannelParams"),
    ((jax.random.key(0), CFG, PARAMS, 0, TIMES), "n_ue must be a positive Python int"),
    ((jax.random.key(0), CFG, PARAMS, 2.0, TIMES), "n_ue must be a positive Python int"),
    ((jax.random.key(0), CFG, PARAMS, 2, jnp.zeros((2, 3))), "times must be a scalar or a 1-D array"),
    ((jax.random.split(jax.random.key(0), 3), CFG, PARAMS, 2, TIMES), "key must be one PRNG key"),
    ((jax.random.key(0), CFG, make_channel_params(CFG).replace(doppler_hz=jnp.zeros(3)), 2, TIMES),
     "params.doppler_hz must be a scalar"),
])
def test_clear_messages_for_bad_arguments(args, needle):
    with pytest.raises((TypeError, ValueError)) as e:
        freq_response(*args)
    assert needle in str(e.value) and "\n" not in str(e.value)

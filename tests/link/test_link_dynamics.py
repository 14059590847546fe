"""Non-stationary scenarios (``ltjax.link.dynamics``): SNR steps, shadowing, profile switches.

Statistical tolerances come from the sample size (independent UEs, Gaussian statistics):
4 sigma, fixed seeds.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, ChannelParams, channel_freq_response, normalized_profile
from ltjax.link import DynamicsParams, LinkConfig, PeriodInputs, init_link, link_period, make_link_params
from ltjax.link.dynamics import advance_shadowing, init_shadowing
from ltjax.link.engine import chest_terms, freq_response
from ltjax.link.dynamics import params_in_force
from ltjax.phy.chest import rb_average_bias
from ltjax.phy.tables import CQI_TO_MCS

BASE = LinkConfig(channel=ChannelConfig(model="A", n_rb=12, n_sinusoids=4), slots_per_period=8, rb_choices=(12,),
                  max_rank=1)


def _keys(n, seed):
    return jax.vmap(lambda u: jax.random.fold_in(jax.random.key(seed), u))(jnp.arange(n))


def test_shadowing_is_a_stationary_gauss_markov_process():
    """s_0 ~ N(0, sigma^2) and s_{t+1} = rho s_t + sqrt(1 - rho^2) sigma z: every s_t has variance
    sigma^2 and corr(s_t, s_{t+1}) = rho = exp(-1 / tau). Over N independent UEs: the sample
    variance has sd sigma^2 sqrt(2 / N), the sample correlation sd (1 - rho^2) / sqrt(N)."""
    n, sigma, tau = 20_000, 6.0, 4.0
    params = make_link_params(dataclasses.replace(BASE, dynamics="shadowing"), 10.0, 30e-9, 10.0,
                              dynamics=DynamicsParams(shadow_sigma_db=sigma, shadow_corr_periods=tau))

    @jax.jit
    def path(keys):
        def one(k):
            s0 = init_shadowing(jax.random.fold_in(k, 0), params)
            s1 = advance_shadowing(jax.random.fold_in(k, 1), s0, params)
            s2 = advance_shadowing(jax.random.fold_in(k, 2), s1, params)
            return jnp.stack([s0, s1, s2])
        return jax.vmap(one)(keys)

    s = np.asarray(path(_keys(n, 1)), np.float64)  # [N, 3]
    rho = math.exp(-1.0 / tau)
    for t in range(3):
        assert abs(s[:, t].mean()) <= 4 * sigma / math.sqrt(n)
        assert abs(s[:, t].var() - sigma ** 2) <= 4 * sigma ** 2 * math.sqrt(2.0 / n)
    for t in range(2):
        c = np.corrcoef(s[:, t], s[:, t + 1])[0, 1]
        assert abs(c - rho) <= 4 * (1 - rho ** 2) / math.sqrt(n), (c, rho)
    c2 = np.corrcoef(s[:, 0], s[:, 2])[0, 1]
    assert abs(c2 - rho ** 2) <= 4 * (1 - rho ** 4) / math.sqrt(n)


def _periods(params, n_ue, n_periods, seed):
    @jax.jit
    def run(keys):
        def one(k):
            state = init_link(jax.random.fold_in(k, 0), params)

            def body(state, t):
                inputs = PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[state.report.cqi], cqi=state.report.cqi)
                state, out = link_period(jax.random.fold_in(k, t + 1), state, inputs, params)
                return state, (out.snr_db, out.report.snr_db, out.report.delay_spread_s)
            return jax.lax.scan(body, state, jnp.arange(n_periods))[1]
        return jax.vmap(one)(keys)
    return [np.asarray(x) for x in run(_keys(n_ue, seed))]


def test_snr_steps_and_shadowing_set_the_period_snr():
    """"snr_steps": a square wave of +step dB over P periods; "shadowing": SNR + s_t with the
    AR(1) above, the same path the report's SNR measurement follows."""
    cfg = dataclasses.replace(BASE, dynamics="snr_steps")
    params = make_link_params(cfg, 10.0, 30e-9, 10.0, dynamics=DynamicsParams(snr_step_db=6.0, step_periods=2.0))
    snr, meas, _ = _periods(params, 16, 6, 2)
    np.testing.assert_array_equal(snr, np.broadcast_to(np.float32([10, 10, 16, 16, 10, 10]), snr.shape))
    # The report at the end of period t is measured at period t's SNR. Per UE and period the
    # measured SNR scatters with the fading of the mean gain over 12 RBs x 8 antenna pairs
    # (a mean of ~8 independent exponentials: sd 1/sqrt(8), about 1.5 dB) and the estimation
    # noise (0.3 dB): the difference of the means over 32 and 64 UE-periods has sd
    # 1.5 sqrt(1/32 + 1/64) = 0.33 dB; 4 sigma = 1.3 dB.
    assert np.mean(meas[:, 2:4]) - np.mean(meas[:, [0, 1, 4, 5]]) == pytest.approx(6.0, abs=1.3)
    cfg = dataclasses.replace(BASE, dynamics="shadowing")
    params = make_link_params(cfg, 10.0, 30e-9, 10.0,
                              dynamics=DynamicsParams(shadow_sigma_db=8.0, shadow_corr_periods=3.0))
    snr, _, _ = _periods(params, 4, 5, 3)
    assert np.all(np.std(snr, axis=1) > 0) and not np.allclose(snr[0], snr[1])  # per UE, per period


def test_profile_switch_changes_the_channel_in_force():
    """From ``switch_period`` on the UE's channel is its draw of the new profile, with the new
    delay spread and Doppler, and the DMRS bias of the new profile; before it, the old one."""
    cfg = dataclasses.replace(BASE, dynamics="profile_switch", switch_model="C")
    dyn = DynamicsParams(switch_period=2, switch_channel=ChannelParams(delay_spread_s=200e-9, doppler_hz=50.0))
    params = make_link_params(cfg, 15.0, 30e-9, 10.0, dynamics=dyn)
    state = jax.jit(init_link)(jax.random.key(9), params)
    assert state.channel_after is not None and state.channel_after.amplitudes.shape[0] == 24  # TDL-C taps
    for period, after in ((0, False), (1, False), (2, True), (5, True)):
        s = state.replace(period=jnp.int32(period))
        p = params_in_force(s, params)
        h = freq_response(s, 0.123, p)
        if after:
            want = channel_freq_response(state.channel_after, 0.123, cfg.switch_channel_config, dyn.switch_channel)
            bias = rb_average_bias(normalized_profile("C"), 200e-9)
            assert float(p.channel.doppler_hz) == 50.0
        else:
            want = channel_freq_response(state.channel, 0.123, cfg.channel, params.channel)
            bias = rb_average_bias(normalized_profile("A"), 30e-9)
            assert float(p.channel.doppler_hz) == 10.0
        np.testing.assert_allclose(np.asarray(h), np.asarray(want), rtol=1e-6, atol=1e-6)
        assert float(chest_terms(s, p)) == pytest.approx(float(bias), rel=1e-5)
    # The reports follow: the delay-spread estimate rises after the switch (30 -> 200 ns).
    _, _, ds = _periods(make_link_params(dataclasses.replace(cfg, channel=dataclasses.replace(cfg.channel, n_rb=48),
                                                              rb_choices=(48,)), 15.0, 30e-9, 10.0, dynamics=dyn),
                        16, 4, 4)
    assert np.mean(ds[:, 2:]) > 3 * np.mean(ds[:, :1]), (np.mean(ds[:, :1]), np.mean(ds[:, 2:]))

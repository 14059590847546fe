"""The gNB-side outer loop inside the period, the counterfactual ("genie") period, and jit == no-jit
of the engine with every new option switched on."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, ChannelParams
from ltjax.link import (
    DynamicsParams, GnbOllaParams, LinkConfig, PeriodInputs, counterfactual_period, follow_cqi, init_link,
    link_period, link_params_for_scenario, make_link_params, run_ue,
)
from ltjax.phy.tables import CQI_TO_MCS
from ltjax.phy.thresholds import awgn_sinr_thresholds, mcs_from_cqi


def _keys(n, seed):
    return jax.vmap(lambda u: jax.random.fold_in(jax.random.key(seed), u))(jnp.arange(n))


def test_mcs_from_cqi_at_offset_zero_is_the_same_rate():
    """A CQI and the MCS of the same modulation and code rate have the same AWGN threshold, so the
    gNB's table maps CQI c to CQI_TO_MCS[c] at offset 0, and moves up / down with the offset."""
    cq, mc = awgn_sinr_thresholds("cqi", 24), awgn_sinr_thresholds("mcs", 24)
    for rank in (1, 2):
        for c in range(2, 16):  # CQI 0 / 1 have no MCS of their rate: MCS 0
            assert int(mcs_from_cqi(c, rank, 0.0, cq, mc)) == CQI_TO_MCS[c]
            assert int(mcs_from_cqi(c, rank, 3.0, cq, mc)) >= CQI_TO_MCS[c]
            assert int(mcs_from_cqi(c, rank, -3.0, cq, mc)) <= CQI_TO_MCS[c]
        assert int(mcs_from_cqi(0, rank, 5.0, cq, mc)) == 0
    assert np.all(np.diff(mc[:, :]) > 0)


GNB_CFG = LinkConfig(channel=ChannelConfig(model="AWGN", n_rb=24), slots_per_period=40, rb_choices=(24,),
                     dmrs_choices=(2,), max_rank=1, gnb_olla=True, olla_feedback="first_tx")


@pytest.mark.slow
def test_gnb_loop_converges_to_the_bler_target():
    """Stationary AWGN: the per-HARQ-feedback loop (0.5 dB per NACK, first-transmission feedback)
    holds the first-transmission BLER at T = 0.1. Given the MCS sequence, the ACK/NACKs are
    independent Bernoulli draws (per-slot uniforms) whose probabilities average to the BLER, so
    the NACK fraction over n first transmissions of independent UEs scatters with at most the
    binomial sigma sqrt(T (1 - T) / n); 3 sigma (fixed seed). The loop's own identity holds
    exactly: offset_end = Delta_down (ACKs applied) - Delta_up (NACKs applied), the feedback of the
    last P slots still pending."""
    n_ue, n_t = 16, 24
    d_up = 0.5
    params = link_params_for_scenario("AWGN", 10.0, 0.0, GNB_CFG, gnb_olla=GnbOllaParams(delta_up_db=d_up))

    @jax.jit
    def run(keys):
        def one(k):
            k_init, k_run = jax.random.split(k)
            state = init_link(k_init, params)

            def body(state, t):
                state, out = link_period(jax.random.fold_in(k_run, t), state, follow_cqi(state.report), params)
                return state, out
            state, outs = jax.lax.scan(body, state, jnp.arange(n_t))
            return state.gnb, outs
        return jax.vmap(one)(keys)

    gnb, outs = run(_keys(n_ue, 11))
    ack, nack = np.asarray(outs.n_ack_first, np.float64), np.asarray(outs.n_nack_first, np.float64)
    n = ack.sum() + nack.sum()
    bler = nack.sum() / n
    assert abs(bler - 0.1) <= 3 * math.sqrt(0.09 / n), (bler, n)
    fb = np.asarray(gnb.feedback)  # [U, P] pending: +1 ACK, -1 NACK
    applied_ack = ack.sum(1) - (fb > 0).sum(1)
    applied_nack = nack.sum(1) - (fb < 0).sum(1)
    want = d_up * 0.1 / 0.9 * applied_ack - d_up * applied_nack
    np.testing.assert_allclose(np.asarray(gnb.offset_db), want, atol=1e-3)
    assert np.all(np.abs(np.asarray(gnb.offset_db)) < 10.0)  # never clipped
    # The MCS moves within the period (it is not the CQI's MCS throughout).
    mean_mcs = np.asarray(outs.mean_mcs_new)
    assert np.any(mean_mcs != np.round(mean_mcs))


TINY = LinkConfig(channel=ChannelConfig(model="B", n_rb=8, n_sinusoids=4), slots_per_period=6, n_harq=2,
                  rb_choices=(4, 8), max_rank=1)


def test_counterfactual_at_k0_is_the_plain_period_and_shares_the_draws():
    params = make_link_params(TINY, 14.0, 100e-9, 40.0)
    keys = _keys(6, 12)
    states = jax.jit(jax.vmap(lambda k: init_link(k, params)))(keys)
    pkeys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)

    @jax.jit
    def plain(pkeys, states):
        return jax.vmap(lambda k, s: link_period(k, s, follow_cqi(s.report), params))(pkeys, states)

    @jax.jit
    def genie(pkeys, states, k):
        return jax.vmap(lambda kk, s: counterfactual_period(kk, s, follow_cqi(s.report), params, k))(pkeys, states)

    s_plain, o_plain = plain(pkeys, states)
    s0, o0, o0_alt = genie(pkeys, states, jnp.int32(0))
    for tree in ((s0, s_plain), (o0, o_plain), (o0_alt, o_plain)):
        jax.tree.map(np.testing.assert_array_equal, *tree)
    _, o_cur, o_alt = genie(pkeys, states, jnp.int32(3))
    jax.tree.map(np.testing.assert_array_equal, o_cur, o_plain)  # the applied branch is untouched
    cqi = np.asarray(states.report.cqi)
    np.testing.assert_array_equal(np.asarray(o_alt.mcs), CQI_TO_MCS[np.maximum(cqi - 3, 0)])
    # Common random numbers: the same allocation draws and the same CSI report at the period end.
    for name in ("n_rb", "n_dmrs", "rank"):
        np.testing.assert_array_equal(np.asarray(getattr(o_alt, name)), np.asarray(getattr(o_plain, name)))
    jax.tree.map(np.testing.assert_array_equal, o_alt.report, o_plain.report)
    assert int(np.sum(o_alt.n_nack_first)) <= int(np.sum(o_plain.n_nack_first))


def _assert_same_tree(jitted, eager):
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(eager)):
        a, b = np.asarray(a), np.asarray(b)
        if np.issubdtype(a.dtype, np.inexact):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # fused vs op-by-op float32 rounding
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    # one compile of the engine with most options off their legacy values (each compile costs about a
    # minute); the profile switch is checked in test_link_dynamics.py, the wideband-SNR table against
    # its formula in test_link_physics_options.py
    dict(chest_freq="wiener", cqi_table="awgn_mmib", ri_rule="cqi_rate", csi_delay_slots=2, dynamics="shadowing",
         gnb_olla=True),
])
def test_engine_with_new_options_jit_equals_no_jit(options):
    cfg = dataclasses.replace(TINY, max_rank=1, **options)
    dyn = DynamicsParams(shadow_sigma_db=4.0, switch_period=1, switch_channel=ChannelParams(300e-9, 80.0))
    params = make_link_params(cfg, 9.0, 100e-9, 40.0, dynamics=dyn)

    def run(key):
        state = init_link(key, params)
        cqi_hi = jnp.minimum(state.report.cqi + 5, 15)  # far above the report: NACKs and retransmissions
        state, o1 = link_period(jax.random.fold_in(key, 1), state,
                                PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[cqi_hi], cqi=cqi_hi), params)
        state, o2, o2_alt = counterfactual_period(jax.random.fold_in(key, 2), state, follow_cqi(state.report), params,
                                                  jnp.int32(1))
        return state, o1, o2, o2_alt

    key = jax.random.key(13)
    jitted = jax.jit(run)(key)
    with jax.disable_jit():
        eager = run(key)
    _assert_same_tree(jitted, eager)
    assert int(jitted[1].n_new) < cfg.slots_per_period  # retransmissions happened


def test_run_ue_with_every_dynamics_kind_is_finite():
    for kind in ("snr_steps", "shadowing", "profile_switch"):
        cfg = dataclasses.replace(TINY, dynamics=kind, switch_model="A" if kind == "profile_switch" else None)
        params = make_link_params(cfg, 12.0, 50e-9, 30.0,
                                  dynamics=DynamicsParams(snr_step_db=-8.0, step_periods=1.0, shadow_sigma_db=5.0,
                                                          switch_period=2, switch_channel=ChannelParams(30e-9, 5.0)))
        out = jax.jit(lambda k: run_ue(k, params, 4))(jax.random.key(1))
        assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(out) if np.issubdtype(
            np.asarray(x).dtype, np.inexact)), kind

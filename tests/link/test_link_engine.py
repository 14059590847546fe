"""Link engine: vmap == per-UE loop, CQI rule in AWGN, DMRS trade-off, features, bad input.

Compile cost dominates on 2 cores, so every test here shares a few module-level jitted
functions; the LinkParams pytree carries the static config (a new config compiles anew,
a new SNR / Doppler / MCS / DMRS count does not).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig
from ltjax.csi import select_ri_pmi
from ltjax.errors import InputError
from ltjax.link import (
    FEATURE_NAMES, LinkConfig, PeriodInputs, init_link, link_period, make_link_params, noise_var,
    select_cqi,
)
from ltjax.phy.chest import chest_error_var
from ltjax.phy.sinr import lmmse_sinr
from ltjax.phy.tables import CQI_TO_MCS

# Short periods keep the run time small; compile time does not depend on the scan length.
# Every test uses U = 8 UEs so the vmapped functions below compile once per config.
U = 8
TDL_CFG = LinkConfig(channel=ChannelConfig(model="A"), slots_per_period=40, rb_choices=(106,),
                     max_rank=1)
AWGN_CFG = LinkConfig(channel=ChannelConfig(model="AWGN"), slots_per_period=160, rb_choices=(106,),
                      max_rank=1, max_tx=1, cqi_ref_dmrs=2)


def _params(cfg, snr_db, ds, fd):
    return make_link_params(cfg, snr_db=snr_db, delay_spread_s=ds, doppler_hz=fd)


def _period_one(key, state, params, mcs, n_dmrs):
    inputs = PeriodInputs(mcs=mcs, cqi=state.report.cqi, n_rb=jnp.int32(-1), n_dmrs=n_dmrs)
    return link_period(key, state, inputs, params)


@jax.jit
def _init_v(keys, params):
    return jax.vmap(lambda k: init_link(k, params))(keys)


@jax.jit
def _period_v(keys, states, params, mcs, n_dmrs):
    return jax.vmap(lambda k, s: _period_one(k, s, params, mcs, n_dmrs))(keys, states)


_period_1 = jax.jit(_period_one)


def _ue_keys(key):
    return jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(U))


def _run(cfg, key, n_periods, snr_db, ds, fd, mcs, n_dmrs):
    """U UEs x n_periods with the same channels for the same key (common random numbers)."""
    params = _params(cfg, snr_db, ds, fd)
    keys = _ue_keys(key)
    states = _init_v(jax.vmap(lambda k: jax.random.fold_in(k, 10**6))(keys), params)
    outs = []
    for t in range(n_periods):
        states, o = _period_v(jax.vmap(lambda k: jax.random.fold_in(k, t))(keys), states, params,
                              jnp.int32(mcs), jnp.int32(n_dmrs))
        outs.append(o)
    return jax.tree_util.tree_map(lambda *x: np.stack([np.asarray(v) for v in x], 1), *outs)


def test_vmap_equals_per_ue_loop():
    key = jax.random.key(3)
    params = _params(TDL_CFG, 12.0, 30e-9, 30.0)
    keys = _ue_keys(key)
    states = _init_v(keys, params)
    pkeys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    new_states, batched = _period_v(pkeys, states, params, jnp.int32(9), jnp.int32(2))
    for u in range(3):
        state_u = jax.tree_util.tree_map(lambda x: x[u], states)
        s1, single = _period_1(pkeys[u], state_u, params, jnp.int32(9), jnp.int32(2))
        for name in ("n_ack", "n_nack", "delivered_bits", "features", "mean_tbler"):
            np.testing.assert_allclose(np.asarray(getattr(batched, name)[u]),
                                       np.asarray(getattr(single, name)), rtol=2e-5, atol=1e-5,
                                       err_msg=name)
        assert int(batched.report.cqi[u]) == int(single.report.cqi)
        np.testing.assert_allclose(np.asarray(new_states.harq.acc_sinr[u]), np.asarray(s1.harq.acc_sinr),
                                   rtol=2e-5, atol=1e-5)
    f = np.asarray(batched.features)
    assert f.shape == (U, len(FEATURE_NAMES)) and np.all(np.isfinite(f))
    assert np.all(f[:, FEATURE_NAMES.index("n_rb")] == 106)
    assert np.all(f[:, FEATURE_NAMES.index("n_dmrs")] == 2)
    # Eq. 11 over all transmissions: NACKs over the period's PDSCH transmissions (one per slot).
    n_nack, n_ack = np.asarray(batched.n_nack), np.asarray(batched.n_ack)
    assert np.all(n_ack + n_nack == TDL_CFG.slots_per_period)
    np.testing.assert_array_equal(np.asarray(batched.bler_all_tx),
                                  n_nack.astype(np.float32) / np.float32(TDL_CFG.slots_per_period))
    # Eq. 11 over first transmissions (the default bler_mode): NACKs of new TBs over new TBs.
    n_new, n_nack_first = np.asarray(batched.n_new), np.asarray(batched.n_nack_first)
    assert TDL_CFG.bler_mode == "first_tx"
    np.testing.assert_array_equal(np.asarray(batched.n_ack_first), n_new - n_nack_first)
    np.testing.assert_array_equal(np.asarray(batched.bler_first_tx),
                                  n_nack_first.astype(np.float32) / n_new.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(batched.bler), np.asarray(batched.bler_first_tx))
    # Features 1-4 and 9 at the period start are the previous report's values.
    np.testing.assert_allclose(f[:, 0], np.asarray(states.report.snr_db), rtol=1e-6)
    np.testing.assert_allclose(f[:, 8], np.asarray(states.report.ri))


def test_awgn_reported_cqi_meets_target():
    """In AWGN at a fixed SNR, the CQI's long-run BLER is <= 0.1 and CQI+1's is > 0.1."""
    snr_db, n_periods = 12.0, 2
    p = make_link_params(AWGN_CFG, snr_db=snr_db, delay_spread_s=0.0, doppler_hz=0.0)
    h = jnp.broadcast_to(jnp.eye(2, 4, dtype=jnp.complex64), (106, 2, 4))
    nv = noise_var(p)
    rep = select_ri_pmi(h, nv, max_rank=1)
    w = jnp.pad(rep.precoder, ((0, 0), (0, 1)))
    err = chest_error_var(nv, jnp.int32(AWGN_CFG.cqi_ref_dmrs), 0.0)
    cqi, _ = select_cqi(lmmse_sinr(h, w, nv + err), rep.ri, AWGN_CFG)
    cqi = int(cqi)
    assert 2 <= cqi <= 14
    n_tb = U * n_periods * AWGN_CFG.slots_per_period
    sigma = math.sqrt(0.1 * 0.9 / n_tb)  # binomial std of a BLER of 0.1 over n_tb TBs
    blers = []
    for c in (cqi, cqi + 1):
        o = _run(AWGN_CFG, jax.random.key(11), n_periods, snr_db, 0.0, 0.0, CQI_TO_MCS[c],
                 AWGN_CFG.cqi_ref_dmrs)
        blers.append(float(np.sum(o.n_nack)) / n_tb)
    assert blers[0] <= 0.1 + 4 * sigma, (cqi, blers)
    assert blers[1] > 0.1 - 4 * sigma, (cqi, blers)


def test_more_dmrs_helps_at_100hz_costs_throughput_at_10hz():
    key = jax.random.key(5)
    n_periods = 2
    n_tb = U * n_periods * TDL_CFG.slots_per_period

    def run(snr, fd, mcs, d):
        return _run(TDL_CFG, key, n_periods, snr, 30e-9, fd, mcs, d)

    # 100 Hz, high SNR and MCS: ageing with one DMRS symbol (an error growing as the Doppler
    # squared) caps the SINR below what MCS 28 needs (19.3 dB in AWGN for the LDPC decoder's
    # 2000-bit blocks); four DMRS symbols spread over the slot keep the estimate fresh.
    o1, o4 = run(32.0, 100.0, 28, 1), run(32.0, 100.0, 28, 4)
    b1 = float(np.sum(o1.n_nack_first)) / float(np.sum(o1.n_new))
    b4 = float(np.sum(o4.n_nack_first)) / float(np.sum(o4.n_new))
    sigma = math.sqrt(max(b1 * (1 - b1), 1e-3) / n_tb + max(b4 * (1 - b4), 1e-3) / n_tb)
    assert b4 < b1 - 3 * sigma, (b1, b4)
    # Same channel realisations (common random numbers): the abstraction's first-transmission
    # TBLER is lower with 4 DMRS in every UE-period.
    assert np.all(np.asarray(o4.mean_tbler_first) <= np.asarray(o1.mean_tbler_first) + 1e-6)
    # 10 Hz, moderate MCS where both decode: 4 DMRS symbols cost 36 of 144 data REs per RB.
    t1, t4 = run(25.0, 10.0, 16, 1), run(25.0, 10.0, 16, 4)
    assert float(np.mean(t1.bler)) < 0.05 and float(np.mean(t4.bler)) < 0.05
    assert float(np.mean(t1.throughput_mbps)) > 1.15 * float(np.mean(t4.throughput_mbps))


def test_bad_parameters_one_line_errors():
    for kwargs, word in [({"rb_choices": (0,)}, "rb_choices"), ({"rb_choices": (107,)}, "rb_choices"),
                         ({"dmrs_choices": (5,)}, "dmrs_choices"), ({"max_tx": 0}, "max_tx"),
                         ({"esm": "foo"}, "esm")]:
        with pytest.raises(ValueError, match=word) as e:
            LinkConfig(**kwargs)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="doppler_hz") as e:
        make_link_params(LinkConfig(), snr_db=10.0, doppler_hz=1000.0)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="delay_spread_s"):
        make_link_params(LinkConfig(), snr_db=10.0, delay_spread_s=-1e-9)
    with pytest.raises(ValueError, match="model"):
        ChannelConfig(model="TDL-D")


def test_sweep_rejects_bad_experiment_input():
    from ltjax.sweep.config import parse_sweep
    base = {"experiment": "link_bler_curves", "seed": 0}
    for params, key in [({"channel": "TDL-D"}, "channel"), ({"n_rb": 0}, "n_rb"),
                        ({"doppler_hz": 500.0}, "doppler_hz"), ({"snr_db": float("nan")}, "snr_db"),
                        ({"channel": "TDL-C"}, "channel"), ({"channel": "TDL-C600"}, "channel"),
                        ({"channel": "TDL-C", "delay_spread_ns": 600.0}, "delay_spread_ns"),
                        ({"channel": "TDL-C200", "delay_spread_ns": 300.0}, "delay_spread_ns"),
                        ({"channel": "AWGN", "delay_spread_ns": 30.0}, "delay_spread_ns")]:
        with pytest.raises(InputError) as e:
            parse_sweep({**base, "params": params}, "bad.toml")
        msg = str(e.value)
        assert key in msg and "\n" not in msg, msg
    # Scenario names of the committed sweeps, and a TDL profile with its delay spread given apart.
    for params in ({"channel": ["AWGN", "TDL-A30", "TDL-B50", "TDL-C200"]},
                   {"channel": "TDL-C", "delay_spread_ns": 300.0}, {"channel": "tdl-b100"}):
        assert parse_sweep({**base, "params": params}, "ok.toml").n_points >= 1


# A tiny link: 8 RBs, 4 slots, 2 HARQ processes (slots 2-3 retransmit the NACKs of slots 0-1),
# RBs and DMRS drawn per period. Rank 1: the rank-2 codebook has PMIs of equal capacity in
# exact arithmetic, where jit and op-by-op rounding may pick different (equally good) PMIs.
TINY_CFG = LinkConfig(channel=ChannelConfig(model="B", n_rb=8, n_sinusoids=4), slots_per_period=4, n_harq=2,
                      rb_choices=(4, 8), max_rank=1)


def _assert_same_tree(jitted, eager):
    flat_j, tree_j = jax.tree_util.tree_flatten(jitted)
    flat_e, tree_e = jax.tree_util.tree_flatten(eager)
    assert tree_j == tree_e
    for a, b in zip(flat_j, flat_e):
        a, b = np.asarray(a), np.asarray(b)
        if np.issubdtype(a.dtype, np.inexact):
            # Fused (jit) and op-by-op evaluation round differently in float32.
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        else:  # draws, decisions, counts, indices: exact
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_init_link_and_link_period_jit_equal_no_jit():
    params = make_link_params(TINY_CFG, snr_db=8.0, delay_spread_s=100e-9, doppler_hz=40.0)

    def period(key, state):
        inputs = PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[state.report.cqi] + 4, cqi=state.report.cqi)
        return link_period(key, state, inputs, params)

    k_init, k_period = jax.random.split(jax.random.key(17))
    state = jax.jit(init_link)(k_init, params)
    jitted = jax.jit(period)(k_period, state)
    with jax.disable_jit():
        _assert_same_tree(state, init_link(k_init, params))
        eager = period(k_period, state)
    _assert_same_tree(jitted, eager)
    # The period exercised HARQ retransmissions (MCS 4 above the CQI), not only new TBs.
    assert int(jitted[1].n_new) < TINY_CFG.slots_per_period, jitted[1]

"""The engine's slot scan against a per-slot oracle that evaluates the full channel matrix.

The engine (``ltjax.link.engine.slot_step``) selects the slot's TB first and computes the
SINR of that TB's precoder from the precoded channel G = H W, applied at the taps
(``ltjax.channels.precoded_channel``). The oracle below is the direct formulation: the
MIMO frequency response H(t) of every RB (``channel_freq_response``), then the LMMSE SINR
of H W (``lmmse_sinr``), then the same HARQ bookkeeping written out. Both are the same
algebra in a different order, so they agree up to float32 rounding; ACK draws, new /
retransmission patterns and counts must agree exactly.
"""

import jax
import jax.numpy as jnp
import numpy as np

import ltjax.link.engine as engine
from ltjax.channels import ChannelConfig, channel_freq_response, normalized_profile
from ltjax.link import (
    LinkConfig, PeriodInputs, SlotOutputs, init_link, link_period, link_tables, make_link_params, noise_var,
    tb_error_rate,
)
from ltjax.numerics import lin_to_db
from ltjax.phy.chest import chest_error_var, rb_average_bias
from ltjax.phy.harq import TbDesc, harq_feedback, harq_select
from ltjax.phy.sinr import lmmse_sinr
from ltjax.phy.tables import CQI_TO_MCS

U = 8
# Rank 2, random RBs and DMRS per period, an MCS far above the CQI (many NACKs) and
# S = 40 > (max_tx - 1) P = 24, so retransmissions of the previous period's TBs (other
# precoder, DMRS, RBs) happen in the first slots of every period.
CFG = LinkConfig(channel=ChannelConfig(model="C"), slots_per_period=40, max_rank=2)
assert CFG.chest_freq == "rb_average"  # the oracle writes this estimator's error out
PARAMS = make_link_params(CFG, snr_db=18.0, delay_spread_s=300e-9, doppler_hz=100.0)


def _oracle_slot(key, state, s, t0, new_tb, params, tables, chest):
    """One slot with H(t) of every RB and port, then the LMMSE SINR of H W."""
    cfg = params.cfg
    r = cfg.channel.n_rb
    t = t0 + (s.astype(jnp.float32) + 0.5) * cfg.slot_s
    h = channel_freq_response(state.channel, t, cfg.channel, params.channel)  # [R, Nr, Nt]
    process = (state.period * cfg.slots_per_period + s) % cfg.n_harq
    tb, is_retx, prior = harq_select(state.harq, process, new_tb)
    nv = noise_var(params)
    err = chest_error_var(nv, tb.n_dmrs, params.channel.doppler_hz, cfg.slot_s) + chest  # + RB-average bias
    sinr = lmmse_sinr(h, tb.precoder, nv + err)
    # The TB's RBs from rb_start on (wrapping), its layers, and nothing else.
    on = ((jnp.arange(r) < tb.n_rb)[:, None] & (jnp.arange(2) < tb.layers)[None, :]).astype(jnp.float32)
    sinr_tb = jnp.roll(sinr, -tb.rb_start, axis=0) * on
    tbler, tbs, eff = tb_error_rate(prior + sinr_tb, tb, tables, cfg.esm)
    ack = jax.random.uniform(key) >= tbler
    harq, dropped = harq_feedback(state.harq, process, tb, prior + sinr_tb, ack, cfg.max_tx)
    hist = jnp.concatenate([lin_to_db(jnp.sum(sinr_tb) / jnp.sum(on))[None], state.pdsch_snr_hist[:-1]])
    return state.replace(harq=harq, pdsch_snr_hist=hist), SlotOutputs(
        ack=ack, tbler=tbler, bits=jnp.where(ack, tbs, 0).astype(jnp.float32), new=~is_retx, dropped=dropped,
        sinr_eff_db=eff, mcs=tb.mcs)


def _oracle_run_slots(key, state, new_tb, params, chest=None, cqi=None):
    """Same contract as ``engine.run_slots``, built from ``_oracle_slot`` (the default RB-average
    estimator: its bias from ``rb_average_bias`` of the TDL-C profile, written out here)."""
    tables = link_tables(params.cfg)
    t0 = state.period.astype(jnp.float32) * jnp.float32(params.cfg.period_s)
    bias = rb_average_bias(normalized_profile("C"), params.channel.delay_spread_s)

    def body(state, s):
        return _oracle_slot(jax.random.fold_in(key, s), state, s, t0, new_tb, params, tables, bias)

    return jax.lax.scan(body, state, jnp.arange(params.cfg.slots_per_period, dtype=jnp.int32))


def _inputs(state):
    return PeriodInputs(mcs=jnp.minimum(jnp.asarray(CQI_TO_MCS)[state.report.cqi] + 5, 27), cqi=state.report.cqi)


def _fns(run_slots):
    """jitted, vmapped (slots of one period, full period) using ``run_slots`` for the slots."""
    def slots(key, state):
        tb_key, k_slots = jax.random.split(key)
        new_tb = TbDesc(mcs=_inputs(state).mcs, n_rb=jnp.int32(52), rb_start=jax.random.randint(tb_key, (), 0, 55),
                        n_dmrs=jnp.int32(1), layers=state.report.ri, precoder=state.report.precoder)
        return run_slots(k_slots, state, new_tb, PARAMS)

    def period(key, state):
        return link_period(key, state, _inputs(state), PARAMS)

    return jax.jit(jax.vmap(slots)), jax.jit(jax.vmap(period))


def test_slot_engine_equals_per_slot_oracle(monkeypatch):
    slots_new, period_new = _fns(engine.run_slots)
    slots_ref, period_ref = _fns(_oracle_run_slots)
    keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(21), u))(jnp.arange(U))
    states = jax.jit(jax.vmap(lambda k: init_link(k, PARAMS)))(keys)
    n_slots = n_old_retx = 0
    tbler_diff = 0.0
    for t in range(3):
        pkeys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
        # Per slot: the same HARQ state at the period start, new TB and slot keys.
        s_new, o_new = slots_new(pkeys, states)
        s_ref, o_ref = slots_ref(pkeys, states)
        with monkeypatch.context() as m:  # link_period traced with the oracle's slots
            m.setattr(engine, "run_slots", _oracle_run_slots)
            _, p_ref = period_ref(pkeys, states)
        # An ACK is `uniform >= tbler`: a rounding difference d in the TBLER flips it with
        # probability d, so the expected number of flips is sum |d| (asserted < 0.05 below).
        np.testing.assert_array_equal(np.asarray(o_new.ack), np.asarray(o_ref.ack))
        np.testing.assert_array_equal(np.asarray(o_new.new), np.asarray(o_ref.new))
        np.testing.assert_array_equal(np.asarray(o_new.dropped), np.asarray(o_ref.dropped))
        # TBLER is steep in the effective SINR (up to ~10 per dB for large TBs), so a 1e-5 dB
        # rounding difference of the reordered sums shows as up to ~1e-4 in the TBLER.
        np.testing.assert_allclose(np.asarray(o_new.tbler), np.asarray(o_ref.tbler), rtol=1e-4, atol=3e-4)
        np.testing.assert_allclose(np.asarray(o_new.sinr_eff_db), np.asarray(o_ref.sinr_eff_db),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(s_new.harq.acc_sinr), np.asarray(s_ref.harq.acc_sinr),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(np.asarray(s_new.harq.n_tx), np.asarray(s_ref.harq.n_tx))
        np.testing.assert_allclose(np.asarray(s_new.pdsch_snr_hist), np.asarray(s_ref.pdsch_snr_hist),
                                   rtol=1e-4, atol=1e-4)
        tbler_diff += float(np.sum(np.abs(np.asarray(o_new.tbler) - np.asarray(o_ref.tbler))))
        # Full period, and the state carried on (with its pending TBs) from the engine.
        states, p_new = period_new(pkeys, states)
        for name in ("n_ack", "n_nack", "n_new", "n_dropped", "n_nack_first", "delivered_bits", "bler"):
            np.testing.assert_array_equal(np.asarray(getattr(p_new, name)), np.asarray(getattr(p_ref, name)),
                                          err_msg=name)
        np.testing.assert_allclose(np.asarray(p_new.mean_tbler), np.asarray(p_ref.mean_tbler), rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(p_new.report.cqi), np.asarray(p_ref.report.cqi))
        # A retransmission in the first P slots is one of an earlier period's TB.
        n_old_retx += int(np.sum(~np.asarray(o_new.new)[:, :CFG.n_harq]))
        n_slots += o_new.ack.size
    assert tbler_diff < 0.05, tbler_diff
    # The test exercised what it is about: retransmissions of earlier periods' TBs.
    assert n_old_retx > 20, n_old_retx
    assert n_slots == 3 * U * CFG.slots_per_period

"""Link engine: vmap == per-UE loop, CQI rule in AWGN, DMRS trade-off, features, bad input.

Compile cost dominates on 2 cores, so every test here shares a few module-level jitted
functions with static configs and traced SNR / MCS / DMRS / Doppler.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, ChannelParams
from ltjax.errors import InputError
from ltjax.link import (
    FEATURE_NAMES, LinkConfig, LinkParams, PeriodInputs, init_link, link_period, make_link_params,
)
from ltjax.link.engine import lmmse_sinr, noise_var, select_cqi, chest_error_var, slot_step
from ltjax.phy.harq import TbDesc
from ltjax.phy.tables import CQI_TO_MCS
from ltjax.csi import select_ri_pmi

# Short periods keep the run time small; compile time does not depend on the scan length.
# Every test uses U = 8 UEs so the vmapped functions below compile once per config.
U = 8
TDL_CFG = LinkConfig(channel=ChannelConfig(model="A"), slots_per_period=40, rb_choices=(106,),
                     max_rank=1)
AWGN_CFG = LinkConfig(channel=ChannelConfig(model="AWGN"), slots_per_period=160, rb_choices=(106,),
                      max_rank=1, max_tx=1, cqi_ref_dmrs=2)


def _params(cfg, snr_db, ds, fd):
    return LinkParams(cfg=cfg, snr_db=snr_db, channel=ChannelParams(delay_spread_s=ds, doppler_hz=fd))


def _period_one(cfg, key, state, snr_db, ds, fd, mcs, n_dmrs):
    inputs = PeriodInputs(mcs=mcs, cqi=state.report.cqi, n_rb=jnp.int32(-1), n_dmrs=n_dmrs)
    return link_period(key, state, inputs, _params(cfg, snr_db, ds, fd))


@functools.partial(jax.jit, static_argnums=0)
def _init_v(cfg, keys, snr_db, ds, fd):
    return jax.vmap(lambda k: init_link(k, _params(cfg, snr_db, ds, fd)))(keys)


@functools.partial(jax.jit, static_argnums=0)
def _period_v(cfg, keys, states, snr_db, ds, fd, mcs, n_dmrs):
    return jax.vmap(lambda k, s: _period_one(cfg, k, s, snr_db, ds, fd, mcs, n_dmrs))(keys, states)


_period_1 = jax.jit(_period_one, static_argnums=0)


def _ue_keys(key):
    return jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(U))


def _run(cfg, key, n_periods, snr_db, ds, fd, mcs, n_dmrs):
    """U UEs x n_periods with the same channels for the same key (common random numbers)."""
    args = (jnp.float32(snr_db), jnp.float32(ds), jnp.float32(fd))
    keys = _ue_keys(key)
    states = _init_v(cfg, jax.vmap(lambda k: jax.random.fold_in(k, 10**6))(keys), *args)
    outs = []
    for t in range(n_periods):
        states, o = _period_v(cfg, jax.vmap(lambda k: jax.random.fold_in(k, t))(keys), states, *args,
                              jnp.int32(mcs), jnp.int32(n_dmrs))
        outs.append(o)
    return jax.tree_util.tree_map(lambda *x: np.stack([np.asarray(v) for v in x], 1), *outs)


def test_vmap_equals_per_ue_loop():
    key = jax.random.key(3)
    args = (jnp.float32(12.0), jnp.float32(30e-9), jnp.float32(30.0))
    keys = _ue_keys(key)
    states = _init_v(TDL_CFG, keys, *args)
    pkeys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    new_states, batched = _period_v(TDL_CFG, pkeys, states, *args, jnp.int32(9), jnp.int32(2))
    for u in range(3):
        state_u = jax.tree_util.tree_map(lambda x: x[u], states)
        s1, single = _period_1(TDL_CFG, pkeys[u], state_u, *args, jnp.int32(9), jnp.int32(2))
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
    assert np.all(np.asarray(batched.bler) == np.asarray(batched.n_nack) / TDL_CFG.slots_per_period)
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


def test_more_dmrs_helps_at_50hz_costs_throughput_at_10hz():
    key = jax.random.key(5)
    n_periods = 2
    n_tb = U * n_periods * TDL_CFG.slots_per_period

    def run(snr, fd, mcs, d):
        return _run(TDL_CFG, key, n_periods, snr, 30e-9, fd, mcs, d)

    # 50 Hz, high SNR and MCS: ageing with one DMRS symbol caps the SINR near 25 dB.
    o1, o4 = run(32.0, 50.0, 27, 1), run(32.0, 50.0, 27, 4)
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
                        ({"doppler_hz": 500.0}, "doppler_hz"), ({"snr_db": float("nan")}, "snr_db")]:
        with pytest.raises(InputError) as e:
            parse_sweep({**base, "params": params}, "bad.toml")
        msg = str(e.value)
        assert key in msg and "\n" not in msg, msg


# --- Slot batching (docs/link_engine.md): the batched engine equals the per-slot reference ---

# Rank 2, random RBs and DMRS per period, an MCS far above the CQI (many NACKs) and
# S = 40 > (max_tx - 1) P = 24, so retransmissions of the previous period's TBs (other
# precoder, DMRS, RBs) happen in the first slots of every period.
BATCH_CFG = LinkConfig(channel=ChannelConfig(model="C"), slots_per_period=40, max_rank=2)


def _run_slots_reference(k_slots, state, new_tb, t0, params):
    """The pre-batching engine: a scan of ``slot_step`` (channel and SINR inside every slot)."""
    cfg = params.cfg

    def body(carry, s):
        return slot_step(jax.random.fold_in(k_slots, s), carry, s, params, new_tb, state.channel, t0,
                         state.period * cfg.slots_per_period + s)

    return jax.lax.scan(body, (state.harq, state.pdsch_snr_hist),
                        jnp.arange(cfg.slots_per_period, dtype=jnp.int32))


def _batch_fns(run_slots):
    """jitted vmapped (init, slots of one period, full period) using ``run_slots``."""
    params = _params(BATCH_CFG, jnp.float32(18.0), jnp.float32(300e-9), jnp.float32(100.0))

    def inputs(state):
        return PeriodInputs(mcs=jnp.minimum(jnp.asarray(CQI_TO_MCS)[state.report.cqi] + 5, 27),
                            cqi=state.report.cqi)

    def slots(key, state):
        tb_key, k_slots = jax.random.split(key)
        mcs = inputs(state).mcs
        new_tb = TbDesc(mcs=mcs, n_rb=jnp.int32(52), rb_start=jax.random.randint(tb_key, (), 0, 55),
                        n_dmrs=jnp.int32(1), layers=state.report.ri, precoder=state.report.precoder)
        t0 = state.period.astype(jnp.float32) * jnp.float32(BATCH_CFG.period_s)
        return run_slots(k_slots, state, new_tb, t0, params)

    def period(key, state):
        return link_period(key, state, inputs(state), params)

    return (jax.jit(jax.vmap(lambda k: init_link(k, params))), jax.jit(jax.vmap(slots)),
            jax.jit(jax.vmap(period)))


def test_slot_batched_engine_equals_per_slot_reference(monkeypatch):
    import ltjax.link.engine as engine

    init, slots_new, period_new = _batch_fns(engine._run_slots)
    _, slots_ref, period_ref = _batch_fns(_run_slots_reference)
    keys = _ue_keys(jax.random.key(21))
    states = init(keys)
    n_slots = n_compared = n_old_retx = 0
    tbler_diff = 0.0
    for t in range(3):
        pkeys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
        # Per-slot comparison: the same (HARQ state at the period start, new TB, slot keys).
        (h_new, hist_new), o_new = slots_new(pkeys, states)
        with monkeypatch.context() as m:  # link_period traced with the reference slots
            m.setattr(engine, "_run_slots", _run_slots_reference)
            (h_ref, hist_ref), o_ref = slots_ref(pkeys, states)
            s_ref, p_ref = period_ref(pkeys, states)
        # An ACK is `uniform >= tbler`: a rounding difference d in the TBLER flips it with
        # probability d, so the expected number of flips is sum |d| (asserted < 0.05 below).
        np.testing.assert_array_equal(np.asarray(o_new["ack"]), np.asarray(o_ref["ack"]))
        np.testing.assert_array_equal(np.asarray(o_new["new"]), np.asarray(o_ref["new"]))
        # TBLER is steep in the effective SINR (up to ~10 per dB for large TBs), so a 1e-5 dB
        # rounding difference of the reordered sums shows as up to ~1e-4 in the TBLER.
        np.testing.assert_allclose(np.asarray(o_new["tbler"]), np.asarray(o_ref["tbler"]),
                                   rtol=1e-4, atol=3e-4)
        np.testing.assert_allclose(np.asarray(o_new["sinr_eff_db"]), np.asarray(o_ref["sinr_eff_db"]),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(h_new.acc_sinr), np.asarray(h_ref.acc_sinr),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(hist_new), np.asarray(hist_ref), rtol=1e-4, atol=1e-4)
        tbler_diff += float(np.sum(np.abs(np.asarray(o_new["tbler"]) - np.asarray(o_ref["tbler"]))))
        # Full period, and the state carried on (with its pending TBs) from the batched engine.
        s_new, p_new = period_new(pkeys, states)
        for name in ("n_ack", "n_new", "n_dropped", "delivered_bits"):
            np.testing.assert_array_equal(np.asarray(getattr(p_new, name)), np.asarray(getattr(p_ref, name)))
        np.testing.assert_allclose(np.asarray(p_new.mean_tbler), np.asarray(p_ref.mean_tbler),
                                   rtol=1e-4, atol=1e-6)
        assert np.all(np.asarray(p_new.report.cqi) == np.asarray(p_ref.report.cqi))
        # A retransmission in the first P slots is one of an earlier period's TB.
        n_old_retx += int(np.sum(~np.asarray(o_new["new"])[:, :BATCH_CFG.n_harq]))
        n_slots += o_new["ack"].size
        n_compared += 1
        states = s_new
    assert tbler_diff < 0.05, tbler_diff
    # The test exercised what it is about: retransmissions of earlier periods' TBs.
    assert n_old_retx > 20, n_old_retx
    assert n_slots == 3 * U * BATCH_CFG.slots_per_period and n_compared == 3

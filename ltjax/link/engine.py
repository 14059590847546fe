"""The per-UE link engine: one CSI-RS period as a ``lax.scan`` over its slots.

Letters: S slots per period (160), R resource blocks (106), Nr UE antennas (2), Nt gNB
ports (4), r layers (<= 2), P HARQ processes (8), F features (12).

A period (``link_period``) is a chain of named steps, each built from ``ltjax.channels``,
``ltjax.phy`` and ``ltjax.csi``::

    new_tb   = allocate(...)          # RBs, DMRS symbols, start RB, rank and precoder of new TBs
    features = period_features(...)   # the 12 BLER-prediction features at the period start
    state, slots = run_slots(...)     # scan of slot_step over the S slots
    state    = state.replace(report=csi_report(...))   # CSI-RS report at the period end
    outputs  = period_outputs(...)    # eq. 11 BLER (period_bler), bits, counts

and a slot (``slot_step``) is: HARQ process of the slot -> its pending TB or the new one ->
effective channel G = H(t) W of that TB's precoder (``ltjax.channels.precoded_channel``)
-> DMRS estimation error as extra noise (``ltjax.phy.chest``) -> LMMSE SINR per RB and
layer -> chase combining -> effective SINR (MIESM or EESM) -> code-block BLER -> TBLER ->
ACK/NACK draw -> HARQ state and PDSCH SNR history.

Everything here is for ONE UE and never calls jit; ``ltjax.batching.map_ues`` batches UEs
at one boundary and the entry points (experiments, bench, tests) jit. Keys: the caller
passes ``fold_in(key, ue)``-derived keys; a period key is split into the three allocation
draws, the slots and the CSI report, and slot s uses ``fold_in(slot_key, s)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import channel_freq_response, init_channel, precoded_channel
from ltjax.csi import csi_snr_estimate, csi_snr_true, estimate_delay_spread, estimate_doppler, select_ri_pmi
from ltjax.link.config import (
    CsiOut, LinkConfig, LinkParams, LinkState, PeriodInputs, PeriodOutputs, SlotOutputs, noise_var,
)
from ltjax.numerics import db_to_lin, lin_to_db
from ltjax.phy.bler import code_block_bler, transport_block_bler
from ltjax.phy.chest import chest_error_var
from ltjax.phy.effective_sinr import eesm_beta, eesm_db, miesm_db
from ltjax.phy.harq import TbDesc, harq_feedback, harq_select, init_harq
from ltjax.phy.sinr import lmmse_sinr, lmmse_sinr_from_g
from ltjax.phy.tables import CQI_QM, CQI_RATE_X1024, CQI_TO_MCS, MCS_QM, MCS_RATE_X1024
from ltjax.phy.tbs import tbs_tables

# ---------------------------------------------------------------------------------------
# Transport-block error model (TS 38.214 5.1.3 TBS and segmentation, ltjax.phy abstraction)
# ---------------------------------------------------------------------------------------


def link_tables(cfg: LinkConfig) -> dict[str, jax.Array]:
    """TBS and code-block tables of the config (``ltjax.phy.tbs.tbs_tables``) as jnp arrays.

    Keys: tbs, n_cb, k_cb, n_sym_cb indexed [mcs, layers - 1, n_dmrs - 1, n_rb], and the
    cqi_* tables of the CSI reference resource indexed [cqi, layers - 1, n_dmrs - 1, n_rb].
    """
    t = tbs_tables(cfg.channel.n_rb, cfg.n_symb_sh)
    return {k: jnp.asarray(getattr(t, k)) for k in
            ("tbs", "n_cb", "k_cb", "n_sym_cb", "cqi_tbs", "cqi_n_cb", "cqi_k_cb", "cqi_n_sym_cb")}


def _pad2(w):
    """[Nt, r] -> [Nt, 2] with zero columns."""
    return jnp.pad(w, ((0, 0), (0, 2 - w.shape[-1])))


def effective_sinr_db(sinr, mask, mcs, esm: str):
    """Effective SINR [dB] of a TB with MCS ``mcs`` over the masked (RB, layer) SINRs [R, 2]."""
    if esm == "eesm":
        return eesm_db(sinr, eesm_beta(mcs), mask)
    return miesm_db(sinr, jnp.asarray(MCS_QM)[mcs], mask)


def allocation_mask(n_rb, layers, n_rb_max: int):
    """float32 [R, 2]: 1 on the first n_rb relative RBs and the first ``layers`` layers."""
    rb = jnp.arange(n_rb_max) < n_rb
    ly = jnp.arange(2) < layers
    return (rb[:, None] & ly[None, :]).astype(jnp.float32)


def tb_error_rate(sinr_rel, tb: TbDesc, tables, esm: str):
    """TBLER of ``tb`` given SINR [R, 2] on its (relative) RBs and layers; also its TBS.

    Returns:
      (tbler float32 [], tbs int32 [], sinr_eff_db float32 []).
    """
    n_rb_max = sinr_rel.shape[0]
    mask = allocation_mask(tb.n_rb, tb.layers, n_rb_max)
    idx = (tb.mcs, tb.layers - 1, tb.n_dmrs - 1, tb.n_rb)
    eff = effective_sinr_db(sinr_rel, mask, tb.mcs, esm)
    bler_cb = code_block_bler(eff, jnp.asarray(MCS_QM)[tb.mcs], jnp.asarray(MCS_RATE_X1024)[tb.mcs],
                              tables["k_cb"][idx], tables["n_sym_cb"][idx])
    return transport_block_bler(bler_cb, tables["n_cb"][idx]), tables["tbs"][idx], eff


# ---------------------------------------------------------------------------------------
# CSI-RS report (TS 38.214 5.2.2: RI, PMI, CQI; plus the measurements LightTune uses)
# ---------------------------------------------------------------------------------------


def select_cqi(sinr_meas, ri, cfg, tables=None):
    """Highest CQI whose predicted TBLER on the CSI reference resource is <= bler_target.

    Reference resource (TS 38.214 5.2.2.5, simplified): all R RBs, ``ri`` layers,
    ``cfg.cqi_ref_dmrs`` DMRS symbols, the CQI table's modulation and code rate; the TB is
    sized and segmented like a PDSCH TB (TS 38.214 5.1.3.2). CQI 0 if even CQI 1 fails.

    Args:
      sinr_meas: float32 [R, 2] SINR per RB and layer as measured by the UE.
      ri: int32 [] rank (1..2).

    Returns:
      (cqi int32 [], sinr_eff_db float32 [3] per modulation: MIESM for QPSK/16QAM/64QAM, or
      with EESM the effective SINR of CQI 1, 7 and 10, the lowest CQI of each modulation).
    """
    tables = link_tables(cfg) if tables is None else tables
    n_rb = cfg.channel.n_rb
    mask = allocation_mask(n_rb, ri, n_rb)
    cqis = np.arange(1, 16)
    qm = jnp.asarray(CQI_QM[1:])
    rate = jnp.asarray(CQI_RATE_X1024[1:])
    if cfg.esm == "eesm":
        betas = eesm_beta(jnp.asarray(CQI_TO_MCS[1:]))
        eff = jax.vmap(lambda b: eesm_db(sinr_meas, b, mask))(betas)  # [15]
        per_mod = eff[jnp.asarray([0, 6, 9])]
    else:
        per_mod = jax.vmap(lambda q: miesm_db(sinr_meas, q, mask))(jnp.asarray([2, 4, 6]))  # [3]
        eff = per_mod[qm // 2 - 1]
    idx = (jnp.asarray(cqis), ri - 1, cfg.cqi_ref_dmrs - 1, n_rb)
    bler_cb = code_block_bler(eff, qm, rate, tables["cqi_k_cb"][idx], tables["cqi_n_sym_cb"][idx])
    tbler = transport_block_bler(bler_cb, tables["cqi_n_cb"][idx])
    ok = tbler <= cfg.bler_target
    cqi = jnp.max(jnp.where(ok, jnp.asarray(cqis), 0)).astype(jnp.int32)
    return cqi, per_mod.astype(jnp.float32)


def csi_report(key, channel_state, t_s, params: LinkParams) -> CsiOut:
    """CSI-RS report at absolute time t_s: RI/PMI/capacity, SNR, delay spread, Doppler, CQI.

    The RI/PMI search uses the true channel (the CSI-RS estimate error is small next to the
    SNR-measurement error below); the CQI uses the true per-RB LMMSE SINR rescaled by the
    SNR-measurement error (10^((SNR_est - SNR_true)/10)), with the DMRS estimation error of
    the reference resource at the *estimated* Doppler. The key is consumed.
    """
    cfg = params.cfg
    k_snr, k_ds, k_fd = jax.random.split(key, 3)
    nv = noise_var(params)
    h = channel_freq_response(channel_state, t_s, cfg.channel, params.channel)
    h_lag = channel_freq_response(channel_state, t_s - cfg.doppler_lag_s, cfg.channel, params.channel)
    rep = select_ri_pmi(h, nv, max_rank=cfg.max_rank)
    w = _pad2(rep.precoder)
    w1 = _pad2(select_ri_pmi(h, nv, max_rank=1).precoder) if cfg.max_rank == 2 else w
    snr_est = csi_snr_estimate(k_snr, h, nv)
    snr_true = csi_snr_true(h, nv)
    ds = estimate_delay_spread(k_ds, h, nv, cfg.channel.scs_hz)
    fd = estimate_doppler(k_fd, h_lag, h, cfg.doppler_lag_s, nv)
    err = chest_error_var(nv, jnp.int32(cfg.cqi_ref_dmrs), fd, cfg.slot_s)
    sinr = lmmse_sinr(h, w, nv + err) * db_to_lin(snr_est - snr_true)
    cqi, per_mod = select_cqi(sinr, rep.ri, cfg)
    return CsiOut(ri=rep.ri, pmi=rep.pmi, precoder=w, precoder_r1=w1, capacity=rep.capacity,
                  snr_db=snr_est, delay_spread_s=ds, doppler_hz=fd, cqi=cqi, sinr_eff_db=per_mod)


# ---------------------------------------------------------------------------------------
# One slot
# ---------------------------------------------------------------------------------------


def slot_sinr(channel_state, t_s, precoder, n_dmrs, params: LinkParams):
    """LMMSE SINR float32 [R, 2] (absolute RBs) of one slot at time t_s for (precoder, DMRS).

    The channel is held constant over the slot (block fading; ``ltjax.channels`` bounds
    f_D T_slot). The DMRS estimation error (noise averaging and ageing, ``chest_error_var``)
    adds to the noise; the SINR is that of the effective channel G = H(t_s) W
    (``precoded_channel``).
    """
    cfg = params.cfg
    nv = noise_var(params)
    err = chest_error_var(nv, n_dmrs, params.channel.doppler_hz, cfg.slot_s)
    gr, gi = precoded_channel(channel_state, t_s, precoder, cfg.channel, params.channel)
    return lmmse_sinr_from_g(gr, gi, nv + err)


def slot_step(key, state: LinkState, slot_index, t_s, new_tb: TbDesc, params: LinkParams, tables):
    """One slot's PDSCH transmission and its HARQ feedback.

    HARQ process (round-robin over the slot index since t = 0, so the RTT stays P slots
    across period boundaries) -> its pending TB or ``new_tb`` -> SINR of that TB's
    precoder and DMRS count (``slot_sinr``) on its RBs and layers -> chase combining with
    the TB's earlier transmissions -> TBLER (``tb_error_rate``) -> ACK/NACK draw -> HARQ
    state; the PDSCH SNR history gets this transmission's mean SINR.

    Args:
      key: slot key (consumed by the ACK/NACK draw).
      state: LinkState; its ``harq`` and ``pdsch_snr_hist`` are updated.
      slot_index: int32 [] slot within the period.
      t_s: float32 [] the slot's centre time [s] (absolute).
      new_tb: TbDesc a new TB would use (the period's allocation).
      tables: ``link_tables(params.cfg)``.

    Returns:
      (LinkState, SlotOutputs).
    """
    cfg = params.cfg
    n_rb_max = cfg.channel.n_rb
    process = (state.period * cfg.slots_per_period + slot_index) % cfg.n_harq
    tb, is_retx, prior = harq_select(state.harq, process, new_tb)
    sinr = slot_sinr(state.channel, t_s, tb.precoder, tb.n_dmrs, params)  # [R, 2]
    rel = (tb.rb_start + jnp.arange(n_rb_max)) % n_rb_max
    mask = allocation_mask(tb.n_rb, tb.layers, n_rb_max)
    sinr_rel = sinr[rel] * mask  # relative to rb_start, zero outside the allocation
    combined = prior + sinr_rel  # chase combining: SINR adds per RB and layer
    tbler, tbs, eff = tb_error_rate(combined, tb, tables, cfg.esm)
    ack = jax.random.uniform(key) >= tbler
    harq, dropped = harq_feedback(state.harq, process, tb, combined, ack, cfg.max_tx)
    # PDSCH SNR of this transmission alone (as the UE measures it on the DMRS): mean SINR.
    snr_now = lin_to_db(jnp.sum(sinr_rel) / jnp.sum(mask))
    hist = jnp.concatenate([snr_now[None], state.pdsch_snr_hist[:-1]])
    out = SlotOutputs(ack=ack, tbler=tbler, bits=jnp.where(ack, tbs, 0).astype(jnp.float32),
                      new=~is_retx, dropped=dropped, sinr_eff_db=eff)
    return state.replace(harq=harq, pdsch_snr_hist=hist), out


# ---------------------------------------------------------------------------------------
# One CSI-RS period: allocation -> features -> slots -> CSI report -> outputs
# ---------------------------------------------------------------------------------------


def init_link(key, params: LinkParams) -> LinkState:
    """One UE's initial state: its channel, empty HARQ processes and a CSI report at t = 0.

    The key is consumed.
    """
    cfg = params.cfg
    k_ch, k_csi = jax.random.split(key)
    channel = init_channel(k_ch, cfg.channel)
    report = csi_report(k_csi, channel, jnp.float32(0.0), params)
    return LinkState(channel=channel, harq=init_harq(cfg.n_harq, cfg.channel.n_rb, cfg.channel.n_tx),
                     report=report, pdsch_snr_hist=jnp.full((4,), report.snr_db, jnp.float32),
                     period=jnp.zeros((), jnp.int32))


def _draw(key, choices, probs):
    c = jnp.asarray(choices, jnp.int32)
    if probs is None:
        return c[jax.random.randint(key, (), 0, len(choices))]
    return c[jax.random.choice(key, len(choices), p=jnp.asarray(probs, jnp.float32))]


def allocate(keys, report: CsiOut, inputs: PeriodInputs, cfg: LinkConfig) -> TbDesc:
    """The TB every new transmission of the period uses.

    RBs and DMRS symbols as ``inputs`` says (or drawn from ``cfg.rb_choices`` /
    ``cfg.dmrs_choices`` when -1), ``n_rb`` contiguous RBs at a uniformly drawn start,
    the MCS of ``inputs``, and the rank and precoder of the last report (or its best
    rank-1 precoder when ``inputs.rank`` is 1).

    Args:
      keys: three keys (RB count, DMRS count, start RB), consumed.
      report: the CSI report the gNB acts on (made at the end of the previous period).
      inputs: PeriodInputs.

    Returns:
      TbDesc of int32 [] fields and precoder complex64 [Nt, 2].
    """
    k_rb, k_dmrs, k_start = keys
    n_rb = jnp.where(inputs.n_rb > 0, inputs.n_rb, _draw(k_rb, cfg.rb_choices, cfg.rb_probs)).astype(jnp.int32)
    n_dmrs = jnp.where(inputs.n_dmrs > 0, inputs.n_dmrs,
                       _draw(k_dmrs, cfg.dmrs_choices, cfg.dmrs_probs)).astype(jnp.int32)
    rb_start = jax.random.randint(k_start, (), 0, cfg.channel.n_rb - n_rb + 1).astype(jnp.int32)
    force_r1 = inputs.rank == 1
    return TbDesc(mcs=jnp.asarray(inputs.mcs, jnp.int32), n_rb=n_rb, rb_start=rb_start, n_dmrs=n_dmrs,
                  layers=jnp.where(force_r1, 1, report.ri).astype(jnp.int32),
                  precoder=jnp.where(force_r1, report.precoder_r1, report.precoder))


def period_features(report: CsiOut, pdsch_snr_hist, cqi, n_rb, n_dmrs):
    """The 12 features of Sec. V-B at the period start, float32 [12] (see FEATURE_NAMES)."""
    return jnp.concatenate([
        jnp.stack([report.snr_db, report.capacity, report.delay_spread_s * 1e9, report.doppler_hz]),
        pdsch_snr_hist,
        jnp.stack([report.ri, cqi, n_rb, n_dmrs]).astype(jnp.float32),
    ]).astype(jnp.float32)


def slot_times(t0, cfg: LinkConfig):
    """float32 [S] centre times [s] of the slots of a period starting at t0 [s]."""
    s = jnp.arange(cfg.slots_per_period, dtype=jnp.int32)
    return t0 + (s.astype(jnp.float32) + 0.5) * cfg.slot_s


def period_start_s(state: LinkState, cfg: LinkConfig):
    """float32 [] absolute start time [s] of the period ``state.period``."""
    return state.period.astype(jnp.float32) * jnp.float32(cfg.period_s)


def run_slots(key, state: LinkState, new_tb: TbDesc, params: LinkParams):
    """The S slots of the period ``state.period`` as a ``lax.scan`` of ``slot_step``.

    Args:
      key: slot key of the period (slot s uses ``fold_in(key, s)``).
      state: LinkState at the period start.
      new_tb: the period's allocation (``allocate``).

    Returns:
      (LinkState with the HARQ state and PDSCH SNR history after the last slot,
      SlotOutputs with a leading [S] axis).
    """
    cfg = params.cfg
    tables = link_tables(cfg)

    def body(state, xs):
        s, t = xs
        return slot_step(jax.random.fold_in(key, s), state, s, t, new_tb, params, tables)

    slots = (jnp.arange(cfg.slots_per_period, dtype=jnp.int32), slot_times(period_start_s(state, cfg), cfg))
    return jax.lax.scan(body, state, slots)


def period_bler(n_nack, n_ack):
    """Eq. 11 of the LightTune paper: the period's BLER, float32 [].

    BLER_t = N_NACK,t / (N_ACK,t + N_NACK,t), the NACKs over every PDSCH transmission of
    period t, HARQ retransmissions included (what the UE sees on the PUCCH).
    """
    return (n_nack / (n_ack + n_nack)).astype(jnp.float32)


def period_outputs(features, report: CsiOut, slots: SlotOutputs, new_tb: TbDesc,
                   cfg: LinkConfig) -> PeriodOutputs:
    """PeriodOutputs from the period's features, end-of-period report and [S] slot outputs."""
    n_ack = jnp.sum(slots.ack).astype(jnp.int32)
    n_nack = (cfg.slots_per_period - n_ack).astype(jnp.int32)  # every slot carries one PDSCH
    bits = jnp.sum(slots.bits)
    return PeriodOutputs(
        features=features, report=report, n_ack=n_ack, n_nack=n_nack,
        bler=period_bler(n_nack, n_ack),
        delivered_bits=bits, throughput_mbps=(bits / cfg.period_s / 1e6).astype(jnp.float32),
        n_new=jnp.sum(slots.new).astype(jnp.int32),
        n_dropped=jnp.sum(slots.dropped).astype(jnp.int32),
        mean_tbler=jnp.mean(slots.tbler),
        n_nack_first=jnp.sum(slots.new & ~slots.ack).astype(jnp.int32),
        mean_tbler_first=(jnp.sum(jnp.where(slots.new, slots.tbler, 0.0))
                          / jnp.maximum(jnp.sum(slots.new), 1)).astype(jnp.float32),
        mcs=new_tb.mcs, n_rb=new_tb.n_rb, n_dmrs=new_tb.n_dmrs, rank=new_tb.layers)


def link_period(key, state: LinkState, inputs: PeriodInputs, params: LinkParams):
    """One CSI-RS period of one UE.

    Args:
      key: period key (consumed).
      state: LinkState from ``init_link`` or the previous period.
      inputs: PeriodInputs (MCS/CQI chosen by the policy from ``state.report``).
      params: LinkParams.

    Returns:
      (LinkState of the next period, PeriodOutputs).
    """
    cfg = params.cfg
    k_rb, k_dmrs, k_start, k_slots, k_csi = jax.random.split(key, 5)
    new_tb = allocate((k_rb, k_dmrs, k_start), state.report, inputs, cfg)
    features = period_features(state.report, state.pdsch_snr_hist, jnp.asarray(inputs.cqi),
                                new_tb.n_rb, new_tb.n_dmrs)
    t_end = period_start_s(state, cfg) + jnp.float32(cfg.period_s)
    state, slots = run_slots(k_slots, state, new_tb, params)
    state = state.replace(report=csi_report(k_csi, state.channel, t_end, params))
    state = state.replace(period=state.period + 1)
    return state, period_outputs(features, state.report, slots, new_tb, cfg)

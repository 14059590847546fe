"""The per-UE link engine: one CSI-RS period as a ``lax.scan`` over its slots.

Letters: S slots per period (160), R resource blocks (106), Nr UE antennas (2), Nt gNB
ports (4), r layers (<= 2), P HARQ processes (8), F features (12).

A period (``link_period``) is a chain of named steps, each built from ``ltjax.channels``,
``ltjax.phy`` and ``ltjax.csi``::

    params   = params_in_force(...)   # the period's SNR and channel (ltjax.link.dynamics)
    chest    = chest_terms(...)       # the DMRS frequency-interpolation error of the profile
    new_tb   = allocate(...)          # RBs, DMRS symbols, start RB, rank and precoder of new TBs
    features = period_features(...)   # the 12 BLER-prediction features at the period start
    state, slots = run_slots(...)     # scan of slot_step over the S slots
    state    = state.replace(report=csi_report(...))   # CSI-RS report, measured csi_delay_slots
                                                        # before the next period starts
    outputs  = period_outputs(...)    # eq. 11 BLER (period_bler, first or all tx), bits, counts

and a slot (``slot_step``) is: HARQ process of the slot -> (gNB loop: the feedback of that
process's last transmission moves the offset, and a new TB gets the MCS of the CQI plus the
offset) -> its pending TB or the new one -> effective channel G = H(t) W of that TB's
precoder (``ltjax.channels.precoded_channel``) -> DMRS estimation error as extra noise
(``ltjax.phy.chest``: noise, ageing, frequency interpolation) -> LMMSE SINR per RB and layer
-> chase combining -> effective SINR (MIESM or EESM) -> code-block BLER -> TBLER -> ACK/NACK
draw -> HARQ state and PDSCH SNR history.

The physics options of ``LinkConfig`` (BLER definition, UE CQI table, DMRS frequency error,
RI rule, CSI delay, period-0 PDSCH SNR, dynamics, gNB loop) are static: each is a Python
branch at trace time, and ``legacy_physics`` compiles exactly the engine before them.

Everything here is for ONE UE and never calls jit; ``ltjax.batching.map_ues`` batches UEs
at one boundary and the entry points (experiments, bench, tests) jit. Keys: the caller
passes ``fold_in(key, ue)``-derived keys; a period key is split into the three allocation
draws, the slots and the CSI report, and slot s uses ``fold_in(slot_key, s)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import (channel_freq_response, init_channel, normalized_profile, precoded_channel,
                            precoded_response)
from ltjax.csi import csi_snr_estimate, csi_snr_true, estimate_delay_spread, estimate_doppler, select_ri_pmi
from ltjax.link.config import (
    CsiOut, GnbLoopState, LinkConfig, LinkParams, LinkState, PeriodInputs, PeriodOutputs, SlotOutputs,
    noise_var,
)
from ltjax.link.dynamics import advance_shadowing, init_shadowing, params_in_force, switched
from ltjax.numerics import db_to_lin, lin_to_db
from ltjax.phy.bler import DEFAULT_BLER_MODEL, code_block_bler, transport_block_bler
from ltjax.phy.chest import (
    FLAT_PROFILE, ageing_error, chest_error_var, flat_noise_error, rb_average_bias, wiener_error,
)
from ltjax.phy.effective_sinr import eesm_beta, eesm_db, miesm_db
from ltjax.phy.harq import TbDesc, harq_feedback, harq_select, init_harq
from ltjax.phy.sinr import lmmse_sinr, lmmse_sinr_from_g
from ltjax.phy.tables import CQI_QM, CQI_RATE_X1024, CQI_SE, CQI_TO_MCS, MCS_QM, MCS_RATE_X1024
from ltjax.phy.tbs import tbs_tables
from ltjax.phy.thresholds import mcs_from_cqi, thresholds_for

# ---------------------------------------------------------------------------------------
# Transport-block error model (TS 38.214 5.1.3 TBS and segmentation, ltjax.phy abstraction)
# ---------------------------------------------------------------------------------------


def link_tables(cfg: LinkConfig) -> dict[str, jax.Array]:
    """TBS and code-block tables of the config (``ltjax.phy.tbs.tbs_tables``) as jnp arrays.

    Keys: tbs, n_cb, k_cb, n_sym_cb indexed [mcs, layers - 1, n_dmrs - 1, n_rb], and the
    cqi_* tables of the CSI reference resource indexed [cqi, layers - 1, n_dmrs - 1, n_rb];
    with the gNB loop also cqi_thresholds / mcs_thresholds (AWGN SINR [dB] [rank - 1, entry]).
    """
    t = tbs_tables(cfg.channel.n_rb, cfg.n_symb_sh)
    out = {k: jnp.asarray(getattr(t, k)) for k in
           ("tbs", "n_cb", "k_cb", "n_sym_cb", "cqi_tbs", "cqi_n_cb", "cqi_k_cb", "cqi_n_sym_cb")}
    if cfg.gnb_olla:  # the gNB loop's AWGN tables [2, 16] and [2, 29] (ltjax.phy.thresholds)
        out["cqi_thresholds"] = jnp.asarray(thresholds_for(cfg, "cqi"))
        out["mcs_thresholds"] = jnp.asarray(thresholds_for(cfg, "mcs"))
    return out


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


def tb_error_rate(sinr_rel, tb: TbDesc, tables, esm: str, bler_model: str = DEFAULT_BLER_MODEL):
    """TBLER of ``tb`` given SINR [R, 2] on its (relative) RBs and layers; also its TBS.

    Returns:
      (tbler float32 [], tbs int32 [], sinr_eff_db float32 []).
    """
    n_rb_max = sinr_rel.shape[0]
    mask = allocation_mask(tb.n_rb, tb.layers, n_rb_max)
    idx = (tb.mcs, tb.layers - 1, tb.n_dmrs - 1, tb.n_rb)
    eff = effective_sinr_db(sinr_rel, mask, tb.mcs, esm)
    bler_cb = code_block_bler(eff, jnp.asarray(MCS_QM)[tb.mcs], jnp.asarray(MCS_RATE_X1024)[tb.mcs],
                              tables["k_cb"][idx], tables["n_sym_cb"][idx], model=bler_model)
    return transport_block_bler(bler_cb, tables["n_cb"][idx]), tables["tbs"][idx], eff


# ---------------------------------------------------------------------------------------
# The UE's channel in force and its DMRS estimation error
# ---------------------------------------------------------------------------------------


def _profile(model: str):
    """(normalised delays, powers) of a TDL model, or of a flat channel for AWGN (static numpy)."""
    return FLAT_PROFILE if model == "AWGN" else normalized_profile(model)


def freq_response(state: LinkState, t_s, params: LinkParams):
    """H [R, Nr, Nt] complex64 of the UE's channel in force at t_s (after a profile switch: the new one).

    ``params`` are those in force (``params_in_force``), so their ChannelParams are the
    switched ones after the switch.
    """
    cfg = params.cfg
    if cfg.user_channel is not None:
        return cfg.user_channel.freq_response(state.channel, t_s, cfg.channel, params.channel)
    h = channel_freq_response(state.channel, t_s, cfg.channel, params.channel)
    if cfg.dynamics != "profile_switch":
        return h
    h_after = channel_freq_response(state.channel_after, t_s, cfg.switch_channel_config, params.channel)
    return jnp.where(switched(cfg, params.dynamics, state.period), h_after, h)


def effective_channel(state: LinkState, t_s, precoder, params: LinkParams):
    """G = H(t_s) W of the UE's channel in force, as (Re, Im) float32 [R, Nr, r] (``precoded_channel``)."""
    cfg = params.cfg
    if cfg.user_channel is not None:
        return precoded_response(freq_response(state, t_s, params), precoder)
    g = precoded_channel(state.channel, t_s, precoder, cfg.channel, params.channel)
    if cfg.dynamics != "profile_switch":
        return g
    g_after = precoded_channel(state.channel_after, t_s, precoder, cfg.switch_channel_config, params.channel)
    after = switched(cfg, params.dynamics, state.period)
    return tuple(jnp.where(after, b, a) for a, b in zip(g, g_after))


def chest_terms(state: LinkState, params: LinkParams):
    """The DMRS frequency-interpolation term of the period (``LinkConfig.chest_freq``).

    Returns None ("none"), the RB-average bias float32 [] ("rb_average"), or the Wiener
    interpolator's error (noise and bias together) per DMRS count float32 [4] ("wiener"),
    for the profile and delay spread in force (``params`` from ``params_in_force``).
    """
    cfg = params.cfg
    if cfg.chest_freq == "none":
        return None
    scs = cfg.channel.scs_hz
    ds = params.channel.delay_spread_s

    def terms(model):
        prof = _profile(model)
        if cfg.chest_freq == "rb_average":
            return rb_average_bias(prof, ds, scs)
        nv = noise_var(params)
        return jnp.stack([wiener_error(prof, ds, nv / d, scs) for d in (1, 2, 3, 4)])

    out = terms(cfg.channel.model)
    if cfg.dynamics == "profile_switch":
        out = jnp.where(switched(cfg, params.dynamics, state.period), terms(cfg.switch_channel_config.model), out)
    return out


def dmrs_error_var(noise_var_, n_dmrs, doppler_hz, chest, cfg: LinkConfig):
    """Per-entry DMRS estimation-error variance float32 []: noise + ageing (+ frequency term).

    "none": ``chest_error_var`` (noise averaging and ageing); "rb_average": that plus the
    RB-average bias ``chest``; "wiener": ageing plus the Wiener error ``chest[n_dmrs - 1]``
    (which holds the noise). ``chest`` from :func:`chest_terms`.
    """
    if cfg.chest_freq == "wiener":
        return (ageing_error(n_dmrs, doppler_hz, cfg.slot_s) + chest[n_dmrs - 1]).astype(jnp.float32)
    err = chest_error_var(noise_var_, n_dmrs, doppler_hz, cfg.slot_s)
    return err if cfg.chest_freq == "none" else err + chest


# ---------------------------------------------------------------------------------------
# CSI-RS report (TS 38.214 5.2.2: RI, PMI, CQI; plus the measurements LightTune uses)
# ---------------------------------------------------------------------------------------


def select_cqi(sinr_meas, ri, cfg, tables=None):
    """Highest CQI whose predicted TBLER on the CSI reference resource is <= bler_target.

    Reference resource (TS 38.214 5.2.2.5, simplified): all R RBs, ``ri`` layers,
    ``cfg.cqi_ref_dmrs`` DMRS symbols, the CQI table's modulation and code rate; the TB is
    sized and segmented like a PDSCH TB (TS 38.214 5.1.3.2). CQI 0 if even CQI 1 fails.
    The per-(RB, layer) SINRs are compressed by the effective-SINR method and compared with
    the AWGN BLER of a flat SINR, so this is the AWGN 10 % table applied to the effective
    SINR (``ltjax.phy.thresholds`` holds the same table as thresholds).

    Args:
      sinr_meas: float32 [R, 2] SINR per RB and layer as the UE computes it.
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
    bler_cb = code_block_bler(eff, qm, rate, tables["cqi_k_cb"][idx], tables["cqi_n_sym_cb"][idx],
                              model=cfg.bler_model)
    tbler = transport_block_bler(bler_cb, tables["cqi_n_cb"][idx])
    ok = tbler <= cfg.bler_target
    cqi = jnp.max(jnp.where(ok, jnp.asarray(cqis), 0)).astype(jnp.int32)
    return cqi, per_mod.astype(jnp.float32)


def table_sinr(h, w, layers, nv, err_rx, snr_est_db, snr_scale, cfg: LinkConfig):
    """float32 [R, 2]: the per-(RB, layer) SINR the UE maps to a CQI (``LinkConfig.cqi_table``).

    "exact": the receiver's LMMSE SINR with its own DMRS error ``err_rx`` (at the estimated
    Doppler). "awgn_mmib": the LMMSE SINR with the estimation error the AWGN table was
    calibrated with (a flat static channel: the noise term only, ``flat_noise_error``), so
    the profile- and Doppler-dependent losses are not in it. "awgn_snr": the measured
    wideband CSI-RS SNR on every RB, split over ``layers`` layers, with the same flat error
    (no frequency selectivity, no array gain). Every SINR the UE computes is scaled by its
    SNR-measurement error ``snr_scale`` = 10^((SNR_est - SNR_true)/10).
    """
    if cfg.cqi_table == "exact":
        return lmmse_sinr(h, w, nv + err_rx) * snr_scale
    flat = flat_noise_error(nv, jnp.int32(cfg.cqi_ref_dmrs), cfg.chest_freq)
    if cfg.cqi_table == "awgn_mmib":
        return lmmse_sinr(h, w, nv + flat) * snr_scale
    per_layer = db_to_lin(snr_est_db) / jnp.asarray(layers, jnp.float32) / (1.0 + flat / nv)
    return jnp.broadcast_to(per_layer.astype(jnp.float32), (h.shape[0], 2))


def _mean_sinr_db(sinr, ri, n_rb: int):
    """Linear mean of SINR [R, 2] over the R RBs and ri layers, in dB (as ``slot_step`` reports it)."""
    mask = allocation_mask(n_rb, ri, n_rb)
    return lin_to_db(jnp.sum(sinr * mask) / jnp.sum(mask)).astype(jnp.float32)


def csi_report(key, state: LinkState, t_s, params: LinkParams, chest=None) -> CsiOut:
    """CSI-RS report measured at absolute time t_s: RI/PMI/capacity, SNR, delay spread, Doppler, CQI.

    The UE measures the channel in force (``state.channel``, or the one after a profile
    switch) at t_s and t_s - doppler_lag_s with ``params`` in force. RI/PMI: by capacity
    (``ri_rule = "capacity"``), or the rank whose CQI-implied rate CQI_SE x layers is largest
    with the capacity-best PMI of each rank ("cqi_rate", ties to the lower rank). CQI: the
    AWGN table applied to ``table_sinr`` of the chosen precoder (``cqi_table``). The key is
    consumed.

    Args:
      key: report key (SNR, delay-spread and Doppler measurement noise).
      state: LinkState (its channel states and period).
      t_s: float32 [] measurement time [s].
      params: LinkParams in force (``ltjax.link.dynamics.params_in_force``).
      chest: :func:`chest_terms` of the period (None: computed here).
    """
    cfg = params.cfg
    if chest is None:
        chest = chest_terms(state, params)
    k_snr, k_ds, k_fd = jax.random.split(key, 3)
    nv = noise_var(params)
    h = freq_response(state, t_s, params)
    h_lag = freq_response(state, t_s - cfg.doppler_lag_s, params)
    rep = select_ri_pmi(h, nv, max_rank=cfg.max_rank)
    snr_est = csi_snr_estimate(k_snr, h, nv)
    snr_true = csi_snr_true(h, nv)
    ds = estimate_delay_spread(k_ds, h, nv, cfg.channel.scs_hz)
    fd = estimate_doppler(k_fd, h_lag, h, cfg.doppler_lag_s, nv)
    err = dmrs_error_var(nv, jnp.int32(cfg.cqi_ref_dmrs), fd, chest, cfg)
    scale = db_to_lin(snr_est - snr_true)
    if cfg.ri_rule == "capacity":
        ri, pmi, capacity = rep.ri, rep.pmi, rep.capacity
        w = _pad2(rep.precoder)
        w1 = _pad2(select_ri_pmi(h, nv, max_rank=1).precoder) if cfg.max_rank == 2 else w
        sinr = table_sinr(h, w, ri, nv, err, snr_est, scale, cfg)
        cqi, per_mod = select_cqi(sinr, ri, cfg)
    else:
        ranks = min(cfg.max_rank, cfg.channel.n_rx, cfg.channel.n_tx)
        ws = [_pad2(rep.precoder_per_rank[v - 1]) for v in range(1, ranks + 1)]
        sinrs = [table_sinr(h, w_v, v, nv, err, snr_est, scale, cfg) for v, w_v in enumerate(ws, start=1)]
        picks = [select_cqi(sinr_v, jnp.int32(v), cfg) for v, sinr_v in enumerate(sinrs, start=1)]
        cqis = jnp.stack([c for c, _ in picks])
        rates = jnp.asarray(CQI_SE, jnp.float32)[cqis] * jnp.arange(1, ranks + 1, dtype=jnp.float32)
        best = jnp.argmax(rates)  # the first maximum: ties go to the lower rank
        ri = (best + 1).astype(jnp.int32)
        pmi, capacity = rep.pmi_per_rank[best], rep.capacity_per_rank[best]
        w, w1 = jnp.stack(ws)[best], ws[0]
        sinr, cqi = jnp.stack(sinrs)[best], cqis[best]
        per_mod = jnp.stack([m for _, m in picks])[best]
    # The PDSCH SINR the report predicts for its precoder: the receiver's own SINR (with the
    # DMRS error of the reference resource), the scale of the PDSCH-SNR features.
    sinr_rx = sinr if cfg.cqi_table == "exact" else lmmse_sinr(h, w, nv + err) * scale
    return CsiOut(ri=ri, pmi=pmi, precoder=w, precoder_r1=w1, capacity=capacity, snr_db=snr_est,
                  delay_spread_s=ds, doppler_hz=fd, cqi=cqi, sinr_eff_db=per_mod,
                  pdsch_sinr_db=_mean_sinr_db(sinr_rx, ri, cfg.channel.n_rb))


def csi_measurement_time(t_apply_s, cfg: LinkConfig):
    """float32 []: when a report applied from t_apply_s is measured, csi_delay_slots slots earlier."""
    if cfg.csi_delay_slots == 0:
        return t_apply_s
    return t_apply_s - jnp.float32(cfg.csi_delay_slots * cfg.slot_s)


# ---------------------------------------------------------------------------------------
# One slot
# ---------------------------------------------------------------------------------------


def slot_sinr(state: LinkState, t_s, precoder, n_dmrs, params: LinkParams, chest=None):
    """LMMSE SINR float32 [R, 2] (absolute RBs) of one slot at time t_s for (precoder, DMRS).

    The channel is held constant over the slot (block fading; ``ltjax.channels`` bounds
    f_D T_slot). The DMRS estimation error (``dmrs_error_var``: noise averaging, ageing and
    the frequency term of ``chest``) adds to the noise; the SINR is that of the effective
    channel G = H(t_s) W (``effective_channel``). ``params`` are those in force.
    """
    cfg = params.cfg
    nv = noise_var(params)
    err = dmrs_error_var(nv, n_dmrs, params.channel.doppler_hz, chest, cfg)
    gr, gi = effective_channel(state, t_s, precoder, params)
    return lmmse_sinr_from_g(gr, gi, nv + err)


def gnb_loop_mcs(loop: GnbLoopState, process, cqi, layers, params: LinkParams, tables):
    """The gNB loop at one slot: apply the feedback of ``process``'s last transmission, pick the MCS.

    The feedback of the transmission P slots ago (+1 ACK, -1 NACK, 0 none) moves the offset
    (-delta_up per NACK, +delta_up T / (1 - T) per ACK, clipped), then a new TB would get
    ``mcs_from_cqi(cqi, layers, offset)``.

    Returns:
      (GnbLoopState with the feedback consumed, mcs int32 []).
    """
    g = params.gnb_olla
    fb = loop.feedback[process]
    d_up = jnp.asarray(g.delta_up_db, jnp.float32)
    d_down = d_up * g.target / (1.0 - g.target)
    off = loop.offset_db + jnp.where(fb > 0, d_down, 0.0) - jnp.where(fb < 0, d_up, 0.0)
    off = jnp.clip(off, g.offset_min_db, g.offset_max_db).astype(jnp.float32)
    mcs = mcs_from_cqi(cqi, layers, off, tables["cqi_thresholds"], tables["mcs_thresholds"])
    return loop.replace(offset_db=off, feedback=loop.feedback.at[process].set(0)), mcs


def slot_step(key, state: LinkState, slot_index, t_s, new_tb: TbDesc, params: LinkParams, tables,
              chest=None, cqi=None):
    """One slot's PDSCH transmission and its HARQ feedback.

    HARQ process (round-robin over the slot index since t = 0, so the RTT stays P slots
    across period boundaries) -> with the gNB loop, the MCS of a new TB from the CQI and
    the loop's offset -> its pending TB or ``new_tb`` -> SINR of that TB's precoder and
    DMRS count (``slot_sinr``) on its RBs and layers -> chase combining with the TB's
    earlier transmissions -> TBLER (``tb_error_rate``) -> ACK/NACK draw -> HARQ state (and
    the loop's feedback); the PDSCH SNR history gets this transmission's mean SINR.

    Args:
      key: slot key (consumed by the ACK/NACK draw).
      state: LinkState; its ``harq``, ``pdsch_snr_hist`` (and ``gnb``) are updated.
      slot_index: int32 [] slot within the period.
      t_s: float32 [] the slot's centre time [s] (absolute).
      new_tb: TbDesc a new TB would use (the period's allocation).
      params: LinkParams in force.
      tables: ``link_tables(params.cfg)``.
      chest: the period's ``chest_terms``.
      cqi: int32 [] the CQI the period applies (the gNB loop's input; unused without it).

    Returns:
      (LinkState, SlotOutputs).
    """
    cfg = params.cfg
    n_rb_max = cfg.channel.n_rb
    process = (state.period * cfg.slots_per_period + slot_index) % cfg.n_harq
    if cfg.gnb_olla:
        gnb, mcs = gnb_loop_mcs(state.gnb, process, cqi, new_tb.layers, params, tables)
        state = state.replace(gnb=gnb)
        new_tb = new_tb.replace(mcs=mcs)
    tb, is_retx, prior = harq_select(state.harq, process, new_tb)
    sinr = slot_sinr(state, t_s, tb.precoder, tb.n_dmrs, params, chest)  # [R, 2]
    rel = (tb.rb_start + jnp.arange(n_rb_max)) % n_rb_max
    mask = allocation_mask(tb.n_rb, tb.layers, n_rb_max)
    sinr_rel = sinr[rel] * mask  # relative to rb_start, zero outside the allocation
    combined = prior + sinr_rel  # chase combining: SINR adds per RB and layer
    tbler, tbs, eff = tb_error_rate(combined, tb, tables, cfg.esm, cfg.bler_model)
    ack = jax.random.uniform(key) >= tbler
    harq, dropped = harq_feedback(state.harq, process, tb, combined, ack, cfg.max_tx)
    if cfg.gnb_olla:
        counted = ~is_retx if cfg.olla_feedback == "first_tx" else jnp.ones((), bool)
        fb = jnp.where(counted, jnp.where(ack, 1, -1), 0).astype(jnp.int32)
        state = state.replace(gnb=state.gnb.replace(feedback=state.gnb.feedback.at[process].set(fb)))
    # PDSCH SNR of this transmission alone (as the UE measures it on the DMRS): mean SINR.
    snr_now = lin_to_db(jnp.sum(sinr_rel) / jnp.sum(mask))
    hist = jnp.concatenate([snr_now[None], state.pdsch_snr_hist[:-1]])
    out = SlotOutputs(ack=ack, tbler=tbler, bits=jnp.where(ack, tbs, 0).astype(jnp.float32),
                      new=~is_retx, dropped=dropped, sinr_eff_db=eff, mcs=tb.mcs)
    return state.replace(harq=harq, pdsch_snr_hist=hist), out


# ---------------------------------------------------------------------------------------
# One CSI-RS period: allocation -> features -> slots -> CSI report -> outputs
# ---------------------------------------------------------------------------------------


def init_gnb_loop(n_harq: int) -> GnbLoopState:
    """Offset 0 dB and no pending feedback."""
    return GnbLoopState(offset_db=jnp.zeros((), jnp.float32), feedback=jnp.zeros((n_harq,), jnp.int32))


def init_link(key, params: LinkParams) -> LinkState:
    """One UE's initial state: its channel, empty HARQ processes and a CSI report for period 0.

    The report is measured ``csi_delay_slots`` slots before t = 0. With a profile switch the
    UE's channel after it is drawn here too (``fold_in(key, 1)``); the shadowing starts from
    its stationary distribution (``fold_in(key, 2)``). The key is consumed.
    """
    cfg = params.cfg
    k_ch, k_csi = jax.random.split(key)
    channel = (init_channel(k_ch, cfg.channel) if cfg.user_channel is None
               else cfg.user_channel.init(k_ch, cfg.channel))
    after = (init_channel(jax.random.fold_in(key, 1), cfg.switch_channel_config)
             if cfg.dynamics == "profile_switch" else None)
    state = LinkState(channel=channel, harq=init_harq(cfg.n_harq, cfg.channel.n_rb, cfg.channel.n_tx),
                      report=None, pdsch_snr_hist=jnp.zeros((4,), jnp.float32), period=jnp.zeros((), jnp.int32),
                      shadow_db=init_shadowing(jax.random.fold_in(key, 2), params), channel_after=after,
                      gnb=init_gnb_loop(cfg.n_harq) if cfg.gnb_olla else None)
    report = csi_report(k_csi, state, csi_measurement_time(jnp.float32(0.0), cfg), params_in_force(state, params))
    first_snr = report.pdsch_sinr_db if cfg.pdsch_snr_init == "predicted" else report.snr_db
    return state.replace(report=report, pdsch_snr_hist=jnp.full((4,), first_snr, jnp.float32))


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


def run_slots(key, state: LinkState, new_tb: TbDesc, params: LinkParams, chest=None, cqi=None):
    """The S slots of the period ``state.period`` as a ``lax.scan`` of ``slot_step``.

    Args:
      key: slot key of the period (slot s uses ``fold_in(key, s)``).
      state: LinkState at the period start.
      new_tb: the period's allocation (``allocate``).
      params: LinkParams in force.
      chest: the period's ``chest_terms`` (None: computed here).
      cqi: int32 [] the period's CQI (the gNB loop's input).

    Returns:
      (LinkState with the HARQ state and PDSCH SNR history after the last slot,
      SlotOutputs with a leading [S] axis).
    """
    cfg = params.cfg
    tables = link_tables(cfg)
    if chest is None:
        chest = chest_terms(state, params)

    def body(state, xs):
        s, t = xs
        return slot_step(jax.random.fold_in(key, s), state, s, t, new_tb, params, tables, chest, cqi)

    slots = (jnp.arange(cfg.slots_per_period, dtype=jnp.int32), slot_times(period_start_s(state, cfg), cfg))
    return jax.lax.scan(body, state, slots)


def period_bler(n_nack, n_ack):
    """Eq. 11 of the LightTune paper: NACKs over counted transmissions, float32 [].

    BLER_t = N_NACK,t / (N_ACK,t + N_NACK,t). Which transmissions count is
    ``LinkConfig.bler_mode``: the first transmissions of the period's TBs ("first_tx", the
    single-transmission error probability the CQI is defined by, TS 38.214 5.2.2.1), or every
    PDSCH transmission, HARQ retransmissions included ("all_tx", what the UE sees on the
    PUCCH). 0 when nothing was counted.
    """
    return (n_nack / jnp.maximum(n_ack + n_nack, 1)).astype(jnp.float32)


def period_outputs(features, report: CsiOut, slots: SlotOutputs, new_tb: TbDesc,
                   cfg: LinkConfig, snr_db=None, gnb_offset_db=None) -> PeriodOutputs:
    """PeriodOutputs from the period's features, end-of-period report and [S] slot outputs.

    ``snr_db``: the period's SNR in force [dB]; ``gnb_offset_db``: the gNB loop's offset at
    the period end (0 when None).
    """
    n_ack = jnp.sum(slots.ack).astype(jnp.int32)
    n_nack = (cfg.slots_per_period - n_ack).astype(jnp.int32)  # every slot carries one PDSCH
    n_new = jnp.sum(slots.new).astype(jnp.int32)
    n_nack_first = jnp.sum(slots.new & ~slots.ack).astype(jnp.int32)
    n_ack_first = (n_new - n_nack_first).astype(jnp.int32)
    bler_all = period_bler(n_nack, n_ack)
    bler_first = period_bler(n_nack_first, n_ack_first)
    bits = jnp.sum(slots.bits)
    zero = jnp.zeros((), jnp.float32)
    return PeriodOutputs(
        features=features, report=report, n_ack=n_ack, n_nack=n_nack,
        bler=bler_first if cfg.bler_mode == "first_tx" else bler_all,
        delivered_bits=bits, throughput_mbps=(bits / cfg.period_s / 1e6).astype(jnp.float32),
        n_new=n_new,
        n_dropped=jnp.sum(slots.dropped).astype(jnp.int32),
        mean_tbler=jnp.mean(slots.tbler),
        n_nack_first=n_nack_first,
        mean_tbler_first=(jnp.sum(jnp.where(slots.new, slots.tbler, 0.0))
                          / jnp.maximum(jnp.sum(slots.new), 1)).astype(jnp.float32),
        mcs=new_tb.mcs, n_rb=new_tb.n_rb, n_dmrs=new_tb.n_dmrs, rank=new_tb.layers,
        bler_first_tx=bler_first, bler_all_tx=bler_all, n_ack_first=n_ack_first,
        mean_mcs_new=(jnp.sum(jnp.where(slots.new, slots.mcs, 0)) / jnp.maximum(n_new, 1)).astype(jnp.float32),
        snr_db=zero if snr_db is None else jnp.asarray(snr_db, jnp.float32),
        gnb_offset_db=zero if gnb_offset_db is None else gnb_offset_db)


def link_period(key, state: LinkState, inputs: PeriodInputs, params: LinkParams):
    """One CSI-RS period of one UE.

    Args:
      key: period key (consumed: ``split(key, 5)`` for the allocation, the slots and the
        report; ``fold_in(key, 1)`` for the shadowing step).
      state: LinkState from ``init_link`` or the previous period.
      inputs: PeriodInputs (MCS/CQI chosen by the policy from ``state.report``).
      params: LinkParams (the dynamics' offsets are applied here, per period).

    Returns:
      (LinkState of the next period, PeriodOutputs).
    """
    cfg = params.cfg
    k_rb, k_dmrs, k_start, k_slots, k_csi = jax.random.split(key, 5)
    in_force = params_in_force(state, params)
    chest = chest_terms(state, in_force)
    new_tb = allocate((k_rb, k_dmrs, k_start), state.report, inputs, cfg)
    features = period_features(state.report, state.pdsch_snr_hist, jnp.asarray(inputs.cqi),
                                new_tb.n_rb, new_tb.n_dmrs)
    t_next = period_start_s(state, cfg) + jnp.float32(cfg.period_s)
    state, slots = run_slots(k_slots, state, new_tb, in_force, chest, jnp.asarray(inputs.cqi, jnp.int32))
    report = csi_report(k_csi, state, csi_measurement_time(t_next, cfg), in_force, chest)
    state = state.replace(report=report, period=state.period + 1,
                          shadow_db=advance_shadowing(jax.random.fold_in(key, 1), state.shadow_db, params))
    return state, period_outputs(features, state.report, slots, new_tb, cfg, snr_db=in_force.snr_db,
                                 gnb_offset_db=state.gnb.offset_db if cfg.gnb_olla else None)

"""Link-adaptation schemes run side by side over CSI-RS periods, with common random numbers.

One UE runs every scheme of ``schemes`` (a static tuple of names from :data:`SCHEMES`) from
the *same* initial link state and, in every period, with the *same* period key: the channel
realisation, the RB/DMRS draws, the CSI measurement noise and the per-slot ACK/NACK uniforms
are common to all schemes (common random numbers), only the CQI/MCS differ. The link states
of the schemes are stacked on a leading scheme axis N and ``link_period`` is vmapped over it
(one compiled engine for all schemes); the policies are written per scheme.

Per period t (one ``lax.scan`` step), for each scheme:
  1. the gNB applies MCS = CQI_TO_MCS[CQI] of the CQI the scheme reported at the end of t-1
     (period 0: the CQI each scheme derives from the t = 0 report);
  2. ``link_period`` -> ACK/NACK counts, period BLER (eq. 11), throughput, new CSI report;
  3. the scheme's state is updated from the period's feedback (OLLA offset, ML logit
     offset, or LightTune fine-tuning of the UE's FF model on (features_t, BLER_t));
  4. the scheme derives its next CQI from the new report.

Schemes:
  "olla": table CQI + OLLA offset (``ltjax.linkadapt.olla``).
  "ml": offline MLP of [16] + ACK/NACK logit calibration, weights frozen (``ml_baseline``).
  "tune_uniform" / "tune_hard": OLLA table CQI backed off by CQI-Tune (Alg. 2) with the
     UE's own FF model fine-tuned by LightTune one-step Adam with uniform / hard negatives.

Keys: ``k_init, k_run, k_ft = split(ue_key, 3)``; period t uses ``fold_in(k_run, t)`` (all
schemes) and LightTune uses ``fold_in(k_ft, t)`` (both CQI-Tune schemes).
Letters: T periods, N schemes, F = 12 features.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.linkadapt import cqi_tune, ml_baseline, olla
from ltjax.link.config import LinkParams, PeriodInputs
from ltjax.link.engine import init_link, link_period, period_features
from ltjax.lighttune.online import init_online_state, online_params, online_step
from ltjax.phy.tables import CQI_TO_MCS

SCHEMES = ("olla", "ml", "tune_uniform", "tune_hard")
TUNE_NEGATIVE = {"tune_uniform": "uniform", "tune_hard": "hard"}


@struct.dataclass
class LaParams:
    """Traced link-adaptation hyper-parameters shared by the schemes."""

    olla: olla.OllaParams = olla.OllaParams()
    ml_cal: ml_baseline.MlCalParams = ml_baseline.MlCalParams()
    tau: float = cqi_tune.TAU_BLER  # CQI-Tune back-off threshold tau_BLER


def tune_params(ff_model, scheme: str):
    """LightTune params of a CQI-Tune scheme: Table IV online settings (delta 0.3, alpha_f 0.03),
    one-step Adam (eq. 9, the paper's best variant), the scheme's negatives."""
    return online_params(ff_model, variant="one_step", negative=TUNE_NEGATIVE[scheme])


def _vary_like(tree, anchor):
    """Adds a zero derived from the per-UE ``anchor`` to every leaf, so that constant initial
    carries are "varying" over UEs like the scan's outputs under ``shard_map``
    (``ltjax.batching.map_ues``); the values do not change."""
    zero = anchor * 0.0

    def f(a):
        if a.dtype == bool:
            return a | (zero > 1.0)
        return a + zero.astype(a.dtype)

    return jax.tree.map(f, tree)


def _take(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def run_schemes(ue_key, snr_db, ds_s, doppler_hz, thresholds, ml_model, ff_model, la: LaParams, *,
                cfg, n_periods: int, schemes: tuple = SCHEMES, finetune: bool = True,
                max_backoff: int = 1):
    """One UE, every scheme, ``n_periods`` periods. Kernel for ``ltjax.batching.map_ues``.

    Args:
      ue_key: the UE's typed key (consumed).
      snr_db, ds_s, doppler_hz: float32 [] average SNR [dB], RMS delay spread [s], max Doppler [Hz].
      thresholds: float32 [2, 16] OLLA SINR->CQI table (``olla.thresholds_for(cfg)``).
      ml_model: ``ml_baseline.MlModel`` (frozen), or None if "ml" is not in ``schemes``.
      ff_model: the offline FF ``BlerModel`` every UE starts from, or None without CQI-Tune.
      la: :class:`LaParams`.
      cfg, n_periods, schemes, finetune, max_backoff: static.
    Returns:
      dict of [T, N] arrays: throughput_mbps, bler, n_ack, n_nack, cqi (applied), mcs,
      backoff_next (the CQI reported at the end of t, for t + 1, is below the table CQI:
      CQI-Tune backed off), ft_updated (LightTune updated),
      ft_error (|P_hat - P|); plus ``ml_offset_final`` [] and ``olla_offset_final`` [N].
    """
    from ltjax.channels import ChannelParams

    params = LinkParams(cfg=cfg, snr_db=snr_db,
                        channel=ChannelParams(delay_spread_s=ds_s, doppler_hz=doppler_hz))
    n = len(schemes)
    k_init, k_run, k_ft = jax.random.split(ue_key, 3)
    link0 = init_link(k_init, params)
    links = jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), link0)
    tune = {s: tune_params(ff_model, s) for s in schemes if s in TUNE_NEGATIVE}
    lt_states = {s: init_online_state(ff_model, lt) for s, lt in tune.items()}
    offsets = jnp.zeros((n,), jnp.float32)  # OLLA offsets (schemes olla / tune_*)
    ml_cal = ml_baseline.cal_init()
    n_rb0 = jnp.full((n,), cfg.channel.n_rb, jnp.int32)
    n_dmrs0 = jnp.full((n,), cfg.cqi_ref_dmrs, jnp.int32)

    def next_cqi(links, offsets, ml_cal, lt_states, n_rb, n_dmrs):
        """Each scheme's CQI [N] for the next period from its latest report, and backoff [N] bool."""
        cqis, backoff = [], []
        for i, s in enumerate(schemes):
            rep = _take(links.report, i)
            hist = links.pdsch_snr_hist[i]
            if s == "ml":
                x = period_features(rep, hist, jnp.int32(0), n_rb[i], n_dmrs[i])
                c, _ = ml_baseline.ml_cqi(ml_model, x, ml_cal, la.ml_cal.target)
                cqis.append(c)
                backoff.append(jnp.zeros([], bool))
                continue
            c_tab = olla.table_cqi(rep.sinr_eff_db, rep.ri, offsets[i], thresholds)
            if s == "olla":
                cqis.append(c_tab)
                backoff.append(jnp.zeros([], bool))
            else:
                x = period_features(rep, hist, c_tab, n_rb[i], n_dmrs[i])
                c, _ = cqi_tune.backoff_cqi(lt_states[s].params, ff_model, x, c_tab, la.tau, max_backoff)
                cqis.append(c)
                backoff.append(c < c_tab)
        return jnp.stack(cqis).astype(jnp.int32), jnp.stack(backoff)

    cqi0, _ = next_cqi(links, offsets, ml_cal, lt_states, n_rb0, n_dmrs0)

    def body(carry, t):
        links, offsets, ml_cal, lt_states, cqi = carry
        inputs = PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[cqi], cqi=cqi,
                              n_rb=jnp.full((n,), -1, jnp.int32), n_dmrs=jnp.full((n,), -1, jnp.int32),
                              rank=jnp.zeros((n,), jnp.int32))
        links, out = jax.vmap(link_period, in_axes=(None, 0, 0, None))(
            jax.random.fold_in(k_run, t), links, inputs, params)
        new_off, ft_upd, ft_err = [], [], []
        new_lt = dict(lt_states)
        for i, s in enumerate(schemes):
            if s == "ml":
                ml_cal = ml_baseline.cal_update(ml_cal, out.n_ack[i], out.n_nack[i], la.ml_cal)
                new_off.append(offsets[i])
            else:
                st = olla.olla_update(olla.OllaState(offsets[i]), out.n_ack[i], out.n_nack[i], la.olla)
                new_off.append(st.offset_db)
            if s in tune:
                new_lt[s], so = online_step(jax.random.fold_in(k_ft, t), lt_states[s], out.features[i],
                                            out.bler[i], ff_model, tune[s], finetune)
                ft_upd.append(so.updated)
                ft_err.append(so.error.astype(jnp.float32))
            else:
                ft_upd.append(jnp.zeros([], bool))
                ft_err.append(jnp.zeros([], jnp.float32))
        offsets = jnp.stack(new_off)
        cqi_next, backoff = next_cqi(links, offsets, ml_cal, new_lt, out.n_rb, out.n_dmrs)
        rec = dict(throughput_mbps=out.throughput_mbps, bler=out.bler, n_ack=out.n_ack,
                   n_nack=out.n_nack, cqi=cqi, mcs=out.mcs, backoff_next=backoff,
                   ft_updated=jnp.stack(ft_upd), ft_error=jnp.stack(ft_err))
        # Outputs that do not depend on the UE key (e.g. AWGN's fixed channel) must stay
        # "varying" like the input carry under shard_map.
        return _vary_like((links, offsets, ml_cal, new_lt, cqi_next), anchor), rec

    anchor = link0.report.snr_db + jax.random.uniform(k_init)  # depends on the UE key
    carry = _vary_like((links, offsets, ml_cal, lt_states, cqi0), anchor)
    (links, offsets, ml_cal, lt_states, _), rec = jax.lax.scan(
        body, carry, jnp.arange(n_periods, dtype=jnp.int32))
    rec["olla_offset_final"] = offsets
    rec["ml_offset_final"] = ml_cal.offset
    return rec

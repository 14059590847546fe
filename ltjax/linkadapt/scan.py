"""Link-adaptation schemes run side by side over CSI-RS periods, with common random numbers.

One UE runs every policy of a tuple (``ltjax.linkadapt.policy``) from the *same* initial link
state and, in every period, with the *same* period key: the channel realisation, the RB/DMRS
draws, the CSI measurement noise and the per-slot ACK/NACK uniforms are common to all schemes
(common random numbers), only the CQI/MCS differ. The link states of the schemes are stacked
on a leading scheme axis N and ``link_period`` is vmapped over it (one compiled engine for all
schemes); each policy's own state is a pytree of its own.

Per period t (one ``lax.scan`` step), for each scheme:
  1. the gNB applies MCS = CQI_TO_MCS[CQI] of the CQI the scheme reported at the end of t-1
     (period 0: the CQI each scheme derives from the t = 0 report);
  2. ``link_period`` -> ACK/NACK counts, period BLER (eq. 11), throughput, new CSI report;
  3. ``policy.update``: the scheme learns from the period's feedback (OLLA offset, ML logit
     offset, or LightTune fine-tuning of the UE's FF model on (features_t, BLER_t));
  4. ``policy.next_cqi``: the scheme derives its next CQI from the new report.

Schemes (:func:`make_policies` builds them by name on the host):
  "olla": table CQI + OLLA offset (``olla.OllaPolicy``).
  "ml": offline MLP of [16] + ACK/NACK logit calibration, weights frozen (``ml_baseline.MlPolicy``).
  "tune_uniform" / "tune_hard": OLLA table CQI backed off by CQI-Tune (Alg. 2) with the UE's own
     FF model fine-tuned by LightTune one-step Adam with uniform / hard negatives
     (``cqi_tune.CqiTunePolicy``).
  "genie" / "hindsight": upper bounds on back-off: table OLLA that backs off to CQI_min after
     seeing the period at both CQIs (common random numbers), when the true first-transmission
     BLER at the table CQI is >= tau / when CQI_min gave the higher throughput
     (``genie.GeniePolicy``; each runs a second, counterfactual link lane).

Keys: ``k_init, k_run, k_ft = split(ue_key, 3)``; the link starts from ``k_init``, period t uses
``fold_in(k_run, t)`` (all schemes) and every policy's update gets ``fold_in(k_ft, t)`` (both
CQI-Tune schemes draw their LightTune negatives from it).
Letters: T periods, N schemes, F = 12 features.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ltjax.lighttune.model import BlerModel
from ltjax.lighttune.step import LightTuneParams
from ltjax.link import LinkParams, PeriodInputs, init_link, link_period
from ltjax.linkadapt.cqi_tune import TAU_BLER, CqiTunePolicy
from ltjax.linkadapt.genie import GeniePolicy
from ltjax.linkadapt.ml_baseline import MlCalParams, MlModel, MlPolicy
from ltjax.linkadapt.olla import OllaParams, OllaPolicy
from ltjax.linkadapt.policy import METRICS, Observation
from ltjax.phy.tables import CQI_TO_MCS

SCHEMES = ("olla", "ml", "tune_uniform", "tune_hard")
TUNE_NEGATIVE = {"tune_uniform": "uniform", "tune_hard": "hard"}
# Upper bounds on back-off (genie.GeniePolicy): the rule of each, by scheme name.
BOUND_RULE = {"genie": "tau", "hindsight": "best"}
ALL_SCHEMES = SCHEMES + tuple(BOUND_RULE)


def tune_params(scheme: str, finetune: bool = True) -> LightTuneParams:
    """LightTune params of a CQI-Tune scheme: Table IV online settings (delta 0.3, alpha_f 0.03),
    one-step Adam (eq. 9, the paper's best variant), the scheme's negatives."""
    return LightTuneParams(delta=0.3, lr=0.03, variant="one_step", negative=TUNE_NEGATIVE[scheme], finetune=finetune)


def make_policies(schemes=SCHEMES, *, thresholds, ff_model: BlerModel | None = None,
                  ml_model: MlModel | None = None, olla: OllaParams = OllaParams(),
                  ml_cal: MlCalParams = MlCalParams(), tau: float = TAU_BLER, max_backoff: int = 1,
                  finetune: bool = True, olla_feedback: str = "first_tx") -> tuple:
    """The policies of the named schemes (see the module docstring), built on the host.

    Args:
      schemes: names from :data:`ALL_SCHEMES`, in output order.
      thresholds: float32 [2, 16] OLLA SINR -> CQI table (``olla.thresholds_for(cfg)``).
      ff_model: the offline FF BLER model (CQI-Tune schemes). ml_model: the ML baseline ("ml").
      olla, ml_cal, tau: the schemes' hyper-parameters (traced).
      max_backoff: CQI-Tune's CQI_min = max(CQI_table - max_backoff, 1) (static).
      finetune: False = CQI-Tune predicts with the offline model, never fine-tunes.
      olla_feedback: the HARQ feedback the OLLA loops count, "first_tx" or "all_tx" (static,
        ``olla.feedback_counts``).
    """
    out = []
    for s in schemes:
        if s == "olla":
            out.append(OllaPolicy(thresholds=thresholds, params=olla, feedback=olla_feedback))
        elif s == "ml":
            if ml_model is None:
                raise ValueError("scheme 'ml' needs ml_model")
            out.append(MlPolicy(model=ml_model, cal=ml_cal))
        elif s in BOUND_RULE:
            out.append(GeniePolicy(thresholds=thresholds, params=olla, feedback=olla_feedback, tau=tau,
                                   rule=BOUND_RULE[s], max_backoff=max_backoff))
        elif s in TUNE_NEGATIVE:
            if ff_model is None:
                raise ValueError(f"scheme {s!r} needs ff_model")
            out.append(CqiTunePolicy(thresholds=thresholds, model=ff_model, olla=olla,
                                     lt=tune_params(s, finetune), tau=tau, max_backoff=max_backoff,
                                     feedback=olla_feedback))
        else:
            raise ValueError(f"unknown scheme {s!r}; allowed: {', '.join(ALL_SCHEMES)}")
    return tuple(out)


def _take(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def run_schemes(ue_key, params: LinkParams, policies: tuple, *, n_periods: int):
    """One UE, every policy, ``n_periods`` periods. Kernel for ``ltjax.batching.map_ues``.

    Args:
      ue_key: the UE's typed key (consumed).
      params: the link's LinkParams (config, average SNR, channel), built on the host.
      policies: tuple of N policies (:func:`make_policies`), a pytree.
      n_periods: T (static).
    Returns:
      dict of [T, N] arrays: throughput_mbps, bler (eq. 11 under ``LinkConfig.bler_mode``),
      n_ack, n_nack, n_new, n_nack_first, bler_first_tx, cqi (applied), mcs,
      backoff_next (the CQI reported at the end of t, for t + 1, is below the table CQI:
      CQI-Tune backed off), backed_off (period t ran below the table CQI: CQI-Tune's
      backoff_next of t - 1, or a genie's choice), ft_updated (LightTune updated), ft_error (|P_hat - P|),
      ft_pred (P_hat of the period's label),
      offset (the scheme's adaptation offset after period t: OLLA [dB] or ML logit).
    """
    cfg = params.cfg
    n = len(policies)
    # Counterfactual lanes: a policy marked ``counterfactual`` (genie.GeniePolicy) gets a second
    # link lane at its alternative CQI, run with the same state and period key (common random
    # numbers); after the period the policy keeps one lane and both lanes continue from it.
    cf = tuple(i for i, pol in enumerate(policies) if getattr(pol, "counterfactual", False))
    n_lanes = n + len(cf)
    k_init, k_run, k_ft = jax.random.split(ue_key, 3)
    link0 = init_link(k_init, params)
    links = jax.tree.map(lambda a: jnp.broadcast_to(a, (n_lanes,) + a.shape), link0)  # [N + G, ...]
    states = tuple(pol.init(k_ft) for pol in policies)

    def next_cqis(links, states, n_rb, n_dmrs):
        """Each scheme's CQI [N] for the next period from its latest report, and backoff [N] bool."""
        picks = [pol.next_cqi(st, Observation(report=_take(links.report, i), pdsch_snr_hist=links.pdsch_snr_hist[i],
                                               n_rb=n_rb[i], n_dmrs=n_dmrs[i]))
                 for i, (pol, st) in enumerate(zip(policies, states))]
        return jnp.stack([c for c, _ in picks]).astype(jnp.int32), jnp.stack([b for _, b in picks])

    cqi0, backoff0 = next_cqis(links, states, jnp.full((n,), cfg.channel.n_rb, jnp.int32),
                               jnp.full((n,), cfg.cqi_ref_dmrs, jnp.int32))

    def keep_lanes(tree, keep):
        """Lane i of each counterfactual scheme <- its lane N + g where keep[g]; then lane N + g <- lane i."""
        def one(a):
            for g, i in enumerate(cf):
                a = a.at[i].set(jnp.where(keep[g], a[n + g], a[i]))
                a = a.at[n + g].set(a[i])
            return a
        return jax.tree.map(one, tree)

    def body(carry, t):
        links, states, cqi, backed_off = carry
        lane_cqi = jnp.concatenate([cqi] + [policies[i].alternative_cqi(cqi[i])[None] for i in cf])
        inputs = PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[lane_cqi], cqi=lane_cqi,
                              n_rb=jnp.full((n_lanes,), -1, jnp.int32), n_dmrs=jnp.full((n_lanes,), -1, jnp.int32),
                              rank=jnp.zeros((n_lanes,), jnp.int32))
        links, out = jax.vmap(link_period, in_axes=(None, 0, 0, None))(
            jax.random.fold_in(k_run, t), links, inputs, params)
        applied = cqi
        if cf:
            keep = jnp.stack([policies[i].choose(_take(out, i), _take(out, n + g)) for g, i in enumerate(cf)])
            links, out = keep_lanes(links, keep), keep_lanes(out, keep)
            idx = jnp.asarray(cf)
            applied = cqi.at[idx].set(jnp.where(keep, lane_cqi[n:], cqi[idx]))
            backed_off = backed_off.at[idx].set(keep & (lane_cqi[n:] < cqi[idx]))
        out = _take(out, slice(0, n))
        k_t = jax.random.fold_in(k_ft, t)
        updates = [pol.update(k_t, st, _take(out, i)) for i, (pol, st) in enumerate(zip(policies, states))]
        states = tuple(st for st, _ in updates)
        cqi_next, backoff = next_cqis(links, states, out.n_rb, out.n_dmrs)
        rec = dict(throughput_mbps=out.throughput_mbps, bler=out.bler, n_ack=out.n_ack,
                   n_nack=out.n_nack, n_new=out.n_new, n_nack_first=out.n_nack_first,
                   bler_first_tx=out.bler_first_tx, cqi=applied, mcs=out.mcs, backoff_next=backoff,
                   backed_off=backed_off)
        rec.update({k: jnp.stack([m[k] for _, m in updates]) for k in METRICS})
        return (links, states, cqi_next, backoff), rec

    _, rec = jax.lax.scan(body, (links, states, cqi0, backoff0), jnp.arange(n_periods, dtype=jnp.int32))
    return rec


__all__ = ["ALL_SCHEMES", "BOUND_RULE", "SCHEMES", "TUNE_NEGATIVE", "make_policies", "run_schemes", "tune_params"]

"""Beyond the paper: three LCM experiments on the engine of ``lcm_adaptation`` (same readings, same common
random numbers: every lane of a point shares one channel simulation, and every point the same UEs).

* ``lcm_global_model``: one global model per (Set B, model ID) trained on every region's data pooled, never
  switched (the global strategy, its best model by the evaluation table averaged over the regions), beside
  non-LCM, only dataset ID and proposed. It asks whether switching between regional models is needed at all.
* ``lcm_monitoring``: the paper's monitor knows the true e_RSRP of every 20 ms step, which needs all 64 Set A
  beams measured every step. Realistic monitors estimate it from sweeps (``messages.MONITORS``): one full
  Set A sweep per T_LCM (at the window's last step, max(meas) - meas[predicted beam]) or a sweep of the K
  most likely beams every step (max over them - meas[predicted beam]). For the proposed strategy at each
  gamma: the false-alarm rate (a trigger in a tested window whose true statistic is not degraded), the
  detection delay (from the first tested window whose true statistic is degraded to the trigger) and the
  misses, with the monitoring overhead in beam measurements per second beyond Set B.
* ``lcm_latency``: each of the five messages takes ``latency_ms`` (5-200 ms), legacy beam management
  until the activation arrives (``ltjax.lcm.engine.adaptation_steps``); UE speed is a grid axis.
"""

from __future__ import annotations

import numpy as np
from flax import struct

from ltjax.beam.config import BeamConfig
from ltjax.experiments.beam_train import BeamModelParams
from ltjax.experiments.lcm_adaptation import (DT_S, PCTS, LcmReadingParams, LcmRunParams, _check, reading_lanes,
                                              run_point)
from ltjax.lcm import messages as msg
from ltjax.lcm.engine import adaptation_steps
from ltjax.params import field
from ltjax.plotting.lcm_beyond import plot_lcm_global, plot_lcm_latency, plot_lcm_monitoring
from ltjax.sweep.registry import register_experiment


def lane_metrics(out, g: int, t: int, prefix: str) -> dict:
    """Mean e_RSRP, mean and percentile-user Top-1, adaptations per UE of lane ``g``."""
    e_ue = out["e_win"][g].astype(np.float64).mean(-1)
    acc1 = out["hits"][g, :, 0] / t
    res = {f"e_rsrp_{prefix}": float(e_ue.mean()), f"top1_{prefix}": float(acc1.mean())}
    for pc in PCTS:
        res[f"top1_p{pc}_{prefix}"] = float(np.percentile(acc1, pc))
    res[f"adaptations_per_ue_{prefix}"] = float(out["n_trigger"][g].mean())
    return res


@struct.dataclass
class LcmGlobalParams(BeamModelParams, LcmReadingParams, LcmRunParams):
    """Parameters of ``lcm_global_model``: those of ``lcm_adaptation``."""


@register_experiment(
    name="lcm_global_model",
    description="One global model trained on every region pooled, beside non-LCM, only dataset ID and proposed",
    params=LcmGlobalParams,
    plots=(plot_lcm_global,),
    check=_check,
)
def lcm_global_model(key, p):
    strat = [msg.NON_LCM, msg.ONLY_DATASET, msg.PROPOSED, msg.GLOBAL]
    out, pool, _ = run_point(p, reading_lanes(p, strat, [p.gamma_db] * 4), with_global=True)
    res = {}
    for g, name in enumerate(("non_lcm", "only_dataset_id", "proposed", "global")):
        res.update(lane_metrics(out, g, p.n_steps, name))
    glob = np.asarray(pool.model_dataset) < 0
    top1, e_tab = np.asarray(pool.top1_table), np.asarray(pool.e_table)
    best = np.argmin(np.where(glob, e_tab.mean(1), np.inf))
    own = ~glob[:, None] & (np.asarray(pool.model_dataset)[:, None] == np.arange(top1.shape[1]))  # [M, R]
    res["global_model_eval_top1"] = float(top1[best].mean())  # the global lane's model, all regions
    res["regional_own_eval_top1"] = float(top1[own].mean())   # regional models in their own region
    res["global_eval_top1_by_region"] = top1[best]            # [R]
    res["acc_by_strategy"] = np.stack([out["hits"][g] / p.n_steps for g in range(4)])  # [4, U, K]
    return res


@struct.dataclass
class LcmMonitoringParams(BeamModelParams, LcmReadingParams, LcmRunParams):
    """Parameters of ``lcm_monitoring`` (units in each field's schema)."""

    monitor_gammas_db: tuple[float, ...] = field((1.0, 2.0, 3.0, 5.0, 7.0, 10.0), 'gammas of the proposed lanes',
                                                 unit='dB', kind="float_list", lo=0.0, hi=60.0)
    k_sweep: int = field(4, 'K of the Top-K sweep monitor', lo=1, hi=64)


def detection_stats(trigger, tested, genie):
    """False alarms, detection delay and misses of one lane from per-window arrays [U, n_windows] (bool).

    A degradation episode starts at a tested window whose true statistic is degraded (``genie``) and lasts
    while it stays degraded; it is detected by a trigger in one of its windows (delay = windows from its
    start to the trigger) and ends at a trigger (the model changes). A false alarm is a trigger in a tested
    window that is not degraded.
    Returns (false alarms, tested non-degraded windows, delays [list, windows], missed episodes).
    """
    n_ue, n_win = trigger.shape
    start = np.full(n_ue, -1)
    delays, missed = [], 0
    for w in range(n_win):
        deg = tested[:, w] & genie[:, w]
        start = np.where(deg & (start < 0), w, start)
        hit = trigger[:, w] & (start >= 0)
        delays += list(w - start[hit])
        ended = (start >= 0) & ~hit & tested[:, w] & ~genie[:, w]  # degradation went away undetected
        missed += int(ended.sum())
        start = np.where(hit | ended, -1, start)
    missed += int((start >= 0).sum())
    fa = int((trigger & tested & ~genie).sum())
    return fa, int((tested & ~genie).sum()), delays, missed


@register_experiment(
    name="lcm_monitoring",
    description="Realistic monitoring from sparse Set A sweeps: false alarms, trigger delay and overhead vs gamma",
    params=LcmMonitoringParams,
    plots=(plot_lcm_monitoring,),
    check=_check,
    # the mean trigger delay is undefined (NaN) when no degradation episode was detected
    allow_nonfinite=("delay_s", "delay_s_genie", "delay_s_full_sweep", "delay_s_topk_sweep"),
)
def lcm_monitoring(key, p):
    monitors = list(msg.MONITORS.items())
    gam = list(p.monitor_gammas_db)
    strat = [msg.NON_LCM] + [msg.PROPOSED] * (len(monitors) * len(gam))
    mon = [msg.MONITOR_GENIE] + [code for _, code in monitors for _ in gam]
    gammas = [gam[0]] + [g for _ in monitors for g in gam]
    out, _, lc = run_point(p, reading_lanes(p, strat, gammas, monitor=mon), k_sweep=p.k_sweep)
    t_lcm = lc.window * DT_S
    cfg = BeamConfig()
    extra = cfg.n_beams - cfg.set_b_size  # Set A beams beyond Set B
    overhead = {"genie": extra / DT_S, "full_sweep": extra / t_lcm, "topk_sweep": p.k_sweep / DT_S}
    n_m, n_g = len(monitors), len(gam)
    shape = (n_m, n_g)
    fa_rate, det_delay_s, miss_rate, e_mean, p10, adapt = (np.zeros(shape) for _ in range(6))
    res = lane_metrics(out, 0, p.n_steps, "non_lcm")
    for i, (name, _) in enumerate(monitors):
        for j in range(n_g):
            g = 1 + i * n_g + j
            fa, n_ok, delays, missed = detection_stats(out["trigger"][g], out["tested"][g], out["genie"][g])
            fa_rate[i, j] = fa / max(n_ok, 1)
            det_delay_s[i, j] = np.mean(delays) * t_lcm if delays else np.nan
            miss_rate[i, j] = missed / max(len(delays) + missed, 1)
            m = lane_metrics(out, g, p.n_steps, "x")
            e_mean[i, j], p10[i, j], adapt[i, j] = m["e_rsrp_x"], m["top1_p10_x"], m["adaptations_per_ue_x"]
        j5 = int(np.argmin(np.abs(np.asarray(gam) - p.gamma_db)))
        res.update({f"false_alarm_rate_{name}": float(fa_rate[i, j5]), f"delay_s_{name}": float(det_delay_s[i, j5]),
                    f"miss_rate_{name}": float(miss_rate[i, j5]), f"e_rsrp_{name}": float(e_mean[i, j5]),
                    f"top1_p10_{name}": float(p10[i, j5]), f"adaptations_per_ue_{name}": float(adapt[i, j5]),
                    f"overhead_beams_per_s_{name}": float(overhead[name])})
    res.update({"gammas": np.asarray(gam, np.float32), "false_alarm_rate": fa_rate, "delay_s": det_delay_s,
                "miss_rate": miss_rate, "e_rsrp": e_mean, "top1_p10": p10, "adaptations_per_ue": adapt,
                "overhead_beams_per_s": np.array([overhead[n] for n, _ in monitors])})
    return res


@struct.dataclass
class LcmLatencyParams(BeamModelParams, LcmReadingParams, LcmRunParams):
    """Parameters of ``lcm_latency`` (units in each field's schema)."""

    latencies_ms: tuple[float, ...] = field((5.0, 20.0, 50.0, 100.0, 200.0), 'delay of each of the five messages '
                                            '(one proposed lane each)', unit='ms', kind="float_list", lo=0.1,
                                            hi=10_000.0)


@register_experiment(
    name="lcm_latency",
    description="Signalling latency per message (5-200 ms) and UE speed: e_RSRP and Top-1 of the proposed LCM",
    params=LcmLatencyParams,
    plots=(plot_lcm_latency,),
    check=_check,
)
def lcm_latency(key, p):
    lat = list(p.latencies_ms)
    strat = [msg.NON_LCM, msg.ONLY_DATASET] + [msg.PROPOSED] * len(lat)
    out, _, lc = run_point(p, reading_lanes(p, strat, [p.gamma_db] * len(strat), latency_ms=[20.0, 20.0] + lat))
    t = p.n_steps
    res = lane_metrics(out, 0, t, "non_lcm")
    res.update(lane_metrics(out, 1, t, "only_dataset_id"))
    res["crossings_per_ue_100s"] = float(out["crossings"].mean() * 100.0 / (t * DT_S))
    e, p10, adapt, legacy_frac = (np.zeros(len(lat)) for _ in range(4))
    for i, latency in enumerate(lat):
        m = lane_metrics(out, 2 + i, t, "x")
        e[i], p10[i], adapt[i] = m["e_rsrp_x"], m["top1_p10_x"], m["adaptations_per_ue_x"]
        n_leg = int(adaptation_steps(np.float32(latency), DT_S))
        legacy_frac[i] = adapt[i] * n_leg / t  # share of steps on legacy beam management (an upper bound)
        if abs(latency - 20.0) < 1e-9:
            res.update(lane_metrics(out, 2 + i, t, "proposed"))
    res.update({"latencies_ms": np.asarray(lat, np.float32), "e_rsrp_proposed_vs_latency": e,
                "top1_p10_proposed_vs_latency": p10, "adaptations_per_ue_vs_latency": adapt,
                "legacy_fraction_vs_latency": legacy_frac})
    return res

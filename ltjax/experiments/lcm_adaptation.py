"""``lcm_adaptation``: e_RSRP and Top-K/1 accuracy of the three LCM strategies over mobility (paper Figs. 6-9).

One grid point simulates ``n_ue`` UEs for ``n_steps`` steps of 20 ms with the 54 cached models
(``ltjax.experiments.beam_train.load_models``; trained first on a cache miss) through
``ltjax.lcm.engine.simulate``, which batches UEs at the one boundary (``ltjax run --ue-chunk`` bounds
memory). The channel is simulated once and shared by every lane: non-LCM, and (only-dataset-ID,
proposed) for each gamma in [gamma_db] + gamma_sweep_db, so Fig. 7's gamma sweep uses common random
numbers. Scalars are for
``gamma_db`` (Figs. 6 and 9); per-gamma results are in series. T_LCM sets the window W = T_LCM / 20 ms
(a static shape), so it is a grid axis (Fig. 8).

Per-UE Top-K/1 accuracy = fraction of the UE's steps whose best beam is among the K highest scores;
the "p-th percentile user" value is numpy's linearly interpolated p-th percentile of those per-UE values.
"""

from __future__ import annotations

import numpy as np
from flax import struct

from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.experiments.beam_train import BeamModelParams, load_models, train_config
from ltjax.lcm import messages as msg
from ltjax.lcm.engine import LcmConfig, lanes, make_tables, simulate
from ltjax.plotting.lcm import plot_lcm
from ltjax.params import field
from ltjax.sweep.registry import register_experiment

DT_S = 0.02
STRATS = ("non_lcm", "only_dataset_id", "proposed")
PCTS = (10, 50, 90)


def _window(p) -> int:
    return int(round(p.t_lcm_s / DT_S))


def _check(p):
    w = p.t_lcm_s / DT_S
    if abs(w - round(w)) > 1e-6:
        return "t_lcm_s", f"must be a multiple of the 20 ms step (got {p.t_lcm_s})"
    if round(w) <= msg.N_MESSAGES:
        return "t_lcm_s", f"must exceed {msg.N_MESSAGES} steps ({msg.N_MESSAGES * DT_S:.2f} s) to hold the 5 messages"
    if p.n_steps % round(w):
        return "n_steps", f"must be a multiple of T_LCM / 20 ms = {round(w)}"
    return None


@struct.dataclass
class LcmRunParams:
    """The LCM run's own parameters (units in each field's schema)."""

    n_ue: int = field(10, 'number of UEs U', lo=1, hi=100_000)
    n_steps: int = field(5000, 'inference time steps of 20 ms', lo=10, hi=100_000)
    t_lcm_s: float = field(1.0, 'LCM monitoring period T_LCM (a multiple of the 20 ms step)', unit='s', lo=0.12,
                           hi=100.0)
    gamma_db: float = field(5.0, 'degradation threshold gamma_RSRP for the scalar metrics', unit='dB', lo=0.0,
                            hi=60.0)
    gamma_sweep_db: tuple[float, ...] = field((), 'further gamma lanes on the same channel (Fig. 7)', unit='dB',
                                              kind="float_list", lo=0.0, hi=60.0)
    speed_kmh: float = field(3.0, 'UE speed', unit='km/h', lo=0.0, hi=500.0)


# Dataclass fields follow the reversed MRO: the run's parameters first, then the models' (result columns
# keep this order).
@struct.dataclass
class LcmAdaptationParams(BeamModelParams, LcmRunParams):
    """Parameters of the experiment: the run's (``LcmRunParams``) and the models' (``BeamModelParams``)."""


PARAMS = LcmAdaptationParams


def models_for(p):
    """(cfg, chp, tables, registry) for the point's model parameters (cached on disk)."""
    cfg, chp = BeamConfig(), ChannelParams()
    reg, e_tab, _ = load_models(p.model_seed, cfg, chp, train_config(p), p.cache_dir)
    return cfg, chp, make_tables(cfg, reg.padded(), e_tab), reg


@register_experiment(
    name="lcm_adaptation",
    description="LCM strategies (non-LCM / only dataset ID / proposed) over mobility: e_RSRP, Top-K (Figs. 6-9)",
    params=PARAMS,
    plots=(plot_lcm,),
    check=_check,
)
def lcm_adaptation(key, p):
    cfg, chp, tables, _ = models_for(p)
    gammas = [p.gamma_db] + [g for g in p.gamma_sweep_db if g != p.gamma_db]
    strat = [msg.NON_LCM] + [s for _ in gammas for s in (msg.ONLY_DATASET, msg.PROPOSED)]
    gam = [gammas[0]] + [g for g in gammas for _ in range(2)]
    w = _window(p)
    lc = LcmConfig(window=w, n_windows=p.n_steps // w, keep_messages=True)
    mp = MobilityParams(speed_mps=p.speed_kmh / 3.6, dt_s=DT_S)
    out = simulate(key, p.n_ue, lanes(strat, gam), tables, chp, mp, cfg=cfg, lc=lc)
    t = p.n_steps
    e_ue = out["e"].mean(-1)                     # [G, U]
    acc = out["hits"] / t                         # [G, U, K]
    primary = [0, 1, 2]                           # lanes of gamma_db
    res = {}
    for name, g in zip(STRATS, primary):
        res[f"e_rsrp_{name}"] = float(e_ue[g].mean())
        res[f"top1_{name}"] = float(acc[g, :, 0].mean())
        for pc in PCTS:
            res[f"top1_p{pc}_{name}"] = float(np.percentile(acc[g, :, 0], pc))
        res[f"adaptations_per_ue_{name}"] = float(out["n_trigger"][g].mean())
    res["fallbacks_proposed"] = float(out["n_fallback"][2].sum())
    # series
    res["e_trace"] = out["e"][primary].mean(1)                                   # [3, T]
    res["topk_pct"] = np.stack([np.percentile(acc[g], PCTS, axis=0) for g in primary])  # [3, 3, K]
    res["topk_mean"] = acc[primary].mean(1)                                        # [3, K]
    res["gammas"] = np.asarray(gammas, np.float32)
    e_g = np.array([[e_ue[0].mean()] * len(gammas),
                    [e_ue[1 + 2 * i].mean() for i in range(len(gammas))],
                    [e_ue[2 + 2 * i].mean() for i in range(len(gammas))]])
    res["e_vs_gamma"] = e_g                                                        # [3, G]
    res["top1_p10_vs_gamma"] = np.array([[np.percentile(acc[0, :, 0], 10)] * len(gammas),
                                         [np.percentile(acc[1 + 2 * i, :, 0], 10) for i in range(len(gammas))],
                                         [np.percentile(acc[2 + 2 * i, :, 0], 10) for i in range(len(gammas))]])
    n_log = min(p.n_ue, 10)
    res["msgs_proposed"] = out["msgs"][2, :n_log].astype(np.int8)                 # [min(U,10), T]
    res["active_proposed"] = out["active"][2, :n_log].astype(np.int16)            # [min(U,10), n_windows]
    res["region"] = out["region"][:n_log].astype(np.int8)                         # [min(U,10), n_windows]
    res["msg_counts_proposed"] = np.bincount(out["msgs"][2].ravel(), minlength=6)  # [6]
    return res

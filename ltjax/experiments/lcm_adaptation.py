"""``lcm_adaptation``: e_RSRP and Top-K/1 accuracy of the three LCM strategies over mobility (paper Figs. 6-9),
under switchable readings of the paper, over one or many independent draws of UEs.

One grid point simulates ``n_seeds`` x ``n_ue`` UEs for ``n_steps`` steps of 20 ms with the model pool of
its readings (``ltjax.experiments.beam_train.load_pool``; trained first on a cache miss) through
``ltjax.lcm.engine.simulate``, which batches UEs at the one boundary (``ltjax run --ue-chunk`` bounds
memory). The channel is simulated once and shared by every lane: non-LCM, and (only-dataset-ID,
proposed) for each gamma in [gamma_db] + gamma_sweep_db, so Fig. 7's gamma sweep uses common random
numbers. The UEs' key is key(ue_seed) at every grid point, and a UE's channel depends only on its index
and the time step, so every T_LCM of Fig. 8 and every reading of the lanes sees the same channels (the
non-LCM curve is the same at every point). Scalars are for ``gamma_db`` (Figs. 6 and 9); per-gamma
results are in series. T_LCM sets the window W = T_LCM / 20 ms (a static shape), so it is a grid axis.

The paper's protocol used U = 10 UEs. With ``n_seeds`` > 1, UEs s * n_ue ... (s + 1) * n_ue - 1 form draw
s (independent keys), and each headline claim of the paper is evaluated per draw (``CLAIMS``): its median,
5-95 % range and the fraction of draws in which it holds are reported beside the pooled value.

Per-UE Top-K/1 accuracy = fraction of the UE's steps whose best beam is among the K highest scores;
the "p-th percentile user" value is numpy's linearly interpolated p-th percentile of those per-UE values.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import struct

from ltjax.beam.config import MobilityParams
from ltjax.beam.pool import own_region_spread
from ltjax.experiments.beam_train import POOLS, BeamModelParams, BeamReadingParams, load_pool
from ltjax.lcm import messages as msg
from ltjax.lcm.engine import LcmConfig, lanes, simulate
from ltjax.params import field
from ltjax.plotting.lcm import plot_lcm
from ltjax.sweep.registry import register_experiment

DT_S = 0.02
STRATS = ("non_lcm", "only_dataset_id", "proposed")
PCTS = (10, 50, 90)
# The paper's headline claims (Sec. IV-B), each a per-draw value and the condition it must meet.
CLAIMS = {
    "p10_proposed": ("proposed Top-1 of the 10th-percentile user", lambda v: v > 0.70),
    "gap_only_dataset": ("proposed - only dataset ID, Top-1 of the 10th-percentile user", lambda v: v > 0.20),
    "gap_non_lcm": ("proposed - non-LCM, Top-1 of the 10th-percentile user", lambda v: v > 0.50),
    "e_non_lcm": ("non-LCM mean e_RSRP [dB]", lambda v: v > 4.0),
}


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

    n_ue: int = field(10, 'number of UEs U (of each draw)', lo=1, hi=100_000)
    n_steps: int = field(5000, 'inference time steps of 20 ms', lo=10, hi=100_000)
    t_lcm_s: float = field(1.0, 'LCM monitoring period T_LCM (a multiple of the 20 ms step)', unit='s', lo=0.12,
                           hi=100.0)
    gamma_db: float = field(5.0, 'degradation threshold gamma_RSRP for the scalar metrics', unit='dB', lo=0.0,
                            hi=60.0)
    gamma_sweep_db: tuple[float, ...] = field((), 'further gamma lanes on the same channel (Fig. 7)', unit='dB',
                                              kind="float_list", lo=0.0, hi=60.0)
    speed_kmh: float = field(3.0, 'UE speed', unit='km/h', lo=0.0, hi=500.0)
    n_seeds: int = field(1, 'independent draws of n_ue UEs (the paper used one draw of 10)', lo=1, hi=100_000)
    ue_seed: int = field(0, 'seed of the UEs (trajectories, channels, random choices): the same at every grid '
                         'point, so points share channels', lo=0, hi=2**31 - 1)


@struct.dataclass
class LcmReadingParams(BeamReadingParams):
    """Readings of the LCM (docs/beam_lcm.md quotes the paper's sentence of each and says why)."""

    pool: str = field("spread", 'model pool: the 54 spread-Set-B models, the 54 localised ones, or all 108',
                      choices=tuple(POOLS))
    initial_model: str = field("best", 'initial model: best of the region by the evaluation table, the default '
                               '(lowest Set B ID, model ID 0), or random within the region', choices=tuple(msg.INITIAL))
    only_dataset: str = field("keep_ids", 'what only-dataset-ID switches to: same Set B and model ID, or a random '
                              'model of the region', choices=tuple(msg.ONLY_DATASET_CHOICES))
    trigger: str = field("e_rsrp", 'proposed trigger: the e_RSRP test, or also a region change the network sees',
                         choices=tuple(msg.TRIGGERS))


# Dataclass fields follow the reversed MRO: the run's parameters, the readings, then the models' (result
# columns keep this order).
@struct.dataclass
class LcmAdaptationParams(BeamModelParams, LcmReadingParams, LcmRunParams):
    """Parameters of the experiment: the run's, the readings' and the models' (``BeamModelParams``)."""


PARAMS = LcmAdaptationParams


def reading_lanes(p, strategies, gammas, **fields):
    """``lanes`` with the point's initial-model, only-dataset-ID and trigger readings."""
    return lanes(strategies, gammas, initial=msg.INITIAL[p.initial_model],
                 only_dataset=msg.ONLY_DATASET_CHOICES[p.only_dataset], trigger=msg.TRIGGERS[p.trigger], **fields)


def run_point(p, params, *, with_global: bool = False, keep_messages: bool = False, k_sweep: int = 0):
    """Simulates the point's n_seeds * n_ue UEs in the lanes ``params`` [G]: (engine outputs, pool, LcmConfig).

    The UEs' key is key(ue_seed), whatever the grid point (common random numbers across points).
    """
    pool, cfg, chp = load_pool(p, p.geometry, p.measurement, p.pool, with_global)
    w = _window(p)
    lc = LcmConfig(window=w, n_windows=p.n_steps // w, keep_messages=keep_messages, k_sweep=k_sweep)
    mp = MobilityParams(speed_mps=p.speed_kmh / 3.6, dt_s=DT_S)
    out = simulate(jax.random.key(p.ue_seed), p.n_ue * p.n_seeds, params, pool, chp, mp, cfg=cfg, lc=lc)
    return out, pool, lc


def claim_values(acc1, e_ue, primary, n_ue: int, n_seeds: int) -> dict[str, np.ndarray]:
    """Per-draw values [n_seeds] of each claim in ``CLAIMS`` from per-UE Top-1 acc1 [G, U] and mean e_RSRP
    e_ue [G, U]; ``primary`` are the (non-LCM, only dataset ID, proposed) lanes."""
    def p10(g):
        return np.percentile(acc1[g].reshape(n_seeds, n_ue), 10, axis=1)

    non, od, prop = (p10(g) for g in primary)
    return {"p10_proposed": prop, "gap_only_dataset": prop - od, "gap_non_lcm": prop - non,
            "e_non_lcm": e_ue[primary[0]].reshape(n_seeds, n_ue).mean(1)}


def claim_summary(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Median, 5-95 % range and P(claim holds) over the draws of each claim."""
    res = {}
    for name, v in values.items():
        holds = CLAIMS[name][1](v)
        res.update({f"claim_{name}_median": float(np.median(v)), f"claim_{name}_q05": float(np.percentile(v, 5)),
                    f"claim_{name}_q95": float(np.percentile(v, 95)), f"claim_{name}_prob": float(np.mean(holds))})
    return res


def strategy_metrics(out, primary, t: int, duration_s: float) -> dict:
    """Scalar metrics of the (non-LCM, only dataset ID, proposed) lanes ``primary``."""
    e_ue = out["e_win"].astype(np.float64).mean(-1)
    acc = out["hits"] / t
    res = {}
    for name, g in zip(STRATS, primary):
        res[f"e_rsrp_{name}"] = float(e_ue[g].mean())
        res[f"top1_{name}"] = float(acc[g, :, 0].mean())
        for pc in PCTS:
            res[f"top1_p{pc}_{name}"] = float(np.percentile(acc[g, :, 0], pc))
        res[f"adaptations_per_ue_{name}"] = float(out["n_trigger"][g].mean())
    res["fallbacks_proposed"] = float(out["n_fallback"][primary[2]].sum())
    res["crossings_per_ue_100s"] = float(out["crossings"].mean() * 100.0 / duration_s)
    res["never_left_start_region"] = float(np.mean(out["crossings"] == 0))
    return res


@register_experiment(
    name="lcm_adaptation",
    description="LCM strategies (non-LCM / only dataset ID / proposed) over mobility: e_RSRP, Top-K (Figs. 6-9)",
    params=PARAMS,
    plots=(plot_lcm,),
    check=_check,
)
def lcm_adaptation(key, p):
    gammas = [p.gamma_db] + [g for g in p.gamma_sweep_db if g != p.gamma_db]
    strat = [msg.NON_LCM] + [s for _ in gammas for s in (msg.ONLY_DATASET, msg.PROPOSED)]
    gam = [gammas[0]] + [g for g in gammas for _ in range(2)]
    n_total = p.n_ue * p.n_seeds
    keep_messages = n_total * len(strat) * p.n_steps <= 10**8
    out, pool, lc = run_point(p, reading_lanes(p, strat, gam), keep_messages=keep_messages)
    t = p.n_steps
    e_ue = out["e_win"].astype(np.float64).mean(-1)  # [G, U]
    acc = out["hits"] / t                         # [G, U, K]
    primary = [0, 1, 2]                           # lanes of gamma_db
    res = strategy_metrics(out, primary, t, t * DT_S)
    values = claim_values(acc[..., 0], e_ue, primary, p.n_ue, p.n_seeds)
    res.update(claim_summary(values))
    res["own_region_top1_spread"] = float(own_region_spread(pool).mean())
    # series
    res["claim_values"] = np.stack([values[k] for k in CLAIMS])                    # [4, n_seeds]
    res["e_trace"] = out["e_win"][primary].astype(np.float64).mean(1)              # [3, n_windows]
    res["topk_pct"] = np.stack([np.percentile(acc[g], PCTS, axis=0) for g in primary])  # [3, 3, K]
    res["topk_mean"] = acc[primary].mean(1)                                        # [3, K]
    res["gammas"] = np.asarray(gammas, np.float32)
    res["e_vs_gamma"] = np.array([[e_ue[0].mean()] * len(gammas),
                                  [e_ue[1 + 2 * i].mean() for i in range(len(gammas))],
                                  [e_ue[2 + 2 * i].mean() for i in range(len(gammas))]])  # [3, gammas]
    res["top1_p10_vs_gamma"] = np.array([[np.percentile(acc[0, :, 0], 10)] * len(gammas),
                                         [np.percentile(acc[1 + 2 * i, :, 0], 10) for i in range(len(gammas))],
                                         [np.percentile(acc[2 + 2 * i, :, 0], 10) for i in range(len(gammas))]])
    res["own_region_spread"] = own_region_spread(pool)                             # [R]
    n_log = min(n_total, 10)
    if keep_messages:
        res["msgs_proposed"] = out["msgs"][2, :n_log].astype(np.int8)             # [min(U,10), T]
        res["msg_counts_proposed"] = np.bincount(out["msgs"][2].ravel(), minlength=6)  # [6]
    res["active_proposed"] = out["active"][2, :n_log].astype(np.int16)            # [min(U,10), n_windows]
    res["region"] = out["region"][:n_log].astype(np.int8)                         # [min(U,10), n_windows]
    return res

"""``beam_train``: the 54 beam-prediction models, their training curves (paper Figs. 4-5) and accuracy table.

Trains (or loads from the cache) the 3 Set B x 3 depths x 6 dataset-ID models, one vmapped jit per depth,
and reports the average training/validation loss and Top-1 curves and the evaluation table: mean
e_RSRP and Top-1 of every model on every region's evaluation set, against the strongest-measured-Set-B
baseline (legacy beam management).
"""

from __future__ import annotations

import numpy as np

from flax import struct

from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.model import TrainConfig, datasets, load_or_train_tables
from ltjax.plotting.beam import plot_beam_train
from ltjax.params import field
from ltjax.sweep.registry import register_experiment


@struct.dataclass
class BeamTrainParams:
    """Parameters of the experiment (units in each field's schema)."""

    model_seed: int = field(0, 'seed of the datasets and models (cache identity)', lo=0, hi=2**31 - 1)
    width: int = field(64, 'hidden width H', lo=1, hi=4096)
    epochs: int = field(30, 'training epochs', lo=1, hi=1000)
    n_per_region: int = field(10_000, 'training locations per region (9:1 split)', lo=100, hi=10**6)
    n_eval: int = field(5_000, 'evaluation-set locations per region', lo=10, hi=10**6)
    cache_dir: str = field("results/beam_models", 'model cache root', kind="path", role="dir")


@register_experiment(
    name="beam_train",
    description="Train/load the 54 beam-prediction DNNs (vmapped per depth); curves (Figs. 4-5) and accuracy",
    params=BeamTrainParams,
    plots=(plot_beam_train,),
)
def beam_train(key, p):
    cfg, chp = BeamConfig(), ChannelParams()
    tc = TrainConfig(width=p.width, epochs=p.epochs, n_per_region=p.n_per_region, n_eval=p.n_eval)
    reg, e_tab, t_tab = load_or_train_tables(p.model_seed, cfg, chp, tc, p.cache_dir)
    _, ev = datasets(p.model_seed, cfg, chp, tc)
    # Legacy baseline: the strongest measured beam of each Set B, per region's evaluation set.
    rsrp, meas = np.asarray(ev.rsrp), np.asarray(ev.meas)
    best = rsrp.max(-1)
    base_top1, base_e = [], []
    for idx in cfg.set_b_array():
        pred = idx[np.argmax(meas[..., idx], -1)]
        got = np.take_along_axis(rsrp, pred[..., None], -1)[..., 0]
        base_top1.append((pred == rsrp.argmax(-1)).mean(-1))
        base_e.append((best - got).mean(-1))
    r = cfg.n_regions
    own = np.array([m % r for m in range(e_tab.shape[0])])
    own_t1 = t_tab[np.arange(len(own)), own]
    own_e = e_tab[np.arange(len(own)), own]
    res = {f"{k}_final": float(np.mean(v[..., -1])) for k, v in reg.curves.items()}
    res.update({
        "own_region_top1_mean": float(own_t1.mean()),
        "own_region_e_rsrp_mean": float(own_e.mean()),
        "other_region_top1_mean": float(t_tab[own[:, None] != np.arange(r)[None, :]].mean()),
        "baseline_top1_mean": float(np.mean(base_top1)),
        "baseline_e_rsrp_mean": float(np.mean(base_e)),
        "cache_identity": reg.identity,
    })
    for k, v in reg.curves.items():
        res[f"curve_{k}"] = v  # [n_set_b, n_model_ids, R, E]
    res["top1_table"] = t_tab
    res["e_rsrp_table"] = e_tab
    res["baseline_top1"] = np.asarray(base_top1)  # [n_set_b, R]
    res["baseline_e_rsrp"] = np.asarray(base_e)
    return res

"""``beam_capacity``: is width 64 enough? Evaluation Top-1 of the beam-prediction DNNs against their width,
and a ceiling from a larger model trained on ten times the data.

For the Set B patterns ``set_b_ids`` and regions ``regions`` of one reading, every model ID (3, 4, 5
hidden layers) is trained at each width of ``widths`` with the paper's recipe (30 epochs, batch 50, Adam
1e-3, 9:1 split of 10,000 locations per region), and one ceiling model per (Set B, region) of width
``ceiling_width`` and ``ceiling_depth`` hidden layers on ``ceiling_data`` x 10,000 locations for
``ceiling_epochs`` epochs. A data control trains the ceiling's recipe (same depth, data and epochs) at
width ``control_width``: if it comes as close to the ceiling as the wider models do not, the gap is in the
data, not in the width. Every model is scored on the region's 5,000-location evaluation set (the one the
LCM uses), so one Top-1 has a binomial standard error of about 0.6 points. The decision rule: switch the
pool's width if width 64 is more than 2 points below the ceiling (``gap_64_to_ceiling``, averaged over the
three depths; ``gap_best64_to_ceiling`` for the best depth) and a wider model closes the gap.

Training reuses ``ltjax.beam.training.train_depth`` (vmapped over the chosen (Set B, region) pairs) and
the keys of the pool's models (``depth_keys``), so width 64 reproduces the cached models' keys.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
from flax import struct

from ltjax.beam.config import MEASUREMENTS, reading_config
from ltjax.beam.inference import evaluate, pad_models
from ltjax.beam.training import TrainConfig, depth_keys, split_inputs, train_depth
from ltjax.experiments.beam_train import BeamReadingParams, datasets
from ltjax.params import field
from ltjax.plotting.beam import plot_beam_capacity
from ltjax.sweep.registry import register_experiment

_train_depth = jax.jit(train_depth, static_argnums=(5, 6))
_evaluate = jax.jit(evaluate, static_argnums=(2,))


@struct.dataclass
class BeamCapacityParams(BeamReadingParams):
    """Parameters of ``beam_capacity`` (units in each field's schema)."""

    model_seed: int = field(0, 'seed of the datasets and models (the pool\'s)', lo=0, hi=2**31 - 1)
    widths: tuple[int, ...] = field((64, 128, 256), 'hidden widths to train', kind="int_list", lo=1, hi=4096)
    epochs: int = field(30, 'epochs of the width models', lo=1, hi=1000)
    n_per_region: int = field(10_000, 'training locations per region (9:1 split) of the width models', lo=100,
                              hi=10**6)
    n_eval: int = field(5_000, 'evaluation-set locations per region', lo=10, hi=10**6)
    set_b_ids: tuple[int, ...] = field((0,), 'Set B patterns (of the spread design) to train', kind="int_list",
                                       lo=0, hi=2)
    regions: tuple[int, ...] = field((0, 3), 'regions (dataset IDs) to train', kind="int_list", lo=0, hi=5)
    ceiling_width: int = field(512, 'hidden width of the ceiling model', lo=1, hi=8192)
    ceiling_depth: int = field(5, 'hidden layers of the ceiling model', lo=1, hi=16)
    ceiling_data: int = field(10, 'training data of the ceiling model, in multiples of n_per_region', lo=1,
                              hi=100)
    ceiling_epochs: int = field(10, 'epochs of the ceiling model', lo=1, hi=1000)
    control_width: int = field(64, 'width of the data control: the ceiling recipe at this width', lo=1, hi=8192)


def _train_eval(key, cfg, chp, tc: TrainConfig, depth: int, model_id: int, train, ev, set_b_ids, regions):
    """Trains the (Set B, region) models of one depth; returns (top1 [J], e_rsrp [J], val_acc curves [J, E])."""
    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, train)
    pick = np.array([sb * cfg.n_regions + r for sb in set_b_ids for r in regions])
    keys = depth_keys(key, cfg, tc, model_id)[pick]
    params, curves = _train_depth(keys, x_tr[pick], y_tr[pick], x_va[pick], y_va[pick], depth, tc)
    top1, e = [], []
    for j, (sb, r) in enumerate((sb, r) for sb in set_b_ids for r in regions):
        one = jax.tree_util.tree_map(lambda a: np.asarray(a[j]), params)
        model = jax.tree_util.tree_map(lambda a: a[0], pad_models([(0, one)], (depth,), tc.width, cfg))
        e_r, t_r = _evaluate(model, sb, cfg, ev)
        top1.append(float(t_r[r]))
        e.append(float(e_r[r]))
    return np.array(top1), np.array(e), np.asarray(curves[3])


@register_experiment(
    name="beam_capacity",
    description="Beam DNN capacity: evaluation Top-1 vs width (64/128/256) and a larger-model, 10x-data ceiling",
    params=BeamCapacityParams,
    plots=(plot_beam_capacity,),
)
def beam_capacity(key, p):
    cfg, chp = reading_config(p.geometry, "spread"), MEASUREMENTS[p.measurement]
    base = TrainConfig(epochs=p.epochs, n_per_region=p.n_per_region, n_eval=p.n_eval)
    train, ev = datasets(p.model_seed, cfg, chp, base)
    root = jax.random.fold_in(jax.random.key(p.model_seed), 2)  # the pool's training key
    top1 = np.zeros((len(p.widths), len(base.depths), len(p.set_b_ids) * len(p.regions)))
    e_tab = np.zeros_like(top1)
    val = []
    timing = {}
    for i, width in enumerate(p.widths):
        tc = dataclasses.replace(base, width=width)
        t0 = time.perf_counter()
        for mid, depth in enumerate(tc.depths):
            top1[i, mid], e_tab[i, mid], v = _train_eval(root, cfg, chp, tc, depth, mid, train, ev, p.set_b_ids,
                                                         p.regions)
            val.append(v)
        timing[f"train_s_width{width}"] = time.perf_counter() - t0
    # Ceiling: a larger model on ceiling_data x the data; a key of its own (fold_in(root, -1) is no model's).
    tc_c = dataclasses.replace(base, width=p.ceiling_width, depths=(p.ceiling_depth,), epochs=p.ceiling_epochs,
                               n_per_region=base.n_per_region * p.ceiling_data)
    big, _ = datasets(p.model_seed, cfg, chp, tc_c)
    t0 = time.perf_counter()
    c_top1, c_e, c_val = _train_eval(jax.random.fold_in(root, 10**6), cfg, chp, tc_c, p.ceiling_depth, 0, big, ev,
                                     p.set_b_ids, p.regions)
    timing["train_s_ceiling"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    k_top1, k_e, _ = _train_eval(jax.random.fold_in(root, 10**6), cfg, chp,
                                 dataclasses.replace(tc_c, width=p.control_width), p.ceiling_depth, 0, big, ev,
                                 p.set_b_ids, p.regions)
    timing["train_s_control"] = time.perf_counter() - t0
    i64 = list(p.widths).index(64) if 64 in p.widths else 0
    res = {
        "ceiling_top1_mean": float(c_top1.mean()),
        "ceiling_e_rsrp_mean": float(c_e.mean()),
        "control_top1_mean": float(k_top1.mean()),
        **{f"top1_width{w}_mean": float(top1[i].mean()) for i, w in enumerate(p.widths)},
        "gap_64_to_ceiling": float(c_top1.mean() - top1[i64].mean()),
        "gap_best64_to_ceiling": float(np.mean(c_top1 - top1[i64].max(axis=0))),
        "gap_best_width_to_64": float(top1.mean(axis=(1, 2)).max() - top1[i64].mean()),
        **timing,
        "top1": top1,                       # [widths, model IDs, (Set B, region) pairs]
        "e_rsrp": e_tab,
        "ceiling_top1": c_top1,             # [(Set B, region) pairs]
        "ceiling_e_rsrp": c_e,
        "control_top1": k_top1,             # [(Set B, region) pairs]
        "widths_trained": np.asarray(p.widths),
        "val_acc_curves": np.stack(val),    # [widths * model IDs, pairs, E]
        "ceiling_val_acc": c_val,           # [pairs, ceiling_epochs]
    }
    return res


"""``beam_train`` and ``beam_family``: beam-prediction models, their training curves (paper Figs. 4-5) and
accuracy table.

``beam_train`` trains (or loads from the cache, ``ltjax.beam.model``) the paper's 3 Set B x 3 depths x 6
dataset-ID models, one vmapped jit per depth, and reports the average training/validation loss and Top-1
curves and the evaluation table: mean e_RSRP and Top-1 of every model on every region's evaluation set,
against the strongest-measured-Set-B baseline (legacy beam management). ``beam_family`` does the same for
one family under other readings (cell geometry, L1-RSRP measurement, Set B design, or the pooled global
models), each its own cache entry.

This module is the entry point that compiles the beam pipeline: ``load_models`` (used by the LCM
experiments and the benchmarks too) generates the datasets, trains on a cache miss and evaluates the
table, each a jitted call of a ``ltjax.beam`` kernel; ``load_pool`` assembles the model pool a UE holds
(``ltjax.beam.pool``) from families.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np
from flax import struct

from ltjax.beam.config import GEOMETRIES, MEASUREMENTS, SET_B_DESIGNS, BeamConfig, ChannelParams, reading_config
from ltjax.beam.dataset import BeamData, make_region_data
from ltjax.beam.inference import evaluate_all, legacy_scores, set_b_masks
from ltjax.beam.metrics import e_rsrp, top_k
from ltjax.beam.model import ModelRegistry, identity, load_perf_table, save_perf_table
from ltjax.beam.pool import ModelPool, make_pool, own_region_spread
from ltjax.beam.training import TrainConfig, depth_keys, registry_layout, split_inputs, train_depth
from ltjax.params import field
from ltjax.plotting.beam import plot_beam_train
from ltjax.sweep.registry import register_experiment

_region_data = jax.jit(make_region_data, static_argnums=(1, 3))
_train_depth = jax.jit(train_depth, static_argnums=(5, 6))
_evaluate_all = jax.jit(evaluate_all, static_argnums=(1, 3, 4))


def datasets(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig) -> tuple[BeamData, BeamData]:
    """(training data [R, n_per_region], evaluation data [R, n_eval]) of ``seed``."""
    root = jax.random.key(seed)
    return (_region_data(jax.random.fold_in(root, 0), cfg, chp, tc.n_per_region),
            _region_data(jax.random.fold_in(root, 1), cfg, chp, tc.n_eval))


def train_models(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig, log=print) -> ModelRegistry:
    """Trains the models of ``seed`` (one jitted vmapped call per depth); model m uses
    fold_in(fold_in(key(seed), 2), m) (``ltjax.beam.training.depth_keys``)."""
    train, _ = datasets(seed, cfg, chp, tc)
    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, train)
    key = jax.random.fold_in(jax.random.key(seed), 2)
    per_depth, timings = [], {}
    for mid, depth in enumerate(tc.depths):
        t0 = time.perf_counter()
        per_depth.append(jax.block_until_ready(
            _train_depth(depth_keys(key, cfg, tc, mid), x_tr, y_tr, x_va, y_va, depth, tc)))
        timings[depth] = time.perf_counter() - t0
    log(f"[beam] training wall time per depth [s]: {timings}")
    params, curves = registry_layout(cfg, tc, per_depth)
    return ModelRegistry(cfg=cfg, tc=tc, params=params, curves=curves, identity=identity(cfg, chp, tc, seed))


def performance_table(reg: ModelRegistry, ev: BeamData):
    """e_rsrp [M, R] (dB) and top1 [M, R] of every model on every region's evaluation set (numpy)."""
    e, t = _evaluate_all(reg.padded(), reg.cfg, ev, len(reg.tc.depths), reg.tc.n_datasets(reg.cfg))
    return np.asarray(e), np.asarray(t)


def load_models(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig,
                cache_root: str | Path = "results/beam_models", log=print):
    """(registry, e_table [M, R], top1_table [M, R]) for (configs, seed) from the cache
    ``<cache_root>/<identity>/``; trains, evaluates and saves first what is missing."""
    ident = identity(cfg, chp, tc, seed)
    d = Path(cache_root) / ident
    if ModelRegistry.exists(d):
        reg = ModelRegistry.load(d, cfg, tc, identity=ident)
    else:
        n = cfg.n_set_b * len(tc.depths) * tc.n_datasets(cfg)
        log(f"[beam] training {n} models into {d} (cache miss)")
        reg = train_models(seed, cfg, chp, tc, log)
        reg.save(d)
    table = load_perf_table(d)
    if table is None:
        table = performance_table(reg, datasets(seed, cfg, chp, tc)[1])
        save_perf_table(d, *table)
    return reg, *table


@struct.dataclass
class BeamModelParams:
    """The parameters that select the 54 models: the seed and recipe they are trained with (the cache
    identity) and the cache root. ``beam_train`` and ``lcm_adaptation`` both declare them through this class."""

    model_seed: int = field(0, 'seed of the datasets and the 54 models (cache identity)', lo=0, hi=2**31 - 1)
    width: int = field(64, 'hidden width H of every model', lo=1, hi=4096)
    epochs: int = field(30, 'training epochs', lo=1, hi=1000)
    n_per_region: int = field(10_000, 'training locations per region (9:1 split)', lo=100, hi=10**6)
    n_eval: int = field(5_000, 'evaluation-set locations per region', lo=10, hi=10**6)
    cache_dir: str = field("results/beam_models", 'model cache root (a missing entry trains first)', kind="path",
                           role="dir")


@struct.dataclass
class BeamTrainParams(BeamModelParams):
    """Parameters of the experiment (units in each field's schema): those of the models."""


POOLS = {"spread": ("spread",), "localised": ("localised",), "mixed": ("spread", "localised")}


@struct.dataclass
class BeamReadingParams:
    """The readings that change the models' world (docs/beam_lcm.md quotes the paper's sentence of each)."""

    geometry: str = field("sector", 'cell: the whole hexagon in six 60-degree regions, or the 120-degree sector of '
                          'the panel (bearing 30 deg) in six 20-degree regions', choices=GEOMETRIES)
    measurement: str = field("awgn", 'L1-RSRP: noiseless and unquantised, or thermal noise from the stated budget, '
                             '1 dB report steps and the reporting range', choices=tuple(MEASUREMENTS))


@struct.dataclass
class BeamFamilyParams(BeamModelParams, BeamReadingParams):
    """Parameters of ``beam_family``: the readings, the Set B design or pooled global models, the models'."""

    set_b_design: str = field("spread", 'Set B patterns: spread over the codebook (IDs 0-2) or localised 4 x 4 '
                              'blocks of neighbouring beams (IDs 3-5)', choices=tuple(SET_B_DESIGNS))
    pooled: bool = field(False, 'one global model per (Set B, model ID) trained on every region pooled')


def train_config(p: BeamModelParams, pooled: bool = False) -> TrainConfig:
    """The training recipe of an experiment's model parameters."""
    return TrainConfig(width=p.width, epochs=p.epochs, n_per_region=p.n_per_region, n_eval=p.n_eval, pooled=pooled)


def load_family(p: BeamModelParams, geometry: str, measurement: str, set_b_design: str, pooled: bool = False,
                log=print):
    """One family for ``make_pool``: (cfg, n_datasets, models [M_f], e_table [M_f, R], top1 [M_f, R])."""
    cfg, chp, tc = reading_config(geometry, set_b_design), MEASUREMENTS[measurement], train_config(p, pooled)
    reg, e_tab, t_tab = load_models(p.model_seed, cfg, chp, tc, p.cache_dir, log)
    return cfg, tc.n_datasets(cfg), reg.padded(), e_tab, t_tab


def load_pool(p: BeamModelParams, geometry: str, measurement: str, pool: str, with_global: bool = False,
              log=print) -> tuple[ModelPool, BeamConfig, ChannelParams]:
    """(pool, cfg, chp) of a reading: the regional families of ``POOLS[pool]`` and, with ``with_global``, the
    global models on the spread patterns after them. ``cfg`` carries the geometry (its Set B patterns are
    the first family's: the pool's ``set_b_idx`` holds every family's)."""
    fams = [load_family(p, geometry, measurement, design, log=log) for design in POOLS[pool]]
    if with_global:
        fams.append(load_family(p, geometry, measurement, "spread", pooled=True, log=log))
    return make_pool(fams), fams[0][0], MEASUREMENTS[measurement]


def legacy_baseline(cfg: BeamConfig, ev: BeamData):
    """Top-1 [n_set_b, R] and mean e_RSRP [n_set_b, R] (dB) of legacy beam management (the strongest
    measured beam of each Set B) on every region's evaluation set (numpy)."""
    top1, e = [], []
    for in_set_b in set_b_masks(cfg):
        scores = legacy_scores(ev.meas, in_set_b)  # [R, N, B]
        top1.append(np.asarray(top_k(scores, ev.label)[..., 0]).mean(-1))
        e.append(np.asarray(e_rsrp(ev.rsrp, scores.argmax(-1))).mean(-1))
    return np.asarray(top1), np.asarray(e)


def _report(reg: ModelRegistry, e_tab, t_tab, cfg: BeamConfig, ev: BeamData) -> dict:
    """Scalars and series of one family: final curves, own/other-region accuracy, the legacy baseline."""
    base_top1, base_e = legacy_baseline(cfg, ev)
    n_d = reg.tc.n_datasets(cfg)
    r = cfg.n_regions
    res = {f"{k}_final": float(np.mean(v[..., -1])) for k, v in reg.curves.items()}
    if n_d == r:
        own = np.array([m % r for m in range(e_tab.shape[0])])
        res.update({
            "own_region_top1_mean": float(t_tab[np.arange(len(own)), own].mean()),
            "own_region_e_rsrp_mean": float(e_tab[np.arange(len(own)), own].mean()),
            "other_region_top1_mean": float(t_tab[own[:, None] != np.arange(r)[None, :]].mean()),
        })
    else:  # global models: every region is their own
        res.update({"own_region_top1_mean": float(t_tab.mean()), "own_region_e_rsrp_mean": float(e_tab.mean())})
    res.update({
        "baseline_top1_mean": float(np.mean(base_top1)),
        "baseline_e_rsrp_mean": float(np.mean(base_e)),
        "cache_identity": reg.identity,
    })
    for k, v in reg.curves.items():
        res[f"curve_{k}"] = v  # [n_set_b, n_model_ids, n_datasets, E]
    res["top1_table"] = t_tab
    res["e_rsrp_table"] = e_tab
    res["baseline_top1"] = base_top1  # [n_set_b, R]
    res["baseline_e_rsrp"] = base_e
    return res


@register_experiment(
    name="beam_train",
    description="Train/load the 54 beam-prediction DNNs (vmapped per depth); curves (Figs. 4-5) and accuracy",
    params=BeamTrainParams,
    plots=(plot_beam_train,),
)
def beam_train(key, p):
    cfg, chp, tc = BeamConfig(), ChannelParams(), train_config(p)
    reg, e_tab, t_tab = load_models(p.model_seed, cfg, chp, tc, p.cache_dir)
    return _report(reg, e_tab, t_tab, cfg, datasets(p.model_seed, cfg, chp, tc)[1])


@register_experiment(
    name="beam_family",
    description="Train/load one family of beam models under a reading (geometry, measurement, Set B design, global)",
    params=BeamFamilyParams,
    plots=(plot_beam_train,),
)
def beam_family(key, p):
    cfg, chp = reading_config(p.geometry, p.set_b_design), MEASUREMENTS[p.measurement]
    tc = train_config(p, p.pooled)
    reg, e_tab, t_tab = load_models(p.model_seed, cfg, chp, tc, p.cache_dir)
    res = _report(reg, e_tab, t_tab, cfg, datasets(p.model_seed, cfg, chp, tc)[1])
    if not p.pooled:
        fam = make_pool([(cfg, cfg.n_regions, reg.padded(), e_tab, t_tab)], cfg.n_beams)
        res["own_region_top1_spread_mean"] = float(own_region_spread(fam).mean())
    return res

"""The model pool a UE holds: every stored model with its IDs and its evaluation table.

The paper's UE stores 54 models, (Set B ID, model ID, dataset ID) = 3 x 3 x 6 (Sec. IV-A). A pool here is
the concatenation of one or more *families* (cache entries of ``ltjax.beam.model``), each trained with
its own ``BeamConfig``: the spread Set B patterns (Set B IDs 0-2), the localised ones (IDs 3-5), and
optionally the pooled global models (dataset ID -1: trained on every region). The LCM engine never does
arithmetic on model indices: it looks IDs up in the pool's tables (``model_set_b``, ``model_mid``,
``model_dataset``, ``by_ids``), so any mix of families works. A pool of the spread family alone has the
paper's flat order m = (set_b_id * 3 + model_id) * 6 + dataset_id.

Letters: M models, R regions, B Set A beams, S Set B beams, P Set B IDs (rows of ``set_b_idx``), I model IDs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.beam.config import BeamConfig
from ltjax.beam.inference import N_MODEL_IDS, PaddedMLP


@struct.dataclass
class ModelPool:
    """Models [M] and their tables (device arrays; a pytree the LCM kernels take as an argument).

    Attributes:
      models: PaddedMLP with leading [M].
      e_table: [M, R] mean e_RSRP [dB] of model m on region r's evaluation set.
      top1_table: [M, R] Top-1 accuracy of model m on region r's evaluation set.
      set_b_idx: [P, S] int32 Set A indices of the beams of each Set B ID (rows of absent IDs unused).
      set_b_mask: [P, B] bool, the same as a mask.
      model_set_b: [M] int32 Set B ID of model m.
      model_mid: [M] int32 model ID (depth index) of model m.
      model_dataset: [M] int32 dataset ID (region) of model m, -1 for a global model.
      by_ids: [P, I, R] int32 the regional model with those IDs, -1 where the pool has none.
    """

    models: PaddedMLP
    e_table: jax.Array
    top1_table: jax.Array
    set_b_idx: jax.Array
    set_b_mask: jax.Array
    model_set_b: jax.Array
    model_mid: jax.Array
    model_dataset: jax.Array
    by_ids: jax.Array

    @property
    def n_models(self) -> int:
        return int(self.e_table.shape[0])


def family_ids(cfg: BeamConfig, n_model_ids: int, n_datasets: int):
    """(set_b_id [M_f], model_id [M_f], dataset [M_f]) of a family in its registry's flat order; dataset -1
    when the family is pooled (n_datasets = 1 with R > 1)."""
    sb, mid, d = np.meshgrid(np.arange(cfg.n_set_b), np.arange(n_model_ids), np.arange(n_datasets), indexing="ij")
    d = d.ravel() if n_datasets == cfg.n_regions else np.full(d.size, -1)
    return (sb.ravel() + cfg.set_b_first_id).astype(np.int32), mid.ravel().astype(np.int32), d.astype(np.int32)


def make_pool(families, n_beams: int = 64, n_model_ids: int = N_MODEL_IDS) -> ModelPool:
    """A pool from families, concatenated in the order given.

    Args:
      families: sequence of (cfg, n_datasets, models PaddedMLP [M_f], e_table [M_f, R], top1 [M_f, R]), with
        M_f = cfg.n_set_b * n_model_ids * n_datasets in the registry's flat order; all of one width and depth.
    """
    sbs, mids, dss, sets = [], [], [], {}
    for cfg, n_d, _, _, _ in families:
        sb, mid, ds = family_ids(cfg, n_model_ids, n_d)
        sbs.append(sb), mids.append(mid), dss.append(ds)
        for i, pattern in enumerate(cfg.set_b_array()):
            sets[cfg.set_b_first_id + i] = pattern
    n_r = int(np.asarray(families[0][3]).shape[1])
    model_set_b, model_mid, model_dataset = (np.concatenate(a) for a in (sbs, mids, dss))
    n_p = max(sets) + 1
    set_b_idx = np.zeros((n_p, len(next(iter(sets.values())))), np.int32)
    for i, pattern in sets.items():
        set_b_idx[i] = pattern
    mask = np.zeros((n_p, n_beams), bool)
    for i, pattern in sets.items():
        mask[i, pattern] = True
    by_ids = np.full((n_p, n_model_ids, n_r), -1, np.int32)
    for m, (sb, mid, d) in enumerate(zip(model_set_b, model_mid, model_dataset)):
        if d >= 0:
            by_ids[sb, mid, d] = m
    models = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *[f[2] for f in families])
    return ModelPool(models=models,
                     e_table=jnp.asarray(np.concatenate([np.asarray(f[3]) for f in families]), jnp.float32),
                     top1_table=jnp.asarray(np.concatenate([np.asarray(f[4]) for f in families]), jnp.float32),
                     set_b_idx=jnp.asarray(set_b_idx), set_b_mask=jnp.asarray(mask),
                     model_set_b=jnp.asarray(model_set_b), model_mid=jnp.asarray(model_mid),
                     model_dataset=jnp.asarray(model_dataset), by_ids=jnp.asarray(by_ids))


def paper_pool(cfg: BeamConfig, models: PaddedMLP, e_table, top1_table=None) -> ModelPool:
    """The pool of one regional family (the paper's 54 models when ``cfg`` is the default)."""
    top1 = np.zeros_like(np.asarray(e_table)) if top1_table is None else top1_table
    return make_pool([(cfg, cfg.n_regions, models, e_table, top1)], cfg.n_beams)


def own_region_spread(pool: ModelPool) -> np.ndarray:
    """[R] spread (max - min) of own-region Top-1 among each region's regional models (host numpy)."""
    top1, ds = np.asarray(pool.top1_table), np.asarray(pool.model_dataset)
    return np.array([np.ptp(top1[ds == r, r]) for r in range(top1.shape[1])])

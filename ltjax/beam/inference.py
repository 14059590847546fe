"""Inference of the 54 beam-prediction DNNs: flat model ids, the depth-padded stack, grouped inference.

A model is (Set B ID, model ID, dataset ID): 3 Set B patterns x 3 depths x 6 regions (paper Sec. IV-A).
Its flat index is m = (set_b_id * 3 + model_id) * 6 + dataset_id (``flat_id`` / ``unflat_id``). For
inference all M = 54 models are stacked into one depth-padded pytree (``PaddedMLP``): hidden layers a
model does not have are skipped by a mask, so one gather by m selects any model and a batch of UEs with
different models runs as one program (``grouped_logits``). Legacy beam management, the baseline and
the fallback during model adaptation, scores beams by their measured RSRP (``legacy_scores``).

Letters: U UEs, W steps, B Set A beams (64), S Set B beams (16), H hidden width, D deepest model's
hidden layers, M models, R regions, N locations.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.beam.config import BeamConfig
from ltjax.beam.dataset import BeamData, normalise
from ltjax.beam.metrics import e_rsrp, top_k

N_MODEL_IDS = 3  # model IDs 0, 1, 2 (three depths) per (Set B, dataset) pair


def flat_id(set_b_id, model_id, dataset_id, n_models: int = N_MODEL_IDS, n_regions: int = 6):
    """Flat model index m of (Set B ID, model ID, dataset ID) (ints or int arrays)."""
    return (set_b_id * n_models + model_id) * n_regions + dataset_id


def unflat_id(m, n_models: int = N_MODEL_IDS, n_regions: int = 6):
    """(Set B ID, model ID, dataset ID) of flat index m (ints or int arrays)."""
    return m // (n_models * n_regions), (m // n_regions) % n_models, m % n_regions


def model_inputs(cfg: BeamConfig, meas, set_b_id):
    """Normalised Set B input [..., S] from measured Set A RSRP ``meas`` [..., B] dBm."""
    idx = jnp.asarray(cfg.set_b_array())[set_b_id]
    return normalise(cfg, jnp.take(meas, idx, axis=-1))


def set_b_masks(cfg: BeamConfig) -> np.ndarray:
    """[n_set_b, B] bool: beam b belongs to Set B pattern i."""
    mask = np.zeros((cfg.n_set_b, cfg.n_beams), bool)
    for i, pattern in enumerate(cfg.set_b_array()):
        mask[i, pattern] = True
    return mask


def legacy_scores(meas, in_set_b):
    """Scores of legacy beam management: the measured RSRP of Set B beams, -inf elsewhere.

    Args:
      meas: [..., B] measured L1-RSRP [dBm].
      in_set_b: [B] bool (or broadcastable), the measured beams.
    Returns:
      [..., B]; its argmax is the strongest measured Set B beam.
    """
    return jnp.where(in_set_b, meas, -jnp.inf)


@struct.dataclass
class PaddedMLP:
    """Models stacked along a leading [M] (or one model, without it) and padded to depth D.

    Attributes:
      w_in: [M, S, H], b_in: [M, H]               first hidden layer;
      w_hid: [M, D-1, H, H], b_hid: [M, D-1, H]   further hidden layers (zeros where unused);
      mask: [M, D-1] bool                         hidden layer i+1 exists in model m;
      w_out: [M, H, B], b_out: [M, B]             output layer.
    """

    w_in: jax.Array
    b_in: jax.Array
    w_hid: jax.Array
    b_hid: jax.Array
    mask: jax.Array
    w_out: jax.Array
    b_out: jax.Array


def padded_apply(p: PaddedMLP, x):
    """Logits [..., B] of ONE model (``p`` without the [M] axis) for inputs x [..., S].

    Same function as ``training.BeamMLP`` (Dense + LeakyReLU(0.01) per hidden layer, Dense logits).
    """
    h = nn.leaky_relu(x @ p.w_in + p.b_in)
    for i in range(p.w_hid.shape[0]):
        h = jnp.where(p.mask[i], nn.leaky_relu(h @ p.w_hid[i] + p.b_hid[i]), h)
    return h @ p.w_out + p.b_out


def pad_models(per_model: list, depths, width: int, cfg: BeamConfig) -> PaddedMLP:
    """Stacks flax MLP params into a ``PaddedMLP`` (numpy in, device arrays out).

    Args:
      per_model: M pairs (model_id, flax params of ``BeamMLP(depths[model_id], width)``), in flat order.
      depths: hidden layers of each model ID; D = max(depths).
    """
    d_max, h, s, b = max(depths), width, cfg.set_b_size, cfg.n_beams
    cols = {k: [] for k in ("w_in", "b_in", "w_hid", "b_hid", "mask", "w_out", "b_out")}
    for mid, params in per_model:
        p = params["params"]
        depth = depths[mid]
        w_hid = np.zeros((d_max - 1, h, h), np.float32)
        b_hid = np.zeros((d_max - 1, h), np.float32)
        for i in range(1, depth):
            w_hid[i - 1] = p[f"hidden_{i}"]["kernel"]
            b_hid[i - 1] = p[f"hidden_{i}"]["bias"]
        cols["w_in"].append(np.asarray(p["hidden_0"]["kernel"]).reshape(s, h))
        cols["b_in"].append(np.asarray(p["hidden_0"]["bias"]))
        cols["w_hid"].append(w_hid)
        cols["b_hid"].append(b_hid)
        cols["mask"].append(np.arange(1, d_max) < depth)
        cols["w_out"].append(np.asarray(p["out"]["kernel"]).reshape(h, b))
        cols["b_out"].append(np.asarray(p["out"]["bias"]))
    return PaddedMLP(**{k: jnp.asarray(np.stack(v)) for k, v in cols.items()})


def tile_size(n_ue: int, n_models: int) -> int:
    """UEs per inference tile for a block of ``n_ue`` UEs: padding overhead at most ~1/8 of U."""
    return max(1, n_ue // (8 * n_models))


def grouped_logits(models: PaddedMLP, model_id, x, tile: int):
    """Logits [U, W, B] of each UE's own model: x [U, W, S], model_id [U] int, models with [M].

    UEs are sorted by model and each model's group is padded to a multiple of ``tile`` UEs, so every tile
    holds one model: at most P = U + M (tile - 1) rows (static), one gather of weights per tile and no
    per-UE copy of the weights.
    """
    u, w, s = x.shape
    n_m = models.w_in.shape[0]
    order = jnp.argsort(model_id, stable=True)
    sid = model_id[order]
    counts = jnp.bincount(model_id, length=n_m)
    start = jnp.cumsum(counts) - counts
    pcount = (counts + tile - 1) // tile * tile
    pend = jnp.cumsum(pcount)
    pstart = pend - pcount
    slot_sorted = pstart[sid] + (jnp.arange(u) - start[sid])
    slot = jnp.zeros((u,), jnp.int32).at[order].set(slot_sorted.astype(jnp.int32))
    n_tiles = -(-(u + n_m * (tile - 1)) // tile)
    xp = jnp.zeros((n_tiles * tile, w, s), x.dtype).at[slot].set(x)
    tile_model = jnp.clip(jnp.searchsorted(pend, jnp.arange(n_tiles) * tile, side="right"), 0, n_m - 1)
    p_tiles = jax.tree_util.tree_map(lambda a: a[tile_model], models)
    out = jax.vmap(padded_apply)(p_tiles, xp.reshape(n_tiles, tile * w, s))
    return out.reshape(n_tiles * tile, w, -1)[slot]


def evaluate(model: PaddedMLP, set_b_id, cfg: BeamConfig, ev: BeamData):
    """Mean e_RSRP [R] (dB) and Top-1 accuracy [R] of ONE model on every region's evaluation set.

    This is the UE's Step-4 evaluation of a recommended model; over all models it is the table [M, R]
    the LCM uses to pick among them.
    """
    logits = padded_apply(model, model_inputs(cfg, ev.meas, set_b_id))  # [R, N, B]
    pred = jnp.argmax(logits, -1)
    return jnp.mean(e_rsrp(ev.rsrp, pred), -1), jnp.mean(top_k(logits, ev.label)[..., 0], -1)


def evaluate_all(models: PaddedMLP, cfg: BeamConfig, ev: BeamData, n_model_ids: int = N_MODEL_IDS,
                 n_datasets: int | None = None):
    """``evaluate`` of every model of ``models`` [M]: (e_rsrp [M, R] dB, top1 [M, R]).

    ``models`` is one family in its registry's flat order (``n_datasets`` dataset IDs per (Set B, model ID):
    R, or 1 for pooled global models). The models run one after another (``lax.map``), so only one model's
    activations [R, N, H] are live.
    """
    n_d = cfg.n_regions if n_datasets is None else n_datasets

    def one(args):
        model, m = args
        set_b_id, _, _ = unflat_id(m, n_model_ids, n_d)
        return evaluate(model, set_b_id, cfg, ev)

    return jax.lax.map(one, (models, jnp.arange(models.w_in.shape[0])))

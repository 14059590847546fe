"""Training of the beam-prediction DNNs (paper Sec. IV-A): flax MLPs, one vmapped trainer per depth.

Input: the 16 normalised Set B RSRPs; output: 64 logits over Set A; label: the best Set A beam. Model
ID 0/1/2 has 3/4/5 hidden layers of width H with LeakyReLU (slope 0.01). Softmax cross-entropy, Adam
(lr 1e-3), minibatches of 50, 30 epochs. The per-epoch training loss / Top-1 accuracy is the mean over
that epoch's minibatches; validation uses the 10 % split after the epoch.

``train_one`` trains ONE model: a ``lax.scan`` over epochs, each a ``lax.scan`` over minibatches.
``train_depth`` vmaps it over the 18 (Set B, dataset) models of one depth, which share shapes; an entry
point jits it (``ltjax.experiments.beam_train``, the benchmark, tests). Model m's key is
fold_in(key, m) with m the flat model index (``depth_keys``; a family of Set B patterns whose first ID is
``BeamConfig.set_b_first_id`` uses the flat indices of those IDs).

``TrainConfig.pooled`` trains one *global* model per (Set B, model ID) on the training splits of all
regions pooled (dataset ID "global"): the baseline that asks whether switching between regional models is
needed at all. Its key is fold_in(key, GLOBAL_KEY_OFFSET + set_b_id * n_model_ids + model_id).

Letters: N_tr / N_va training / validation samples of a model, S Set B beams, B Set A beams, E epochs,
J the 18 models of one depth, j = set_b_id * R + dataset_id, R regions.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax.beam.config import BeamConfig
from ltjax.beam.dataset import BeamData
from ltjax.beam.inference import flat_id, model_inputs
from ltjax.beam.metrics import top_k

CURVE_NAMES = ("train_loss", "train_acc", "val_loss", "val_acc")
GLOBAL_KEY_OFFSET = 100_000  # global models' keys lie above every regional flat index


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training recipe (static).

    Attributes:
      width: H, hidden width (same for every layer).
      depths: hidden layers of model IDs 0, 1, 2.
      epochs, batch, lr: 30, 50, 1e-3 as in the paper.
      n_per_region: locations per region before the 9:1 split.
      val_frac: validation fraction.
      n_eval: locations of each region's evaluation set (model adaptation, Step 4).
      pooled: train one global model per (Set B, model ID) on all regions' data pooled.
    """

    width: int = 64
    depths: tuple = (3, 4, 5)
    epochs: int = 30
    batch: int = 50
    lr: float = 1e-3
    n_per_region: int = 10_000
    val_frac: float = 0.1
    n_eval: int = 5_000
    pooled: bool = False

    @property
    def n_val(self) -> int:
        return int(round(self.n_per_region * self.val_frac))

    def n_datasets(self, cfg: BeamConfig) -> int:
        """Dataset IDs per (Set B, model ID): one per region, or 1 for the pooled global models."""
        return 1 if self.pooled else cfg.n_regions

    def as_dict(self) -> dict:
        """JSON of the recipe (the cache identity hashes it); ``pooled`` appears only when set, so the
        committed entries keep their identities."""
        d = dataclasses.asdict(self)
        d["depths"] = list(self.depths)
        if not self.pooled:
            del d["pooled"]
        return d


class BeamMLP(nn.Module):
    """MLP: ``depth`` x (Dense(width) + LeakyReLU) then Dense(n_out) logits. x: [..., S] -> [..., B]."""

    depth: int
    width: int
    n_out: int = 64

    @nn.compact
    def __call__(self, x):
        for i in range(self.depth):
            x = nn.leaky_relu(nn.Dense(self.width, name=f"hidden_{i}")(x))
        return nn.Dense(self.n_out, name="out")(x)


def loss_and_top1(model: BeamMLP, params, x, y):
    """(mean softmax cross-entropy, Top-1 accuracy) of ``model`` on inputs x [N, S], labels y [N]."""
    logits = model.apply(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean(top_k(logits, y)[..., 0])


def train_one(key, x_tr, y_tr, x_va, y_va, depth: int, tc: TrainConfig):
    """Trains one model (the kernel ``train_depth`` vmaps).

    Args:
      key: typed key (consumed): init and per-epoch shuffles.
      x_tr: [N_tr, S], y_tr: [N_tr] int; x_va: [N_va, S], y_va: [N_va].
      depth, tc: static.
    Returns:
      (params, curves) with curves = (train_loss, train_acc, val_loss, val_acc), each [E].
    """
    model = BeamMLP(depth, tc.width)
    k_init, k_ep = jax.random.split(key)
    params = model.init(k_init, x_tr[:1])
    opt = optax.adam(tc.lr)
    n_b = x_tr.shape[0] // tc.batch

    def epoch(carry, k):
        params, ost = carry
        # One gather per epoch puts the shuffled samples in order; each minibatch is then a contiguous slice
        # (a gather per minibatch cost a quarter of the vmapped step). The minibatches are the same.
        perm = jax.random.permutation(k, x_tr.shape[0])[: n_b * tc.batch]
        x_ep, y_ep = x_tr[perm], y_tr[perm]

        def step(c, b):
            p, o = c
            xb = jax.lax.dynamic_slice_in_dim(x_ep, b * tc.batch, tc.batch)
            yb = jax.lax.dynamic_slice_in_dim(y_ep, b * tc.batch, tc.batch)
            (loss, acc), g = jax.value_and_grad(lambda q: loss_and_top1(model, q, xb, yb), has_aux=True)(p)
            upd, o = opt.update(g, o, p)
            return (optax.apply_updates(p, upd), o), (loss, acc)

        (params, ost), (l, a) = jax.lax.scan(step, (params, ost), jnp.arange(n_b))
        vl, va = loss_and_top1(model, params, x_va, y_va)
        return (params, ost), (l.mean(), a.mean(), vl, va)

    (params, _), curves = jax.lax.scan(epoch, (params, opt.init(params)), jax.random.split(k_ep, tc.epochs))
    return params, curves


def train_depth(keys, x_tr, y_tr, x_va, y_va, depth: int, tc: TrainConfig):
    """All J models of one depth at once: ``train_one`` vmapped over the leading [J] of every array argument.

    Returns (params with leaves [J, ...], curves 4 x [J, E]).
    """
    return jax.vmap(lambda k, a, b, c, d: train_one(k, a, b, c, d, depth, tc))(keys, x_tr, y_tr, x_va, y_va)


def split_inputs(cfg: BeamConfig, tc: TrainConfig, data: BeamData):
    """Inputs/labels of the J = 18 (Set B, dataset) pairs, ordered j = set_b_id * R + dataset_id (or, with
    ``tc.pooled``, of the J = 3 Set B patterns, each on every region's split pooled, region-major).

    Returns x_tr [J, N_tr, S], y_tr [J, N_tr], x_va [J, N_va, S], y_va [J, N_va].
    """
    n_tr = tc.n_per_region - tc.n_val
    xs = jnp.stack([model_inputs(cfg, data.meas, sb) for sb in range(cfg.n_set_b)])  # [3, R, N, S]
    ys = jnp.broadcast_to(data.label, (cfg.n_set_b, *data.label.shape))           # [3, R, N]
    if tc.pooled:
        def pool(a):  # [3, R, n, ...] -> [3, R * n, ...]
            return a.reshape(a.shape[0], -1, *a.shape[3:])
        return pool(xs[:, :, :n_tr]), pool(ys[:, :, :n_tr]), pool(xs[:, :, n_tr:]), pool(ys[:, :, n_tr:])
    xs = xs.reshape(-1, *xs.shape[2:])
    ys = ys.reshape(-1, ys.shape[-1])
    return xs[:, :n_tr], ys[:, :n_tr], xs[:, n_tr:], ys[:, n_tr:]


def depth_keys(key, cfg: BeamConfig, tc: TrainConfig, model_id: int):
    """[J] keys of the models of one model ID, in ``split_inputs`` order: model m gets fold_in(key, m)."""
    n_mid = len(tc.depths)
    set_b_ids = [cfg.set_b_first_id + sb for sb in range(cfg.n_set_b)]
    if tc.pooled:
        ids = [GLOBAL_KEY_OFFSET + sb * n_mid + model_id for sb in set_b_ids]
    else:
        ids = [flat_id(sb, model_id, r, n_mid, cfg.n_regions) for sb in set_b_ids for r in range(cfg.n_regions)]
    return jax.vmap(lambda m: jax.random.fold_in(key, m))(jnp.array(ids))


def registry_layout(cfg: BeamConfig, tc: TrainConfig, per_depth: list):
    """Host arrays in the registry's layout from ``train_depth``'s outputs for model IDs 0, 1, ...

    Returns (params: model_id -> flax params with leaves [n_set_b, R, ...],
             curves: name -> [n_set_b, n_model_ids, R, E]).
    """
    n_sb, n_r = cfg.n_set_b, tc.n_datasets(cfg)
    params = {}
    curves = {k: np.zeros((n_sb, len(tc.depths), n_r, tc.epochs), np.float32) for k in CURVE_NAMES}
    for mid, (p, c) in enumerate(per_depth):
        params[mid] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(n_sb, n_r, *a.shape[1:]), p)
        for name, arr in zip(CURVE_NAMES, c):
            curves[name][:, mid] = np.asarray(arr).reshape(n_sb, n_r, -1)
    return params, curves

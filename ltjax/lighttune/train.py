"""Offline FF training of the BLER model with the closed-form gradients (Table IV, eq. 7).

What one **epoch** is (the paper gives only "22,000 epochs"):
  one full-batch step of every layer at once: all N positives [z, y+] and, for each,
  one *freshly drawn* negative [z, y-] with y- uniform over the 10 wrong classes
  (Sec. III-C's uniform sampling); every layer l gets the closed-form gradient of its
  own loss (eq. 6, ``ltjax.ff.local_grads``) with its input, layer l-1's current
  output, held constant (detached), and one Adam step (eq. 8, lr 0.03, persistent
  moments, one Adam state per layer). All layers train together from epoch 1
  (not one layer after the other), so the model is the same kind of object that
  LightTune later updates online with |S+| = |S-| = 1.

Epochs run as a ``lax.scan`` in chunks of ``eval_every`` epochs (:func:`train_chunk`);
after each chunk the train/validation accuracy (eq. 5 class = quantised P) and the mean
|P_hat - P| (eq. 12, unquantised P) are evaluated (:func:`evaluate_arrays`), and a progress
line is printed. Epoch e draws its negatives from ``fold_in(key, e)``, so the result does not
depend on ``eval_every``.

Nothing here is jitted: :func:`train_offline` and :func:`evaluate` take the chunk and
evaluation functions as arguments, and entry points pass them jitted once per process::

    TRAIN_CHUNK = jax.jit(train_chunk, static_argnames=("n_epochs", "spec"))
    EVALUATE = jax.jit(evaluate_arrays, static_argnames=("spec",))
    model, curve = train_offline(key, model0, train, val, epochs, chunk_fn=TRAIN_CHUNK, eval_fn=EVALUATE)

Letters: N training samples, K = 11 classes, L = 2 layers, E epochs.
"""

from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax import ff
from ltjax.lighttune.model import BlerModel, standardize
from ltjax.lighttune.step import FFSpec, label_inputs, predict_class, quantize
from ltjax.optim import adam_standard

CURVE_COLUMNS = ("epoch", "loss_layer1", "loss_layer2", "train_acc", "val_acc", "train_mae", "val_mae",
                 "wall_s")


def _inputs(model: BlerModel, features, bler):
    z = standardize(model, features)
    y = quantize(bler, model.spec.labels)
    return z, y


def train_chunk(params, opt_state, key, epoch0, z, y, lr, *, n_epochs: int, spec: FFSpec):
    """``n_epochs`` epochs (see module docstring) as one ``lax.scan``.

    Args:
      params / opt_state: the FF layers and their Adam states (one per layer).
      key: the training key; epoch e draws its negatives from ``fold_in(key, e)``.
      epoch0: int32 [] index of the chunk's first epoch.
      z: [N, 12] standardised features. y: [N] int32 class of P. lr: Adam learning rate.
      n_epochs, spec: static.
    Returns:
      (params, opt_state, losses [E, L] of eq. 6 before each update).
    """
    labels = label_inputs(spec, z.dtype)  # appended input value of each class
    num = spec.num_labels
    x_pos = ff.append_label(z, labels[y])  # [N, 13], fixed
    opt = adam_standard(lr)

    def epoch(carry, e):
        p, s = carry
        r = jax.random.randint(jax.random.fold_in(key, e), y.shape, 0, num - 1)
        y_neg = r + (r >= y)  # uniform over the K - 1 wrong classes
        x_neg = ff.append_label(z, labels[y_neg])
        grads, losses = ff.local_grads_and_losses(p, x_pos, x_neg, spec.threshold, loss=spec.loss,
                                                  normalize=spec.normalize, goodness=spec.goodness)
        new_p, new_s = [], []
        for layer, g, st in zip(p, grads, s):
            u, st = opt.update(g, st, layer)
            new_p.append(optax.apply_updates(layer, u))
            new_s.append(st)
        return (new_p, tuple(new_s)), losses

    (params, opt_state), losses = jax.lax.scan(epoch, (params, opt_state),
                                               epoch0 + jnp.arange(n_epochs, dtype=jnp.int32))
    return params, opt_state, losses


def evaluate_arrays(params, z, y, bler, *, spec: FFSpec):
    """(accuracy, mean |P_hat - P|) of eq. 5 over a set; z [N, 12] standardised, y [N], bler [N]."""
    labels = jnp.asarray(spec.labels, jnp.float32)
    y_hat = jax.lax.map(lambda zz: predict_class(params, zz, spec), z, batch_size=4096)
    return jnp.mean(y_hat == y), jnp.mean(jnp.abs(labels[y_hat] - bler))


def evaluate(model: BlerModel, features, bler, eval_fn: Callable = evaluate_arrays) -> dict[str, float]:
    """Accuracy (predicted class == nearest class of P) and mean |P_hat - P| of ``model`` on raw data.

    ``eval_fn``: :func:`evaluate_arrays` or its jitted version (see the module docstring).
    """
    z, y = _inputs(model, jnp.asarray(features), jnp.asarray(bler))
    acc, mae = eval_fn(model.params, z, y, jnp.asarray(bler, jnp.float32), spec=model.spec)
    return {"acc": float(acc), "mae": float(mae)}


def train_offline(key, model: BlerModel, train: dict, val: dict | None, epochs: int, lr: float = 0.03,
                  eval_every: int = 500, log=print, *, chunk_fn: Callable = train_chunk,
                  eval_fn: Callable = evaluate_arrays) -> tuple[BlerModel, dict[str, np.ndarray]]:
    """Trains ``model`` (its params are the initial ones) for ``epochs`` epochs.

    Args:
      key: typed key; epoch e uses ``fold_in(key, e)`` for its negatives.
      model: initial BlerModel with the standardisation already set.
      train / val: dicts with raw ``features`` [N, 12] and ``bler`` [N] (val may be None).
      epochs: E >= 1. lr: Adam learning rate (Table IV: 0.03).
      eval_every: epochs per jitted chunk (and per curve row).
      log: progress printer (None: silent).
      chunk_fn, eval_fn: :func:`train_chunk` and :func:`evaluate_arrays`, or their jitted
        versions (entry points jit them once; see the module docstring).
    Returns:
      (trained model, curve): curve has the columns CURVE_COLUMNS, one row per chunk
      (losses = mean of eq. 6 over the chunk's epochs, before each update), plus
      ``loss_per_epoch`` [E, L].
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs!r}")
    z, y = _inputs(model, jnp.asarray(train["features"]), jnp.asarray(train["bler"]))
    bler_tr = jnp.asarray(train["bler"], jnp.float32)
    if val is not None:
        zv, yv = _inputs(model, jnp.asarray(val["features"]), jnp.asarray(val["bler"]))
        bler_v = jnp.asarray(val["bler"], jnp.float32)
    params = model.params
    opt_state = tuple(adam_standard(lr).init(layer) for layer in params)
    rows, per_epoch = [], []
    t0 = time.perf_counter()
    done = 0
    while done < epochs:
        n = min(int(eval_every), epochs - done)
        params, opt_state, losses = chunk_fn(params, opt_state, key, jnp.int32(done), z, y,
                                             jnp.float32(lr), n_epochs=n, spec=model.spec)
        done += n
        losses = np.asarray(losses)
        per_epoch.append(losses)
        acc, mae = (float(v) for v in eval_fn(params, z, y, bler_tr, spec=model.spec))
        vacc, vmae = ((float(v) for v in eval_fn(params, zv, yv, bler_v, spec=model.spec))
                      if val is not None else (float("nan"), float("nan")))
        wall = time.perf_counter() - t0
        rows.append((done, *losses.mean(0), acc, vacc, mae, vmae, wall))
        if log is not None:
            log(f"[bler_offline] epoch {done}/{epochs}: loss {losses.mean(0).round(4).tolist()} "
                f"train acc {acc:.4f} val acc {vacc:.4f} train |P_hat-P| {mae:.4f} val {vmae:.4f} "
                f"({wall:.0f} s, {wall / done * 1e3:.1f} ms/epoch)")
    curve = {c: np.array([r[i] for r in rows], np.float64) for i, c in enumerate(CURVE_COLUMNS)}
    curve["loss_per_epoch"] = np.concatenate(per_epoch, axis=0).astype(np.float32)
    return model.replace(params=[{k: jnp.asarray(v) for k, v in l.items()} for l in params]), curve

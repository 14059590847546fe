"""Offline layer-by-layer FF training, as in the reference code (mpezeshki/pytorch_forward_forward).

Layer 1 is trained for ``steps`` full-batch steps on the positive and negative
inputs; then layer 2 for ``steps`` steps on layer 1's outputs, and so on. Each
layer has its own optimiser state. Gradients are the closed forms of
:mod:`ltjax.ff.losses`; no autodiff.

Nothing here is jitted. :func:`train_layerwise` runs one :func:`train_layer` per layer and
takes the per-layer functions as arguments, so an entry point compiles them once::

    TRAIN_LAYER = jax.jit(ff.train_layer, static_argnames=("opt", "steps", "loss", "normalize", "goodness"))
    FORWARD = jax.jit(ff.layer_forward, static_argnames=("normalize",))
    params, curves = ff.train_layerwise(params, x_pos, x_neg, 2.0, opt=opt, steps=1000,
                                        train_layer_fn=TRAIN_LAYER, forward_fn=FORWARD)

(``opt`` is then hashed by identity: reuse one optimiser object per setting.)

Letters: B+ / B- positives / negatives, D input length, M_l widths, S steps.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from ltjax.ff.losses import layer_grads_from_inputs
from ltjax.ff.model import layer_forward, normalize_input


def train_layer(layer: dict, x_pos: jax.Array, x_neg: jax.Array, threshold, *,
                opt: optax.GradientTransformation, steps: int, loss: str, normalize: bool,
                goodness: str = "neuron"):
    """``steps`` full-batch updates of one layer (a ``lax.scan``).

    Args:
      layer: ``{"w": [N, M], "b": [M]}``.
      x_pos: [B+, N], x_neg: [B-, N] layer inputs (held fixed: full batch, fixed negatives).
      opt: the optimiser.
      steps, loss, normalize, goodness: the schedule and the FF settings (static under jit).
    Returns:
      (trained layer, loss before each update [S]).
    """
    if normalize:  # the inputs are fixed during this layer's training: normalise once
        x_pos, x_neg = normalize_input(x_pos), normalize_input(x_neg)

    def body(carry, _):
        lay, state = carry
        grads, value, _, _ = layer_grads_from_inputs(lay, x_pos, x_neg, threshold, loss, goodness)
        updates, state = opt.update(grads, state, lay)
        return (optax.apply_updates(lay, updates), state), value

    (layer, _), losses = jax.lax.scan(body, (layer, opt.init(layer)), None, length=steps)
    return layer, losses


def train_layerwise(params, x_pos, x_neg, threshold, *, opt, steps: int, loss: str = "quadratic",
                    normalize: bool = True, goodness: str = "neuron", train_layer_fn: Callable = train_layer,
                    forward_fn: Callable = layer_forward):
    """Trains every layer in turn (reference-code schedule). Returns (params, [losses [S] per layer]).

    ``train_layer_fn`` / ``forward_fn``: :func:`train_layer` and :func:`~ltjax.ff.layer_forward`,
    or their jitted versions (see the module docstring).
    """
    new_params, curves = [], []
    for layer in params:
        layer, losses = train_layer_fn(layer, x_pos, x_neg, jnp.asarray(threshold, x_pos.dtype), opt=opt,
                                       steps=steps, loss=loss, normalize=normalize, goodness=goodness)
        new_params.append(layer)
        curves.append(losses)
        # Detached: the next layer trains on this (now frozen) layer's outputs.
        x_pos = forward_fn(layer, x_pos, normalize=normalize)
        x_neg = forward_fn(layer, x_neg, normalize=normalize)
    return new_params, curves

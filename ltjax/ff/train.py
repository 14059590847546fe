"""Offline layer-by-layer FF training, as in the reference code (mpezeshki/pytorch_forward_forward).

Layer 1 is trained for ``steps`` full-batch steps on the positive and negative
inputs; then layer 2 for ``steps`` steps on layer 1's outputs, and so on. Each
layer has its own optimiser state. Gradients are the closed forms of
:mod:`ltjax.ff.losses`; no autodiff.

Letters: B+ / B- positives / negatives, D input length, M_l widths, S steps.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from ltjax.ff.losses import layer_grads_from_inputs
from ltjax.ff.model import layer_forward, normalize_input


@functools.partial(jax.jit, static_argnames=("opt", "steps", "loss", "normalize", "goodness"))
def train_layer(layer: dict, x_pos: jax.Array, x_neg: jax.Array, threshold, *,
                opt: optax.GradientTransformation, steps: int, loss: str, normalize: bool,
                goodness: str = "neuron"):
    """``steps`` full-batch updates of one layer (a ``lax.scan``).

    Args:
      layer: ``{"w": [N, M], "b": [M]}``.
      x_pos: [B+, N], x_neg: [B-, N] layer inputs (held fixed: full batch, fixed negatives).
      opt: the optimiser (static, hashed by identity: reuse one object).
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


_forward_jit = jax.jit(layer_forward, static_argnames=("normalize",))


def train_layerwise(params, x_pos, x_neg, threshold, *, opt, steps: int, loss: str = "quadratic",
                    normalize: bool = True, goodness: str = "neuron"):
    """Trains every layer in turn (reference-code schedule). Returns (params, [losses [S] per layer])."""
    new_params, curves = [], []
    for layer in params:
        layer, losses = train_layer(layer, x_pos, x_neg, jnp.asarray(threshold, x_pos.dtype), opt=opt,
                                    steps=steps, loss=loss, normalize=normalize, goodness=goodness)
        new_params.append(layer)
        curves.append(losses)
        # Detached: the next layer trains on this (now frozen) layer's outputs.
        x_pos = _forward_jit(layer, x_pos, normalize=normalize)
        x_neg = _forward_jit(layer, x_neg, normalize=normalize)
    return new_params, curves

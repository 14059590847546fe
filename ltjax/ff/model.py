"""Forward-forward (FF) ReLU MLP: parameters, per-layer forward, labels, goodness, inference.

Implements Section II-A of the LightTune paper (Ali & Penna) after Hinton's FF
algorithm and the reference code it cites (mpezeshki/pytorch_forward_forward).

Letters used in shapes: B a batch of samples, D the model input length
(features plus label), M_l the neurons of layer l, K candidate labels, C classes.

Parameters are a list with one dict per layer, ``{"w": [in, out], "b": [out]}``,
so every function here is pure and vmaps over UEs (each UE its own copy).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

# Added to the norm before dividing, as in the reference code
# (x / (x.norm(2, 1, keepdim=True) + 1e-4)): keeps an all-zero input finite.
NORM_EPS = 1e-4

Params = list  # list[dict[str, jax.Array]]: [{"w": [in, out], "b": [out]}, ...]


def init(key: jax.Array, sizes: Sequence[int], dtype=jnp.float32) -> Params:
    """ReLU MLP parameters for layer sizes ``sizes = [D, M_1, ..., M_L]``.

    Weights and biases are drawn U(-1/sqrt(in), 1/sqrt(in)), the PyTorch
    ``nn.Linear`` default used by the reference code.

    Args:
      key: typed PRNG key (consumed).
      sizes: input length followed by the width of every layer; at least 2 entries.
    Returns:
      list of ``{"w": [sizes[l], sizes[l+1]], "b": [sizes[l+1]]}``.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"init: sizes must be >= 2 positive ints, got {sizes}")
    params = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        kw, kb = jax.random.split(jax.random.fold_in(key, l))
        bound = 1.0 / jnp.sqrt(n_in)
        params.append({
            "w": jax.random.uniform(kw, (n_in, n_out), dtype, -bound, bound),
            "b": jax.random.uniform(kb, (n_out,), dtype, -bound, bound),
        })
    return params


def normalize_input(x: jax.Array) -> jax.Array:
    """Length normalisation x / (||x||_2 + 1e-4) over the last axis (Hinton's FF, reference code).

    It removes the previous layer's goodness from the next layer's input, so a
    layer cannot simply copy the goodness decision of the layer below.
    """
    return x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + NORM_EPS)


def layer_preact(layer: dict, x: jax.Array, normalize: bool) -> jax.Array:
    """Pre-activation z = x_n W + b, [..., in] -> [..., out]; x_n is x, length-normalised if asked."""
    xn = normalize_input(x) if normalize else x
    return xn @ layer["w"] + layer["b"]


def layer_forward(layer: dict, x: jax.Array, normalize: bool) -> jax.Array:
    """Layer output h = ReLU(z), [..., in] -> [..., out] (eq. 2)."""
    return jax.nn.relu(layer_preact(layer, x, normalize))


def forward(params: Params, x: jax.Array, normalize: bool) -> list[jax.Array]:
    """Outputs of every layer, ``[h_1, ..., h_L]``, each [..., M_l]."""
    hs = []
    for layer in params:
        x = layer_forward(layer, x, normalize)
        hs.append(x)
    return hs


# ---- label modes -------------------------------------------------------------------------


def append_label(x: jax.Array, y: jax.Array) -> jax.Array:
    """x+ = [x, y]: the label value appended as one more input (Sec. II-A; the BLER model's 13 = 12 + 1).

    Args:
      x: [..., d] features.  y: [...] label values (e.g. BLER class 0, 0.1, ..., 1.0).
    Returns:
      [..., d + 1].
    """
    y = jnp.asarray(y, x.dtype)
    return jnp.concatenate([x, jnp.broadcast_to(y[..., None], x.shape[:-1] + (1,))], axis=-1)


def overlay_label(x: jax.Array, y: jax.Array, num_classes: int, on_value=1.0) -> jax.Array:
    """One-hot label overlaid on the first C inputs (Sec. V-A, Hinton; reference code ``overlay_y_on_x``).

    The first ``num_classes`` inputs are replaced by ``on_value * onehot(y)``.
    The reference code uses ``on_value = x.max()`` of the (standardised) batch.

    Args:
      x: [..., D] inputs with D >= C.  y: [...] integer class indices in [0, C).
    Returns:
      [..., D].
    """
    onehot = jax.nn.one_hot(y, num_classes, dtype=x.dtype) * jnp.asarray(on_value, x.dtype)
    onehot = jnp.broadcast_to(onehot, x.shape[:-1] + (num_classes,))
    return jnp.concatenate([onehot, x[..., num_classes:]], axis=-1)


# ---- goodness and inference ----------------------------------------------------------------


def neuron_goodness(h: jax.Array) -> jax.Array:
    """Per-neuron goodness g[j] = h[j]^2 (eq. 3), [..., M] -> [..., M]."""
    return h * h


def layer_goodness(h: jax.Array) -> jax.Array:
    """Layer goodness G = ||h||_2^2 (eq. 1), [..., M] -> [...]."""
    return jnp.sum(h * h, axis=-1)


def label_goodness(params: Params, x: jax.Array, candidates: jax.Array,
                   label_fn: Callable[[jax.Array, jax.Array], jax.Array],
                   normalize: bool, mode: str = "last") -> jax.Array:
    """Goodness of every candidate label for the features ``x``, vmapped over candidates.

    Args:
      x: [..., d] features (without label).
      candidates: [K] label values or class indices, whatever ``label_fn`` takes.
      label_fn: ``label_fn(x, y) -> model input`` (``append_label`` or a partial of ``overlay_label``).
      mode: ``"last"``: G of the output layer, eq. (1)/(5);
        ``"sum_layers"``: the reference code's sum over layers of the *mean* squared
        activation, sum_l ||h_l||^2 / M_l.
    Returns:
      [K, ...] goodness per candidate label.
    """
    if mode not in ("last", "sum_layers"):
        raise ValueError(f"label_goodness: mode must be 'last' or 'sum_layers', got {mode!r}")

    def one(y):
        hs = forward(params, label_fn(x, jnp.broadcast_to(y, x.shape[:-1])), normalize)
        if mode == "last":
            return layer_goodness(hs[-1])
        return sum(jnp.mean(h * h, axis=-1) for h in hs)

    return jax.vmap(one)(candidates)


def predict(params: Params, x: jax.Array, candidates: jax.Array,
            label_fn: Callable[[jax.Array, jax.Array], jax.Array],
            normalize: bool, mode: str = "last") -> jax.Array:
    """Index into ``candidates`` of the label with the largest goodness, eq. (5). x: [..., d] -> [...] int32.

    Ties go to the lowest index (``argmax``).
    """
    return jnp.argmax(label_goodness(params, x, candidates, label_fn, normalize, mode), axis=0)

"""Per-layer FF losses (eqs. 4 and 6) and their closed-form gradients (eq. 7 and its Softplus twin).

Letters: B+ / B- positive / negative batch sizes (|S+|, |S-|), M the layer's
neurons, N its inputs, T the goodness threshold.

Scale convention (checked exactly by ``tests/test_ff_grads.py``): the closed
forms here are *exactly* the gradients of the losses as written in eqs. (4)
and (6), i.e. including the 1/M and 1/|S+|, 1/|S-| means. With
a = 1 / (|S+| M) and b = 1 / (|S-| M) the gradient with respect to the
pre-activation z of a neuron is

    quadratic (eq. 6):  dL/dz+ = a (2 (g+ - T) - 4) 2 h+,   dL/dz- = b (2 (g- - T) + 4) 2 h-
    Softplus  (eq. 4):  dL/dz+ = -a sigmoid(-(g+ - T)) 2 h+, dL/dz- = b sigmoid(g- - T) 2 h-

and dL/dW = x_n^T dL/dz, dL/db = sum over the batch of dL/dz. Eq. (7) of the
paper drops those factors: for |S+| = |S-| = 1 it equals ``M`` times what
:func:`local_grads` returns. Adam (eqs. 8, 9) is invariant to that constant up
to its epsilon, so only the plain-SGD step size depends on the convention.

The ReLU indicator 1(z > 0) of eq. (7) is implied: h = ReLU(z) is 0 wherever
z <= 0, so ``2 h`` already vanishes there; a dead unit (z <= 0 for every
sample) gets exactly zero gradient, as under ``jax.grad`` (ReLU'(0) = 0).

Inputs are detached between layers: layer l is trained on layer l-1's output
as a constant (local, layer-wise training), so no gradient crosses layers.

``goodness="mean"`` (the reference code's reduction, used for the MNIST
reproduction; see docs/forward_forward.md) applies the same losses to the
per-sample mean goodness G/M = ||h||^2 / M instead of each h[j]^2; the formulas
above hold with g replaced by G/M (the same for every neuron of a sample).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ltjax.ff.model import layer_preact, neuron_goodness, normalize_input

LOSSES = ("quadratic", "softplus")
GOODNESS = ("neuron", "mean")


def _check_loss(loss: str, goodness: str = "neuron") -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if goodness not in GOODNESS:
        raise ValueError(f"goodness must be one of {GOODNESS}, got {goodness!r}")


def _goodness_minus_t(h: jax.Array, threshold, goodness: str) -> jax.Array:
    """g - T: per neuron, [B, M] (eqs. 3, 4, 6 as written), or per sample, [B, 1] (``"mean"``).

    ``"mean"`` is the reference code's goodness ``h.pow(2).mean(1)`` = ||h||^2 / M
    (eq. 1 divided by M): the loss is then applied once per sample, not once per neuron.
    """
    g = neuron_goodness(h)
    if goodness == "mean":
        g = jnp.mean(g, axis=-1, keepdims=True)
    return g - threshold


def softplus_loss(h_pos: jax.Array, h_neg: jax.Array, threshold, goodness: str = "neuron") -> jax.Array:
    """Eq. (4): mean over samples and neurons of ln(1 + e^{-(g+ - T)}) plus ln(1 + e^{g- - T}).

    Args: h_pos [B+, M], h_neg [B-, M] layer outputs; ``goodness`` see :func:`_goodness_minus_t`.
    Returns a scalar.
    """
    d_pos = _goodness_minus_t(h_pos, threshold, goodness)
    d_neg = _goodness_minus_t(h_neg, threshold, goodness)
    return jnp.mean(jax.nn.softplus(-d_pos)) + jnp.mean(jax.nn.softplus(d_neg))


def quadratic_loss(h_pos: jax.Array, h_neg: jax.Array, threshold, goodness: str = "neuron") -> jax.Array:
    """Eq. (6), the proposed loss: mean of (g+ - T)^2 - 4 (g+ - T) plus (g- - T)^2 + 4 (g- - T).

    It is 8x the second-order Taylor expansion of Softplus about 0, minus a constant.
    Args: h_pos [B+, M], h_neg [B-, M]. Returns a scalar.
    """
    d_pos = _goodness_minus_t(h_pos, threshold, goodness)
    d_neg = _goodness_minus_t(h_neg, threshold, goodness)
    return jnp.mean(d_pos * d_pos - 4.0 * d_pos) + jnp.mean(d_neg * d_neg + 4.0 * d_neg)


def layer_loss(h_pos, h_neg, threshold, loss: str = "quadratic", goodness: str = "neuron") -> jax.Array:
    """Eq. (4) or eq. (6) by name."""
    _check_loss(loss, goodness)
    return (quadratic_loss if loss == "quadratic" else softplus_loss)(h_pos, h_neg, threshold, goodness)


def dloss_dz(h_pos: jax.Array, h_neg: jax.Array, threshold, loss: str, goodness: str = "neuron"):
    """Closed-form dL/dz for positives [B+, M] and negatives [B-, M] (see module docstring).

    With ``goodness="mean"`` the factor in front of 2h is computed from the
    per-sample goodness and the chain rule brings the same 1/M (dG/dh_j = 2 h_j / M).
    """
    _check_loss(loss, goodness)
    a = 1.0 / (h_pos.shape[0] * h_pos.shape[-1])
    b = 1.0 / (h_neg.shape[0] * h_neg.shape[-1])
    d_pos = _goodness_minus_t(h_pos, threshold, goodness)
    d_neg = _goodness_minus_t(h_neg, threshold, goodness)
    if loss == "quadratic":
        c_pos, c_neg = 2.0 * d_pos - 4.0, 2.0 * d_neg + 4.0
    else:  # d/dg ln(1 + e^{-(g - T)}) = -sigmoid(-(g - T)); d/dg ln(1 + e^{g - T}) = sigmoid(g - T)
        c_pos, c_neg = -jax.nn.sigmoid(-d_pos), jax.nn.sigmoid(d_neg)
    # dg/dz = 2 h 1(z > 0) = 2 h, because h = 0 wherever z <= 0.
    return a * c_pos * 2.0 * h_pos, b * c_neg * 2.0 * h_neg


def layer_grads_from_inputs(layer: dict, xn_pos: jax.Array, xn_neg: jax.Array, threshold,
                            loss: str = "quadratic", goodness: str = "neuron"):
    """Closed-form gradient of one layer given its (already normalised, if used) inputs.

    Args:
      layer: ``{"w": [N, M], "b": [M]}``.
      xn_pos: [B+, N], xn_neg: [B-, N] layer inputs after optional normalisation.
    Returns:
      (grads ``{"w": [N, M], "b": [M]}``, loss value, h_pos [B+, M], h_neg [B-, M]).
    """
    h_pos = jax.nn.relu(layer_preact(layer, xn_pos, False))
    h_neg = jax.nn.relu(layer_preact(layer, xn_neg, False))
    dz_pos, dz_neg = dloss_dz(h_pos, h_neg, threshold, loss, goodness)
    grads = {"w": xn_pos.T @ dz_pos + xn_neg.T @ dz_neg,
             "b": jnp.sum(dz_pos, axis=0) + jnp.sum(dz_neg, axis=0)}
    return grads, layer_loss(h_pos, h_neg, threshold, loss, goodness), h_pos, h_neg


def layer_grads(layer: dict, x_pos: jax.Array, x_neg: jax.Array, threshold,
                loss: str = "quadratic", normalize: bool = False, goodness: str = "neuron"):
    """:func:`layer_grads_from_inputs` on raw inputs x_pos [B+, N], x_neg [B-, N] (normalised here if asked)."""
    if normalize:
        x_pos, x_neg = normalize_input(x_pos), normalize_input(x_neg)
    return layer_grads_from_inputs(layer, x_pos, x_neg, threshold, loss, goodness)


def local_grads_and_losses(params, x_pos, x_neg, threshold, loss: str = "quadratic",
                           normalize: bool = False, goodness: str = "neuron"):
    """Per-layer closed-form gradients and loss values; inputs detached between layers.

    Args:
      params: list of ``{"w": [N_l, M_l], "b": [M_l]}``.
      x_pos: [B+, D] positive inputs (label already attached), x_neg: [B-, D] negatives.
      threshold: T (scalar, may be traced).
    Returns:
      (grads shaped like params, losses [L]).
    """
    grads, losses = [], []
    for layer in params:
        g, value, x_pos, x_neg = layer_grads(layer, x_pos, x_neg, threshold, loss, normalize, goodness)
        # Local training: the next layer sees this layer's output as a constant input.
        x_pos, x_neg = jax.lax.stop_gradient(x_pos), jax.lax.stop_gradient(x_neg)
        grads.append(g)
        losses.append(value)
    return grads, jnp.stack(losses)


def local_grads(params, x_pos, x_neg, threshold, loss: str = "quadratic", normalize: bool = False,
                goodness: str = "neuron"):
    """Closed-form per-layer FF gradients, a pytree shaped like ``params``.

    Every layer l gets the exact gradient of its own loss (eq. 4 for
    ``"softplus"``, eq. 6 for ``"quadratic"``, with the 1/M_l and 1/|S| means)
    with respect to its own W_l and b_l, its input being layer l-1's output
    held constant. Eq. (7) = M_l * |S| times this for |S+| = |S-| = |S|.
    No autodiff is used; see the module docstring for the formulas.

    Args:
      params: list of ``{"w": [N_l, M_l], "b": [M_l]}``.
      x_pos: [B+, D], x_neg: [B-, D] model inputs with the label attached.
      threshold: T.
      loss: ``"quadratic"`` (eq. 6) or ``"softplus"`` (eq. 4).
      normalize: length-normalise every layer's input first.
      goodness: ``"neuron"``: the loss on every neuron's goodness g[j] = h[j]^2, eqs. (3), (4),
        (6) as written; ``"mean"``: on the per-sample mean goodness ||h||^2 / M, as the
        reference code the paper cites for its MNIST results.
    """
    return local_grads_and_losses(params, x_pos, x_neg, threshold, loss, normalize, goodness)[0]


def _layer_losses(params, x_pos, x_neg, threshold, loss, normalize, goodness, detach: bool):
    losses = []
    for layer in params:
        h_pos = jax.nn.relu(layer_preact(layer, x_pos, normalize))
        h_neg = jax.nn.relu(layer_preact(layer, x_neg, normalize))
        losses.append(layer_loss(h_pos, h_neg, threshold, loss, goodness))
        x_pos, x_neg = (jax.lax.stop_gradient(h_pos), jax.lax.stop_gradient(h_neg)) if detach else (h_pos, h_neg)
    return jnp.stack(losses)


def local_losses(params, x_pos, x_neg, threshold, loss: str = "quadratic", normalize: bool = False,
                 goodness: str = "neuron"):
    """Per-layer loss values [L] (eq. 4 or 6), inputs detached between layers. Differentiable: tests use it."""
    return _layer_losses(params, x_pos, x_neg, threshold, loss, normalize, goodness, detach=True)


def backprop_grads(params, x_pos, x_neg, threshold, loss: str = "quadratic", normalize: bool = False,
                   goodness: str = "neuron"):
    """The backpropagation reference of :func:`local_grads`: ``jax.grad`` of the summed layer losses
    sum_l L_l (eq. 4 or 6) through ALL layers (inputs not detached), a pytree shaped like ``params``.

    Same arguments as :func:`local_grads`. Layer l's gradient then also carries the losses of the
    layers above it (chain rule through h_l), so it differs from the local one; for the last
    layer both agree. It exists to compare what backpropagation has to keep (every layer's
    activations for the backward pass) with the local update (Remark 3; the ``ff_memory``
    experiment, docs/lighttune.md).
    """
    return jax.grad(lambda p: jnp.sum(_layer_losses(p, x_pos, x_neg, threshold, loss, normalize, goodness,
                                                    detach=False)))(params)

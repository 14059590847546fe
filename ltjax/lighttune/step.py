"""LightTune (Alg. 1 of Ali & Penna): threshold-triggered, buffer-less online FF fine-tuning of one UE.

Per UE and per CSI-RS period t: predict y_hat = argmax_y G(x, y) (eq. 5); when
the delayed truth y+ arrives, update the UE's own FF model with one positive
[x, y+] and one negative [x, y-] (|S+| = |S-| = 1) only if e(y_hat, y+) >= delta
(Alg. 1, line 3). Gradients are the closed forms of :func:`ltjax.ff.local_grads`
(eq. 7 up to the documented 1/M_l scale); the step is Adam standard (eq. 8)
or one-step reset (eq. 9).

Letters: U UEs, K candidate labels (BLER classes 0, 0.1, ..., 1.0 by default),
d features, M_l widths. The kernel is written for one UE; :func:`lighttune_step_ues`
vmaps it over UEs at one boundary, so each UE carries its own model copy and
optimiser state.

Labels are class indices k in [0, K); their values are ``params.labels[k]``.
The truth ``y_true`` is such an index (use :func:`quantize` on a measured BLER).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ltjax import ff
from ltjax.optim import adam_one_step, adam_standard

BLER_CLASSES = tuple(round(0.1 * k, 1) for k in range(11))  # lambda = 0.1 (Table IV)
# Slack on the trigger e >= delta: label values are decimals that float32 cannot hold
# exactly, e.g. |0.4 - 0.1| = 0.29999998 < 0.3 in float32 (4 of the 16 ordered class pairs
# 0.3 apart). A difference of exactly delta must trigger as Alg. 1 says.
TRIGGER_SLACK = 1e-6
VARIANTS = ("standard", "one_step")
NEGATIVES = ("uniform", "hard")
ERRORS = ("abs", "sq")


@struct.dataclass
class LightTuneParams:
    """LightTune hyper-parameters. Numeric fields are traced (a sweep may vmap them); the rest is static.

    Attributes:
      delta: fine-tuning threshold on the error e(y_hat, y+) (Table IV: 0.3).
      threshold: FF goodness threshold T (Table IV: 9).
      lr: fine-tuning learning rate alpha_f (Table IV: 0.03).
      b1, b2, eps: Adam parameters (Table IV: 0.9, 0.999, 1e-8).
      labels: candidate label values Y (static), default 0, 0.1, ..., 1.0.
      error_metric: "abs" |y_hat - y+| (eq. 12, default) or "sq" (y_hat - y+)^2.
      negative: "uniform" over Y \\ {y+}, or "hard" y- = y_hat (Sec. III-C).
      variant: "standard" Adam (eq. 8) or "one_step" reset (eq. 9).
      loss: "quadratic" (eq. 6, the paper's) or "softplus" (eq. 4).
      goodness: "neuron" (eqs. 3/4/6 as written) or "mean" (reference code), see ff.local_grads.
      label_mode: "append" (x+ = [x, y], the BLER model) or "overlay" (one-hot on the first K inputs).
      normalize: length-normalise every layer's input.
      predict_mode: "last" (eq. 5) or "sum_layers" (reference code).
      label_offset, label_scale: append mode only: the appended input of class k is
        ``(labels[k] - label_offset) * label_scale`` (static). The defaults (0, 1) append
        the label value itself; the BLER model centres and scales it (docs/lighttune.md).
    """

    delta: float = 0.3
    threshold: float = 9.0
    lr: float = 0.03
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    labels: tuple = struct.field(pytree_node=False, default=BLER_CLASSES)
    error_metric: str = struct.field(pytree_node=False, default="abs")
    negative: str = struct.field(pytree_node=False, default="uniform")
    variant: str = struct.field(pytree_node=False, default="one_step")
    loss: str = struct.field(pytree_node=False, default="quadratic")
    goodness: str = struct.field(pytree_node=False, default="neuron")
    label_mode: str = struct.field(pytree_node=False, default="append")
    normalize: bool = struct.field(pytree_node=False, default=False)
    predict_mode: str = struct.field(pytree_node=False, default="last")
    label_offset: float = struct.field(pytree_node=False, default=0.0)
    label_scale: float = struct.field(pytree_node=False, default=1.0)

    def __post_init__(self):
        for name, allowed in (("error_metric", ERRORS), ("negative", NEGATIVES), ("variant", VARIANTS),
                              ("loss", ff.LOSSES), ("goodness", ff.GOODNESS),
                              ("label_mode", ("append", "overlay")),
                              ("predict_mode", ("last", "sum_layers"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"LightTuneParams.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.label_scale > 0:
            raise ValueError(f"LightTuneParams.label_scale must be > 0, got {self.label_scale!r}")
        if len(self.labels) < 2:
            raise ValueError("LightTuneParams.labels needs at least 2 candidate labels")


@struct.dataclass
class UEState:
    """One UE's fine-tuning state (batched: every field gets a leading [U])."""

    params: list  # per layer {"w": [N_l, M_l], "b": [M_l]}: the UE's own FF model
    opt_state: tuple  # per layer optimiser state (AdamState: count [], mu, nu like the layer; or EmptyState)
    n_seen: jax.Array  # [] int32: samples seen (every step)
    n_updates: jax.Array  # [] int32: fine-tuning updates made (steps with e >= delta)


@struct.dataclass
class StepOutputs:
    """What one LightTune step reports (batched: leading [U])."""

    y_hat: jax.Array  # [] int32: predicted class index (eq. 5)
    prediction: jax.Array  # [] float: predicted label value labels[y_hat]
    error: jax.Array  # [] float: e(y_hat, y+)
    updated: jax.Array  # [] bool: e >= delta, the model was fine-tuned
    y_neg: jax.Array  # [] int32: the negative label index used (meaningful when updated)


def make_optimizer(params: LightTuneParams) -> optax.GradientTransformation:
    """The per-layer optimiser of the chosen variant, built from the (possibly traced) params."""
    make = adam_standard if params.variant == "standard" else adam_one_step
    return make(params.lr, b1=params.b1, b2=params.b2, eps=params.eps)


def init_ue_state(model_params, variant: str = "one_step") -> UEState:
    """A UE state holding ``model_params`` (e.g. the offline-trained model), fresh optimiser state, zero counters."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    opt = (adam_standard if variant == "standard" else adam_one_step)(0.0)
    return UEState(params=list(model_params), opt_state=tuple(opt.init(layer) for layer in model_params),
                   n_seen=jnp.zeros([], jnp.int32), n_updates=jnp.zeros([], jnp.int32))


def broadcast_ue_state(state: UEState, num_ues: int) -> UEState:
    """Copies one UE state to ``num_ues`` UEs (leading axis [U] on every field)."""
    return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (num_ues,) + jnp.shape(a)), state)


def quantize(value, labels=BLER_CLASSES) -> jax.Array:
    """Index of the label nearest to ``value`` (e.g. a measured BLER -> class index), [...] -> [...] int32."""
    lab = jnp.asarray(labels)
    return jnp.argmin(jnp.abs(jnp.asarray(value)[..., None] - lab), axis=-1).astype(jnp.int32)


def label_inputs(params: LightTuneParams, dtype=jnp.float32) -> jax.Array:
    """[K] the value appended to the features for each class (append mode):
    ``(labels - label_offset) * label_scale``."""
    return (jnp.asarray(params.labels, dtype) - params.label_offset) * params.label_scale


def _label_fn(params: LightTuneParams, labels: jax.Array):
    if params.label_mode == "append":
        inputs = label_inputs(params, labels.dtype)
        return lambda x, k: ff.append_label(x, inputs[k])
    return functools.partial(_overlay, num_classes=len(params.labels))


def _overlay(x, k, num_classes):
    return ff.overlay_label(x, k, num_classes, 1.0)


def label_error(a, b, metric: str):
    """e(a, b): |a - b| ("abs", eq. 12) or (a - b)^2 ("sq")."""
    return jnp.abs(a - b) if metric == "abs" else (a - b) ** 2


def predict_ue(model_params, x: jax.Array, params: LightTuneParams) -> jax.Array:
    """Eq. (5) for one UE: class index of the largest goodness over the K candidates. x: [d] -> [] int32."""
    labels = jnp.asarray(params.labels, x.dtype)
    return ff.predict(model_params, x, jnp.arange(len(params.labels)), _label_fn(params, labels),
                      params.normalize, params.predict_mode).astype(jnp.int32)


def lighttune_step(key: jax.Array, ue_state: UEState, x: jax.Array, y_true: jax.Array,
                   params: LightTuneParams) -> tuple[UEState, StepOutputs]:
    """Algorithm 1 for one UE and one sample.

    Args:
      key: typed key of this UE and step (consumed: uniform negative draw).
      ue_state: the UE's model, optimiser state and counters.
      x: [d] features (without the label).
      y_true: [] int class index of the delayed ground truth y+.
      params: :class:`LightTuneParams`.
    Returns:
      (new state, :class:`StepOutputs`). The candidate update is always computed
      and kept only where e >= delta (``jnp.where``), so the step vmaps without
      branches; otherwise the model, optimiser state and ``n_updates`` are
      unchanged. ``n_seen`` always increases by one.

    Negatives never equal y+: uniform draws from K - 1 labels and skips y+;
    hard uses y- = y_hat, which differs from y+ whenever e >= delta > 0 (the
    only case in which it is used); if delta <= 0 and y_hat = y+ it falls back
    to the uniform draw.
    """
    labels = jnp.asarray(params.labels, x.dtype)
    num = len(params.labels)
    label_fn = _label_fn(params, labels)
    y_true = jnp.asarray(y_true, jnp.int32)

    y_hat = predict_ue(ue_state.params, x, params)  # Alg. 1, line 2
    error = label_error(labels[y_hat], labels[y_true], params.error_metric)
    updated = error + TRIGGER_SLACK >= params.delta  # line 3

    r = jax.random.randint(key, (), 0, num - 1)
    y_neg = r + (r >= y_true)  # uniform over Y \ {y+}
    if params.negative == "hard":
        y_neg = jnp.where(y_hat == y_true, y_neg, y_hat)

    x_pos = label_fn(x, y_true)[None]  # line 4, [1, D]
    x_neg = label_fn(x, y_neg)[None]  # line 5, [1, D]
    grads = ff.local_grads(ue_state.params, x_pos, x_neg, params.threshold, loss=params.loss,
                           normalize=params.normalize, goodness=params.goodness)  # line 6
    opt = make_optimizer(params)
    new_params, new_opt = [], []
    for layer, g, s in zip(ue_state.params, grads, ue_state.opt_state):  # line 7, per-layer state
        u, s = opt.update(g, s, layer)
        new_params.append(optax.apply_updates(layer, u))
        new_opt.append(s)
    candidate = ue_state.replace(params=new_params, opt_state=tuple(new_opt),
                                 n_updates=ue_state.n_updates + 1)
    state = jax.tree_util.tree_map(lambda new, old: jnp.where(updated, new, old), candidate, ue_state)
    state = state.replace(n_seen=ue_state.n_seen + 1)
    return state, StepOutputs(y_hat=y_hat, prediction=labels[y_hat], error=error, updated=updated,
                              y_neg=y_neg.astype(jnp.int32))


def lighttune_step_ues(key: jax.Array, ue_states: UEState, x: jax.Array, y_true: jax.Array,
                       params: LightTuneParams) -> tuple[UEState, StepOutputs]:
    """:func:`lighttune_step` vmapped over U UEs; UE u uses ``fold_in(key, u)``.

    Args: ue_states with leading [U]; x [U, d]; y_true [U] class indices.
    """
    num_ues = x.shape[0]
    keys = jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(num_ues))
    return jax.vmap(lighttune_step, in_axes=(0, 0, 0, 0, None))(keys, ue_states, x, y_true, params)

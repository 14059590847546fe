"""LightTune (Alg. 1 of Ali & Penna): threshold-triggered, buffer-less online FF fine-tuning of one UE.

Per UE and per CSI-RS period t: predict y_hat = argmax_y G(x, y) (eq. 5); when the delayed
truth y+ arrives, update the UE's own FF model with one positive [x, y+] and one negative
[x, y-] (|S+| = |S-| = 1) only if e(y_hat, y+) >= delta (Alg. 1, line 3). Gradients are the
closed forms of :func:`ltjax.ff.local_grads` (eq. 7 up to the documented 1/M_l scale); the
step is Adam standard (eq. 8), one-step reset (eq. 9) or plain SGD (the optimiser of Theorem 1).

Two kinds of settings, kept apart:

- :class:`FFSpec`, the *fixed description* of an FF model: its candidate labels and how they
  are fed (appended value or one-hot overlay), the goodness threshold T, the loss (eq. 4 / 6),
  the goodness reduction, the length normalisation and the prediction rule (eq. 5). It is
  static (hashable), stored with a saved model, and the same offline and online.
- :class:`LightTuneParams`, the *online hyper-parameters*: delta and alpha_f (traced, a sweep
  may vary them without recompiling), the optimiser variant (Adam with its betas and epsilon,
  or SGD), the negative rule and the error metric (static).

Letters: K candidate labels (BLER classes 0, 0.1, ..., 1.0 by default), D model input length,
d features, M_l widths of layer l. Everything here is for ONE UE (no batch axis);
``ltjax.batching.map_ues`` (or an entry point's ``jax.vmap``) batches it, so each UE carries
its own model copy and optimiser state.

Labels are class indices k in [0, K); their values are ``spec.labels[k]``. The truth ``y_true``
is such an index (use :func:`quantize` on a measured BLER).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ltjax import ff
from ltjax.optim import adam_one_step, adam_standard, sgd

BLER_CLASSES = tuple(round(0.1 * k, 1) for k in range(11))  # lambda = 0.1 (Table IV)
# Slack on the trigger e >= delta: label values are decimals that float32 cannot hold
# exactly, e.g. |0.4 - 0.1| = 0.29999998 < 0.3 in float32 (4 of the 16 ordered class pairs
# 0.3 apart). A difference of exactly delta must trigger as Alg. 1 says.
TRIGGER_SLACK = 1e-6
VARIANTS = ("standard", "one_step", "sgd")
NEGATIVES = ("uniform", "hard")
ERRORS = ("abs", "sq")
LABEL_MODES = ("append", "overlay")
PREDICT_MODES = ("last", "sum_layers")


@dataclasses.dataclass(frozen=True)
class FFSpec:
    """The fixed description of an FF model (static, hashable; stored with a saved model).

    Attributes:
      labels: candidate label values Y, K >= 2 (default the BLER classes 0, 0.1, ..., 1.0).
      label_mode: "append" (x+ = [x, y], the BLER model) or "overlay" (one-hot on the first K
        inputs, MNIST).
      label_offset, label_scale: append mode: class k is fed as
        ``(labels[k] - label_offset) * label_scale``. The defaults (0, 1) append the label
        value itself; the BLER model centres and scales it (docs/lighttune.md).
      threshold: goodness threshold T (Table IV: 9).
      loss: "quadratic" (eq. 6, the paper's) or "softplus" (eq. 4).
      goodness: "neuron" (eqs. 3/4/6 as written) or "mean" (reference code), see ff.local_grads.
      normalize: length-normalise every layer's input.
      predict_mode: "last" (eq. 5 on the output layer) or "sum_layers" (reference code).
    """

    labels: tuple[float, ...] = BLER_CLASSES
    label_mode: str = "append"
    label_offset: float = 0.0
    label_scale: float = 1.0
    threshold: float = 9.0
    loss: str = "quadratic"
    goodness: str = "neuron"
    normalize: bool = False
    predict_mode: str = "last"

    def __post_init__(self):
        for name, allowed in (("label_mode", LABEL_MODES), ("loss", ff.LOSSES), ("goodness", ff.GOODNESS),
                              ("predict_mode", PREDICT_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"FFSpec.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        object.__setattr__(self, "labels", tuple(float(v) for v in self.labels))
        if len(self.labels) < 2:
            raise ValueError("FFSpec.labels needs at least 2 candidate labels")
        if not self.label_scale > 0:
            raise ValueError(f"FFSpec.label_scale must be > 0, got {self.label_scale!r}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"FFSpec.threshold must be finite, got {self.threshold!r}")

    @property
    def num_labels(self) -> int:
        """K, the number of candidate labels."""
        return len(self.labels)

    def as_dict(self) -> dict:
        """JSON-able fields (stored in a saved model's sidecar)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}


@struct.dataclass
class LightTuneParams:
    """Online hyper-parameters of Alg. 1.

    ``delta`` and ``lr`` are traced (a sweep may vary them without recompiling); the rest is
    static: the Adam betas and epsilon are constants of the optimiser (Table IV), the others
    choose code paths.

    Attributes:
      delta: fine-tuning threshold on the error e(y_hat, y+) (Table IV: 0.3).
      lr: fine-tuning learning rate alpha_f (Table IV: 0.03).
      b1, b2, eps: Adam parameters (Table IV: 0.9, 0.999, 1e-8; unused by "sgd").
      variant: "standard" Adam (eq. 8), "one_step" reset (eq. 9), or "sgd", plain
        theta <- theta - lr * g (the optimiser Theorem 1 assumes; its step scales with the
        gradient, so ``lr`` has another meaning than for Adam, whose step is ~lr per weight).
      negative: "uniform" over Y \\ {y+}, or "hard" y- = y_hat (Sec. III-C).
      error_metric: "abs" |y_hat - y+| (eq. 12, default) or "sq" (y_hat - y+)^2.
      finetune: False = prediction only (the "no fine-tuning" baseline of Fig. 4).
    """

    delta: float = 0.3
    lr: float = 0.03
    b1: float = struct.field(pytree_node=False, default=0.9)
    b2: float = struct.field(pytree_node=False, default=0.999)
    eps: float = struct.field(pytree_node=False, default=1e-8)
    variant: str = struct.field(pytree_node=False, default="one_step")
    negative: str = struct.field(pytree_node=False, default="uniform")
    error_metric: str = struct.field(pytree_node=False, default="abs")
    finetune: bool = struct.field(pytree_node=False, default=True)

    def __post_init__(self):
        for name, allowed in (("error_metric", ERRORS), ("negative", NEGATIVES), ("variant", VARIANTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"LightTuneParams.{name} must be one of {allowed}, got {getattr(self, name)!r}")


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
    if params.variant == "sgd":
        return sgd(params.lr)
    make = adam_standard if params.variant == "standard" else adam_one_step
    return make(params.lr, b1=params.b1, b2=params.b2, eps=params.eps)


def init_ue_state(model_params, params: LightTuneParams = LightTuneParams()) -> UEState:
    """A UE state holding ``model_params`` (e.g. the offline-trained model), fresh optimiser
    state of ``params.variant``, zero counters."""
    opt = make_optimizer(params)
    return UEState(params=list(model_params), opt_state=tuple(opt.init(layer) for layer in model_params),
                   n_seen=jnp.zeros([], jnp.int32), n_updates=jnp.zeros([], jnp.int32))


def quantize(value, labels=BLER_CLASSES) -> jax.Array:
    """Index of the label nearest to ``value`` (e.g. a measured BLER -> class index), [...] -> [...] int32."""
    lab = jnp.asarray(labels)
    return jnp.argmin(jnp.abs(jnp.asarray(value)[..., None] - lab), axis=-1).astype(jnp.int32)


def label_inputs(spec: FFSpec, dtype=jnp.float32) -> jax.Array:
    """[K] the value appended to the features for each class (append mode):
    ``(labels - label_offset) * label_scale``."""
    return (jnp.asarray(spec.labels, dtype) - spec.label_offset) * spec.label_scale


def label_fn(spec: FFSpec, dtype=jnp.float32):
    """``fn(x [..., d], k [...] int) -> model input [..., D]``: attaches class k to x (spec.label_mode)."""
    if spec.label_mode == "append":
        inputs = label_inputs(spec, dtype)
        return lambda x, k: ff.append_label(x, inputs[k])
    return functools.partial(_overlay, num_classes=spec.num_labels)


def _overlay(x, k, num_classes):
    return ff.overlay_label(x, k, num_classes, 1.0)


def label_error(a, b, metric: str):
    """e(a, b): |a - b| ("abs", eq. 12) or (a - b)^2 ("sq")."""
    return jnp.abs(a - b) if metric == "abs" else (a - b) ** 2


def predict_class(model_params, x: jax.Array, spec: FFSpec) -> jax.Array:
    """Eq. (5) for one UE: class index of the largest goodness over the K candidates. x: [d] -> [] int32."""
    return ff.predict(model_params, x, jnp.arange(spec.num_labels), label_fn(spec, x.dtype),
                      spec.normalize, spec.predict_mode).astype(jnp.int32)


def apply_grads(state: UEState, grads, params: LightTuneParams) -> UEState:
    """Alg. 1, line 7: one optimiser step of every layer with its own optimiser state.

    Args:
      state: the UE's model and optimiser state.
      grads: a pytree shaped like ``state.params`` (per layer ``{"w": [N_l, M_l], "b": [M_l]}``).
      params: :class:`LightTuneParams` (variant and lr).
    Returns:
      the state with the updated model and optimiser state and ``n_updates`` + 1.
    """
    opt = make_optimizer(params)
    new_params, new_opt = [], []
    for layer, g, s in zip(state.params, grads, state.opt_state):  # per-layer state
        u, s = opt.update(g, s, layer)
        new_params.append(optax.apply_updates(layer, u))
        new_opt.append(s)
    return state.replace(params=new_params, opt_state=tuple(new_opt), n_updates=state.n_updates + 1)


def ff_update(state: UEState, x_pos: jax.Array, x_neg: jax.Array, spec: FFSpec,
              params: LightTuneParams) -> UEState:
    """Alg. 1, lines 6-7: the closed-form local gradients (eq. 7) of every layer, then :func:`apply_grads`.

    Args: x_pos, x_neg: [B, D] model inputs with the label attached (LightTune: B = 1).
    Returns the updated state (unconditionally; :func:`lighttune_step` keeps it only where
    the trigger fires).
    """
    grads = ff.local_grads(state.params, x_pos, x_neg, spec.threshold, loss=spec.loss,
                           normalize=spec.normalize, goodness=spec.goodness)
    return apply_grads(state, grads, params)


def lighttune_step(key: jax.Array, state: UEState, x: jax.Array, y_true: jax.Array, spec: FFSpec,
                   params: LightTuneParams) -> tuple[UEState, StepOutputs]:
    """Algorithm 1 for one UE and one sample.

    Args:
      key: typed key of this UE and step (consumed: uniform negative draw).
      state: the UE's model, optimiser state and counters.
      x: [d] features (without the label), already in the model's input space.
      y_true: [] int class index of the delayed ground truth y+.
      spec: the model's :class:`FFSpec` (static).
      params: :class:`LightTuneParams`.
    Returns:
      (new state, :class:`StepOutputs`). The candidate update is always computed and kept
      only where e >= delta (``jnp.where``), so the step vmaps without branches; otherwise the
      model, optimiser state and ``n_updates`` are unchanged. ``n_seen`` always increases by
      one. With ``params.finetune`` False only line 2 runs (prediction only).

    Negatives never equal y+: uniform draws from K - 1 labels and skips y+; hard uses
    y- = y_hat, which differs from y+ whenever e >= delta > 0 (the only case in which it is
    used); if delta <= 0 and y_hat = y+ it falls back to the uniform draw.
    """
    labels = jnp.asarray(spec.labels, x.dtype)
    attach = label_fn(spec, labels.dtype)
    y_true = jnp.asarray(y_true, jnp.int32)

    y_hat = predict_class(state.params, x, spec)  # Alg. 1, line 2
    error = label_error(labels[y_hat], labels[y_true], params.error_metric)
    if not params.finetune:
        return state.replace(n_seen=state.n_seen + 1), StepOutputs(
            y_hat=y_hat, prediction=labels[y_hat], error=error, updated=jnp.zeros([], bool),
            y_neg=y_true)
    updated = error + TRIGGER_SLACK >= params.delta  # line 3

    r = jax.random.randint(key, (), 0, spec.num_labels - 1)
    y_neg = r + (r >= y_true)  # uniform over Y \ {y+}
    if params.negative == "hard":
        y_neg = jnp.where(y_hat == y_true, y_neg, y_hat)

    x_pos = attach(x, y_true)[None]  # line 4, [1, D]
    x_neg = attach(x, y_neg)[None]  # line 5, [1, D]
    candidate = ff_update(state, x_pos, x_neg, spec, params)  # lines 6-7
    new_state = jax.tree_util.tree_map(lambda new, old: jnp.where(updated, new, old), candidate, state)
    new_state = new_state.replace(n_seen=state.n_seen + 1)
    return new_state, StepOutputs(y_hat=y_hat, prediction=labels[y_hat], error=error, updated=updated,
                                  y_neg=y_neg.astype(jnp.int32))


__all__ = ["BLER_CLASSES", "ERRORS", "LABEL_MODES", "NEGATIVES", "PREDICT_MODES", "TRIGGER_SLACK", "VARIANTS",
           "FFSpec", "LightTuneParams", "StepOutputs", "UEState", "apply_grads", "ff_update", "init_ue_state",
           "label_error", "label_fn", "label_inputs", "lighttune_step", "make_optimizer", "predict_class",
           "quantize"]

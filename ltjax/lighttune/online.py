"""Online LightTune for BLER prediction (Sec. IV-A, Alg. 1): one UE, one CSI-RS period.

At the start of period t the UE predicts P_hat from the period's features with its own
copy of the FF model; at the end it measures P (eq. 11) and, if the class error
|labels[y_hat] - labels[y+]| >= delta (Alg. 1, line 3), fine-tunes that copy with one
positive [x, y+] and one negative [x, y-] (closed-form eq. 7 gradients, Adam standard
eq. 8 or one-step eq. 9). ``y+`` is P quantised to the nearest class (Remark 4,
lambda = 0.1).

Two errors are reported:
  ``error`` = |P_hat - P| with the unquantised P (eq. 12): the metric of Fig. 4;
  ``error_class`` = |labels[y_hat] - labels[y+]|: the trigger quantity of Alg. 1.

Kernels are per UE (no batch axis); callers vmap over UEs and scan over periods:

    state = init_online_state(model, lt)                         # offline model, fresh Adam
    state, out = online_step(key, state, x_raw, bler, model, lt)  # per period
    state, out = frozen_step(key, state, x_raw, bler, model, lt)  # "no fine-tuning"

Letters: F = 12 features, K = 11 classes, U UEs, T periods.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.lighttune.model import MODEL_LT_FIELDS, BlerModel, normalize_features
from ltjax.lighttune.step import (TRIGGER_SLACK, LightTuneParams, UEState, init_ue_state, label_error,
                                  lighttune_step, predict_ue, quantize)

# (name, variant, negative) of the five Fig. 4 curves; variant None = no fine-tuning.
FIG4_VARIANTS = (("none", None, "uniform"), ("standard_uniform", "standard", "uniform"),
                 ("standard_hard", "standard", "hard"), ("one_step_uniform", "one_step", "uniform"),
                 ("one_step_hard", "one_step", "hard"))


@struct.dataclass
class OnlineOutputs:
    """One UE's period (batched: leading [U] and/or [T]).

    prediction: [] float32 P_hat, the predicted BLER (value of class y_hat).
    bler_true: [] float32 P, the measured BLER of the period (eq. 11, unquantised).
    error: [] float32 |P_hat - P| (eq. 12).
    error_class: [] float32 |labels[y_hat] - labels[y+]| (Alg. 1 trigger quantity).
    updated: [] bool, the UE fine-tuned its model after this period.
    y_hat: [] int32 predicted class. y_true: [] int32 class of P (nearest).
    """

    prediction: jax.Array  # [] float32
    bler_true: jax.Array  # [] float32
    error: jax.Array  # [] float32
    error_class: jax.Array  # [] float32
    updated: jax.Array  # [] bool
    y_hat: jax.Array  # [] int32
    y_true: jax.Array  # [] int32


def online_params(model: BlerModel, variant: str = "one_step", negative: str = "uniform",
                  delta: float = 0.3, lr: float = 0.03, b1: float = 0.9, b2: float = 0.999,
                  eps: float = 1e-8) -> LightTuneParams:
    """LightTuneParams for fine-tuning ``model``: its own FF settings plus the online ones (Table IV)."""
    fields = {f: getattr(model.lt, f) for f in MODEL_LT_FIELDS}
    return LightTuneParams(delta=delta, lr=lr, b1=b1, b2=b2, eps=eps, variant=variant, negative=negative,
                           **fields)


def init_online_state(model: BlerModel, lt_params: LightTuneParams) -> UEState:
    """One UE's state at deployment: a copy of the offline params, fresh optimiser state of the variant."""
    return init_ue_state(model.params, lt_params.variant)


def _check(model: BlerModel, lt: LightTuneParams) -> None:
    for f in MODEL_LT_FIELDS:
        a, b = getattr(model.lt, f), getattr(lt, f)
        if isinstance(a, jax.core.Tracer) or isinstance(b, jax.core.Tracer):
            continue  # a traced threshold cannot be compared here
        if bool(np.any(np.asarray(a) != np.asarray(b))) if f == "threshold" else a != b:
            raise ValueError(f"lt_params.{f}={getattr(lt, f)!r} differs from the model's {getattr(model.lt, f)!r};"
                             " build lt_params with online_params(model, ...)")


def online_step(key: jax.Array, ue_state: UEState, x_raw: jax.Array, bler_true: jax.Array,
                model: BlerModel, lt_params: LightTuneParams,
                finetune: bool = True) -> tuple[UEState, OnlineOutputs]:
    """Alg. 1 for one UE and one period, on raw features.

    Args:
      key: typed key of this UE and period (consumed: the uniform negative draw).
      ue_state: the UE's fine-tuned model and optimiser state (``init_online_state``).
      x_raw: [12] raw features of the period (``PeriodOutputs.features``).
      bler_true: [] measured BLER of the period (eq. 11), quantised here to y+.
      model: the offline BlerModel (its standardisation is used; its params are not).
      lt_params: from :func:`online_params` (delta, lr, variant, negative).
      finetune: static; False = "no fine-tuning": prediction only, state unchanged
        except ``n_seen``.
    Returns:
      (new state, :class:`OnlineOutputs`). P_hat is made with the params *before* the
      update (it is predicted at the period start, Fig. 3).
    """
    _check(model, lt_params)
    x = normalize_features(model, x_raw)
    labels = jnp.asarray(lt_params.labels, jnp.float32)
    bler_true = jnp.asarray(bler_true, jnp.float32)
    y_true = quantize(bler_true, lt_params.labels)
    if finetune:
        new_state, out = lighttune_step(key, ue_state, x, y_true, lt_params)
        y_hat, updated = out.y_hat, out.updated
    else:
        y_hat = predict_ue(ue_state.params, x, lt_params)
        updated = jnp.zeros([], bool)
        new_state = ue_state.replace(n_seen=ue_state.n_seen + 1)
    pred = labels[y_hat]
    return new_state, OnlineOutputs(
        prediction=pred, bler_true=bler_true, error=jnp.abs(pred - bler_true),
        error_class=label_error(pred, labels[y_true], lt_params.error_metric),
        updated=updated, y_hat=y_hat.astype(jnp.int32), y_true=y_true)


def frozen_step(key, ue_state, x_raw, bler_true, model, lt_params):
    """The "no fine-tuning" variant of :func:`online_step` (prediction only)."""
    return online_step(key, ue_state, x_raw, bler_true, model, lt_params, finetune=False)


def run_sequence(key: jax.Array, model: BlerModel, lt_params: LightTuneParams, features: jax.Array,
                 bler: jax.Array, finetune: bool = True, anchor=None) -> OnlineOutputs:
    """One UE over a period sequence (``lax.scan``), from the offline model at t = 0.

    Args: features [T, 12] raw, bler [T]; period t uses ``fold_in(key, t)``.
    ``anchor``: optional [] zero derived from the UE's own data; added to the initial state
    so that under ``shard_map`` (``ltjax.batching.map_ues``) the scan carry is
    "varying" over UEs like the scan outputs (numerically a no-op).
    Returns OnlineOutputs with a leading [T].
    """
    state = init_online_state(model, lt_params)
    if anchor is not None:
        state = jax.tree_util.tree_map(lambda a: a + jnp.asarray(anchor).astype(a.dtype), state)

    def body(st, inp):
        t, x, b = inp
        return online_step(jax.random.fold_in(key, t), st, x, b, model, lt_params, finetune)

    n = features.shape[0]
    _, outs = jax.lax.scan(body, state, (jnp.arange(n, dtype=jnp.int32), features, bler))
    return outs


__all__ = ["FIG4_VARIANTS", "OnlineOutputs", "TRIGGER_SLACK", "frozen_step", "init_online_state",
           "online_params", "online_step", "run_sequence"]

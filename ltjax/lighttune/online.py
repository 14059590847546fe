"""Online LightTune as a learner (Sec. IV-A, Alg. 1): one UE's BLER predictor, period by period.

The learner has the shape of an evosax strategy::

    state = init(key, model, params)                      # the offline model, fresh optimiser
    p_hat = predict(state, x_raw)                         # at the period start (eq. 5)
    state, m = tell(key, state, x_raw, bler_true, params)  # at the period end (Alg. 1)

``model`` is the offline :class:`~ltjax.lighttune.model.BlerModel` (its FF weights, input
scaling and fixed :class:`~ltjax.lighttune.step.FFSpec`); ``params`` are the online
hyper-parameters (:class:`~ltjax.lighttune.step.LightTuneParams`: delta, alpha_f, Adam variant,
negatives). ``tell`` scales the raw features as the model does (``BlerModel.feature_scaling``:
the training set's standardisation or the physical ranges), quantises the measured BLER P to
the nearest class y+ (Remark 4, lambda = 0.1) and runs Alg. 1
(:func:`ltjax.lighttune.step.lighttune_step`): if the class error |labels[y_hat] - labels[y+]|
>= delta it fine-tunes the UE's own copy of the model with one positive [x, y+] and one
negative [x, y-]. Its metrics carry the prediction made *before* the update (it is made at
the period start, Fig. 3).

Two errors are reported:
  ``error`` = |P_hat - P| with the unquantised P (eq. 12): the metric of Fig. 4;
  ``error_class`` = |labels[y_hat] - labels[y+]|: the trigger quantity of Alg. 1.

Everything is for one UE (no batch axis); ``ltjax.batching.map_ues`` batches it.
Letters: F = 12 features, K = 11 classes, T periods.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.lighttune.model import BlerModel, predict_bler, standardize
from ltjax.lighttune.step import (FFSpec, LightTuneParams, UEState, init_ue_state, label_error, lighttune_step,
                                  quantize)

# (name, online hyper-parameters) of the five Fig. 4 curves: no fine-tuning, then Adam standard /
# one-step x uniform / hard negatives. delta and alpha_f are set per run (fig4_variants).
FIG4_VARIANTS = (("none", dict(variant="one_step", negative="uniform", finetune=False)),
                 ("standard_uniform", dict(variant="standard", negative="uniform")),
                 ("standard_hard", dict(variant="standard", negative="hard")),
                 ("one_step_uniform", dict(variant="one_step", negative="uniform")),
                 ("one_step_hard", dict(variant="one_step", negative="hard")))


def fig4_variants(delta=0.3, lr=0.03) -> tuple[tuple[str, LightTuneParams], ...]:
    """The five Fig. 4 predictors as (name, LightTuneParams) with the given delta and alpha_f."""
    return tuple((name, LightTuneParams(delta=delta, lr=lr, **kw)) for name, kw in FIG4_VARIANTS)


@struct.dataclass
class LearnerState:
    """One UE's online BLER predictor.

    Attributes:
      ue: the UE's own FF weights (fine-tuned online), optimiser state and counters (Alg. 1).
      feat_mean, feat_std: [12] float32, the deployed model's input scaling statistics (fixed).
      spec: the model's :class:`FFSpec` (static).
      feature_scaling: the deployed model's ``BlerModel.feature_scaling`` (static, fixed).
    """

    ue: UEState
    feat_mean: jax.Array  # [12] float32
    feat_std: jax.Array  # [12] float32
    spec: FFSpec = struct.field(pytree_node=False, default=None)
    feature_scaling: str = struct.field(pytree_node=False, default="standard")

    @property
    def model(self) -> BlerModel:
        """The UE's current model: its fine-tuned weights with the deployed input scaling."""
        return BlerModel(params=self.ue.params, feat_mean=self.feat_mean, feat_std=self.feat_std, spec=self.spec,
                         feature_scaling=self.feature_scaling)


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


def init(key: jax.Array, model: BlerModel, params: LightTuneParams) -> LearnerState:
    """One UE's state at deployment: a copy of the offline weights, fresh optimiser state of
    ``params.variant``, zero counters. ``key`` is not used (the start is deterministic); it is
    there so that every learner has the same ``init(key, model, params)`` shape."""
    del key
    return LearnerState(ue=init_ue_state(model.params, params), feat_mean=model.feat_mean,
                        feat_std=model.feat_std, spec=model.spec, feature_scaling=model.feature_scaling)


def predict(state: LearnerState, x_raw: jax.Array) -> jax.Array:
    """P_hat: the UE's current predicted BLER (eq. 5 class value) for raw features x_raw [12], float32 []."""
    return predict_bler(state.model, x_raw)


def tell(key: jax.Array, state: LearnerState, x_raw: jax.Array, bler_true: jax.Array,
         params: LightTuneParams) -> tuple[LearnerState, OnlineOutputs]:
    """Alg. 1 for one UE and one period: the delayed truth of the period arrives.

    Args:
      key: typed key of this UE and period (consumed: the uniform negative draw).
      state: from :func:`init` or the previous ``tell``.
      x_raw: [12] raw features of the period (``PeriodOutputs.features``).
      bler_true: [] measured BLER P of the period (eq. 11), quantised here to y+.
      params: online hyper-parameters; ``params.finetune`` False = prediction only.
    Returns:
      (new state, :class:`OnlineOutputs`), the prediction being the one made with the weights
      *before* this update.
    """
    spec = state.spec
    x = standardize(state.model, x_raw)
    labels = jnp.asarray(spec.labels, jnp.float32)
    bler_true = jnp.asarray(bler_true, jnp.float32)
    y_true = quantize(bler_true, spec.labels)
    ue, out = lighttune_step(key, state.ue, x, y_true, spec, params)
    pred = labels[out.y_hat]
    return state.replace(ue=ue), OnlineOutputs(
        prediction=pred, bler_true=bler_true, error=jnp.abs(pred - bler_true),
        error_class=label_error(pred, labels[y_true], params.error_metric),
        updated=out.updated, y_hat=out.y_hat.astype(jnp.int32), y_true=y_true)


def run_sequence(key: jax.Array, model: BlerModel, params: LightTuneParams, features: jax.Array,
                 bler: jax.Array) -> OnlineOutputs:
    """One UE over a period sequence (``lax.scan`` of :func:`tell`), from the offline model at t = 0.

    Args: features [T, 12] raw, bler [T]; period t uses ``fold_in(key, t)``.
    Returns OnlineOutputs with a leading [T].
    """

    def body(state, inp):
        t, x, b = inp
        return tell(jax.random.fold_in(key, t), state, x, b, params)

    n = features.shape[0]
    _, outs = jax.lax.scan(body, init(key, model, params), (jnp.arange(n, dtype=jnp.int32), features, bler))
    return outs


__all__ = ["FIG4_VARIANTS", "LearnerState", "OnlineOutputs", "fig4_variants", "init", "predict", "run_sequence",
           "tell"]

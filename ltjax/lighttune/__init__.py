"""LightTune: threshold-triggered online forward-forward fine-tuning per UE (Alg. 1).

- ``step``: Alg. 1 for one UE on model inputs (:func:`lighttune_step`; its update, lines 6-7, is
  :func:`ff_update`), the fixed model
  description :class:`FFSpec` and the online hyper-parameters :class:`LightTuneParams`.
- ``model``: the offline FF BLER model (:class:`BlerModel`: weights, input standardisation,
  spec), prediction (:func:`predict_bler`), versioned model files.
- ``online``: the online BLER learner, ``init(key, model, params)``, ``predict(state, x)``,
  ``tell(key, state, x, y_true, params)``.
- ``dataset`` / ``train``: BLER datasets from the link engine and offline training.

See docs/lighttune.md and docs/forward_forward.md.
"""

from ltjax.lighttune.model import BlerModel, default_spec, predict_bler
from ltjax.lighttune.step import (BLER_CLASSES, ERRORS, NEGATIVES, VARIANTS, FFSpec, LightTuneParams, StepOutputs,
                                  UEState, apply_grads, ff_update, init_ue_state, label_error, label_inputs,
                                  lighttune_step, make_optimizer, predict_class, quantize)

__all__ = ["BLER_CLASSES", "ERRORS", "NEGATIVES", "VARIANTS", "BlerModel", "FFSpec", "LightTuneParams",
           "StepOutputs", "UEState", "apply_grads", "default_spec", "ff_update", "init_ue_state", "label_error",
           "label_inputs", "lighttune_step", "make_optimizer", "predict_bler", "predict_class", "quantize"]

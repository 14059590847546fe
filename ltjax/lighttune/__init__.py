"""LightTune: threshold-triggered online forward-forward fine-tuning per UE (Alg. 1). See ``step``."""

from ltjax.lighttune.step import (BLER_CLASSES, ERRORS, NEGATIVES, VARIANTS, LightTuneParams,
                                  StepOutputs, UEState, broadcast_ue_state, init_ue_state, label_error,
                                  label_inputs,
                                  lighttune_step, lighttune_step_ues, make_optimizer, predict_ue,
                                  quantize)

__all__ = ["BLER_CLASSES", "ERRORS", "NEGATIVES", "VARIANTS", "LightTuneParams", "StepOutputs",
           "UEState", "broadcast_ue_state", "init_ue_state", "label_error", "label_inputs", "lighttune_step",
           "lighttune_step_ues", "make_optimizer", "predict_ue", "quantize"]

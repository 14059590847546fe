"""Message, strategy and reading codes of the model-adaptation procedure (paper Sec. III-C, Fig. 3).

A triggered adaptation sends these five messages in order, starting with the first step of the next LCM
window; message i arrives i x latency after the start, and the UE uses legacy beam management (strongest
measured Set B beam) until the step in which the activation (message 5) arrives. With the default latency
of one 20 ms step per message that is the first five steps of the next window, one message per step.

The lane codes below are traced integers of ``ltjax.lcm.engine.LcmParams``: lanes that differ only in
them share one channel simulation (common random numbers).
"""

NONE = 0
MODEL_ADAPTATION_REQUEST = 1      # Step 1, NW -> UE: deactivate, go legacy, current ID -> non-recommended list
MODEL_ADAPTATION_RESPONSE = 2     # Step 2, UE -> NW: ack + adaptable functionalities (Set B / model / dataset IDs)
MODEL_ADAPTATION_INFORMATION = 3  # Step 3, NW -> UE: recommended model IDs + evaluation dataset ID (support info)
MODEL_ACTIVATION_REQUEST = 4      # Step 4, UE -> NW: ID of the best recommended model on the evaluation set
MODEL_ADAPTATION_ACTIVATION = 5   # Step 5, NW -> UE: activate it
N_MESSAGES = 5
NAMES = {NONE: "none", 1: "ModelAdaptationRequest", 2: "ModelAdaptationResponse", 3: "ModelAdaptationInformation",
         4: "ModelActivationRequest", 5: "ModelAdaptationActivation"}

# Strategies.
NON_LCM = 0       # the initial model forever
ONLY_DATASET = 1  # on degradation switch to a model of the current region's dataset ID, no signalling
PROPOSED = 2      # on degradation run Steps 1-5 and activate the best recommended model
GLOBAL = 3        # one global model trained on every region's data, never switched (beyond the paper)
STRATEGIES = {"non_lcm": NON_LCM, "only_dataset_id": ONLY_DATASET, "proposed": PROPOSED, "global": GLOBAL}

# Initial model of a regional strategy (the paper's "initially selected model").
INIT_BEST = 0     # lowest evaluation-table e_RSRP among the initial region's models
INIT_DEFAULT = 1  # the UE's default functionality: lowest Set B ID, model ID 0, the initial region's dataset ID
INIT_RANDOM = 2   # uniform among the initial region's models
INITIAL = {"best": INIT_BEST, "default": INIT_DEFAULT, "random": INIT_RANDOM}

# What "only dataset ID" switches to on a trigger.
OD_KEEP_IDS = 0   # same Set B ID and model ID, the current region's dataset ID
OD_RANDOM = 1     # uniform among the current region's models
ONLY_DATASET_CHOICES = {"keep_ids": OD_KEEP_IDS, "random": OD_RANDOM}

# What triggers the proposed adaptation.
TRIGGER_E_RSRP = 0      # the e_RSRP degradation test only
TRIGGER_E_OR_REGION = 1  # also (proactively) when the network signals that the UE left its model's region
TRIGGERS = {"e_rsrp": TRIGGER_E_RSRP, "e_rsrp_or_region": TRIGGER_E_OR_REGION}

# How the monitored e_RSRP is obtained.
MONITOR_GENIE = 0       # the true e_RSRP of every step (all 64 beams known every 20 ms)
MONITOR_FULL_SWEEP = 1  # one full Set A sweep at the last step of each window: max(meas) - meas[predicted]
MONITOR_TOPK_SWEEP = 2  # every step the K most likely beams are measured: max over them - meas[predicted]
MONITORS = {"genie": MONITOR_GENIE, "full_sweep": MONITOR_FULL_SWEEP, "topk_sweep": MONITOR_TOPK_SWEEP}

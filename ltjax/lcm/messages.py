"""Message and strategy codes of the model-adaptation procedure (paper Sec. III-C, Fig. 3).

A triggered adaptation occupies the first five steps of the next LCM window, one message per step, in
this order; the UE uses legacy beam management (strongest measured Set B beam) during those steps.
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

NON_LCM = 0       # the initial model forever
ONLY_DATASET = 1  # on degradation switch to the current region's dataset-ID model (same Set B and model ID)
PROPOSED = 2      # on degradation run Steps 1-5 and activate the best recommended model
STRATEGIES = {"non_lcm": NON_LCM, "only_dataset_id": ONLY_DATASET, "proposed": PROPOSED}

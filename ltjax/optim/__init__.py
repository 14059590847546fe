"""Optimisers of the LightTune paper (Sec. III-D) as optax ``GradientTransformation``s.

- :func:`adam_standard`: eq. (8), Adam with moments and count kept across updates.
- :func:`adam_one_step`: eq. (9), moments and count reset before every update.
- :func:`sgd`: plain SGD, the optimiser Theorem 1 assumes.

All compose with optax and are applied with one state per FF layer (the
layer-wise training and LightTune keep a list of per-layer states).
"""

from ltjax.optim.adam import AdamState, adam_one_step, adam_standard
from ltjax.optim.sgd import sgd

__all__ = ["AdamState", "adam_one_step", "adam_standard", "sgd"]

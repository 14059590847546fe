"""Lifecycle management (LCM) of UE-side beam-prediction models: monitoring and model adaptation over mobility.

See ``ltjax.lcm.engine`` (the per-window kernels and ``simulate``, which runs U UEs through
``ltjax.batching.map_ues``), ``ltjax.lcm.messages`` (Sec. III-C signalling codes) and docs/beam_lcm.md
for every reading of the paper. Letters as in ``ltjax.beam``.
"""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = ["engine", "messages"]

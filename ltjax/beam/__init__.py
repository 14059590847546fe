"""Beam management at FR2: geometry, UPA + DFT codebook, Saleh-Valenzuela channel, datasets, beam-prediction DNNs.

Letters used in shapes throughout ``ltjax.beam`` and ``ltjax.lcm``:
  U UEs, T time steps, W steps of one LCM window, B beams (Set A, 64), S Set B beams (16),
  L paths (6), M models (54), R regions / dataset IDs (6), N samples of a dataset, H hidden width.

Modules: ``config`` (static config + traced params), ``geometry`` (hexagon, regions, TR 38.901 array
orientation), ``array`` (steering vector eq. 3, codebook eqs. 4-6, element pattern), ``channel``
(eq. 2 + pathloss -> L1-RSRP), ``mobility`` (spatially consistent trajectories), ``dataset``,
``metrics`` (e_RSRP, Top-K), ``inference`` (flat model ids, the depth-padded model stack, grouped
inference, legacy beam management), ``training`` (flax MLPs, the vmapped per-depth trainer) and
``model`` (the registry of trained models and its on-disk cache). Nothing here calls ``jax.jit``: the
``beam_train`` and ``lcm_adaptation`` experiments, the benchmarks and the tests do. Paper: Go, Park,
Sung, "Model Adaptation for Lifecycle Management in AI-native 5G/6G Networks" (see docs/beam_lcm.md).
"""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = [
    "array", "channel", "config", "dataset", "geometry", "inference", "metrics", "mobility", "model",
    "pool", "training"
]

"""Beam-prediction metrics of the paper (Sec. II-B): the RSRP loss e_RSRP and Top-K/1 accuracy.

For one location with true L1-RSRPs ``rsrp[b]`` of the B Set A beams (dBm) and a chosen beam b^:

  e_RSRP = max_b rsrp[b] - rsrp[b^]          [dB], >= 0, and 0 exactly when b^ is a best beam;

and for scores ``s[b]`` of the B beams (model logits, or measured RSRPs for legacy beam management) the
true best beam b* = argmax_b rsrp[b] is a Top-K hit when fewer than K beams score strictly higher than
it (rank(b*) = #{b : s[b] > s[b*]} < K). Top-K/1 accuracy is the fraction of hits. A tie with b* counts
in b*'s favour; for float logits and measured RSRPs ties do not occur in practice.

These are the only definitions of both metrics: training curves, the evaluation table [M, R], the
``beam_train`` baseline and the LCM engine's per-step metrics all call them. Letters: B beams, K the
largest K of Top-K; ``...`` any leading batch axes.
"""

from __future__ import annotations

import jax.numpy as jnp


def e_rsrp(rsrp, beam):
    """RSRP loss of choosing ``beam``: the best beam's RSRP minus the chosen beam's.

    Args:
      rsrp: [..., B] true L1-RSRP [dBm].
      beam: [...] int chosen beam index.
    Returns:
      [...] e_RSRP [dB].
    """
    chosen = jnp.take_along_axis(rsrp, beam[..., None], axis=-1)[..., 0]
    return jnp.max(rsrp, axis=-1) - chosen


def top_k(scores, best, k_max: int = 1):
    """Top-K hits of the true best beam for K = 1..k_max.

    Args:
      scores: [..., B] scores of the beams (higher = more likely the best).
      best: [...] int index of the true best beam.
      k_max: largest K (static).
    Returns:
      [..., k_max] bool, entry K-1 true when ``best`` is among the K highest scores.
    """
    own = jnp.take_along_axis(scores, best[..., None], axis=-1)
    if k_max == 1:  # no beam strictly above the best one: own >= max, one reduction instead of a count
        return own >= jnp.max(scores, axis=-1, keepdims=True)
    rank = jnp.sum(scores > own, axis=-1)  # beams scored strictly above the best one
    return rank[..., None] < jnp.arange(1, k_max + 1)

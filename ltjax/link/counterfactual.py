"""A link-level counterfactual ("genie"): one period evaluated at the applied CQI and at CQI - k.

Letters: K = 2 branches (the applied CQI and the backed-off one).

To bound what any CQI back-off rule (e.g. CQI-Tune, Alg. 2 of the LightTune paper) can
gain, one needs the outcome of the period the UE did *not* live through: the same channel
realisation, the same RB/DMRS draws, the same CSI measurement noise and the same per-slot
ACK/NACK uniforms, only a lower CQI. :func:`counterfactual_period` runs ``link_period``
on both inputs from the same ``LinkState`` with the same period key (common random
numbers): the difference of the two outcomes is the effect of the back-off alone. The
applied branch carries on (its next state is returned); the backed-off branch is what would
have happened.

Pure and per UE: usable inside a ``lax.scan`` over periods and batched by
``ltjax.batching.map_ues`` like the rest of ``ltjax.link``.
"""

from __future__ import annotations

import jax.numpy as jnp

from ltjax.link.config import LinkParams, LinkState, PeriodInputs
from ltjax.link.engine import link_period
from ltjax.phy.tables import CQI_TO_MCS


def backed_off_inputs(inputs: PeriodInputs, backoff) -> PeriodInputs:
    """``inputs`` with the CQI lowered by ``backoff`` (>= 0, floored at CQI 0) and its MCS CQI_TO_MCS[CQI - k].

    At backoff 0 the inputs are returned unchanged (any MCS the policy chose is kept).
    """
    k = jnp.asarray(backoff, jnp.int32)
    cqi = jnp.maximum(jnp.asarray(inputs.cqi, jnp.int32) - k, 0)
    mcs = jnp.where(k == 0, jnp.asarray(inputs.mcs, jnp.int32), jnp.asarray(CQI_TO_MCS)[cqi])
    return inputs.replace(cqi=cqi.astype(jnp.int32), mcs=mcs.astype(jnp.int32))


def counterfactual_period(key, state: LinkState, inputs: PeriodInputs, params: LinkParams, backoff):
    """One period at the applied inputs and at CQI - ``backoff``, with common random numbers.

    Args:
      key: the period key (consumed by both branches alike).
      state: LinkState at the period start.
      inputs: PeriodInputs the gNB applies (its ``cqi`` is the CQI being backed off from).
      params: LinkParams.
      backoff: int32 [] k >= 0 (traced ok).

    Returns:
      (LinkState after the applied period, PeriodOutputs of the applied period,
      PeriodOutputs of the period at CQI - k). Both outputs carry the first-transmission
      BLER, throughput and ACK/NACK counts; at k = 0 they equal the plain ``link_period``.
    """
    # Two calls rather than a vmap over the branches: a vmapped engine rounds its float32 sums
    # differently, and the applied branch must be the plain period to the last bit.
    next_state, out = link_period(key, state, inputs, params)
    _, out_backoff = link_period(key, state, backed_off_inputs(inputs, backoff), params)
    return next_state, out, out_backoff


__all__ = ["backed_off_inputs", "counterfactual_period"]

"""The link-adaptation policy contract: how a scheme picks the CQI of one UE and learns from feedback.

A policy is a ``flax.struct`` dataclass whose fields are its parameters (a pytree: traced
numbers and arrays, static settings marked ``pytree_node=False``) with three pure methods,
pytree in, pytree out, for ONE UE::

    state = policy.init(key)                      # before the first period
    cqi, backoff = policy.next_cqi(state, obs)    # CQI for the next period, from the latest report
    state, metrics = policy.update(key, state, out)  # the period's feedback (PeriodOutputs)

``obs`` is an :class:`Observation` (what the UE knows when it reports), ``out`` the
``ltjax.link.PeriodOutputs`` of the period the policy's CQI was applied to, and ``metrics`` a
dict of [] arrays with the keys :data:`METRICS`. Schemes: ``olla.OllaPolicy``,
``ml_baseline.MlPolicy``, ``cqi_tune.CqiTunePolicy``; ``scan.run_schemes`` runs any tuple of
them side by side. A policy's class decides its code path: there are no scheme names in the
kernels.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.link import CsiOut, PeriodOutputs

# Keys of the metrics dict every policy's ``update`` returns (all [] arrays).
METRICS = ("ft_updated", "ft_error", "ft_pred", "offset")


@struct.dataclass
class Observation:
    """What a UE knows when it reports the CQI for the next period.

    Attributes:
      report: the latest CSI report (made at the end of the last period; the t = 0 report
        before the first).
      pdsch_snr_hist: float32 [4] PDSCH SNR [dB] of the last 4 transmissions, newest first.
      n_rb: int32 [] RBs of the last period (all R before the first: the CSI reference).
      n_dmrs: int32 [] DMRS symbols of the last period (the CSI reference's before the first).
    """

    report: CsiOut
    pdsch_snr_hist: jax.Array  # [4] float32
    n_rb: jax.Array  # [] int32
    n_dmrs: jax.Array  # [] int32


class Policy(Protocol):
    """The three methods of a link-adaptation policy (see the module docstring)."""

    def init(self, key: jax.Array) -> Any: ...

    def next_cqi(self, state: Any, obs: Observation) -> tuple[jax.Array, jax.Array]: ...

    def update(self, key: jax.Array, state: Any, out: PeriodOutputs) -> tuple[Any, dict[str, jax.Array]]: ...


def metrics(offset, ft_updated=None, ft_error=None, ft_pred=None) -> dict[str, jax.Array]:
    """The metrics dict of an update.

    Args:
      offset: [] the scheme's adaptation offset after the update (OLLA offset [dB], or the ML
        calibration's logit offset).
      ft_updated: [] bool, LightTune fine-tuned the UE's FF model (False for schemes without one).
      ft_error: [] float32, |P_hat - P| of the FF model's prediction of the period (0 without one).
      ft_pred: [] float32, P_hat: the FF model's prediction of the period's BLER label, made
        before the update (0 without one).
    """
    return {"ft_updated": jnp.zeros([], bool) if ft_updated is None else ft_updated,
            "ft_error": jnp.zeros([], jnp.float32) if ft_error is None else ft_error.astype(jnp.float32),
            "ft_pred": jnp.zeros([], jnp.float32) if ft_pred is None else jnp.asarray(ft_pred, jnp.float32),
            "offset": jnp.asarray(offset, jnp.float32)}


def no_backoff() -> jax.Array:
    """The ``backoff`` flag of a scheme that never backs off below its table CQI: False, bool []."""
    return jnp.zeros([], bool)


__all__ = ["METRICS", "Observation", "Policy", "metrics", "no_backoff"]

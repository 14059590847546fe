"""Upper bounds on CQI back-off: table OLLA that backs off with knowledge of the period's outcome.

A back-off rule such as CQI-Tune (Alg. 2 of the LightTune paper) decides *before* a period
whether to report CQI_table - 1 instead of CQI_table. How much any such rule can gain in a
scenario is bounded by rules that decide *after* seeing both outcomes of the period, the
one at the table CQI and the one at the backed-off CQI, on the same channel realisation and
the same random numbers (``ltjax.link.counterfactual``: common random numbers):

  "tau" (genie): back off exactly when the true first-transmission period BLER at the table
     CQI is >= tau. This is CQI-Tune with a perfect predictor of the event it acts on.
  "best" (hindsight): take whichever of {CQI_table, CQI_min} gave the higher throughput. No
     rule that picks one of the two CQIs per period can do better on the period.

Both carry their own OLLA offset, moved by the feedback of the branch they kept (as
CQI-Tune's OLLA is moved by the CQIs it reported), so over a run the bounds are those of the
OLLA + back-off *scheme*, not of a single period; the hindsight rule is the bound for a
greedy per-period chooser (a chooser that sacrifices a period to steer OLLA could in
principle beat it, which is why CQI-Tune is compared with both).

:class:`GeniePolicy` is an ``OllaPolicy`` (``ltjax.linkadapt.policy``) with a class marker
``counterfactual = True``: ``ltjax.linkadapt.scan.run_schemes`` gives it a second link lane
at :func:`backoff_cqi_of` of its table CQI and keeps the lane :meth:`GeniePolicy.choose`
selects. Everything is for ONE UE and pure.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import struct

from ltjax.linkadapt.cqi_tune import TAU_BLER, cqi_min_of
from ltjax.linkadapt.olla import OllaPolicy

GENIE_RULES = ("tau", "best")


def backoff_cqi_of(cqi_table, max_backoff: int = 1):
    """The CQI a back-off rule may fall to: CQI_min = max(CQI_table - max_backoff, 1), and
    CQI_table itself when it is 0 ("out of range": nothing to back off from). int32 []."""
    cqi_table = jnp.asarray(cqi_table, jnp.int32)
    return jnp.where(cqi_table >= 1, cqi_min_of(cqi_table, max_backoff), cqi_table).astype(jnp.int32)


@struct.dataclass
class GeniePolicy(OllaPolicy):
    """Table OLLA plus a back-off decided with the period's outcome (see the module docstring).

    Attributes (besides ``OllaPolicy``'s thresholds, params, feedback):
      tau: the BLER threshold of the "tau" rule (traced).
      rule: static, "tau" (genie) or "best" (hindsight best-of-two).
      max_backoff: static, the backed-off CQI is max(CQI_table - max_backoff, 1).
    """

    counterfactual = True  # class marker read by scan.run_schemes (not a dataclass field)

    tau: float = TAU_BLER
    rule: str = struct.field(pytree_node=False, default="tau")
    max_backoff: int = struct.field(pytree_node=False, default=1)

    def __post_init__(self):
        if self.rule not in GENIE_RULES:
            raise ValueError(f"rule must be one of {GENIE_RULES}, got {self.rule!r}")

    def alternative_cqi(self, cqi_table):
        """The CQI of the counterfactual lane for a period applied at ``cqi_table`` (int32 [])."""
        return backoff_cqi_of(cqi_table, self.max_backoff)

    def choose(self, out_table, out_backoff):
        """bool []: keep the backed-off lane's period (``PeriodOutputs`` of both lanes)."""
        if self.rule == "tau":
            return out_table.bler_first_tx >= self.tau
        return out_backoff.throughput_mbps > out_table.throughput_mbps


__all__ = ["GENIE_RULES", "GeniePolicy", "backoff_cqi_of"]

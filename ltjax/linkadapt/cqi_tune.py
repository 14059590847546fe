"""CQI-Tune (Alg. 2 of Ali & Penna): back off the OLLA table CQI while the UE's own fine-tuned
FF model predicts a BLER >= tau, never below CQI_min = max(CQI_table - max_backoff, 1).

Alg. 2 as printed loops ``while P_hat(CQI) >= tau and CQI >= CQI_min: CQI -= 1``, which can
end at CQI_min - 1 (it checks before decrementing). We require that the reported CQI is
never below CQI_min, so we guard the *next* CQI:

    CQI <- CQI_table
    while P_hat(CQI) >= tau and CQI - 1 >= CQI_min:  CQI <- CQI - 1

With the paper's CQI_min = max(CQI_table - 1, 1) (Fig. 5 caption) the back-off is at most one
step, so only P_hat(CQI_table) matters; :func:`backoff_cqi` handles any ``max_backoff``.
If CQI_table = 0 ("out of range") then CQI_min = 1 > CQI_table and nothing changes: the
reported CQI is always in [min(CQI_min, CQI_table), CQI_table].

P_hat(c) is the FF model's BLER prediction (eq. 5 over the classes 0, 0.1, ..., 1.0) for the
features of the *next* period with the CQI feature set to c. The UE does not know the next
period's RBs and DMRS symbols when it reports: it uses the last period's (our reading).

The FF model is the UE's own LightTune learner (``ltjax.lighttune.online``: the offline FF
BLER model, fine-tuned online by Alg. 1). :class:`CqiTunePolicy` is the whole scheme as a
link-adaptation policy (``ltjax.linkadapt.policy``): the OLLA table CQI, the back-off, and
per period an OLLA update and one LightTune ``tell``.

Letters: J = max_backoff + 1 candidates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.lighttune import online
from ltjax.lighttune.model import BlerModel
from ltjax.lighttune.step import LightTuneParams
from ltjax.link import period_features
from ltjax.linkadapt.ml_baseline import CQI_FEATURE
from ltjax.linkadapt.olla import OllaParams, OllaState, feedback_counts, olla_init, olla_update, table_cqi
from ltjax.linkadapt.policy import Observation, metrics

TAU_BLER = 0.9


def cqi_min_of(cqi_table, max_backoff: int = 1):
    """CQI_min = max(CQI_table - max_backoff, 1) (Fig. 5 caption with max_backoff = 1)."""
    return jnp.maximum(jnp.asarray(cqi_table) - max_backoff, 1).astype(jnp.int32)


def backoff_from_predictions(p_hat, cqi_table, cqi_min, tau=TAU_BLER):
    """Alg. 2 (guarded) given the predictions of the candidates c_j = CQI_table - j.

    Args:
      p_hat: float [J] predicted BLER of c_j = cqi_table - j, j = 0..J-1 (J - 1 >= cqi_table - cqi_min).
      cqi_table: int32 [] the OLLA table CQI.
      cqi_min: int32 [] lowest CQI the back-off may report.
    Returns:
      int32 [] the reported CQI: cqi_table - j* with j* the first j where P_hat(c_j) < tau or
      c_j - 1 < cqi_min.
    """
    j = jnp.arange(p_hat.shape[0])
    c = jnp.asarray(cqi_table) - j
    stop = (p_hat < tau) | (c - 1 < cqi_min)
    j_star = jnp.argmax(stop)  # the first True; stop[-1] is True whenever J - 1 >= cqi_table - cqi_min
    j_star = jnp.where(jnp.any(stop), j_star, p_hat.shape[0] - 1)
    return (jnp.asarray(cqi_table) - j_star).astype(jnp.int32)


def backoff_cqi(learner: online.LearnerState, x_next_raw, cqi_table, tau=TAU_BLER, max_backoff: int = 1):
    """CQI-Tune's reported CQI for the next period.

    Args:
      learner: the UE's LightTune learner (its fine-tuned FF model predicts).
      x_next_raw: float32 [12] next-period features (CQI feature overwritten per candidate).
      cqi_table: int32 [] OLLA table CQI.
      max_backoff: static, CQI_min = max(cqi_table - max_backoff, 1).
    Returns:
      (cqi int32 [], p_hat_table float32 [] = P_hat(CQI_table)).
    """
    c = jnp.asarray(cqi_table) - jnp.arange(max_backoff + 1)
    x = jnp.broadcast_to(jnp.asarray(x_next_raw, jnp.float32), (max_backoff + 1, 12))
    x = x.at[:, CQI_FEATURE].set(c.astype(jnp.float32))
    p = jax.vmap(lambda xi: online.predict(learner, xi))(x)
    cqi = backoff_from_predictions(p, cqi_table, cqi_min_of(cqi_table, max_backoff), tau)
    return cqi, p[0]


@struct.dataclass
class CqiTuneState:
    """One UE's CQI-Tune state."""

    olla: OllaState  # the scheme's own OLLA offset (moved by the CQIs it reports, back-off included)
    learner: online.LearnerState  # the UE's FF model, fine-tuned by LightTune


@struct.dataclass
class CqiTunePolicy:
    """CQI-Tune (Alg. 2) with LightTune (Alg. 1) as a link-adaptation policy.

    Attributes:
      thresholds: float32 [2, 16] OLLA SINR -> CQI table [dB] (``olla.thresholds_for``).
      model: the offline FF ``BlerModel`` every UE starts from.
      olla: ``OllaParams`` of the scheme's OLLA.
      lt: LightTune's online hyper-parameters (the paper: one-step Adam, delta 0.3, alpha_f 0.03;
        the negative rule distinguishes CQI-Tune uniform / hard).
      tau: back-off threshold tau_BLER.
      max_backoff: static, CQI_min = max(CQI_table - max_backoff, 1).
      feedback: static, the HARQ feedback the scheme's OLLA counts (``olla.feedback_counts``).
    """

    thresholds: jax.Array  # [2, 16] float32
    model: BlerModel
    olla: OllaParams = OllaParams()
    lt: LightTuneParams = LightTuneParams()
    tau: float = TAU_BLER
    max_backoff: int = struct.field(pytree_node=False, default=1)
    feedback: str = struct.field(pytree_node=False, default="first_tx")

    def init(self, key) -> CqiTuneState:
        """OLLA offset 0 and the offline model with fresh optimiser state."""
        return CqiTuneState(olla=olla_init(), learner=online.init(key, self.model, self.lt))

    def next_cqi(self, state: CqiTuneState, obs: Observation):
        """(reported CQI, backed off below the table CQI): the OLLA table CQI, backed off while the
        UE's FF model predicts P_hat >= tau for the next period's features (:func:`backoff_cqi`)."""
        c_tab = table_cqi(obs.report.sinr_eff_db, obs.report.ri, state.olla.offset_db, self.thresholds)
        x = period_features(obs.report, obs.pdsch_snr_hist, c_tab, obs.n_rb, obs.n_dmrs)
        cqi, _ = backoff_cqi(state.learner, x, c_tab, self.tau, self.max_backoff)
        return cqi, cqi < c_tab

    def update(self, key, state: CqiTuneState, out):
        """OLLA update from the period's counted ACK/NACKs and one LightTune ``tell`` on (features,
        BLER) of the period (``key``: the negative draw; the BLER label is eq. 11 under
        ``LinkConfig.bler_mode``)."""
        olla_state = olla_update(state.olla, *feedback_counts(out, self.feedback), self.olla)
        learner, m = online.tell(key, state.learner, out.features, out.bler, self.lt)
        return (CqiTuneState(olla=olla_state, learner=learner),
                metrics(olla_state.offset_db, ft_updated=m.updated, ft_error=m.error, ft_pred=m.prediction))

"""CQI-Tune (Alg. 2 of Ali & Penna): back off the OLLA table CQI while the UE's own fine-tuned
FF model predicts a BLER >= tau, never below CQI_min = max(CQI_table - max_backoff, 1).

Alg. 2 as printed loops ``while P_hat(CQI) >= tau and CQI >= CQI_min: CQI -= 1``, which can
end at CQI_min - 1 (it checks before decrementing). Issue #4 requires that the reported CQI is
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

The FF model comes from ``ltjax.lighttune``: ``BlerModel`` (offline FF params,
input standardisation, LightTune params), ``predict_bler`` and ``online_step`` (Alg. 1 with
normalisation and quantisation). This module only adds the back-off and thin wrappers.

Letters: J = max_backoff + 1 candidates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ltjax.linkadapt.ml_baseline import CQI_FEATURE
from ltjax.lighttune.model import predict_bler

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


def ff_predict_bler(ue_params, model, x_raw):
    """The FF BLER prediction (a class value, eq. 5) with the UE's own params. x_raw [12] -> []."""
    return predict_bler(ue_params, model, x_raw)


def backoff_cqi(ue_params, model, x_next_raw, cqi_table, tau=TAU_BLER, max_backoff: int = 1):
    """CQI-Tune's reported CQI for the next period.

    Args:
      ue_params: the UE's (fine-tuned) FF params.
      model: the FF ``BlerModel`` (standardisation, LightTune params).
      x_next_raw: float32 [12] next-period features (CQI feature overwritten per candidate).
      cqi_table: int32 [] OLLA table CQI.
      max_backoff: static, CQI_min = max(cqi_table - max_backoff, 1).
    Returns:
      (cqi int32 [], p_hat_table float32 [] = P_hat(CQI_table)).
    """
    c = jnp.asarray(cqi_table) - jnp.arange(max_backoff + 1)
    x = jnp.broadcast_to(jnp.asarray(x_next_raw, jnp.float32), (max_backoff + 1, 12))
    x = x.at[:, CQI_FEATURE].set(c.astype(jnp.float32))
    p = jax.vmap(lambda xi: ff_predict_bler(ue_params, model, xi))(x)
    cqi = backoff_from_predictions(p, cqi_table, cqi_min_of(cqi_table, max_backoff), tau)
    return cqi, p[0]

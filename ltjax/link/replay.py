"""One period replayed under other draws: the same features, independent labels.

The label of a period (its BLER, eq. 11) is not a function of the period's 12 features: the
features are measured before the period starts (the CSI report a few ms before it, the PDSCH
SNRs of the last transmissions), the label is made by the channel over the next 80 ms, the
RB position and the per-slot ACK/NACK draws. Replaying one period from the same
``LinkState`` with the same ``PeriodInputs`` (so the same features, which the engine takes
from the state and the inputs) and other keys measures that spread:

- *channel known*: the same channel (the state's), a fresh period key: the RB start, the
  per-slot ACK/NACK draws (and the CSI noise of the next report) change;
- *channel redrawn* (:func:`redraw_channel`): the channel drawn from its conditional
  distribution given its taps at the instants the features were measured
  (:func:`feature_times`), and a fresh period key.

Every replay's features equal the original's, so the spread of the replayed labels is label
noise *given the features* (and given more: the exact channel at those instants, the HARQ
state, the report), which no predictor of the features can remove.

Per UE and pure, like the rest of ``ltjax.link``; the built-in TDL channel only (a user
channel or a profile switch has no conditional draw here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ltjax.channels.fading import resample_given
from ltjax.link.config import LinkConfig, LinkParams, LinkState
from ltjax.link.engine import csi_measurement_time, period_start_s, slot_times

N_HISTORY = 4  # PDSCH-SNR features: the last 4 transmissions (LinkState.pdsch_snr_hist)


def feature_times(state: LinkState, cfg: LinkConfig) -> jax.Array:
    """float32 [6] absolute times [s] at which the channel entered the features of period ``state.period``.

    The CSI report's two measurement instants (``csi_measurement_time`` of the period start
    and ``doppler_lag_s`` before it: SNR, capacity, RI/PMI, CQI, delay spread, Doppler) and
    the last 4 slots of the previous period (the PDSCH-SNR history; one PDSCH per slot). At
    period 0 the history is a copy of the report and the slot times lie before t = 0: they
    are kept as instants all the same (conditioning on more never widens the spread).
    """
    t0 = period_start_s(state, cfg)
    t_meas = csi_measurement_time(t0, cfg)
    prev = slot_times(t0 - jnp.float32(cfg.period_s), cfg)[-N_HISTORY:]
    return jnp.concatenate([jnp.stack([t_meas, t_meas - jnp.float32(cfg.doppler_lag_s)]), prev]).astype(jnp.float32)


def redraw_channel(key, state: LinkState, params: LinkParams) -> LinkState:
    """``state`` with its channel drawn from the conditional distribution given its taps at
    :func:`feature_times` (``ltjax.channels.resample_given``); everything else is kept.

    Raises ValueError (at trace time) for a user channel or a profile switch.
    """
    cfg = params.cfg
    if cfg.user_channel is not None or cfg.dynamics == "profile_switch":
        raise ValueError("redraw_channel: the built-in TDL channel without a profile switch only")
    channel = resample_given(key, state.channel, feature_times(state, cfg), cfg.channel, params.channel)
    return state.replace(channel=channel)


__all__ = ["N_HISTORY", "feature_times", "redraw_channel"]

"""Channels: TR 38.901 scalable TDL-A/B/C, sum-of-sinusoids Doppler, Kronecker MIMO correlation.

Letters: R resource blocks, L taps, Nr UE antennas, Nt gNB ports, K sinusoids, S slots,
U UEs. Every function here is for ONE UE (unbatched), pure, float32/complex64, and safe
under jit and vmap; ``ltjax.batching.map_ues`` batches UEs (``fold_in(point_key, ue)``)
and the link engine scans slots.
See docs/channels.md.
"""

from ltjax.channels.fading import (
    AWGN_MATRICES,
    CORRELATION_LEVELS,
    MAX_RB,
    MODELS,
    ChannelConfig,
    ChannelParams,
    ChannelState,
    awgn_matrix,
    channel_freq_response,
    channel_taps,
    check_channel_params,
    correlation_matrix,
    init_channel,
    make_channel_params,
    max_delay_spread_s,
    max_doppler_hz,
    precoded_channel,
    resample_given,
    slot_duration_s,
    steering_phasors,
    validate_channel_config,
)
from ltjax.channels.batch import freq_response
from ltjax.channels.scenarios import FLAT_REFERENCES, NAMED as NAMED_SCENARIOS, Scenario, scenario
from ltjax.channels.tdl import TDL_NAMES, TDL_TABLES, normalized_profile, rms_delay_spread, tdl_profile
from ltjax.channels.user import ChannelModel, check_channel_model, precoded_response

__all__ = [
    "AWGN_MATRICES", "CORRELATION_LEVELS", "FLAT_REFERENCES", "MAX_RB", "MODELS", "NAMED_SCENARIOS", "Scenario",
    "TDL_NAMES", "TDL_TABLES", "ChannelConfig", "ChannelModel", "ChannelParams", "ChannelState", "awgn_matrix",
    "channel_freq_response", "channel_taps",
    "check_channel_model", "check_channel_params", "correlation_matrix", "freq_response", "init_channel", "make_channel_params",
    "max_delay_spread_s", "max_doppler_hz", "normalized_profile", "precoded_channel", "precoded_response",
    "resample_given", "rms_delay_spread", "scenario", "slot_duration_s", "steering_phasors", "tdl_profile",
    "validate_channel_config",
]

"""CSI-RS report pieces: Type I codebook, RI/PMI/capacity, SNR / delay-spread / Doppler estimators.

Letters: R resource blocks, Nr UE antennas, Nt gNB ports, r rank (<= 2), P precoders.
Per-UE, pure, float32, jit/vmap-safe. CQI selection lives in ltjax.link (it needs the
PHY abstraction). See docs/channels.md and docs/link_api.md.
"""

from ltjax.csi.codebook import type1_codebook
from ltjax.csi.estimators import (
    DEFAULT_DOPPLER_LAG_S,
    bessel_j0,
    csi_snr_estimate,
    csi_snr_true,
    estimate_delay_spread,
    estimate_doppler,
    inverse_j0,
    noisy_estimate,
    window_rms_width_s,
)
from ltjax.csi.report import CsiReport, precoder_capacity, select_ri_pmi

__all__ = [
    "DEFAULT_DOPPLER_LAG_S", "CsiReport", "bessel_j0", "csi_snr_estimate", "csi_snr_true",
    "estimate_delay_spread", "estimate_doppler", "inverse_j0", "noisy_estimate",
    "precoder_capacity", "select_ri_pmi", "type1_codebook", "window_rms_width_s",
]

"""Link-level reference chain: QAM (TS 38.211 5.1), layer mapping and precoding, per-RE
LMMSE, LDPC coding (``ltjax.fec``), and BLER curves with confidence intervals.

Letters: A TB bits, G coded bits, Qm bits per symbol, v layers, Nre resource elements,
Nr receive antennas, Nt transmit ports, B transport blocks, P SNR points.
See docs/ldpc_reference.md.
"""

from ltjax.linklevel.chain import (LinkConfig, TbResult, awgn_llr, channel_llr,
                                   code_block_link_config, mcs_link_config, mcs_n_prb_for_tbs,
                                   simulate_tb, simulate_tb_awgn, simulate_tbs,
                                   simulate_tbs_awgn, transmit)
from ltjax.linklevel.curves import (BlerCurve, adaptive_bler_curve, awgn_batch_fn, bler_curve,
                                    bler_point, channel_batch_fn, wilson_interval)
from ltjax.linklevel.mimo import effective_channel, layer_demap, layer_map, lmmse_equalize
from ltjax.linklevel.modulation import constellation, demap, modulate, pam_levels

__all__ = [
    "BlerCurve", "LinkConfig", "TbResult", "adaptive_bler_curve", "awgn_batch_fn", "awgn_llr",
    "bler_curve", "bler_point", "channel_batch_fn", "channel_llr", "code_block_link_config",
    "constellation", "demap", "effective_channel", "layer_demap", "layer_map", "lmmse_equalize",
    "mcs_link_config", "mcs_n_prb_for_tbs", "modulate", "pam_levels", "simulate_tb",
    "simulate_tb_awgn", "simulate_tbs", "simulate_tbs_awgn", "transmit", "wilson_interval",
]

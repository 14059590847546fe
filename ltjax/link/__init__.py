"""Link-level engine: one UE's CSI-RS period as a scan over slots, runs as a scan over
periods, vmapped over UEs in ``rollout``. See docs/link_engine.md.

Letters: U UEs, T periods, S slots per period, R resource blocks, Nr UE antennas, Nt gNB
ports, r rank (<= 2), P HARQ processes, F features (12).
"""

from ltjax.link.config import (
    FEATURE_NAMES, N_FEATURES, CsiOut, LinkConfig, LinkParams, LinkState, PeriodInputs,
    PeriodOutputs, make_link_params,
)
from ltjax.link.engine import (
    csi_report, init_link, link_period, period_features, select_cqi, slot_step, tb_error_rate,
)
from ltjax.link.rollout import fixed_mcs, follow_cqi, run_ue, simulate

__all__ = [
    "FEATURE_NAMES", "N_FEATURES", "CsiOut", "LinkConfig", "LinkParams", "LinkState",
    "PeriodInputs", "PeriodOutputs", "csi_report", "fixed_mcs", "follow_cqi", "init_link",
    "link_period", "make_link_params", "period_features", "run_ue", "select_cqi", "simulate",
    "slot_step", "tb_error_rate",
]

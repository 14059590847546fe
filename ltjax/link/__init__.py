"""Link-level engine: one UE's CSI-RS period as a scan over slots (``engine``), runs as a
scan over periods (``rollout``); UEs are batched by ``ltjax.batching.map_ues``. See
docs/link_engine.md.

Letters: U UEs, T periods, S slots per period, R resource blocks, Nr UE antennas, Nt gNB
ports, r rank (<= 2), P HARQ processes, F features (12).
"""

from ltjax.link.config import (
    FEATURE_NAMES, N_FEATURES, CsiOut, LinkConfig, LinkParams, LinkState, PeriodInputs,
    PeriodOutputs, SlotOutputs, link_params_for_scenario, make_link_params, noise_var,
)
from ltjax.link.engine import (
    allocate, csi_report, init_link, link_period, link_tables, period_bler, period_features,
    period_outputs, run_slots, select_cqi, slot_sinr, slot_step, tb_error_rate,
)
from ltjax.link.rollout import Policy, fixed_inputs, fixed_mcs, follow_cqi, run_ue

__all__ = [
    "FEATURE_NAMES", "N_FEATURES", "CsiOut", "LinkConfig", "LinkParams", "LinkState", "PeriodInputs",
    "PeriodOutputs", "Policy", "SlotOutputs", "allocate", "csi_report", "fixed_inputs", "fixed_mcs",
    "follow_cqi", "init_link", "link_params_for_scenario", "link_period", "link_tables",
    "make_link_params", "noise_var", "period_bler", "period_features", "period_outputs", "run_slots",
    "run_ue", "select_cqi", "slot_sinr", "slot_step", "tb_error_rate",
]

"""Link-level engine: one UE's CSI-RS period as a scan over slots (``engine``), runs as a
scan over periods (``rollout``); UEs are batched by ``ltjax.batching.map_ues``. See
docs/link_engine.md.

Letters: U UEs, T periods, S slots per period, R resource blocks, Nr UE antennas, Nt gNB
ports, r rank (<= 2), P HARQ processes, F features (12).
"""

from ltjax.link.config import (
    BLER_MODES, CQI_TABLES, FEATURE_NAMES, LEGACY_PHYSICS, N_FEATURES, OLLA_FEEDBACK, PDSCH_SNR_INITS, RI_RULES,
    CsiOut, GnbLoopState, GnbOllaParams, LinkConfig, LinkParams, LinkState, PeriodInputs, PeriodOutputs,
    SlotOutputs, legacy_physics, link_params_for_scenario, make_link_params, noise_var,
)
from ltjax.link.counterfactual import backed_off_inputs, counterfactual_period
from ltjax.link.dynamics import DYNAMICS, DynamicsParams, params_in_force
from ltjax.link.engine import (
    allocate, chest_terms, csi_report, dmrs_error_var, effective_channel, freq_response, init_link,
    link_period, link_tables, period_bler, period_features, period_outputs, run_slots, select_cqi,
    slot_sinr, slot_step, table_sinr, tb_error_rate,
)
from ltjax.link.replay import feature_times, redraw_channel
from ltjax.link.rollout import Policy, fixed_inputs, fixed_mcs, follow_cqi, run_ue

__all__ = [
    "BLER_MODES", "CQI_TABLES", "DYNAMICS", "FEATURE_NAMES", "LEGACY_PHYSICS", "N_FEATURES", "OLLA_FEEDBACK",
    "PDSCH_SNR_INITS", "RI_RULES", "CsiOut", "DynamicsParams", "GnbLoopState", "GnbOllaParams", "LinkConfig",
    "LinkParams", "LinkState", "PeriodInputs", "PeriodOutputs", "Policy", "SlotOutputs", "allocate",
    "backed_off_inputs", "chest_terms", "counterfactual_period", "csi_report", "dmrs_error_var",
    "effective_channel", "feature_times", "fixed_inputs", "fixed_mcs", "follow_cqi", "freq_response", "init_link",
    "legacy_physics", "link_params_for_scenario", "link_period", "link_tables", "make_link_params",
    "noise_var", "params_in_force", "period_bler", "period_features", "period_outputs", "redraw_channel", "run_slots",
    "run_ue", "select_cqi", "slot_sinr", "slot_step", "table_sinr", "tb_error_rate",
]

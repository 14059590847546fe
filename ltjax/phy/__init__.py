"""PHY abstraction: 3GPP tables, TBS/segmentation, LMMSE SINR, MIESM/EESM, BLER, DMRS
channel-estimation error and HARQ. Per-UE, pure, float32, jit/vmap-safe.

Letters: R resource blocks, Nr UE antennas, Nt gNB ports, r layers (<= 2), P HARQ processes.
See docs/phy_abstraction.md.
"""

from ltjax.phy.api import TbBlerResult, tb_bler
from ltjax.phy.bler import code_block_bler, implementation_margin_db, transport_block_bler
from ltjax.phy.chest import ageing_error, chest_error_var
from ltjax.phy.effective_sinr import eesm_beta, eesm_db, miesm_db, mutual_information
from ltjax.phy.harq import HarqState, TbDesc, harq_feedback, harq_select, init_harq
from ltjax.phy.sinr import lmmse_sinr
from ltjax.phy.tbs import Segmentation, segment, tbs, tbs_tables

__all__ = [
    "HarqState", "Segmentation", "TbBlerResult", "TbDesc", "ageing_error", "chest_error_var", "code_block_bler",
    "eesm_beta", "eesm_db", "harq_feedback", "harq_select", "implementation_margin_db",
    "init_harq", "lmmse_sinr", "miesm_db", "mutual_information", "segment", "tb_bler", "tbs", "tbs_tables",
    "transport_block_bler",
]

"""3GPP NR tables used by the PHY abstraction, as data (numpy, import-time constants).

Every table cites its clause. Index conventions: CQI 0..15 (CQI 0 = "out of range"),
MCS 0..28 of MCS table 1 (64QAM table). ``Qm`` is bits per modulation symbol, rates are
stored as in the specification, i.e. ``rate_x1024 = R * 1024``.
"""

from __future__ import annotations

import numpy as np

# TS 38.214 Table 5.2.2.1-2 (4-bit CQI table 1). Index = CQI. CQI 0 is "out of range"
# (Qm = 0, rate = 0): no transport block is decodable.
CQI_QM = np.array([0, 2, 2, 2, 2, 2, 2, 4, 4, 4, 6, 6, 6, 6, 6, 6], dtype=np.int32)
CQI_RATE_X1024 = np.array(
    [0, 78, 120, 193, 308, 449, 602, 378, 490, 616, 466, 567, 666, 772, 873, 948], dtype=np.int32
)
CQI_SE = np.array(
    [0.0, 0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141, 2.4063, 2.7305,
     3.3223, 3.9023, 4.5234, 5.1152, 5.5547], dtype=np.float64
)
N_CQI = 16

# TS 38.214 Table 5.1.3.1-1 (PDSCH MCS index table 1), MCS 0..28 (29-31 are reserved
# for retransmissions and not used: a retransmission keeps its original MCS here).
MCS_QM = np.array([2] * 10 + [4] * 7 + [6] * 12, dtype=np.int32)
MCS_RATE_X1024 = np.array(
    [120, 157, 193, 251, 308, 379, 449, 526, 602, 679,
     340, 378, 434, 490, 553, 616, 658,
     438, 466, 517, 567, 616, 666, 719, 772, 822, 873, 910, 948], dtype=np.int32
)
N_MCS = 29

# CQI -> MCS with the same modulation and code rate (CQI table 1 vs MCS table 1).
# CQI 1 (QPSK 78/1024) has no MCS with that rate; it maps to the lowest MCS 0
# (QPSK 120/1024). CQI 0 ("out of range") also maps to MCS 0: the gNB keeps
# scheduling at the most robust MCS rather than stopping.
CQI_TO_MCS = np.array([0, 0, 0, 2, 4, 6, 8, 11, 13, 15, 18, 20, 22, 24, 26, 28], dtype=np.int32)

# EESM calibration beta per MCS of MCS table 1 (MCS 0..28), the values published with
# ns-3 5G-LENA and NVIDIA Sionna SYS (see ../shared/reference/nr_facts.md).
EESM_BETA = np.array(
    [1.60, 1.61, 1.63, 1.65, 1.67, 1.70, 1.73, 1.76, 1.79, 1.82, 3.97, 4.27, 4.71, 5.16, 5.66,
     6.16, 6.50, 9.95, 10.97, 12.92, 14.96, 17.06, 19.33, 21.85, 24.51, 27.14, 29.94, 32.05,
     34.28], dtype=np.float64
)

# TS 38.214 Table 5.1.3.2-1: TBS for N_info <= 3824 (93 entries).
TBS_TABLE_SMALL = np.array(
    [24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160, 168, 176,
     184, 192, 208, 224, 240, 256, 272, 288, 304, 320, 336, 352, 368, 384, 408, 432, 456, 480,
     504, 528, 552, 576, 608, 640, 672, 704, 736, 768, 808, 848, 888, 928, 984, 1032, 1064,
     1128, 1160, 1192, 1224, 1256, 1288, 1320, 1352, 1416, 1480, 1544, 1608, 1672, 1736, 1800,
     1864, 1928, 2024, 2088, 2152, 2216, 2280, 2408, 2472, 2536, 2600, 2664, 2728, 2792, 2856,
     2976, 3104, 3240, 3368, 3496, 3624, 3752, 3824], dtype=np.int64
)
assert TBS_TABLE_SMALL.size == 93

# TS 38.211 Table 7.4.1.1.2-3, PDSCH mapping type A, l_d = 14 (symbols 0..13 of a slot),
# l_0 = 2 (dmrs-TypeA-Position pos2), single-symbol DMRS; dmrs-AdditionalPosition
# pos0..pos3 gives 1..4 DMRS symbols. Index = number of DMRS symbols - 1.
DMRS_SYMBOLS = ((2,), (2, 11), (2, 7, 11), (2, 5, 8, 11))

# OFDM numerology mu = 1 (30 kHz SCS), normal cyclic prefix: 14 symbols per 0.5 ms slot.
SLOT_S = 0.5e-3
SYMBOLS_PER_SLOT = 14
SUBCARRIERS_PER_RB = 12

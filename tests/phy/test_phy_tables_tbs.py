"""TBS (TS 38.214 5.1.3.2), segmentation (TS 38.212 5.2.2) and table consistency."""

import numpy as np
import pytest

from ltjax.phy import tables as T
from ltjax.phy.tbs import n_re_per_prb, segment, tbs, tbs_tables


@pytest.mark.parametrize("n_prb,nre,qm,rate,v,expected", [
    # N_info = 156*120/1024*2 = 36.6 -> n = 3, N_info' = 32 -> table 32.
    (1, 156, 2, 120, 1, 32),
    # N_info = 10*132*679/1024*2 = 1750.6 -> n = 4, N_info' = 1744 -> table 1800.
    (10, 132, 2, 679, 1, 1800),
    # N_info = 6864*378/1024*4 = 10135 -> n = 8, N_info' = 9984, C = 2 -> 16*626-24 = 9992.
    (52, 132, 4, 378, 1, 9992),
    # N_info = 15264*948/1024*12 = 169573 -> n = 12, N_info' = 167936, C = 20 -> 167976.
    (106, 144, 6, 948, 2, 167976),
    # R <= 1/4 branch: N_info = 106*156*120/1024*2 = 3875.6 -> n = 6, N_info' = 3840,
    # C = ceil(3864/3816) = 2 -> 16*ceil(3864/16) - 24 = 16*242 - 24 = 3848.
    (106, 156, 2, 120, 1, 3848),
])
def test_tbs_hand_checked(n_prb, nre, qm, rate, v, expected):
    assert tbs(n_prb, nre, qm, rate, v) == expected


def test_segmentation():
    s = segment(167976, 948, 1)
    assert (s.base_graph, s.n_cb) == (1, 20)  # B = 168000 > 8448 -> C = ceil(168000/8424) = 20
    assert s.k_cb * s.n_cb == 167976 + 24 + 24 * 20
    s = segment(1800, 679, 1)  # A <= 3824 and R = 0.663 <= 0.67 -> BG2, one block of A + 16
    assert (s.base_graph, s.n_cb, s.k_cb) == (2, 1, 1816)
    s = segment(3000, 873, 1)  # A > 292 and R = 0.85 > 0.67 -> BG1
    assert (s.base_graph, s.n_cb, s.k_cb) == (1, 1, 3016)
    s = segment(3848, 120, 1)  # R <= 0.25 -> BG2, B = 3872 > K_cb = 3840 -> C = 2
    assert (s.base_graph, s.n_cb) == (2, 2)


def test_dmrs_costs_res():
    assert [n_re_per_prb(13, d) for d in (1, 2, 3, 4)] == [144, 132, 120, 108]
    t = tbs_tables()
    assert np.all(np.diff(t.tbs[:, :, :, 106], axis=2) < 0)  # more DMRS -> smaller TB


def test_tables_consistent():
    assert T.MCS_QM.size == T.MCS_RATE_X1024.size == T.EESM_BETA.size == 29
    for cqi in range(2, 16):  # same modulation and rate
        m = T.CQI_TO_MCS[cqi]
        assert T.CQI_QM[cqi] == T.MCS_QM[m] and T.CQI_RATE_X1024[cqi] == T.MCS_RATE_X1024[m]
    se = T.CQI_QM[1:] * T.CQI_RATE_X1024[1:] / 1024
    np.testing.assert_allclose(se, T.CQI_SE[1:], atol=1e-3)
    t = tbs_tables()
    assert np.all(np.diff(t.tbs[:, 0, 1, 1:], axis=1) >= 0)  # TBS grows with RBs

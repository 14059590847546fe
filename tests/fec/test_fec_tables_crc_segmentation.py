"""Base-graph tables, CRC and code-block segmentation (TS 38.212 5.1, 5.2.2, 5.3.2, 7.2.2)."""

import numpy as np
import pytest

from ltjax.fec import (LIFTING_SETS, LIFTING_SIZES, base_graph, code_block_segmentation,
                       crc_attach, crc_check, crc_parity, desegment, segment, select_base_graph,
                       set_index, tb_crc_poly)
from ltjax.fec.crc import CRC_POLYS
from ltjax.fec.ldpc import lifted_graph
from ltjax.phy.tables import MCS_QM, MCS_RATE_X1024
from ltjax.phy.tbs import n_re_per_prb, segment as phy_segment, tbs


def test_lifting_sizes_table_5_3_2_1():
    assert len(LIFTING_SIZES) == 51 and len(set(LIFTING_SIZES)) == 51
    assert LIFTING_SIZES[0] == 2 and LIFTING_SIZES[-1] == 384
    for i, s in enumerate(LIFTING_SETS):
        a = s[0]
        assert s == tuple(a * 2 ** j for j in range(len(s))) and max(s) <= 384
        assert all(set_index(z) == i for z in s)
    with pytest.raises(ValueError):
        set_index(17)


@pytest.mark.parametrize("bg, m, n, entries", [(1, 46, 68, 316), (2, 42, 52, 197)])
def test_base_graph_shape_and_shift_ranges(bg, m, n, entries):
    for i_ls, zs in enumerate(LIFTING_SETS):
        g = base_graph(bg, i_ls)
        assert g.rows.size == entries
        dense = g.dense()
        assert dense.shape == (m, n)
        # Same edge pattern in every set; V_ij < the largest Z of its set.
        assert np.array_equal(dense >= 0, base_graph(bg, 0).dense() >= 0)
        assert g.shifts.min() >= 0 and g.shifts.max() < max(zs)
        # Extension part: column Kb + i of row i >= 4 is the identity (V = 0), nothing else there.
        kb = 22 if bg == 1 else 10
        ext = dense[4:, kb + 4:]
        assert np.array_equal(ext >= 0, np.eye(m - 4, dtype=bool)) and np.all(ext[ext >= 0] == 0)


def test_every_lifted_graph_has_the_dual_diagonal_core():
    # lifted_graph raises when the core parity block is not solvable row by row.
    for bg in (1, 2):
        for z in LIFTING_SIZES:
            g = lifted_graph(bg, z)
            assert sum(int(mask.sum()) for _, mask in g.layers) == g.rows.size
            assert len(g.core_steps) == 3


def _crc_long_division(bits, poly):
    n_par, exps = CRC_POLYS[poly]
    g = [0] * (n_par + 1)
    for e in exps:
        g[n_par - e] = 1
    reg = list(bits) + [0] * n_par
    for i in range(len(bits)):
        if reg[i]:
            for j in range(n_par + 1):
                reg[i + j] ^= g[j]
    return reg[-n_par:]


@pytest.mark.parametrize("poly", sorted(CRC_POLYS))
def test_crc_matches_long_division(poly):
    rng = np.random.default_rng(7)
    for a_len in (1, 24, 100):
        bits = rng.integers(0, 2, (3, a_len))
        got = np.asarray(crc_parity(bits, poly))
        want = np.array([_crc_long_division(b, poly) for b in bits])
        assert np.array_equal(got, want)
        b = np.array(crc_attach(bits, poly))
        assert np.all(np.asarray(crc_check(b, poly)))
        b[:, a_len // 2] ^= 1
        assert not np.any(np.asarray(crc_check(b, poly)))


def test_crc_catalogue_check_values():
    # Check values of "123456789" (CRC catalogue): CRC-16/XMODEM, CRC-24/LTE-A, CRC-24/LTE-B.
    msg = np.unpackbits(np.frombuffer(b"123456789", np.uint8))
    for poly, want in (("16", 0x31C3), ("24A", 0xCDE703), ("24B", 0x23EF52)):
        par = np.asarray(crc_parity(msg, poly))
        assert int("".join(map(str, par)), 2) == want


def test_crc_matches_py3gpp():
    py3gpp = pytest.importorskip("py3gpp.nrCRCEncode")
    rng = np.random.default_rng(3)
    for poly in ("24A", "24B", "24C", "16", "11", "6"):
        bits = rng.integers(0, 2, 77)
        want = py3gpp.nrCRCEncode(bits, poly)[:, 0]
        assert np.array_equal(np.asarray(crc_attach(bits, poly)), want)


def test_base_graph_selection_7_2_2():
    assert select_base_graph(292, 0.9) == 2 and select_base_graph(293, 0.9) == 1
    assert select_base_graph(3824, 0.67) == 2 and select_base_graph(3824, 0.68) == 1
    assert select_base_graph(3825, 0.5) == 1 and select_base_graph(100000, 0.25) == 2
    assert tb_crc_poly(3824) == "16" and tb_crc_poly(3825) == "24A"


def test_segmentation_agrees_with_phy_tbs():
    # ltjax.phy.tbs computes C, K' and the base graph independently (used by the abstraction).
    nre = n_re_per_prb(13, 1)
    for mcs in range(0, 29, 3):
        for n_prb in (1, 3, 10, 40, 106, 273):
            for layers in (1, 2):
                qm, rate = int(MCS_QM[mcs]), int(MCS_RATE_X1024[mcs])
                a = tbs(n_prb, nre, qm, rate, layers)
                ref = phy_segment(a, rate, 0)
                bg = select_base_graph(a, rate / 1024)
                s = code_block_segmentation(a + (24 if a > 3824 else 16), bg)
                assert (s.bg, s.n_cb, s.k_prime) == (ref.base_graph, ref.n_cb, ref.k_cb)
                assert s.k >= s.k_prime and s.kb * s.z >= s.k_prime


def test_segmentation_matches_py3gpp_sizes_and_bits():
    info = pytest.importorskip("py3gpp.nrDLSCHInfo")
    seg_mod = pytest.importorskip("py3gpp.nrCodeBlockSegmentLDPC")
    rng = np.random.default_rng(11)
    nre = n_re_per_prb(13, 1)
    cases = [(int(tbs(n, nre, int(MCS_QM[m]), int(MCS_RATE_X1024[m]), v)), int(MCS_RATE_X1024[m]))
             for m, n, v in ((0, 2, 1), (4, 5, 1), (9, 20, 1), (15, 30, 2), (2, 120, 1), (12, 8, 1))]
    for a, rate in cases:
        ref = info.nrDLSCHInfo(a, rate / 1024)
        bg = select_base_graph(a, rate / 1024)
        s = code_block_segmentation(a + ref["L"], bg)
        assert (bg, s.n_cb, s.z, s.k, s.n_filler) == (ref["BGN"], ref["C"], ref["Zc"], ref["K"], ref["F"])
        b = rng.integers(0, 2, s.b_bits)
        want = seg_mod.nrCodeBlockSegmentLDPC(b, bg).T  # [C, K], filler bits = -1
        got = np.asarray(segment(b, s))
        assert np.all(want[:, s.filler] == -1) and np.all(got[:, s.filler] == 0)
        assert np.array_equal(got[:, :s.k_prime], want[:, :s.k_prime])


def test_segment_desegment_round_trip_and_cb_crc():
    s = code_block_segmentation(20016 + 24, 1)
    assert (s.n_cb, s.crc_bits) == (3, 24)
    b = np.random.default_rng(0).integers(0, 2, s.b_bits)
    c = np.array(segment(b, s))
    back, ok = desegment(c, s)
    assert np.array_equal(np.asarray(back), b) and np.all(np.asarray(ok))
    c[1, 5] ^= 1
    _, ok = desegment(c, s)
    assert np.asarray(ok).tolist() == [True, False, True]

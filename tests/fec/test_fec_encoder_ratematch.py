"""LDPC encoding (TS 38.212 5.3.2) and rate matching (5.4.2), against py3gpp where installed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.fec import (LdpcCode, RateMatchConfig, TbCodingConfig, code_block_e, code_block_llrs,
                       encode, encode_full, k0, n_cb_lbrm, rate_match, rate_recover, syndrome, tb_encode)
from ltjax.fec.ratematch import FILLER_LLR, rate_match_indices

MOD = {2: "QPSK", 4: "16QAM", 6: "64QAM", 8: "256QAM"}


def _encoder(code):
    return jax.jit(jax.vmap(lambda c: (encode_full(code, c), syndrome(code, encode_full(code, c)))))


@pytest.mark.parametrize("bg, z", [(1, 2), (1, 36), (2, 3), (2, 52)])
def test_every_code_word_has_zero_syndrome(bg, z):
    code = LdpcCode(bg, z)
    c = np.random.default_rng(z).integers(0, 2, (4, code.k))
    x, s = _encoder(code)(c)
    assert x.shape == (4, code.n_full) and np.array_equal(np.asarray(x[:, :code.k]), c)
    assert int(jnp.sum(s)) == 0
    # The same check in numpy from the edge list; one flipped bit breaks at least one check.
    g = code.graph()
    for pos in (None, 0, code.k + 1, code.n_full - 1):
        xf = np.array(x[0])
        if pos is not None:
            xf[pos] ^= 1
        chk = np.zeros((code.n_rows, z), np.int64)
        np.add.at(chk, g.rows, xf[g.var_idx])
        assert (np.count_nonzero(chk % 2) > 0) == (pos is not None)


@pytest.mark.parametrize("bg, z", [(1, 2), (1, 13), (1, 384), (2, 72), (2, 104), (2, 384)])
def test_encoder_matches_py3gpp(bg, z):
    # py3gpp 0.6.0 picks the shift set from K with the K_b thresholds of B, which is only right
    # for BG2 when K > 640 (Z >= 72); smaller BG2 lifting sizes are covered by the syndrome test.
    enc = pytest.importorskip("py3gpp.nrLDPCEncode")
    code = LdpcCode(bg, z)
    c = np.random.default_rng(bg * 1000 + z).integers(0, 2, (code.k, 2))
    c[code.k - 5:, :] = -1  # filler bits
    want = enc.nrLDPCEncode(c, bg)  # [N, 2], filler positions -1
    got = np.asarray(jax.jit(jax.vmap(lambda x: encode(code, x)))(np.where(c < 0, 0, c).T)).T
    fill = want == -1
    assert np.array_equal(fill[:, 0], fill[:, 1]) and fill.sum() == 10
    assert np.all(got[fill] == 0) and np.array_equal(got[~fill], want[~fill])


def _d_with_filler(rng, bg, z, k_prime):
    code = LdpcCode(bg, z)
    d = rng.integers(0, 2, code.n)
    d[k_prime - 2 * z: code.k - 2 * z] = -1
    return code, d


@pytest.mark.parametrize("bg, z, k_prime", [(1, 384, 8000), (1, 16, 300), (2, 104, 1000), (2, 8, 60)])
def test_rate_matching_matches_py3gpp(bg, z, k_prime):
    rm = pytest.importorskip("py3gpp.nrRateMatchLDPC")
    rng = np.random.default_rng(z)
    code, d = _d_with_filler(rng, bg, z, k_prime)
    d0 = np.where(d < 0, 0, d)
    for rv in range(4):
        for j, qm in enumerate((2, 4, 6, 8)):
            # short, about half the buffer, or longer than the buffer (repetition)
            e = (qm * 37, qm * (code.n // qm // 2), qm * (code.n // qm + 100))[(rv + j) % 3]
            cfg = RateMatchConfig(bg, z, k_prime, code.k, e, qm, rv)
            want = rm.nrRateMatchLDPC(d[:, None], e, rv, MOD[qm], 1)
            assert np.array_equal(d0[rate_match_indices(cfg)], want), (rv, qm, e)
    assert np.array_equal(np.asarray(rate_match(d0, cfg)), want)


@pytest.mark.parametrize("a, rate, qm, g_bits", [(1000, 0.3, 2, 3000), (600, 0.8, 4, 800),
                                                  (3000, 0.5, 6, 25800)])
def test_rate_recovery_matches_py3gpp(a, rate, qm, g_bits):
    rr = pytest.importorskip("py3gpp.nrRateRecoverLDPC")
    rng = np.random.default_rng(a)
    for rv in range(4):
        cfg = TbCodingConfig(tbs=a, g_bits=g_bits, qm=qm, rate=rate, rv=rv)
        assert cfg.segmentation.n_cb == 1
        llr = rng.normal(size=g_bits).astype(np.float32)
        want = rr.nrRateRecoverLDPC(llr, a, rate, rv, MOD[qm], 1, 1)[:, 0]
        got = np.asarray(code_block_llrs(cfg, llr))[0]
        fill = np.isinf(want)
        assert fill.sum() == cfg.segmentation.n_filler
        assert np.all(got[fill] == FILLER_LLR)
        np.testing.assert_allclose(got[~fill], want[~fill], rtol=1e-5, atol=1e-5)


def test_k0_table_5_4_2_1_2_and_lbrm():
    z = 384
    n = 66 * z
    assert [k0(1, z, n, rv) for rv in range(4)] == [0, 17 * z, 33 * z, 56 * z]
    assert [k0(2, z, 50 * z, rv) for rv in range(4)] == [0, 13 * z, 25 * z, 43 * z]
    # LBRM: N_ref = floor(TBS_LBRM / (C * 2/3)); TBS_LBRM = 50000, C = 2 -> 37500 > N: no limit.
    assert n_cb_lbrm(1, z, 2, 50000) == n
    ncb = n_cb_lbrm(1, z, 2, 20000)  # floor(20000 * 3 / 4) = 15000
    assert ncb == 15000
    assert k0(1, z, ncb, 2) == 19 * z  # floor(33 * 15000 / 25344) = 19
    cfg = RateMatchConfig(1, z, 8000, 22 * z, 40000, 2, rv=3, n_cb=ncb)
    idx = rate_match_indices(cfg)
    assert idx.max() < ncb and np.unique(idx).size == ncb - (22 * z - 8000)


def test_rate_recover_inverts_rate_match():
    z, k_prime = 40, 380
    code = LdpcCode(2, z)
    rng = np.random.default_rng(5)
    d = rng.integers(0, 2, code.n)
    d[k_prime - 2 * z: code.k - 2 * z] = 0
    for e in (600, 2400):  # part of the buffer; more than the buffer (repetitions combine)
        cfg = RateMatchConfig(2, z, k_prime, code.k, e, 6, rv=2)
        f = np.asarray(rate_match(d, cfg))
        llr = np.asarray(rate_recover(1.0 - 2.0 * f, cfg))
        sent = np.zeros(code.n, int)
        np.add.at(sent, rate_match_indices(cfg), 1)
        nz = sent > 0
        assert np.array_equal(llr[nz], (1.0 - 2.0 * d[nz]) * sent[nz])
        assert np.all(llr[cfg.filler] == FILLER_LLR)
        assert np.all(llr[~nz & (np.arange(code.n) < cfg.filler.start)] == 0)


def test_code_block_e_5_4_2_1():
    assert code_block_e(1200, 3, 2) == (400, 400, 400)
    # G / (N_L Qm) = 101 symbol groups over C = 3: r <= 3 - mod(101, 3) - 1 = 0 gets 33, the rest 34.
    e = code_block_e(101 * 4 * 2, 3, 4, n_layers=2)
    assert e == (264, 272, 272) and sum(e) == 808


def test_tb_encoder_jit_equals_no_jit():
    # CRC, segmentation with filler bits, LDPC encoding and rate matching with repetition.
    cfg = TbCodingConfig(tbs=40, g_bits=2 * 300, qm=2, rate=0.2)
    a = np.random.default_rng(1).integers(0, 2, cfg.tbs)
    jitted = jax.jit(lambda x: tb_encode(cfg, x))(a)
    with jax.disable_jit():
        eager = tb_encode(cfg, a)
        llr = code_block_llrs(cfg, 1.0 - 2.0 * np.asarray(eager, np.float32))
    assert np.array_equal(np.asarray(jitted), np.asarray(eager))
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda l: code_block_llrs(cfg, l))(
        1.0 - 2.0 * np.asarray(eager, np.float32))), np.asarray(llr))

"""Per-RE link-level chain (LMMSE, layers, TB coding) and BLER curves."""

import functools
import math
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.fec import DecoderConfig, TbCodingConfig, tb_decode, tb_encode
from ltjax.linklevel import (LinkConfig, TbResult, adaptive_bler_curve, awgn_batch_fn, bler_curve,
                             channel_batch_fn, code_block_link_config, lmmse_equalize, mcs_link_config,
                             wilson_interval)
from ltjax.linklevel.mimo import effective_channel
from ltjax.phy.sinr import lmmse_sinr

B = 16


def _rand_cn(key, shape):
    return jax.random.normal(key, shape, jnp.complex64)


@pytest.mark.parametrize("v", [1, 2])
def test_lmmse_sinr_matches_phy_abstraction(v):
    k1, k2 = jax.random.split(jax.random.key(v))
    h = _rand_cn(k1, (12, 2, 4))
    w = _rand_cn(k2, (4, v))
    w = w / jnp.linalg.norm(w)
    nv = 0.05
    both = jax.jit(lambda h, w: (lmmse_equalize(jnp.zeros((12, 2), jnp.complex64),
                                                effective_channel(h, w), nv)[1],
                                 lmmse_sinr(h, w, nv)))
    sinr, ref = both(h, w)
    np.testing.assert_allclose(np.asarray(sinr), np.asarray(ref), rtol=2e-4)


def test_lmmse_is_exact_without_noise_unbiased_and_its_sinr_is_the_residual():
    g = _rand_cn(jax.random.key(0), (6, 2, 2))
    n = 4000

    @jax.jit
    def moments(key, nv):
        kx, kn = jax.random.split(key)
        xs = (jnp.sign(jax.random.normal(kx, (n, 6, 2, 2))) @ jnp.array([1, 1j])
              / math.sqrt(2)).astype(jnp.complex64)  # QPSK, unit energy
        ys = jnp.einsum("nrv,knv->knr", g, xs) + _rand_cn(kn, (n, 6, 2)) * jnp.sqrt(nv)
        xh, sinr = jax.vmap(lambda y: lmmse_equalize(y, g, nv))(ys)
        return (sinr[0], jnp.max(jnp.abs(xh - xs)), jnp.mean(xh * jnp.conj(xs), axis=0),
                jnp.mean(jnp.abs(xh - xs) ** 2, axis=0))

    assert float(moments(jax.random.key(1), 1e-8)[1]) < 1e-2  # exact without noise
    # With random unit-energy symbols and noise: E[x^ x*] = E|x|^2 (unbiased) and
    # E|x^ - x|^2 = 1 / SINR per RE and layer. Tolerances: 5 sigma of the n-sample means.
    sinr, _, gain, resid = (np.asarray(v) for v in moments(jax.random.key(2), 0.3))
    assert np.all(np.abs(gain - 1.0) < 5 * np.sqrt((1 + 1 / sinr) / n))
    assert np.all(np.abs(resid * sinr - 1.0) < 5 / np.sqrt(n))


@functools.lru_cache(maxsize=None)
def _small_cfg():
    # 2 x 2 x 1 RB-sized TB: 16QAM, 2 layers, 72 REs -> G = 576, A = 256 (BG2, Z = 44 / C = 1).
    coding = TbCodingConfig(tbs=256, g_bits=72 * 2 * 4, qm=4, n_layers=2, rate=0.45)
    return LinkConfig(coding=coding, decoder=DecoderConfig(max_iter=20))


def test_tb_chain_noiseless_with_several_code_blocks():
    # C = 3 code blocks on BG1 (A = 20016 > 8448 - 24) with unequal E_r; LLRs from the bits.
    cfg = TbCodingConfig(tbs=20016, g_bits=2 * (3 * 4500 + 1), qm=2, rate=0.7)
    s = cfg.segmentation
    assert (s.bg, s.n_cb) == (1, 3) and len(set(cfg.e_bits)) == 2
    a = np.random.default_rng(0).integers(0, 2, cfg.tbs)
    f = jax.jit(lambda x: tb_encode(cfg, x))(a)
    res = jax.jit(lambda l: tb_decode(cfg, l))(6.0 * (1.0 - 2.0 * f.astype(jnp.float32)))
    assert np.array_equal(np.asarray(res.bits), a) and bool(res.tb_crc_ok)
    assert np.all(np.asarray(res.cb_crc_ok))


def test_mimo_two_layers_decodes_at_high_snr_and_fails_at_low_snr():
    cfg = _small_cfg()
    k_h, k_w, k_run = jax.random.split(jax.random.key(1), 3)
    h = _rand_cn(k_h, (cfg.n_re, 2, 2))
    w = jnp.eye(2, dtype=jnp.complex64) / math.sqrt(2)
    fn = jax.jit(lambda k, snr_db, ev: channel_batch_fn(cfg, h, w, err_var=ev)(k, snr_db))
    keys = jax.random.split(k_run, 8)
    good = fn(keys, 35.0, 0.0)
    bad = fn(keys, -5.0, 0.0)
    assert not np.any(np.asarray(good.error)) and np.all(np.asarray(good.crc_ok))
    assert np.all(np.asarray(bad.error)) and not np.any(np.asarray(bad.crc_ok))
    # Channel-estimation error lowers the post-equalisation SINR.
    noisy_est = fn(keys, 35.0, 0.05)
    assert float(jnp.mean(noisy_est.sinr_db)) < float(jnp.mean(good.sinr_db)) - 3.0


def test_wilson_interval():
    lo, hi = wilson_interval(10, 100)
    np.testing.assert_allclose([lo, hi], [0.0552, 0.1744], atol=1e-4)  # textbook values
    lo, hi = wilson_interval(0, 1000)
    assert lo == 0.0 and 0.0037 < hi < 0.0039  # ~ z^2 / n
    lo, hi = wilson_interval([5, 50], [50, 50])
    assert np.all(lo <= np.array([0.1, 1.0])) and np.all(hi >= np.array([0.1, 1.0]))


def _synthetic_batch_fn(snr10_db=1.0, probit_slope=-2.0):
    """A batch function with a known BLER curve, Phi(z10 + slope (snr - snr10)), no decoding."""
    z10 = statistics.NormalDist().inv_cdf(0.1)

    @jax.jit
    def fn(keys, snr_db):
        p = jax.scipy.stats.norm.cdf(z10 + probit_slope * (snr_db - snr10_db))
        u = jax.vmap(lambda k: jax.random.uniform(k))(keys)
        err = u < p
        return TbResult(error=err, crc_ok=~err, bit_errors=err.astype(jnp.int32),
                        n_iter=jnp.where(err, 20.0, 5.0), sinr_db=jnp.broadcast_to(snr_db, keys.shape))

    return fn


def test_bler_curve_stop_rule_and_reproducibility():
    fn = _synthetic_batch_fn()
    kw = dict(batch=B, min_errors=12, max_blocks=96)
    curve = bler_curve(jax.random.key(3), fn, [-3.0, 1.0, 6.0], **kw)
    assert np.all((curve.n_errors >= 12) | (curve.n_blocks >= 96))
    assert np.all(curve.n_blocks % B == 0) and np.all(curve.n_blocks <= 96)
    assert curve.bler[0] > 0.5 and curve.n_errors[2] == 0
    assert np.all(curve.ci_low <= curve.bler) and np.all(curve.bler <= curve.ci_high)
    np.testing.assert_allclose(curve.mean_iter, 5.0 + 15.0 * curve.bler)
    again = bler_curve(jax.random.key(3), fn, [-3.0, 1.0, 6.0], **kw)
    assert np.array_equal(again.n_errors, curve.n_errors)
    # Blocks are keyed by their index: another batch size gives the same first blocks.
    other = bler_curve(jax.random.key(3), fn, [-3.0, 1.0, 6.0], batch=2 * B, min_errors=12, max_blocks=96)
    assert other.n_errors[2] == 0 and other.n_errors[0] >= curve.n_errors[0]
    stop = bler_curve(jax.random.key(3), fn, [-3.0, 6.0, 7.0], stop_below=0.05, **kw)
    assert stop.n_blocks[2] == 0 and np.isnan(stop.bler[2])


def test_adaptive_curve_brackets_the_crossing_and_recovers_the_waterfall():
    snr10, slope = 1.0, -2.0
    fn = _synthetic_batch_fn(snr10, slope)
    kw = dict(batch=256, min_errors=200, max_blocks=2048, stop_below=0.01)
    for start in (-4.0, 1.3, 5.0):  # below, at and past the waterfall
        c = adaptive_bler_curve(jax.random.key(5), fn, start, 0.25, **kw)
        assert np.all(np.diff(c.snr_db) > 0) and c.bler[0] >= 0.5 and c.bler[-1] < 0.01
        i = int(np.nonzero(c.bler < 0.1)[0][0])  # first point below 10 %
        assert c.snr_db[i] - c.snr_db[i - 1] <= 0.25 + 1e-9
        assert np.all((c.n_errors >= 200) | (c.n_blocks >= 2048))
        # The crossing and the slope within 5 sigma of what the sample sizes allow: ~1000
        # blocks near 10 % give sigma(p) = 0.0095, i.e. 0.03 dB at this slope.
        lo, hi = c.snr_at_bler_interval(0.1)
        assert lo <= c.snr_at_bler(0.1) <= hi and hi - lo < 0.5
        assert abs(c.snr_at_bler(0.1) - snr10) < 0.15
        assert abs(c.probit_slope() - slope) < 0.5
    again = adaptive_bler_curve(jax.random.key(5), fn, 5.0, 0.25, **kw)
    assert np.array_equal(again.n_errors, c.n_errors) and np.array_equal(again.snr_db, c.snr_db)


def test_probit_slope_of_an_exact_probit_curve():
    from ltjax.linklevel import BlerCurve

    s = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    p = np.array([statistics.NormalDist().cdf(1.0 - 1.5 * x) for x in s])
    n = np.full(5, 10_000)
    c = BlerCurve(snr_db=s, n_blocks=n, n_errors=np.round(p * n).astype(int), bler=p, ci_low=p, ci_high=p,
                  mean_iter=np.zeros(5))
    assert c.probit_slope(lo=0.0, hi=1.0) == pytest.approx(-1.5, rel=1e-9)
    assert np.isnan(c.probit_slope(lo=0.9, hi=1.0))  # fewer than 2 points


def test_tiny_code_block_waterfall_and_crc():
    cfg = code_block_link_config(136, rate=0.4, qm=2)
    assert cfg.coding.segmentation.n_cb == 1 and cfg.coding.segmentation.k_prime == 136
    fn = jax.jit(awgn_batch_fn(cfg))

    def run(snr_db, seed):
        return fn(jax.random.split(jax.random.key(seed), 2 * B), snr_db)

    assert float(np.mean(np.asarray(run(-3.0, 1).error))) > 0.5
    assert sum(int(np.sum(np.asarray(run(6.0, s).error))) for s in (2, 3, 4)) == 0  # 96 blocks
    # On the waterfall both outcomes occur, and the CRC flags exactly the wrong blocks
    # (an undetected error in 32 CRC16-protected blocks would be a 2^-16 event).
    res = run(0.0, 4)
    err = np.asarray(res.error)
    assert 0 < err.sum() < 2 * B
    assert np.array_equal(np.asarray(res.crc_ok), ~err) and np.all(np.asarray(res.bit_errors)[err] > 0)
    assert np.array_equal(np.asarray(run(0.0, 4).error), err)  # reproducible


def test_mcs_config_uses_the_phy_tbs():
    from ltjax.phy.tbs import n_re_per_prb, tbs

    cfg = mcs_link_config(9, 10)
    assert cfg.coding.tbs == tbs(10, n_re_per_prb(13, 1), 2, 679, 1)
    assert cfg.coding.g_bits == 10 * n_re_per_prb(13, 1) * 2
    assert cfg.coding.qm == 2 and abs(cfg.coding.rate - 679 / 1024) < 1e-12


def test_snr_at_bler_interpolates_the_crossing():
    from ltjax.linklevel import BlerCurve

    def curve(bler):
        b = np.asarray(bler, float)
        return BlerCurve(snr_db=np.array([0.0, 1.0, 2.0]), n_blocks=np.full(3, 100),
                         n_errors=(b * 100).astype(int), bler=b, ci_low=b, ci_high=b,
                         mean_iter=np.zeros(3))

    assert curve([1.0, 1.0, 0.01]).snr_at_bler(0.1) == pytest.approx(1.5)  # log-linear
    assert curve([1.0, 0.2, 0.0]).snr_at_bler(0.1) == pytest.approx(1.5)  # linear to zero
    assert np.isnan(curve([1.0, 0.9, 0.5]).snr_at_bler(0.1))

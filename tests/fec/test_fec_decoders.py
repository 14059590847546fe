"""LDPC decoders: noiseless and high-SNR decoding, batching, early stop, gradients."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ltjax.fec.decoders as dec
from ltjax.fec import (LdpcCode, decode_flooding_batch, decode_layered, decode_layered_batch,
                       encode)

B = 32  # code words per test batch (one compile per code and decoder)


@functools.lru_cache(maxsize=None)
def _decoder(code, kind):
    if kind == "layered":
        return jax.jit(lambda l: decode_layered_batch(code, l, max_iter=20))
    return jax.jit(lambda l: decode_flooding_batch(code, l, max_iter=30))


@functools.lru_cache(maxsize=None)
def _encoder(code):
    return jax.jit(jax.vmap(lambda x: encode(code, x)))


def _words(code, seed):
    c = jax.random.bernoulli(jax.random.key(seed), 0.5, (B, code.k)).astype(jnp.int8)
    return c, _encoder(code)(c)


def _bpsk_llr(d, es_n0_db, seed):
    """LLRs of BPSK over real AWGN with Es/N0 [dB] (every bit of d sent once)."""
    sigma2 = 0.5 * 10.0 ** (-es_n0_db / 10.0)
    y = (1.0 - 2.0 * d.astype(jnp.float32)) + jnp.sqrt(sigma2) * jax.random.normal(
        jax.random.key(seed), d.shape)
    return 2.0 * y / sigma2


CODES = [(1, 26, "layered"), (2, 6, "layered"), (2, 40, "layered"),
         (1, 26, "flooding"), (2, 6, "flooding")]


@pytest.mark.parametrize("bg, z, kind", CODES)
def test_noiseless_llrs_decode_to_the_payload(bg, z, kind):
    code = LdpcCode(bg, z)
    c, d = _words(code, 1)
    res = _decoder(code, kind)(8.0 * (1.0 - 2.0 * d.astype(jnp.float32)))
    assert np.array_equal(np.asarray(res.bits), np.asarray(c))
    assert np.all(np.asarray(res.parity_ok)) and np.all(np.asarray(res.n_iter) == 1)


@pytest.mark.parametrize("bg, z, kind", [c for c in CODES if c[1] >= 26])
def test_zero_errors_at_a_known_good_snr(bg, z, kind):
    # Whole mother code sent (rate 1/3 for BG1, 1/5 for BG2) at Es/N0 = 0 dB, i.e.
    # Eb/N0 = 4.8 / 7.0 dB: several dB above where these codes reach 1e-3 BLER, so a single
    # failure in 32 words means a broken decoder.
    code = LdpcCode(bg, z)
    c, d = _words(code, 2)
    res = _decoder(code, kind)(_bpsk_llr(d, 0.0, 3))
    assert int(jnp.sum(jnp.any(res.bits != c, axis=1))) == 0
    assert np.all(np.asarray(res.parity_ok)) and int(jnp.max(res.n_iter)) < 20


def test_batch_equals_vmap_and_scan_equals_while():
    code = LdpcCode(2, 6)
    c, d = _words(code, 4)
    llr = _bpsk_llr(d, -6.0, 5)  # noisy: some words stop early, some run to the limit
    batch = _decoder(code, "layered")(llr)
    vm = jax.jit(jax.vmap(lambda l: decode_layered(code, l, max_iter=20)))(llr)
    scan = jax.jit(lambda l: decode_layered_batch(code, l, max_iter=20, early_stop=False))(llr)
    it = np.asarray(batch.n_iter)
    assert it.min() < it.max()  # the batch mixes early stops and full runs
    for other in (vm, scan):
        assert np.array_equal(np.asarray(other.bits), np.asarray(batch.bits))
        assert np.array_equal(np.asarray(other.n_iter), it)
        assert np.array_equal(np.asarray(other.parity_ok), np.asarray(batch.parity_ok))
        np.testing.assert_allclose(np.asarray(other.llr), np.asarray(batch.llr), rtol=1e-5, atol=1e-4)


def _sort_min_sum_reduce(mag, neg):
    """Reference for the fused reduce: sort-based two smallest and sign parity."""
    s = jnp.sort(mag, axis=0)
    return s[0], s[1], (jnp.sum(neg, axis=0) % 2).astype(jnp.float32)


def test_fused_min_sum_reduce_and_its_jvp_match_a_sort_reference():
    x = jax.random.normal(jax.random.key(0), (7, 5, 3))
    x = x.at[2, 0, 0].set(x[4, 0, 0])  # a tie for the smallest magnitude
    mag, neg = jnp.abs(x), x < 0
    # Away from the tie the two JVPs agree exactly; at the tie the sort picks one entry and
    # the fused rule averages the tied tangents, so the tied column gets no tangent here.
    keep = np.ones(mag.shape, bool)
    keep[:, 0, 0] = False
    tangent = jnp.where(keep, jax.random.normal(jax.random.key(1), mag.shape), 0.0)

    def total(f, m):
        m1, m2, _ = f(m, neg)
        return jnp.sum(m1 * jnp.arange(1.0, 4.0)) + jnp.sum(jnp.cos(m2))

    @jax.jit
    def both(mag, tangent):
        out = []
        for f in (dec._min_sum_reduce, _sort_min_sum_reduce):
            out.append((f(mag, neg), jax.jvp(lambda m: total(f, m), (mag,), (tangent,))[1]))
        return out

    (got, jvp), (want, jvp_ref) = both(mag, tangent)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    np.testing.assert_allclose(float(jvp), float(jvp_ref), rtol=1e-6)


def test_gradient_wrt_normalisation_factor():
    code = LdpcCode(2, 6)
    c, d = _words(code, 6)
    llr = _bpsk_llr(d, -8.0, 7)

    def loss(alpha):
        r = decode_layered_batch(code, llr, alpha=alpha, max_iter=3, early_stop=False)
        return jnp.mean(jnp.tanh(r.llr[:, :code.k] / 8.0) * (1.0 - 2.0 * c))

    val_grad = jax.jit(jax.value_and_grad(loss))
    _, grad = val_grad(0.75)
    assert np.isfinite(float(grad)) and float(grad) != 0.0
    # Central difference (min-sum is piecewise linear in alpha: a loose check).
    fd = (float(val_grad(0.75 + 1e-3)[0]) - float(val_grad(0.75 - 1e-3)[0])) / 2e-3
    np.testing.assert_allclose(float(grad), fd, rtol=0.2, atol=1e-3)


def test_pruned_graph_gives_the_full_graphs_decisions():
    # A high-rate code block: rate matching sends the systematic and core columns and only the
    # first extension parity columns, so most rows of BG2 can be dropped.
    from ltjax.fec import TbCodingConfig, code_block_llrs, tb_encode
    from ltjax.fec.ldpc import decoding_graph, rows_for_sent_bits
    from ltjax.fec.ratematch import rate_match_indices

    cfg = TbCodingConfig(tbs=240, g_bits=2 * 200, qm=2, rate=0.64)  # BG2, Z = 26, E = 400
    code = cfg.code
    rows = cfg.decoder_rows
    sent = rate_match_indices(cfg.rate_match_config(0))
    last_col = (sent.max() + 2 * code.z) // code.z
    assert rows == last_col - code.n_sys + 1 == rows_for_sent_bits(2, code.z, sent) and 4 <= rows < 42
    g = decoding_graph(2, code.z, rows)
    assert g.rows.max() == rows - 1 and sum(int(m.sum()) for _, m in g.layers) == g.rows.size
    with pytest.raises(ValueError):
        decoding_graph(2, code.z, 3)
    a = jax.random.bernoulli(jax.random.key(8), 0.5, (B, cfg.tbs)).astype(jnp.int8)
    f = jax.jit(jax.vmap(lambda x: tb_encode(cfg, x)))(a)
    noise = jax.random.normal(jax.random.key(9), f.shape)
    llr = 2.0 * ((1.0 - 2.0 * f) + 0.8 * noise) / 0.64  # BPSK-like LLRs, noisy enough to fail some
    cb = jax.vmap(lambda l: code_block_llrs(cfg, l))(llr)[:, 0]
    kept = (code.n_sys + rows) * code.z

    @jax.jit
    def both(cb):
        return [decode_layered_batch(code, cb, max_iter=12, early_stop=es, n_rows=n)
                for es in (False, True) for n in (None, rows)]

    scan_full, scan_pruned, while_full, while_pruned = both(cb)
    # Fixed iterations: the dropped rows' messages are exactly 0, so every kept LLR is the same.
    assert np.array_equal(np.asarray(scan_full.bits), np.asarray(scan_pruned.bits))
    assert np.array_equal(np.asarray(scan_full.llr[:, :kept]), np.asarray(scan_pruned.llr[:, :kept]))
    # Early stop: the pruned graph stops no later (its zero syndrome is a code word's).
    assert np.all(np.asarray(while_pruned.n_iter) <= np.asarray(while_full.n_iter))
    ok = np.asarray(while_full.parity_ok)
    assert 0 < ok.sum() < B  # both outcomes occur
    assert np.array_equal(np.asarray(while_pruned.bits)[ok], np.asarray(while_full.bits)[ok])


def test_decoders_jit_equals_no_jit():
    # The smallest code and its 4 core rows (n_rows=4), so that eager decoding stays fast
    # (every primitive compiles on its own without jit; the flooding decoder's jitted form is
    # checked against the layered one's decisions above).
    code = LdpcCode(2, 2)
    c, d = _words(code, 10)
    llr = _bpsk_llr(d[:4], -2.0, 11)
    for fn in (lambda l: decode_layered_batch(code, l, max_iter=2, n_rows=4),):
        jitted = jax.jit(fn)(llr)
        with jax.disable_jit():
            eager = fn(llr)
        assert np.array_equal(np.asarray(jitted.bits), np.asarray(eager.bits))
        assert np.array_equal(np.asarray(jitted.n_iter), np.asarray(eager.n_iter))
        np.testing.assert_allclose(np.asarray(jitted.llr), np.asarray(eager.llr), rtol=1e-5, atol=1e-5)

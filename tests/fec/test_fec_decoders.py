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

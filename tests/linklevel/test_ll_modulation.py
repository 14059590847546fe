"""QAM mapping (TS 38.211 5.1) and LLR demapping."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erfc, logsumexp

from ltjax.linklevel import constellation, demap, modulate


def _spec_symbol(b):
    """TS 38.211 5.1.3-5.1.6 written out per modulation order."""
    s = [1 - 2 * x for x in b]
    if len(b) == 2:
        return (s[0] + 1j * s[1]) / math.sqrt(2)
    if len(b) == 4:
        return (s[0] * (2 - s[2]) + 1j * s[1] * (2 - s[3])) / math.sqrt(10)
    if len(b) == 6:
        return (s[0] * (4 - s[2] * (2 - s[4])) + 1j * s[1] * (4 - s[3] * (2 - s[5]))) / math.sqrt(42)
    return (s[0] * (8 - s[2] * (4 - s[4] * (2 - s[6])))
            + 1j * s[1] * (8 - s[3] * (4 - s[5] * (2 - s[7])))) / math.sqrt(170)


@pytest.mark.parametrize("qm", [2, 4, 6, 8])
def test_constellation_is_the_spec_mapping_gray_and_unit_energy(qm):
    pts = constellation(qm)
    labels = list(itertools.product((0, 1), repeat=qm))
    np.testing.assert_allclose(pts, [_spec_symbol(b) for b in labels], atol=1e-12)
    assert abs(np.mean(np.abs(pts) ** 2) - 1.0) < 1e-12
    # Gray: nearest neighbours differ in exactly one bit.
    dmin = np.min(np.abs(pts[:, None] - pts[None, :]) + 9 * np.eye(pts.size))
    for i, j in zip(*np.nonzero(np.isclose(np.abs(pts[:, None] - pts[None, :]), dmin))):
        assert bin(i ^ j).count("1") == 1
    bits = np.array(labels[::-1]).reshape(-1)
    np.testing.assert_allclose(np.asarray(modulate(bits, qm)), pts[::-1], atol=1e-6)


def test_modulate_matches_py3gpp():
    mod = pytest.importorskip("py3gpp.nrSymbolModulate")
    bits = np.random.default_rng(0).integers(0, 2, 8 * 60)
    for qm, name in ((2, "QPSK"), (4, "16QAM"), (6, "64QAM"), (8, "256QAM")):
        want = mod.nrSymbolModulate(bits[: qm * 60], name)
        np.testing.assert_allclose(np.asarray(modulate(bits[: qm * 60], qm)), want, atol=1e-6)


@pytest.mark.parametrize("qm", [2, 4, 6, 8])
def test_demapper_matches_brute_force_2d_llrs(qm):
    rng = np.random.default_rng(qm)
    pts = constellation(qm)
    labels = np.array(list(itertools.product((0, 1), repeat=qm)))
    y = rng.normal(size=50) * 0.8 + 1j * rng.normal(size=50) * 0.8
    nv = rng.uniform(0.02, 1.0, size=50)
    metric = -np.abs(y[:, None] - pts[None, :]) ** 2 / nv[:, None]  # [S, 2^Qm]
    exact = np.stack([logsumexp(np.where(labels[:, i] == 0, metric, -np.inf), axis=1)
                      - logsumexp(np.where(labels[:, i] == 1, metric, -np.inf), axis=1)
                      for i in range(qm)], axis=1).reshape(-1)
    maxlog = np.stack([np.max(np.where(labels[:, i] == 0, metric, -np.inf), axis=1)
                       - np.max(np.where(labels[:, i] == 1, metric, -np.inf), axis=1)
                       for i in range(qm)], axis=1).reshape(-1)
    both = jax.jit(lambda y, nv: (demap(y, nv, qm), demap(y, nv, qm, max_log=True)))
    got_exact, got_maxlog = both(y, nv)
    np.testing.assert_allclose(np.asarray(got_exact), exact, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.asarray(got_maxlog), maxlog, rtol=1e-4, atol=1e-3)


def test_qpsk_hard_decision_ber_matches_theory():
    # Uncoded QPSK over AWGN: BER = Q(sqrt(SNR)) = erfc(sqrt(SNR / 2)) / 2 per bit. The
    # tolerance is 5 binomial sigmas of the bit count.
    n_sym, snr_db = 100_000, 4.0
    snr = 10 ** (snr_db / 10)

    @jax.jit
    def count(key):
        k_b, k_n = jax.random.split(key)
        bits = jax.random.bernoulli(k_b, 0.5, (2 * n_sym,)).astype(jnp.int8)
        noise = jax.random.normal(k_n, (n_sym,), jnp.complex64) * math.sqrt(1 / snr)
        llr = demap(modulate(bits, 2) + noise, 1 / snr, 2)
        return jnp.sum((llr < 0) != (bits == 1))

    errors = int(count(jax.random.key(0)))
    p = 0.5 * erfc(math.sqrt(snr / 2))
    n = 2 * n_sym
    assert abs(errors / n - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_modulation_and_demapping_jit_equals_no_jit():
    bits = np.random.default_rng(2).integers(0, 2, 6 * 40)
    nv = np.linspace(0.05, 1.0, 40).astype(np.float32)

    def chain(b):
        d = modulate(b, 6)
        y = d + 0.3 * jnp.conj(d) * 1j  # a deterministic distortion
        return d, demap(y, nv, 6), demap(y, nv, 6, max_log=True)

    jitted = jax.jit(chain)(bits)
    with jax.disable_jit():
        eager = chain(bits)
    for j, e in zip(jitted, eager):
        np.testing.assert_allclose(np.asarray(j), np.asarray(e), rtol=1e-6, atol=1e-5)

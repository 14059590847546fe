"""QAM modulation mapping (TS 38.211 5.1) and LLR demapping.

Mapping (5.1.3-5.1.6), bits b(i..i+Qm-1) -> d(i), unit average energy, Gray:
  QPSK   d = [(1 - 2b0) + j(1 - 2b1)] / sqrt(2)
  16QAM  d = [(1 - 2b0)(2 - (1 - 2b2)) + j(1 - 2b1)(2 - (1 - 2b3))] / sqrt(10)
  64QAM  d = [(1 - 2b0)(4 - (1 - 2b2)(2 - (1 - 2b4))) + j(...b1, b3, b5)] / sqrt(42)
  256QAM d = [(1 - 2b0)(8 - (1 - 2b2)(4 - (1 - 2b4)(2 - (1 - 2b6)))) + j(...odd bits)] / sqrt(170)
So the even bits set the real part and the odd bits the imaginary part, each through the
same Gray-labelled PAM with sqrt(M) levels. Demapping uses that split: for a symbol seen
through circular Gaussian noise of variance ``noise_var`` (E|n|^2, i.e. noise_var / 2 per
real dimension) the bit LLRs of the real and imaginary parts are independent PAM LLRs:

  exact:    L(b) = log sum_{s: b=0} exp(-(y - s)^2 / noise_var) - log sum_{s: b=1} (...)
  max-log:  the same with max in place of log-sum-exp.

(the sums run over the sqrt(M) PAM levels of that dimension; this equals the 2D exact LLR,
since the other dimension's sum factors out). LLR convention: log P(0) / P(1).

Letters: S symbols, Qm bits per symbol (2, 4, 6, 8), P = 2^(Qm/2) PAM levels.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

QM_NAMES = {2: "QPSK", 4: "16QAM", 6: "64QAM", 8: "256QAM"}
_NORM = {2: 2.0, 4: 10.0, 6: 42.0, 8: 170.0}


def _check_qm(qm: int) -> None:
    if qm not in QM_NAMES:
        raise ValueError(f"Qm must be one of {tuple(QM_NAMES)}, got {qm!r}")


@functools.lru_cache(maxsize=8)
def pam_levels(qm: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-dimension Gray PAM of TS 38.211 5.1 (numpy).

    Returns:
      (levels float64 [P], bits int8 [P, Qm/2]): amplitude (unit-energy QAM scale) of each
      label, and the label's bits (b0, b2, b4, ...) of that dimension, label index
      sum_k bits[k] 2^(Qm/2-1-k).
    """
    _check_qm(qm)
    h = qm // 2
    labels = np.arange(2 ** h)
    bits = ((labels[:, None] >> np.arange(h - 1, -1, -1)[None, :]) & 1).astype(np.int8)
    s = 1 - 2 * bits.astype(np.float64)  # (1 - 2 b)
    # Nested form of 5.1: a = s0 (2^{h-1} - s1 (2^{h-2} - s2 (... - s_{h-1})))
    amp = s[:, h - 1].copy()
    for k in range(h - 2, -1, -1):
        amp = s[:, k] * (2.0 ** (h - 1 - k) - amp)
    return amp / math.sqrt(_NORM[qm]), bits


@functools.lru_cache(maxsize=8)
def constellation(qm: int) -> np.ndarray:
    """complex128 [2^Qm]: symbol of the bit label sum_i b_i 2^(Qm-1-i) (TS 38.211 5.1)."""
    amp, _ = pam_levels(qm)
    h = qm // 2
    labels = np.arange(2 ** qm)
    bits = (labels[:, None] >> np.arange(qm - 1, -1, -1)[None, :]) & 1
    w = 2 ** np.arange(h - 1, -1, -1)
    i_lab = bits[:, 0::2] @ w
    q_lab = bits[:, 1::2] @ w
    return amp[i_lab] + 1j * amp[q_lab]


def modulate(bits, qm: int):
    """Symbols d [S] (complex64) of bits [S * Qm] (TS 38.211 5.1)."""
    _check_qm(qm)
    bits = jnp.asarray(bits, jnp.int32).reshape(-1, qm)
    w = jnp.asarray(2 ** np.arange(qm - 1, -1, -1), jnp.int32)
    return jnp.asarray(constellation(qm), jnp.complex64)[bits @ w]


def _pam_llr(y, noise_var, qm: int, max_log: bool):
    """LLRs [..., Qm/2] of the bits of one real dimension y [...] (noise variance noise_var/2)."""
    amp, bits = pam_levels(qm)
    amp = jnp.asarray(amp, jnp.float32)
    metric = -(y[..., None] - amp) ** 2 / jnp.asarray(noise_var, jnp.float32)[..., None]  # [..., P]
    zero = jnp.asarray(bits == 0).T  # [h, P]
    neg = jnp.float32(-jnp.inf)
    m0 = jnp.where(zero, metric[..., None, :], neg)  # [..., h, P]
    m1 = jnp.where(~zero, metric[..., None, :], neg)
    if max_log:
        return jnp.max(m0, axis=-1) - jnp.max(m1, axis=-1)
    return jax.nn.logsumexp(m0, axis=-1) - jax.nn.logsumexp(m1, axis=-1)


def demap(y, noise_var, qm: int, max_log: bool = False):
    """Bit LLRs of received symbols (TS 38.211 5.1 constellation, AWGN).

    Args:
      y: complex [S] equalised symbols (y = d + n).
      noise_var: float [] or [S], E|n|^2 per symbol (= 1 / SNR for unit-energy symbols).
      qm: bits per symbol.
      max_log: max-log approximation instead of the exact log-sum-exp.

    Returns:
      float32 [S * Qm] LLRs log P(b = 0) / P(b = 1), in the bit order of ``modulate``.
    """
    _check_qm(qm)
    y = jnp.asarray(y, jnp.complex64)
    nv = jnp.broadcast_to(jnp.asarray(noise_var, jnp.float32), y.shape)
    li = _pam_llr(jnp.real(y), nv, qm, max_log)  # bits b0, b2, ...
    lq = _pam_llr(jnp.imag(y), nv, qm, max_log)  # bits b1, b3, ...
    return jnp.stack([li, lq], axis=-1).reshape(*y.shape[:-1], -1).astype(jnp.float32)

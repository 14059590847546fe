"""Code-block and transport-block error rates from first principles.

Model (finite-blocklength normal approximation, Polyanskiy-Poor-Verdu 2010, eq. (296),
applied to the modulation-constrained AWGN channel with the effective SINR):

    BLER_cb = Q( (n C(g) - k + 0.5 log2 n) / sqrt(n V(g)) ),   g = gamma_eff / margin(R),

with n the number of QAM symbols (channel uses) that carry one code block, n = G / (C Qm),
k = K' the code-block size in bits (information + CRC, TS 38.212 5.2.2), C(g) and V(g) the
mean and variance of the information density of M-QAM [bits, bits^2 per symbol]
(``ltjax.phy.mi``). The normal approximation is the error rate of a (near-)ideal code of that
length; practical LDPC decoding (layered min-sum, finite iterations, rate matching) needs
more SNR. That loss is ONE implementation margin, a documented linear function of the code
rate R = rate_x1024 / 1024 (not fitted per MCS):

    margin(R) = 1.5 dB + 3.5 dB * (1 - R)        (5.0 dB as R -> 0, 1.5 dB as R -> 1).

Why rate-dependent: published NR LDPC curves sit ~1.5-2 dB from the finite-length bound at
high rate but 4-6 dB at the lowest MCS (heavy BG2 puncturing/repetition); a constant margin
cannot be within 2 dB of both MCS 0 (~ -1 dB) and MCS 28 (19-22 dB) of nr_facts.md. The
two numbers (1.5, 3.5) were chosen by hand against those five published points; the
comparison table is in docs/phy_abstraction.md and tests/phy/test_phy_abstraction.py.

Transport block: TBLER = 1 - (1 - BLER_cb)^C (independent code blocks, nr_facts.md).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import ndtr

from ltjax.phy import mi
from ltjax.phy.effective_sinr import SNR_DB_MAX, SNR_DB_MIN, interp_uniform

MARGIN_DB_AT_RATE_1 = 1.5
MARGIN_DB_SLOPE = 3.5

_N_GRID = int(mi.SNR_DB_GRID.size)  # G


def _c_v():
    """(C, V) tables [3, G], as jax constants (tables are built lazily, see ltjax.phy.mi)."""
    return jnp.asarray(mi.MI_BITS), jnp.asarray(mi.MI_VAR)


def implementation_margin_db(rate):
    """margin(R) = 1.5 + 3.5 (1 - R) [dB], R the code rate in (0, 1]."""
    return MARGIN_DB_AT_RATE_1 + MARGIN_DB_SLOPE * (1.0 - rate)


def code_block_bler(sinr_eff_db, qm, rate_x1024, k_cb, n_sym):
    """Code-block error rate (normal approximation plus implementation margin).

    Args (all broadcastable, may be traced):
      sinr_eff_db: effective SINR [dB].
      qm: bits per symbol (2, 4, 6).
      rate_x1024: nominal code rate times 1024 (for the margin).
      k_cb: bits per code block K'.
      n_sym: QAM symbols per code block (n = G / (C Qm)).

    Returns:
      float32 BLER in [0, 1].
    """
    rate = jnp.asarray(rate_x1024, jnp.float32) / 1024.0
    g_db = jnp.clip(sinr_eff_db - implementation_margin_db(rate), SNR_DB_MIN, SNR_DB_MAX)
    m = mi.mod_index(qm)
    _C, _V = _c_v()
    c = interp_uniform(g_db, _C[m]) if jnp.ndim(m) == 0 else _interp_rows(g_db, _C, m)
    v = interp_uniform(g_db, _V[m]) if jnp.ndim(m) == 0 else _interp_rows(g_db, _V, m)
    n = jnp.maximum(jnp.asarray(n_sym, jnp.float32), 1.0)
    k = jnp.asarray(k_cb, jnp.float32)
    num = n * c - k + 0.5 * jnp.log2(n)
    arg = num / jnp.sqrt(jnp.maximum(n * v, 1e-12))
    return ndtr(-arg).astype(jnp.float32)


def _interp_rows(x, table, rows):
    """interp of x[i] in table[rows[i]] for batched rows (broadcast x and rows)."""
    x, rows = jnp.broadcast_arrays(x, rows)
    step = float(mi.SNR_DB_GRID[1] - mi.SNR_DB_GRID[0])
    pos = (jnp.clip(x, SNR_DB_MIN, SNR_DB_MAX) - SNR_DB_MIN) / step
    idx = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, _N_GRID - 2)
    t = pos - idx.astype(jnp.float32)
    return table[rows, idx] * (1 - t) + table[rows, idx + 1] * t


def transport_block_bler(bler_cb, n_cb):
    """TBLER = 1 - (1 - BLER_cb)^C; 0 for an empty TB (C = 0)."""
    n_cb = jnp.asarray(n_cb, jnp.float32)
    return jnp.where(n_cb > 0, 1.0 - jnp.power(1.0 - bler_cb, n_cb), 0.0).astype(jnp.float32)

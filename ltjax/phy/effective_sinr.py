"""Effective SINR: MIESM (modulation-constrained mutual information) and EESM.

Letters: N resource elements / (RB, layer) pairs being compressed.

MIESM: gamma_eff = I_M^{-1}( sum_n w_n I_M(gamma_n) / sum_n w_n ), I_M the mutual information
of unit-energy M-QAM over AWGN (``ltjax.phy.mi``). It is computed on the MI deficit
D_M(gamma) = log2 M - I_M(gamma), in the log domain:

    ln D_eff = logsumexp_n(ln D_M(gamma_n), b = w_n) - ln sum_n w_n,   gamma_eff = D_M^{-1}(D_eff),

which equals the definition exactly (mean MI = log2 M - mean deficit) but stays invertible in
float32 at any SNR (the MI itself rounds to log2 M above ~12 dB for QPSK). Forward and
inverse use linear interpolation on the same knots of the 0.05 dB grid, so a flat channel
(all gamma_n equal) returns gamma exactly, up to float32 rounding, inside the table range
[-30, 45] dB (inputs are clipped to it).

EESM (e.g. ns-3 5G-LENA, Sionna SYS): gamma_eff = -beta ln( sum_n w_n exp(-gamma_n / beta) / sum_n w_n ),
beta per MCS from ``ltjax.phy.tables.EESM_BETA``; also exact for a flat channel.

Weights w_n in {0, 1} mask unallocated RBs and unused layers.
"""

from __future__ import annotations

import jax
import numpy as np
import jax.numpy as jnp

from ltjax.numerics import lin_to_db, safe_log
from ltjax.phy import mi
from ltjax.phy.tables import EESM_BETA

_GRID = mi.SNR_DB_GRID.astype(np.float32)  # [G] dB (numpy: no device work at import)


def _log_def():
    """ln(log2 M - C) table [3, G] as a jax constant (built lazily, see ltjax.phy.mi)."""
    return jnp.asarray(mi.MI_LOG_DEFICIT)
SNR_DB_MIN = float(mi.SNR_DB_GRID[0])
SNR_DB_MAX = float(mi.SNR_DB_GRID[-1])


_STEP = float(mi.SNR_DB_GRID[1] - mi.SNR_DB_GRID[0])
_N = int(mi.SNR_DB_GRID.size)


def interp_uniform(x_db, row):
    """Linear interpolation of ``row`` (on the uniform SNR grid) at x_db, clipped to the grid.

    Same values as ``jnp.interp(x, grid, row)`` but with a direct index instead of a binary
    search (the grid is uniform), which is much cheaper inside the slot loop.
    """
    pos = (jnp.clip(x_db, SNR_DB_MIN, SNR_DB_MAX) - SNR_DB_MIN) / _STEP
    i = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, _N - 2)
    t = pos - i.astype(jnp.float32)
    return row[i] * (1.0 - t) + row[i + 1] * t


def log_mi_deficit(snr_db, qm):
    """ln(log2 M - I_M(snr)) [ln bits] for Qm in {2, 4, 6} (traced ok); snr in dB, clipped."""
    return interp_uniform(snr_db, _log_def()[mi.mod_index(qm)])


def mutual_information(snr_db, qm):
    """I_M(snr) [bits per QAM symbol]."""
    return qm - jnp.exp(log_mi_deficit(snr_db, qm))


def miesm_db(sinr, qm, weights=None):
    """MIESM effective SINR [dB].

    Args:
      sinr: float32 [N] linear SINR per (RB, layer) (any shape; all axes compressed).
      qm: modulation order Qm (2, 4, 6), int scalar (may be traced).
      weights: same shape as sinr, 0/1 mask (None: all ones). At least one must be 1.

    Returns:
      float32 [] effective SINR [dB].
    """
    w = jnp.ones_like(sinr) if weights is None else jnp.asarray(weights, jnp.float32)
    u = log_mi_deficit(lin_to_db(sinr), qm)
    u_eff = jax.nn.logsumexp(u, b=w) - safe_log(jnp.sum(w))
    row = _log_def()[mi.mod_index(qm)]
    # row is strictly decreasing; jnp.interp needs increasing x, so flip both.
    return jnp.interp(u_eff, row[::-1], jnp.asarray(_GRID[::-1])).astype(jnp.float32)


def eesm_db(sinr, beta, weights=None):
    """EESM effective SINR [dB] with calibration factor beta (linear SINR in, dB out)."""
    w = jnp.ones_like(sinr) if weights is None else jnp.asarray(weights, jnp.float32)
    beta = jnp.asarray(beta, jnp.float32)
    x = jax.nn.logsumexp(-sinr / beta, b=w) - safe_log(jnp.sum(w))
    return lin_to_db(-beta * x).astype(jnp.float32)


def eesm_beta(mcs):
    """beta of MCS table 1 (MCS 0..28), traced index ok."""
    return jnp.asarray(EESM_BETA, jnp.float32)[mcs]

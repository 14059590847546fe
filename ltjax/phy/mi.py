"""Modulation-constrained mutual information of square QAM over complex AWGN (numpy tables).

For unit-energy M-QAM with Gray labelling, the complex AWGN channel at SNR gamma
(E|x|^2 = 1, E|n|^2 = 1/gamma) splits into two independent sqrt(M)-PAM channels with
per-dimension signal energy 1/2 and noise variance 1/(2 gamma). The information density

    i(x; y) = log2 M' - log2 sum_x' exp(-[(x - x')^2 + 2 (x - x') n] / (2 sigma^2)),
    y = x + n, n ~ N(0, sigma^2), M' = sqrt(M),

therefore adds over the two dimensions, so per QAM symbol

    C(gamma) = E[i] = 2 C_PAM,   V(gamma) = Var[i] = 2 V_PAM    [bits, bits^2].

The expectation over n is a deterministic 80-node Gauss-Hermite (probabilists') quadrature,
computed in float64 numpy once, on first use, on a 0.05 dB grid (-30..45 dB, < 0.1 s).

``C`` feeds MIESM (average MI, inverted); ``C`` and ``V`` feed the finite-blocklength normal
approximation of the code-block error rate (see ``ltjax.phy.bler``).

For MIESM the tables also store ``log_deficit = ln(log2 M - C)``, which is strictly
decreasing over the whole grid in float32 (C itself saturates at log2 M in float32 above
about 12 dB for QPSK). Where the quadrature's deficit loses relative accuracy (deficit
< 1e-9 bits), it is continued by its high-SNR asymptote, linear in gamma (union bound:
deficit ~ exp(-gamma d_min^2 / 4)), so the inverse exists at every SNR on the grid.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

SNR_DB_GRID = np.arange(-30.0, 45.0 + 1e-9, 0.05)  # [G] dB
MODULATION_ORDERS = (2, 4, 6)  # Qm of QPSK, 16QAM, 64QAM
_N_NODES = 80
_DEFICIT_FLOOR = 1e-9  # below this the quadrature deficit is replaced by its asymptote


def _pam_c_v(m: int, snr_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the information density of m-PAM, per dimension [bits, bits^2]."""
    z, w = hermegauss(_N_NODES)
    w = w / w.sum()
    a = np.arange(-(m - 1), m, 2, dtype=np.float64)
    a = a / np.sqrt(np.mean(a**2)) * np.sqrt(0.5)  # per-dimension energy 1/2
    sigma = np.sqrt(0.5 / 10.0 ** (snr_db / 10.0))  # [G]
    d = a[:, None] - a[None, :]  # [x, x'] = x - x'
    s = sigma[:, None, None, None]
    e = -(d[None, :, :, None] ** 2 + 2.0 * s * z[None, None, None, :] * d[None, :, :, None]) / (2.0 * s**2)
    mx = e.max(axis=2, keepdims=True)
    lse = (mx + np.log(np.exp(e - mx).sum(axis=2, keepdims=True)))[:, :, 0, :] / np.log(2.0)
    i = np.log2(m) - lse  # [G, x, z]
    c = (i * w).sum(-1).mean(-1)
    v = ((i - c[:, None, None]) ** 2 * w).sum(-1).mean(-1)
    return c, v


def _build():
    out = {}
    g = 10.0 ** (SNR_DB_GRID / 10.0)
    for qm in MODULATION_ORDERS:
        m = int(round(2 ** (qm / 2)))
        c_pam, v_pam = _pam_c_v(m, SNR_DB_GRID)
        c, v = 2.0 * c_pam, np.maximum(2.0 * v_pam, 0.0)
        deficit = qm - c
        ok = deficit > _DEFICIT_FLOOR
        k = int(np.nonzero(ok)[0][-1])  # last reliable grid point
        # Asymptote ln(deficit) = a - b * gamma fitted through the two last reliable points
        # (~1 dB apart), continued above them.
        k0 = int(np.searchsorted(SNR_DB_GRID, SNR_DB_GRID[k] - 1.0))
        b = (np.log(deficit[k0]) - np.log(deficit[k])) / (g[k] - g[k0])
        log_def = np.log(np.maximum(deficit, 1e-300))
        log_def[k + 1:] = np.log(deficit[k]) - b * (g[k + 1:] - g[k])
        c[k + 1:] = qm - np.exp(log_def[k + 1:])
        v[k + 1:] = np.minimum(v[k], v[k + 1:])
        assert np.all(np.diff(log_def) < 0), "MI deficit must be strictly decreasing"
        out[qm] = (c, v, log_def)
    return out


@functools.lru_cache(maxsize=None)
def _stacked() -> dict:
    """The tables, built on first use (about 1 s of numpy quadrature), not at import."""
    t = _build()
    return {
        # Stacked [3, G] float32 tables, row = modulation index (0: QPSK, 1: 16QAM, 2: 64QAM).
        "MI_BITS": np.stack([t[q][0] for q in MODULATION_ORDERS]).astype(np.float32),
        "MI_VAR": np.stack([t[q][1] for q in MODULATION_ORDERS]).astype(np.float32),
        "MI_LOG_DEFICIT": np.stack([t[q][2] for q in MODULATION_ORDERS]).astype(np.float32),
        "MI_TABLE_F64": {q: t[q] for q in MODULATION_ORDERS},  # float64 originals (tests)
    }


def __getattr__(name: str):
    # PEP 562: MI_BITS, MI_VAR, MI_LOG_DEFICIT and MI_TABLE_F64 are computed lazily so that
    # importing ltjax (e.g. for `ltjax list` or before jax.distributed.initialize) stays fast.
    if name in ("MI_BITS", "MI_VAR", "MI_LOG_DEFICIT", "MI_TABLE_F64"):
        return _stacked()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mod_index(qm):
    """Row of the stacked tables for Qm in {2, 4, 6}: 0, 1, 2 (works on ints and arrays)."""
    return qm // 2 - 1

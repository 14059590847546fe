"""Code-block and transport-block error rates: a finite-length bound fitted to NR LDPC decoding.

Both models start from the finite-blocklength normal approximation (Polyanskiy-Poor-Verdu
2010, eq. (296)) applied to the modulation-constrained AWGN channel,

    a(g) = (n C(g) - k + 0.5 log2 n) / sqrt(n V(g)),   BLER_ideal = Q(a(g)),

with n the number of QAM symbols (channel uses) that carry one code block, n = G / (C Qm),
k = K' the code-block size in bits (information + CRC, TS 38.212 5.2.2), and C(g), V(g) the
mean and variance of the information density of M-QAM [bits, bits^2 per symbol]
(``ltjax.phy.mi``). Q(a(g)) is the error rate of a near-ideal code of that length; a real
decoder needs more SNR. The two models differ in how they add that loss.

``model="ldpc"`` (the default): calibrated on ltjax's own NR LDPC link-level reference
(``ltjax.fec`` / ``ltjax.linklevel``: TS 38.212 coding and rate matching, layered min-sum
alpha 0.75, 20 iterations, exact LLRs, ideal CSI), measured in AWGN by the ``ldpc_bler``
experiment for every MCS of MCS table 1 and code blocks of K' ~ 100 to 8448 bits. For each
of those code blocks the table ``ltjax/phy/data/ldpc_awgn.csv`` stores the gap D between the
decoder's 10 % BLER SNR and the bound's, and the ratio s of the decoder's waterfall slope to
the bound's at that point:

    BLER = Q(a10 + s (a(g) - a10)),   g[dB] = gamma_eff[dB] - D,   a10 = Q^{-1}(0.1) = 1.2816,

so at every calibration point the 10 % SNR and the slope there are the decoder's. Between
points D and s are interpolated linearly, per Qm, in the effective code rate
K' / (Qm n) and in log2 K' (clamped at the table's edges). Receiver losses (channel
estimation, synchronisation) are not in it: the link engine adds them explicitly
(``ltjax.phy.chest``). See docs/phy_abstraction.md for the calibration and its checks.

``model="margin"`` (the model before the calibration, kept to reproduce older results):
one hand-chosen implementation margin, a linear function of the code rate
R = rate_x1024 / 1024, meant to include receiver losses,

    g[dB] = gamma_eff[dB] - margin(R),   margin(R) = 1.5 dB + 3.5 dB (1 - R),   BLER = Q(a(g)).

Transport block: TBLER = 1 - (1 - BLER_cb)^C (independent code blocks, nr_facts.md).

Letters: G SNR grid points of ``ltjax.phy.mi``; Q Qm rows (QPSK, 16QAM, 64QAM), Rn rate
nodes per Qm, Kn block-size nodes per rate node.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import math
from importlib import resources

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from ltjax.phy import mi
from ltjax.phy.effective_sinr import SNR_DB_MAX, SNR_DB_MIN, interp_uniform

MARGIN_DB_AT_RATE_1 = 1.5
MARGIN_DB_SLOPE = 3.5

BLER_MODELS = ("ldpc", "margin")
DEFAULT_BLER_MODEL = "ldpc"
A10 = 1.2815515655446004  # Q^{-1}(0.1): the bound's argument at 10 % BLER
CALIBRATION_FILE = "ldpc_awgn.csv"  # in ltjax/phy/data

_N_GRID = int(mi.SNR_DB_GRID.size)  # G


def _c_v():
    """(C, V) tables [3, G], as jax constants (tables are built lazily, see ltjax.phy.mi)."""
    return jnp.asarray(mi.MI_BITS), jnp.asarray(mi.MI_VAR)


def implementation_margin_db(rate):
    """margin(R) = 1.5 + 3.5 (1 - R) [dB], R the code rate in (0, 1] (``model="margin"``)."""
    return MARGIN_DB_AT_RATE_1 + MARGIN_DB_SLOPE * (1.0 - rate)


def _bound_arg(g_db, qm, k_cb, n_sym):
    """a(g) of the normal approximation at g_db [dB] (already clipped to the MI grid)."""
    m = mi.mod_index(qm)
    _C, _V = _c_v()
    c = interp_uniform(g_db, _C[m]) if jnp.ndim(m) == 0 else _interp_rows(g_db, _C, m)
    v = interp_uniform(g_db, _V[m]) if jnp.ndim(m) == 0 else _interp_rows(g_db, _V, m)
    n = jnp.maximum(jnp.asarray(n_sym, jnp.float32), 1.0)
    k = jnp.asarray(k_cb, jnp.float32)
    num = n * c - k + 0.5 * jnp.log2(n)
    return num / jnp.sqrt(jnp.maximum(n * v, 1e-12))


def normal_approximation_arg(snr_db, qm, k_cb, n_sym):
    """a(snr) of the normal approximation (BLER = Q(a)) at snr_db [dB], clipped to the MI grid.

    Args (broadcastable, may be traced): as ``normal_approximation_bler``. Returns float32.
    """
    g_db = jnp.clip(jnp.asarray(snr_db, jnp.float32), SNR_DB_MIN, SNR_DB_MAX)
    return _bound_arg(g_db, qm, k_cb, n_sym).astype(jnp.float32)


def normal_approximation_bler(snr_db, qm, k_cb, n_sym):
    """Q(a(snr)): the finite-length normal approximation without any loss (an ideal code).

    Args (broadcastable, may be traced): snr_db [dB], qm (2, 4, 6), k_cb = K' [bits],
    n_sym = QAM symbols per code block. Returns float32 BLER.
    """
    g_db = jnp.clip(jnp.asarray(snr_db, jnp.float32), SNR_DB_MIN, SNR_DB_MAX)
    return ndtr(-_bound_arg(g_db, qm, k_cb, n_sym)).astype(jnp.float32)


def code_block_bler(sinr_eff_db, qm, rate_x1024, k_cb, n_sym, *, model: str = DEFAULT_BLER_MODEL):
    """Code-block error rate at an effective SINR.

    Args (all broadcastable, may be traced):
      sinr_eff_db: effective SINR [dB].
      qm: bits per symbol (2, 4, 6).
      rate_x1024: nominal code rate times 1024 (used by ``model="margin"`` only; the
        calibrated model reads the effective rate K' / (Qm n) of the code block).
      k_cb: bits per code block K'.
      n_sym: QAM symbols per code block (n = G / (C Qm)).
      model: "ldpc" (the default: calibrated on the NR LDPC reference decoder, ideal CSI) or
        "margin" (the hand-chosen margin of results made before the calibration). Static.

    Returns:
      float32 BLER in [0, 1].
    """
    if model == "margin":
        rate = jnp.asarray(rate_x1024, jnp.float32) / 1024.0
        g_db = jnp.clip(sinr_eff_db - implementation_margin_db(rate), SNR_DB_MIN, SNR_DB_MAX)
        return ndtr(-_bound_arg(g_db, qm, k_cb, n_sym)).astype(jnp.float32)
    if model != "ldpc":
        raise ValueError(f"BLER model must be one of {BLER_MODELS}, got {model!r}")
    gap_db, slope = decoder_gap(qm, k_cb, n_sym)
    g_db = jnp.clip(sinr_eff_db - gap_db, SNR_DB_MIN, SNR_DB_MAX)
    a = _bound_arg(g_db, qm, k_cb, n_sym)
    return ndtr(-(A10 + slope * (a - A10))).astype(jnp.float32)


def decoder_gap(qm, k_cb, n_sym):
    """(D [dB], s) of the calibrated model for a code block, interpolated from the table.

    D is the reference decoder's 10 % BLER SNR minus the normal approximation's, s the
    ratio of their slopes there; both linear in the effective code rate K' / (Qm n) and in
    log2 K' between the table's nodes (per Qm), constant beyond its edges.

    Args (broadcastable, may be traced): qm, k_cb = K' [bits], n_sym [symbols].
    Returns (gap_db float32, slope_ratio float32).
    """
    tab = calibration_table()
    m = jnp.clip(mi.mod_index(jnp.asarray(qm, jnp.int32)), 0, len(tab.qm) - 1)
    k = jnp.maximum(jnp.asarray(k_cb, jnp.float32), 1.0)
    n = jnp.maximum(jnp.asarray(n_sym, jnp.float32), 1.0)
    rate = k / (jnp.asarray(qm, jnp.float32) * n)
    m, rate, logk = jnp.broadcast_arrays(m, rate, jnp.log2(k))
    rate_nodes = jnp.asarray(tab.rate)[m]  # [..., Rn]
    logk_nodes = jnp.asarray(tab.log2_k)[m]  # [..., Rn, Kn]
    out = []
    for values in (tab.gap_db, tab.slope_ratio):
        per_rate = _interp_last(logk[..., None], logk_nodes, jnp.asarray(values)[m])  # [..., Rn]
        out.append(_interp_last(rate, rate_nodes, per_rate).astype(jnp.float32))
    return tuple(out)


def _interp_last(x, xp, fp):
    """Linear interpolation of fp [..., P] at x [...] over nodes xp [..., P] (non-decreasing),
    clamped to the end values; repeated nodes (padding) are allowed."""
    p = xp.shape[-1]
    left = jnp.clip(jnp.sum(x[..., None] >= xp[..., 1:p - 1], axis=-1), 0, p - 2)[..., None]
    x0 = jnp.take_along_axis(xp, left, -1)[..., 0]
    x1 = jnp.take_along_axis(xp, left + 1, -1)[..., 0]
    f0 = jnp.take_along_axis(fp, left, -1)[..., 0]
    f1 = jnp.take_along_axis(fp, left + 1, -1)[..., 0]
    t = jnp.clip(jnp.where(x1 > x0, (x - x0) / jnp.where(x1 > x0, x1 - x0, 1.0), 0.0), 0.0, 1.0)
    return f0 + t * (f1 - f0)


@dataclasses.dataclass(frozen=True)
class CalibrationTable:
    """The calibrated model's nodes (numpy, padded to rectangles by repeating the last node).

    Attributes:
      qm: (2, 4, 6), the Qm of each row.
      rate: float64 [Q, Rn] nominal code rate of each rate node (MCS table 1), increasing.
      log2_k: float64 [Q, Rn, Kn] log2 K' of each node, increasing along the last axis.
      gap_db: float64 [Q, Rn, Kn] D [dB].
      slope_ratio: float64 [Q, Rn, Kn] s.
      rows: the data rows as read (dicts of floats), for reports and tests.
      header: the file's comment lines (how it was made).
    """

    qm: tuple[int, ...]
    rate: np.ndarray
    log2_k: np.ndarray
    gap_db: np.ndarray
    slope_ratio: np.ndarray
    rows: tuple
    header: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def calibration_table() -> CalibrationTable:
    """Reads ``ltjax/phy/data/ldpc_awgn.csv`` once (no work at import)."""
    text = resources.files("ltjax.phy").joinpath("data").joinpath(CALIBRATION_FILE).read_text()
    return parse_calibration(text)


def parse_calibration(text: str) -> CalibrationTable:
    """Builds a ``CalibrationTable`` from the CSV text (comment lines start with '#').

    Needs the columns qm, rate_x1024, k_prime, gap_db, slope_ratio; every Qm of
    ``ltjax.phy.mi.MODULATION_ORDERS`` must have at least one node.
    """
    header = tuple(ln for ln in text.splitlines() if ln.startswith("#"))
    body = "\n".join(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    rows = tuple({k: float(v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(body)))
    need = ("qm", "rate_x1024", "k_prime", "gap_db", "slope_ratio")
    if not rows or any(c not in rows[0] for c in need):
        raise ValueError(f"calibration table needs the columns {need}")
    qms = mi.MODULATION_ORDERS
    by_qm = []
    for qm in qms:
        rates = sorted({r["rate_x1024"] for r in rows if int(r["qm"]) == qm})
        if not rates:
            raise ValueError(f"calibration table has no node for Qm = {qm}")
        by_qm.append([sorted((r for r in rows if int(r["qm"]) == qm and r["rate_x1024"] == x),
                             key=lambda r: r["k_prime"]) for x in rates])
    n_rate = max(len(x) for x in by_qm)
    n_k = max(len(nodes) for x in by_qm for nodes in x)
    shape = (len(qms), n_rate, n_k)
    rate, logk, gap, slope = np.zeros(shape[:2]), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for i, per_rate in enumerate(by_qm):
        for j in range(n_rate):
            nodes = per_rate[min(j, len(per_rate) - 1)]
            rate[i, j] = nodes[0]["rate_x1024"] / 1024.0
            for q in range(n_k):
                r = nodes[min(q, len(nodes) - 1)]
                logk[i, j, q] = math.log2(r["k_prime"])
                gap[i, j, q] = r["gap_db"]
                slope[i, j, q] = r["slope_ratio"]
    return CalibrationTable(qm=qms, rate=rate, log2_k=logk, gap_db=gap, slope_ratio=slope, rows=rows,
                            header=header)


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

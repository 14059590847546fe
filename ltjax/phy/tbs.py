"""Transport block size (TS 38.214 5.1.3.2) and LDPC code-block segmentation (TS 38.212).

The computation is integer arithmetic, done once in Python per static configuration and
stored as lookup tables; the per-UE kernels only gather from them (exact, no float
rounding at the quantisation boundaries, and cheap inside ``lax.scan``).

Letters: Q MCS indices (29), V layers (<= 2), D DMRS-symbol counts (1..4), N RB counts
(0..R, R = 106 RBs).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ltjax.phy.tables import (
    CQI_QM, CQI_RATE_X1024, MCS_QM, MCS_RATE_X1024, N_CQI, N_MCS, SUBCARRIERS_PER_RB,
    TBS_TABLE_SMALL,
)


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """TB and code-block sizes of one transport block.

    Attributes:
      tbs: transport block size A [bits].
      n_cb: number of code blocks C.
      k_cb: bits per code block K' (information + CRCs, before filler bits) [bits].
      g_bits: coded bits available for the TB, G = N_RE * Qm * v [bits].
      base_graph: LDPC base graph, 1 or 2 (TS 38.212 7.2.2).
    """

    tbs: int
    n_cb: int
    k_cb: int
    g_bits: int
    base_graph: int


def n_re_per_prb(n_symb_sh: int, n_dmrs_symbols: int, n_oh: int = 0, dmrs_re_per_symbol: int = 12) -> int:
    """N'_RE = 12 * N_symb^sh - N_DMRS^PRB - N_oh^PRB, TS 38.214 5.1.3.2 step 1.

    ``dmrs_re_per_symbol = 12``: DMRS configuration type 1 with two CDM groups without
    data (the usual choice for rank 2), so a DMRS symbol carries no PDSCH data.
    """
    return SUBCARRIERS_PER_RB * n_symb_sh - dmrs_re_per_symbol * n_dmrs_symbols - n_oh


def tbs(n_prb: int, n_re_prime: int, qm: int, rate_x1024: int, layers: int) -> int:
    """TBS per TS 38.214 5.1.3.2 (both N_info branches). Returns 0 for an empty allocation."""
    if n_prb <= 0 or qm <= 0 or rate_x1024 <= 0:
        return 0
    n_re = min(156, n_re_prime) * n_prb
    # N_info = N_RE * R * Qm * v, with R = rate_x1024 / 1024 exactly (Fractions avoid float).
    num = n_re * rate_x1024 * qm * layers  # N_info * 1024
    n_info = num / 1024.0
    if num <= 3824 * 1024:
        n = max(3, math.floor(math.log2(n_info)) - 6) if n_info > 0 else 3
        n_info_q = max(24, (2 ** n) * math.floor(n_info / 2 ** n))
        idx = int(np.searchsorted(TBS_TABLE_SMALL, n_info_q, side="left"))
        return int(TBS_TABLE_SMALL[idx])
    n = math.floor(math.log2(n_info - 24)) - 5
    # round() in the spec rounds half up.
    n_info_q = max(3840, (2 ** n) * math.floor((n_info - 24) / 2 ** n + 0.5))
    if rate_x1024 <= 256:  # R <= 1/4
        c = math.ceil((n_info_q + 24) / 3816)
        return 8 * c * math.ceil((n_info_q + 24) / (8 * c)) - 24
    if n_info_q > 8424:
        c = math.ceil((n_info_q + 24) / 8424)
        return 8 * c * math.ceil((n_info_q + 24) / (8 * c)) - 24
    return 8 * math.ceil((n_info_q + 24) / 8) - 24


def segment(tb: int, rate_x1024: int, g_bits: int) -> Segmentation:
    """Base graph (TS 38.212 7.2.2) and code-block segmentation (TS 38.212 5.2.2).

    TB CRC: 24 bits if A > 3824 else 16 (38.212 7.2.1). BG2 if A <= 292, or A <= 3824 and
    R <= 0.67, or R <= 0.25; else BG1. K_cb = 8448 (BG1) / 3840 (BG2); above K_cb the TB
    is split into C = ceil(B / (K_cb - 24)) blocks, each with a 24-bit CB CRC.
    """
    if tb <= 0:
        return Segmentation(0, 0, 0, g_bits, 0)
    r = rate_x1024 / 1024.0
    crc = 24 if tb > 3824 else 16
    b = tb + crc
    bg = 2 if (tb <= 292 or (tb <= 3824 and r <= 0.67) or r <= 0.25) else 1
    k_cb_max = 8448 if bg == 1 else 3840
    if b <= k_cb_max:
        c, b_prime = 1, b
    else:
        c = math.ceil(b / (k_cb_max - 24))
        b_prime = b + 24 * c
    return Segmentation(tb, c, b_prime // c, g_bits, bg)


@dataclasses.dataclass(frozen=True)
class TbsTables:
    """Lookup tables over every (MCS or CQI, layers, DMRS count, RB count).

    Attributes (numpy; index [q, v-1, d-1, n_rb]):
      tbs: [Q, 2, 4, R+1] TBS [bits] for MCS table 1.
      n_cb: [Q, 2, 4, R+1] code blocks C.
      k_cb: [Q, 2, 4, R+1] bits per code block K'.
      n_sym_cb: [Q, 2, 4, R+1] modulation symbols (channel uses) per code block and
        layer-stream, G / (C * Qm) (float).
      cqi_*: the same for CQI table 1 (index 0..15), used for the CSI reference resource.
    """

    tbs: np.ndarray
    n_cb: np.ndarray
    k_cb: np.ndarray
    n_sym_cb: np.ndarray
    cqi_tbs: np.ndarray
    cqi_n_cb: np.ndarray
    cqi_k_cb: np.ndarray
    cqi_n_sym_cb: np.ndarray


def _fill(qms, rates, n_rb_max, n_symb_sh, n_oh):
    shape = (len(qms), 2, 4, n_rb_max + 1)
    out = [np.zeros(shape, np.int32), np.zeros(shape, np.int32), np.zeros(shape, np.int32),
           np.zeros(shape, np.float32)]
    for q, (qm, rate) in enumerate(zip(qms, rates)):
        for v in (1, 2):
            for d in (1, 2, 3, 4):
                nre = n_re_per_prb(n_symb_sh, d, n_oh)
                for n in range(1, n_rb_max + 1):
                    tb = tbs(n, nre, int(qm), int(rate), v)
                    g = min(156, nre) * n * int(qm) * v
                    s = segment(tb, int(rate), g)
                    idx = (q, v - 1, d - 1, n)
                    out[0][idx], out[1][idx], out[2][idx] = s.tbs, s.n_cb, s.k_cb
                    out[3][idx] = g / (max(s.n_cb, 1) * max(int(qm), 1))
    return out


@functools.lru_cache(maxsize=8)
def tbs_tables(n_rb_max: int = 106, n_symb_sh: int = 13, n_oh: int = 0) -> TbsTables:
    """Builds (and caches) the lookup tables for a static configuration.

    ``n_symb_sh = 13``: PDSCH on symbols 1..13 (symbol 0 carries the PDCCH).
    """
    m = _fill(MCS_QM, MCS_RATE_X1024, n_rb_max, n_symb_sh, n_oh)
    c = _fill(CQI_QM, CQI_RATE_X1024, n_rb_max, n_symb_sh, n_oh)
    assert m[0].shape[0] == N_MCS and c[0].shape[0] == N_CQI
    return TbsTables(*m, *c)

"""AWGN 10 %-BLER SINR tables of the CSI reference resource: the UE's CQI table and the gNB's MCS table.

Letters: Q table entries (16 CQIs or 29 MCSs), V layers (<= 2).

For entry q (a CQI of CQI table 1, TS 38.214 Table 5.2.2.1-2, or an MCS of MCS table 1,
Table 5.1.3.1-1) and rank v, ``threshold[v - 1, q]`` is the effective SINR [dB] at which the
PHY abstraction's TBLER (``ltjax.phy.bler``) of a TB on the CSI reference resource
(TS 38.214 5.2.2.5: all R RBs, v layers, ``ref_dmrs`` DMRS symbols, the entry's modulation
and code rate, TB sized and segmented as a PDSCH TB, TS 38.214 5.1.3.2 / TS 38.212 5.2.2)
equals the target (0.1, TS 38.214 5.2.2.1), found by bisection. In AWGN the effective SINR
is the flat SINR, so this *is* the AWGN table: what a UE's CQI table is calibrated on, and
what a gNB uses to turn a CQI (plus an outer-loop offset) into an MCS.

A CQI and an MCS of the same modulation and code rate have the same threshold (same TB on
the same resource), so CQI c maps to MCS ``CQI_TO_MCS[c]`` at offset 0. Computed on the
host on first use and cached (no device work at import).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.phy.bler import DEFAULT_BLER_MODEL, code_block_bler, transport_block_bler
from ltjax.phy.tables import CQI_QM, CQI_RATE_X1024, MCS_QM, MCS_RATE_X1024
from ltjax.phy.tbs import tbs_tables

TABLES = ("cqi", "mcs")


@functools.lru_cache(maxsize=32)
def awgn_sinr_thresholds(table: str = "cqi", n_rb: int = 106, n_symb_sh: int = 13, ref_dmrs: int = 2,
                         bler_target: float = 0.1, iters: int = 40,
                         bler_model: str = DEFAULT_BLER_MODEL) -> np.ndarray:
    """SINR [dB] at which each entry's reference-resource TBLER equals ``bler_target``.

    Bisection on [-20, 40] dB (the TBLER decreases monotonically with the SINR), every entry
    and rank at once; 40 halvings give a bracket below 1e-10 dB, i.e. float32 precision.

    Args:
      table: "cqi" (CQI table 1, 16 entries; CQI 0 "out of range" is -inf, always allowed)
        or "mcs" (MCS table 1, 29 entries).
      n_rb, n_symb_sh, ref_dmrs: the reference resource (RBs, PDSCH symbols, DMRS symbols).
      bler_model: the code-block error model (``ltjax.phy.bler.BLER_MODELS``).

    Returns:
      float32 [2, Q], indexed [rank - 1, entry] (read-only).
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, got {table!r}")
    t = tbs_tables(n_rb, n_symb_sh)
    first = 1 if table == "cqi" else 0  # CQI 0 is not a transmission
    qm_all, rate_all = (CQI_QM, CQI_RATE_X1024) if table == "cqi" else (MCS_QM, MCS_RATE_X1024)
    entries = np.arange(first, len(qm_all))
    qm = qm_all[first:][None, :]
    rate = rate_all[first:][None, :]
    v = np.arange(2)[:, None]
    idx = (entries[None, :], v, ref_dmrs - 1, n_rb)
    if table == "cqi":
        k_cb, n_sym, n_cb = t.cqi_k_cb[idx], t.cqi_n_sym_cb[idx], t.cqi_n_cb[idx]  # [2, Q - 1]
    else:
        k_cb, n_sym, n_cb = t.k_cb[idx], t.n_sym_cb[idx], t.n_cb[idx]  # [2, Q]

    def tbler(s):
        # Host constants even when first needed while a jitted engine is being traced.
        with jax.ensure_compile_time_eval():
            return np.asarray(transport_block_bler(code_block_bler(jnp.asarray(s), qm, rate, k_cb, n_sym, model=bler_model), n_cb))

    lo = np.full(k_cb.shape, -20.0)
    hi = np.full(k_cb.shape, 40.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = tbler(mid.astype(np.float32)) <= bler_target
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    out = np.full((2, len(qm_all)), -np.inf, np.float32)
    out[:, first:] = hi.astype(np.float32)
    out.setflags(write=False)
    return out


def thresholds_for(cfg, table: str = "cqi") -> np.ndarray:
    """:func:`awgn_sinr_thresholds` of a ``LinkConfig`` (its R, PDSCH symbols, reference DMRS, target)."""
    return awgn_sinr_thresholds(table, cfg.channel.n_rb, cfg.n_symb_sh, cfg.cqi_ref_dmrs, cfg.bler_target,
                                bler_model=cfg.bler_model)


def mcs_from_cqi(cqi, rank, offset_db, cqi_thresholds, mcs_thresholds):
    """The gNB's MCS for a reported CQI plus an outer-loop offset: int32 [].

    MCS = highest m with mcs_threshold[rank - 1, m] <= cqi_threshold[rank - 1, CQI] + offset
    (MCS 0 if none: the most robust MCS rather than no transmission). At offset 0 this is
    ``CQI_TO_MCS[CQI]`` (same modulation and code rate, same threshold).

    Args:
      cqi: int32 [] reported CQI. rank: int32 [] layers (1..2). offset_db: float32 [] [dB].
      cqi_thresholds: [2, 16], mcs_thresholds: [2, 29] (:func:`awgn_sinr_thresholds`).
    """
    sinr = jnp.asarray(cqi_thresholds)[rank - 1, cqi] + offset_db
    thr = jnp.asarray(mcs_thresholds)[rank - 1]
    ok = thr <= sinr
    return jnp.max(jnp.where(ok, jnp.arange(thr.shape[0]), 0)).astype(jnp.int32)


__all__ = ["TABLES", "awgn_sinr_thresholds", "mcs_from_cqi", "thresholds_for"]

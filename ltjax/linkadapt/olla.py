"""Table-based CQI selection with an outer-loop link adaptation (OLLA) offset, per UE.

The inner loop is a SINR -> CQI table for a 10 % BLER in AWGN, computed from ltjax's own PHY
abstraction (``ltjax.phy.bler``): for CQI c and rank v, ``threshold[v-1, c]`` is the effective
SINR [dB] at which the TBLER of the CSI reference resource (TS 38.214 5.2.2.5: all R RBs,
v layers, ``cfg.cqi_ref_dmrs`` DMRS symbols, CQI table 1 modulation and rate, TB sized as a
PDSCH TB) equals 0.1, found by bisection. In AWGN the effective SINR is the flat SINR, so
this *is* the AWGN 10 %-BLER table. The UE reports

    CQI_table = max{ c in 1..15 : threshold[ri-1, c] <= sinr_eff[mod(c)] + offset }   (0 if none)

with ``sinr_eff = CsiOut.sinr_eff_db`` the measured MIESM effective SINR of the modulation of
CQI c (QPSK / 16QAM / 64QAM). With offset 0 this reproduces the engine's own ``select_cqi``.

The outer loop (OLLA, e.g. [12] of the paper, Sionna SYS ``OLLA``) moves the offset with
HARQ feedback: -Delta_up per NACK, +Delta_down per ACK,
Delta_down = Delta_up * T / (1 - T), T = 0.1, so that its fixed point is BLER = T.
Our engine fixes the MCS for a whole CSI-RS period (S = 160 slots), so the period's counts
are applied at once at the period end (the same sum the per-TB rule would give had the
MCS not changed within the period):

    offset <- clip(offset - Delta_up * n_NACK + Delta_down * n_ACK, offset_min, offset_max).

The counts are those of the period's first transmissions by default (``feedback =
"first_tx"``, :func:`feedback_counts`): the loop's fixed point is then a single-transmission
BLER of T, the error probability the CQI is defined by (TS 38.214 5.2.2.1); ``"all_tx"``
counts every PDSCH ACK/NACK, retransmissions included (the loop before the option). A
gNB-side loop that moves the MCS per HARQ feedback within the period is part of the link
engine (``ltjax.link.LinkConfig.gnb_olla``).

Because one period carries ~160 feedbacks, Delta_up is much smaller than a per-TB OLLA step
(default 0.02 dB: a period of all NACKs moves -3.2 dB, one of all ACKs +0.36 dB). The
offset is clipped to [-20, +10] dB. See docs/link_adaptation.md.

:class:`OllaPolicy` is the scheme as a policy (``ltjax.linkadapt.policy``). Everything is for
ONE UE (unbatched) and pure; ``threshold`` tables are numpy constants.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.linkadapt.policy import Observation, metrics, no_backoff
from ltjax.phy.tables import CQI_QM, N_CQI
from ltjax.phy.bler import DEFAULT_BLER_MODEL
from ltjax.phy.thresholds import awgn_sinr_thresholds

BLER_TARGET = 0.1
# Which HARQ feedback the outer loop counts: first transmissions (default) or all.
OLLA_FEEDBACK = ("first_tx", "all_tx")


@struct.dataclass
class OllaParams:
    """OLLA hyper-parameters (traced; a sweep may vmap them).

    Attributes:
      delta_up_db: offset decrease per NACK [dB].
      target: BLER target T (Delta_down = Delta_up * T / (1 - T)).
      offset_min_db, offset_max_db: clip range of the offset [dB].
    """

    delta_up_db: float = 0.02
    target: float = BLER_TARGET
    offset_min_db: float = -20.0
    offset_max_db: float = 10.0


@struct.dataclass
class OllaState:
    """One UE's OLLA state."""

    offset_db: jnp.ndarray  # [] float32, added to the measured effective SINR [dB]


def olla_init() -> OllaState:
    """Offset 0 dB (the table alone)."""
    return OllaState(offset_db=jnp.zeros([], jnp.float32))


def olla_update(state: OllaState, n_ack, n_nack, params: OllaParams = OllaParams()) -> OllaState:
    """Applies one period's HARQ feedback: -Delta_up per NACK, +Delta_down per ACK, then clips.

    Args:
      n_ack, n_nack: int [] the ACKs / NACKs of the period the loop counts
        (:func:`feedback_counts`).
    """
    d_up = jnp.asarray(params.delta_up_db, jnp.float32)
    d_down = d_up * params.target / (1.0 - params.target)
    off = (state.offset_db - d_up * jnp.asarray(n_nack, jnp.float32)
           + d_down * jnp.asarray(n_ack, jnp.float32))
    return state.replace(offset_db=jnp.clip(off, params.offset_min_db, params.offset_max_db)
                         .astype(jnp.float32))


def feedback_counts(out, feedback: str = "first_tx"):
    """(n_ack, n_nack) int32 [] of a period's ``PeriodOutputs`` that the outer loop counts.

    "first_tx": the ACK/NACKs of the period's first transmissions (new TBs). The loop then
    steers the single-transmission BLER, the error probability the CQI is defined by
    (TS 38.214 5.2.2.1), to its target T; a retransmission of a TB that failed at the first
    attempt succeeds far more often than T, so counting it as well (``"all_tx"``, every PDSCH
    ACK/NACK of the period) lets the loop settle where the first-transmission BLER is above T.
    """
    if feedback == "first_tx":
        return out.n_ack_first, out.n_nack_first
    if feedback == "all_tx":
        return out.n_ack, out.n_nack
    raise ValueError(f"feedback must be one of {OLLA_FEEDBACK}, got {feedback!r}")


def cqi_sinr_thresholds(n_rb: int = 106, n_symb_sh: int = 13, cqi_ref_dmrs: int = 2,
                        bler_target: float = BLER_TARGET, iters: int = 40,
                        bler_model: str = DEFAULT_BLER_MODEL) -> np.ndarray:
    """AWGN effective-SINR thresholds [dB] for TBLER = ``bler_target`` on the reference resource.

    The CQI table of ``ltjax.phy.thresholds.awgn_sinr_thresholds`` (bisection on [-20, 40] dB,
    every CQI 1..15 and rank 1..2 at once, cached on the host).

    Returns:
      float32 [2, 16]: ``[ri - 1, cqi]``; CQI 0 is -inf (always allowed).
    """
    return awgn_sinr_thresholds("cqi", n_rb, n_symb_sh, cqi_ref_dmrs, bler_target, iters, bler_model)


def thresholds_for(cfg) -> np.ndarray:
    """:func:`cqi_sinr_thresholds` for a ``LinkConfig`` (its R, PDSCH symbols, reference DMRS)."""
    return cqi_sinr_thresholds(cfg.channel.n_rb, cfg.n_symb_sh, cfg.cqi_ref_dmrs, cfg.bler_target,
                               bler_model=cfg.bler_model)


def table_cqi(sinr_eff_db, ri, offset_db, thresholds) -> jnp.ndarray:
    """CQI_table = highest CQI whose threshold <= measured effective SINR + offset (0 if none).

    Args:
      sinr_eff_db: float32 [3] measured effective SINR [dB] for QPSK, 16QAM, 64QAM
        (``CsiOut.sinr_eff_db``); CQI c is compared with the entry of its modulation.
      ri: int32 [] reported rank (1 or 2).
      offset_db: float32 [] OLLA offset [dB].
      thresholds: [2, 16] from :func:`cqi_sinr_thresholds`.

    Returns:
      int32 [] CQI in 0..15.
    """
    c = jnp.arange(1, N_CQI)
    eff = jnp.asarray(sinr_eff_db)[jnp.asarray(CQI_QM[1:] // 2 - 1)]  # [15]
    thr = jnp.asarray(thresholds)[jnp.asarray(ri) - 1, 1:]  # [15]
    ok = thr <= eff + offset_db
    return jnp.max(jnp.where(ok, c, 0)).astype(jnp.int32)


@struct.dataclass
class OllaPolicy:
    """Table-based CQI with an OLLA offset, as a link-adaptation policy (``ltjax.linkadapt.policy``).

    Attributes:
      thresholds: float32 [2, 16] SINR -> CQI table [dB] (:func:`thresholds_for`).
      params: :class:`OllaParams`.
      feedback: static, the HARQ feedback the offset counts (:func:`feedback_counts`):
        "first_tx" (default) or "all_tx".
    """

    thresholds: jax.Array  # [2, 16] float32
    params: OllaParams = OllaParams()
    feedback: str = struct.field(pytree_node=False, default="first_tx")

    def init(self, key) -> OllaState:
        """Offset 0 dB (``key`` unused)."""
        del key
        return olla_init()

    def next_cqi(self, state: OllaState, obs: Observation):
        """(CQI_table, False): the table CQI of the latest report with the current offset."""
        return table_cqi(obs.report.sinr_eff_db, obs.report.ri, state.offset_db, self.thresholds), no_backoff()

    def update(self, key, state: OllaState, out):
        """The period's counted ACK/NACKs move the offset (:func:`olla_update`); ``key`` unused."""
        del key
        state = olla_update(state, *feedback_counts(out, self.feedback), self.params)
        return state, metrics(state.offset_db)

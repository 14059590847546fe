"""Per-UE HARQ with chase combining (one UE; ``ltjax.batching.map_ues`` batches UEs).

Letters: P HARQ processes, R resource blocks, Nt gNB ports.

Model (documented in docs/link_engine.md):
- The UE receives one PDSCH transport block (TB) in every slot. There are P = 8 HARQ
  processes served round-robin, process p = slot mod P, so a NACKed TB is retransmitted
  P slots (4 ms at 30 kHz) after its previous transmission: the HARQ round-trip time is P
  slots and feedback is always in time (K1 + processing <= P slots).
- A process that holds a NACKed TB with fewer than ``max_tx`` transmissions retransmits it
  (same TBS, MCS, RBs, DMRS, layers and precoder: chase combining sends the same coded bits
  on the same resources); otherwise it starts a new TB with the period's allocation.
- Chase combining: the SINR of every (RB, layer) adds over the transmissions of a TB
  (maximum-ratio combining of identical symbols); the combined SINRs go through the same
  effective-SINR -> BLER mapping as a first transmission, so the k and n of the code
  blocks are unchanged and only the SINR grows.
- ACK/NACK is drawn from the TBLER. An ACK delivers TBS bits; after ``max_tx`` NACKs the TB
  is dropped (residual error, no bits).
- Eq. 11 counts EVERY PDSCH transmission's ACK/NACK, retransmissions included, as the UE
  sees them (docs/link_engine.md).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TbDesc:
    """What one PDSCH transmission carries (a new TB or a retransmission).

    Attributes:
      mcs: int32 [] MCS (table 1).
      n_rb: int32 [] allocated RBs.
      rb_start: int32 [] first RB (the allocation is contiguous, wrapping at R).
      n_dmrs: int32 [] DMRS symbols per slot (1..4).
      layers: int32 [] transmission rank (1..2).
      precoder: complex64 [Nt, 2] precoder (column 2 zero for rank 1).
    """

    mcs: jax.Array  # [] int32
    n_rb: jax.Array  # [] int32
    rb_start: jax.Array  # [] int32
    n_dmrs: jax.Array  # [] int32
    layers: jax.Array  # [] int32
    precoder: jax.Array  # [Nt, 2] complex64


@flax.struct.dataclass
class HarqState:
    """One UE's HARQ processes.

    Attributes:
      pending: bool [P], the process holds a NACKed TB awaiting retransmission.
      n_tx: int32 [P], transmissions made of the process's TB.
      tb: TbDesc with a leading [P] axis on every field.
      acc_sinr: float32 [P, R, 2], chase-combined SINR per allocated RB (relative to
        rb_start) and layer.
    """

    pending: jax.Array  # [P] bool
    n_tx: jax.Array  # [P] int32
    tb: TbDesc  # fields [P, ...]
    acc_sinr: jax.Array  # [P, R, 2] float32


def init_harq(n_proc: int, n_rb: int, n_tx_ports: int) -> HarqState:
    """Empty HARQ state (no pending TBs)."""
    zi = jnp.zeros((n_proc,), jnp.int32)
    tb = TbDesc(mcs=zi, n_rb=zi, rb_start=zi, n_dmrs=zi + 1, layers=zi + 1,
                precoder=jnp.zeros((n_proc, n_tx_ports, 2), jnp.complex64))
    return HarqState(pending=jnp.zeros((n_proc,), bool), n_tx=zi, tb=tb,
                     acc_sinr=jnp.zeros((n_proc, n_rb, 2), jnp.float32))


def harq_select(state: HarqState, process, new_tb: TbDesc):
    """TB to send on ``process`` this slot: its pending TB, else ``new_tb``.

    Returns:
      (tb, is_retx [] bool, prior_sinr float32 [R, 2]: the SINR already combined, 0 if new).
    """
    is_retx = state.pending[process]
    stored = jax.tree_util.tree_map(lambda x: x[process], state.tb)
    tb = jax.tree_util.tree_map(lambda a, b: jnp.where(is_retx, a, b), stored, new_tb)
    prior = jnp.where(is_retx, state.acc_sinr[process], 0.0)
    return tb, is_retx, prior


def harq_feedback(state: HarqState, process, tb: TbDesc, combined_sinr, ack, max_tx: int):
    """Applies one ACK/NACK to ``process``.

    Args:
      combined_sinr: float32 [R, 2] SINR combined over this TB's transmissions so far.
      ack: bool [].
      max_tx: static maximum number of transmissions per TB (>= 1).

    Returns:
      (state, dropped [] bool): dropped is True when the max_tx-th transmission failed.
    """
    n_tx = jnp.where(state.pending[process], state.n_tx[process], 0) + 1
    retry = (~ack) & (n_tx < max_tx)
    dropped = (~ack) & (n_tx >= max_tx)
    new_tb = jax.tree_util.tree_map(lambda all_, one: all_.at[process].set(one), state.tb, tb)
    return state.replace(
        pending=state.pending.at[process].set(retry),
        n_tx=state.n_tx.at[process].set(jnp.where(retry, n_tx, 0)),
        tb=new_tb,
        acc_sinr=state.acc_sinr.at[process].set(jnp.where(retry, combined_sinr, 0.0)),
    ), dropped

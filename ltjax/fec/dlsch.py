"""Transport-block channel coding of the DL-SCH (TS 38.212 7.2) and its receiver side.

Transmitter: TB CRC (7.2.1) -> base graph (7.2.2) -> code-block segmentation and CB CRC
(5.2.2) -> LDPC encoding (5.3.2) -> rate matching per code block (5.4.2) -> code-block
concatenation (5.5). Receiver: split into code blocks, ``rate_recover``, LDPC decoding of
all C code blocks (vmapped), CB CRC and TB CRC checks. Scrambling (TS 38.211 7.3.1.1) is
not modelled: it changes which bits are sent, not their statistics on a symmetric channel.

Every size is static (``TbCodingConfig``, hashable, with the derived plan built once by
numpy); the bit operations are pure jnp functions of one transport block, to be vmapped
over transport blocks by the caller.

Letters: A TB bits, B = A + TB CRC, C code blocks, K' bits per code block, K with filler,
Z lifting size, N circular buffer (66 Z / 50 Z), E_r rate-matched bits of block r,
Emax = max_r E_r, G coded bits of the TB.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.fec.crc import crc_attach, crc_check, crc_length
from ltjax.fec.decoders import DecodeResult, decode_flooding_batch, decode_layered_batch
from ltjax.fec.ldpc import LdpcCode, encode, rows_for_sent_bits
from ltjax.fec.ratematch import (FILLER_LLR, RateMatchConfig, code_block_e, n_cb_lbrm,
                                 rate_match_indices)
from ltjax.fec.segmentation import (CodeBlockSegmentation, code_block_segmentation, desegment,
                                    segment, select_base_graph, tb_crc_poly)


@dataclasses.dataclass(frozen=True)
class TbCodingConfig:
    """Static description of one coded transport block.

    Attributes:
      tbs: A, transport-block size [bits].
      g_bits: G, coded bits available for the TB (N_RE * Qm * layers).
      qm: bits per modulation symbol (2, 4, 6, 8).
      n_layers: N_L, layers (1..4; enters E_r).
      rate: target code rate R for the base-graph choice (7.2.2), e.g. rate_x1024 / 1024.
      rv: redundancy version 0..3.
      tbs_lbrm: TBS_LBRM for limited-buffer rate matching, or None (N_cb = N).
      bg: base graph override (None: TS 38.212 7.2.2).
    """

    tbs: int
    g_bits: int
    qm: int
    n_layers: int = 1
    rate: float = 0.5
    rv: int = 0
    tbs_lbrm: int | None = None
    bg: int | None = None

    def __post_init__(self):
        if self.tbs < 1 or self.g_bits < 1:
            raise ValueError(f"need TBS >= 1 and G >= 1, got {self.tbs!r}, {self.g_bits!r}")
        if self.g_bits % (self.qm * self.n_layers):
            raise ValueError(f"G = {self.g_bits} must be a multiple of Qm N_L = {self.qm * self.n_layers}")

    @property
    def tb_crc(self) -> str:
        """TB CRC polynomial (7.2.1)."""
        return tb_crc_poly(self.tbs)

    @property
    def base_graph(self) -> int:
        return self.bg if self.bg is not None else select_base_graph(self.tbs, self.rate)

    @property
    def segmentation(self) -> CodeBlockSegmentation:
        return code_block_segmentation(self.tbs + crc_length(self.tb_crc), self.base_graph)

    @property
    def code(self) -> LdpcCode:
        s = self.segmentation
        return LdpcCode(s.bg, s.z)

    @property
    def e_bits(self) -> tuple[int, ...]:
        """E_r of each code block (5.4.2.1)."""
        return code_block_e(self.g_bits, self.segmentation.n_cb, self.qm, self.n_layers)

    def rate_match_config(self, r: int) -> RateMatchConfig:
        s = self.segmentation
        ncb = None if self.tbs_lbrm is None else n_cb_lbrm(s.bg, s.z, s.n_cb, self.tbs_lbrm)
        return RateMatchConfig(bg=s.bg, z=s.z, k_prime=s.k_prime, k=s.k, e=self.e_bits[r],
                               qm=self.qm, rv=self.rv, n_cb=ncb)

    @property
    def decoder_rows(self) -> int:
        """Base rows the decoder needs: up to the last extension parity column any code block
        sent (``ltjax.fec.ldpc.rows_for_sent_bits``)."""
        s = self.segmentation
        return max(rows_for_sent_bits(s.bg, s.z, rate_match_indices(self.rate_match_config(r)))
                   for r in range(s.n_cb))

    @property
    def effective_rate(self) -> float:
        """A / G: information bits per coded bit actually sent."""
        return self.tbs / self.g_bits


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Static gather/scatter indices of a TB (numpy).

    tx_idx: int32 [G] position in the stacked d [C * N] of each coded bit.
    rx_src: int32 [C, Emax] position in the LLRs [G] of bit t of block r (G where padded).
    rx_dst: int32 [C, Emax] position in d_r [N] (N where padded: dropped).
    """

    tx_idx: np.ndarray
    rx_src: np.ndarray
    rx_dst: np.ndarray


@functools.lru_cache(maxsize=64)
def _plan(cfg: TbCodingConfig) -> _Plan:
    s = cfg.segmentation
    n = s.n
    e = cfg.e_bits
    e_max = max(e)
    tx, src, dst = [], np.full((s.n_cb, e_max), cfg.g_bits, np.int32), np.full((s.n_cb, e_max), n, np.int32)
    off = 0
    for r in range(s.n_cb):
        idx = rate_match_indices(cfg.rate_match_config(r))
        tx.append(idx + r * n)
        src[r, :e[r]] = off + np.arange(e[r])
        dst[r, :e[r]] = idx
        off += e[r]
    return _Plan(tx_idx=np.concatenate(tx).astype(np.int32), rx_src=src, rx_dst=dst)


def tb_encode(cfg: TbCodingConfig, a):
    """Coded bits of one transport block.

    Args:
      cfg: static TB configuration.
      a: int [A] transport-block bits.

    Returns:
      int8 [G] rate-matched, interleaved, concatenated bits (the input of modulation).
    """
    s = cfg.segmentation
    code = cfg.code
    b = crc_attach(jnp.asarray(a, jnp.int8), cfg.tb_crc)
    c = segment(b, s)  # [C, K]
    d = jax.vmap(lambda x: encode(code, x))(c)  # [C, N]
    return d.reshape(-1)[jnp.asarray(_plan(cfg).tx_idx)]


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Static decoder choice.

    Attributes:
      kind: "layered" (normalised / offset min-sum) or "flooding" (sum-product BP).
      max_iter: largest number of iterations.
      early_stop: stop at a zero syndrome (while loop) or run a masked scan (differentiable).
      prune: decode only the base rows whose extension parity bits were sent
        (``TbCodingConfig.decoder_rows``), several times faster at high code rates. For
        the layered decoder each iteration gives exactly the full graph's decisions; the
        zero-syndrome stop can come earlier (the full graph also waits for the unsent
        parity bits' hard decisions to agree). False runs every row (the behaviour before
        pruning existed).
    """

    kind: str = "layered"
    max_iter: int = 20
    early_stop: bool = True
    prune: bool = True

    def __post_init__(self):
        if self.kind not in ("layered", "flooding"):
            raise ValueError(f"DecoderConfig.kind must be 'layered' or 'flooding', got {self.kind!r}")


class TbDecodeResult(NamedTuple):
    """Receiver output of one transport block.

    Attributes:
      bits: int8 [A] decoded TB bits.
      tb_crc_ok: bool [] TB CRC (and every CB CRC) holds.
      cb_crc_ok: bool [C] CB CRC per code block (all True when C = 1).
      n_iter: int32 [C] decoder iterations per code block.
    """

    bits: jax.Array
    tb_crc_ok: jax.Array
    cb_crc_ok: jax.Array
    n_iter: jax.Array


def code_block_llrs(cfg: TbCodingConfig, llr):
    """Circular-buffer LLRs [C, N] of every code block from the G received LLRs."""
    p = _plan(cfg)
    s = cfg.segmentation
    llr = jnp.asarray(llr, jnp.float32)
    vals = llr.at[jnp.asarray(p.rx_src)].get(mode="fill", fill_value=0.0)  # [C, Emax]
    dst = jnp.asarray(p.rx_dst)
    cb = jax.vmap(lambda d_, v: jnp.zeros((s.n,), jnp.float32).at[d_].add(v, mode="drop"))(dst, vals)
    fill = cfg.rate_match_config(0).filler
    return cb.at[:, fill].set(FILLER_LLR)


def decode_code_blocks(cfg: TbCodingConfig, cb_llr, dec: DecoderConfig = DecoderConfig(),
                       alpha=0.75, beta=0.0) -> DecodeResult:
    """Decodes X code blocks of this TB's code at once: cb_llr [X, N] -> DecodeResult [X]."""
    code = cfg.code
    n_rows = cfg.decoder_rows if dec.prune else None
    if dec.kind == "layered":
        return decode_layered_batch(code, cb_llr, alpha, beta, dec.max_iter, dec.early_stop, n_rows)
    return decode_flooding_batch(code, cb_llr, dec.max_iter, dec.early_stop, n_rows)


def tb_check(cfg: TbCodingConfig, cb_bits, n_iter) -> TbDecodeResult:
    """TB bits and CRC results from the decoded code blocks cb_bits [C, K] of one TB."""
    b, cb_ok = desegment(cb_bits, cfg.segmentation)
    tb_ok = crc_check(b, cfg.tb_crc) & jnp.all(cb_ok)
    return TbDecodeResult(bits=b[:cfg.tbs], tb_crc_ok=tb_ok, cb_crc_ok=cb_ok, n_iter=n_iter)


def tb_decode(cfg: TbCodingConfig, llr, dec: DecoderConfig = DecoderConfig(), alpha=0.75,
              beta=0.0) -> TbDecodeResult:
    """Decodes one transport block from its G LLRs (positive = bit 0).

    Args:
      cfg: static TB configuration (as at the transmitter).
      llr: float [G] LLRs of the coded bits in transmission order.
      dec: static decoder choice.
      alpha, beta: min-sum normalisation and offset (layered only; may be traced).

    Returns:
      TbDecodeResult.
    """
    res = decode_code_blocks(cfg, code_block_llrs(cfg, llr), dec, alpha, beta)
    return tb_check(cfg, res.bits, res.n_iter)


def tb_decode_batch(cfg: TbCodingConfig, llr, dec: DecoderConfig = DecoderConfig(), alpha=0.75,
                    beta=0.0) -> TbDecodeResult:
    """``tb_decode`` of B transport blocks llr [B, G], all B C code blocks in one decoder call.

    Same results as vmapping ``tb_decode``; faster, because the decoder kernel runs with the
    code blocks as its minor axis. Fields get a leading B axis.
    """
    s = cfg.segmentation
    cb = jax.vmap(lambda l: code_block_llrs(cfg, l))(llr)  # [B, C, N]
    n_tb = cb.shape[0]
    res = decode_code_blocks(cfg, cb.reshape(n_tb * s.n_cb, s.n), dec, alpha, beta)
    bits = res.bits.reshape(n_tb, s.n_cb, -1)
    return jax.vmap(lambda b, i: tb_check(cfg, b, i))(bits, res.n_iter.reshape(n_tb, s.n_cb))

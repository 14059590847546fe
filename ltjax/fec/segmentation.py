"""LDPC base-graph selection and code-block segmentation (TS 38.212 7.2.2, 5.2.2).

The sizes are integer arithmetic on static numbers, done in Python
(``code_block_segmentation``); the bit operations (``segment``, ``desegment``) are jnp
gathers with static slices, so they jit and vmap.

Base graph (7.2.2, the same rule for UL-SCH in 6.2.2): BG2 if A <= 292, or A <= 3824 and
R <= 0.67, or R <= 0.25; otherwise BG1. The transport-block CRC is CRC24A if A > 3824 and
CRC16 otherwise (7.2.1), so B = A + 24 or A + 16.

Segmentation (5.2.2), with K_cb = 8448 (BG1) or 3840 (BG2):
  B <= K_cb: L = 0, C = 1, B' = B;  else L = 24, C = ceil(B / (K_cb - L)), B' = B + C L.
  K' = B' / C bits per code block (information + CB CRC24B when C > 1).
  K_b = 22 (BG1); for BG2 K_b = 10, 9, 8, 6 for B > 640, > 560, > 192, otherwise.
  Z_c = the smallest Z of Table 5.3.2-1 with K_b Z >= K'; K = 22 Z_c (BG1), 10 Z_c (BG2).
  Code block r: c_r = [b_{r(K'-L)}, ..., b_{(r+1)(K'-L)-1}, CRC24B (if C > 1), F = K - K'
  filler bits]. Filler bits are <NULL> in the spec and 0 for encoding; here they are 0 and
  their positions are known statically (``filler`` slice).

Letters: A transport-block bits, B = A + TB CRC, C code blocks, K' = ``k_prime``,
K = code-block length with filler bits, Z lifting size, N = circular-buffer length
(66 Z for BG1, 50 Z for BG2).
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp

from ltjax.fec.basegraph import LIFTING_SIZES, set_index
from ltjax.fec.crc import crc_attach, crc_check

K_CB_MAX = {1: 8448, 2: 3840}
CB_CRC_BITS = 24


def select_base_graph(a_bits: int, rate: float) -> int:
    """LDPC base graph (TS 38.212 7.2.2) of a TB of A bits at target code rate R (0 < R <= 1)."""
    if a_bits <= 292 or (a_bits <= 3824 and rate <= 0.67) or rate <= 0.25:
        return 2
    return 1


def tb_crc_poly(a_bits: int) -> str:
    """Transport-block CRC (TS 38.212 7.2.1): "24A" if A > 3824 else "16"."""
    return "24A" if a_bits > 3824 else "16"


@dataclasses.dataclass(frozen=True)
class CodeBlockSegmentation:
    """Sizes of one LDPC-coded block sequence (TS 38.212 5.2.2). All Python ints.

    Attributes:
      b_bits: B, bits entering segmentation (TB + TB CRC).
      bg: base graph (1 or 2).
      n_cb: C, number of code blocks.
      crc_bits: L, CB CRC bits per block (0 if C = 1 else 24).
      k_prime: K', bits per code block before filler bits (information + CB CRC).
      k: K, code-block length with filler bits (22 Z or 10 Z).
      z: Z_c, lifting size.
      kb: K_b, the systematic-column count used to choose Z (not the encoder's 22 / 10).
    """

    b_bits: int
    bg: int
    n_cb: int
    crc_bits: int
    k_prime: int
    k: int
    z: int
    kb: int

    @property
    def i_ls(self) -> int:
        """Lifting-size set index of Z (Table 5.3.2-1)."""
        return set_index(self.z)

    @property
    def n_filler(self) -> int:
        """F = K - K' filler bits per code block."""
        return self.k - self.k_prime

    @property
    def filler(self) -> slice:
        """Positions [K', K) of the filler bits in a code block."""
        return slice(self.k_prime, self.k)

    @property
    def n(self) -> int:
        """N, encoded bits per code block after puncturing 2 Z: 66 Z (BG1) or 50 Z (BG2)."""
        return (66 if self.bg == 1 else 50) * self.z

    @property
    def payload_bits(self) -> int:
        """K' - L, bits of B carried by each code block."""
        return self.k_prime - self.crc_bits


def code_block_segmentation(b_bits: int, bg: int) -> CodeBlockSegmentation:
    """Sizes for B bits on base graph ``bg`` (TS 38.212 5.2.2).

    Raises:
      ValueError: B < 1, bg not in {1, 2}, or B' not divisible by C (a B that no TBS gives).
    """
    if bg not in K_CB_MAX:
        raise ValueError(f"base graph must be 1 or 2, got {bg!r}")
    if b_bits < 1:
        raise ValueError(f"B must be >= 1 bit, got {b_bits!r}")
    k_cb = K_CB_MAX[bg]
    if b_bits <= k_cb:
        crc, n_cb, b_prime = 0, 1, b_bits
    else:
        crc = CB_CRC_BITS
        n_cb = math.ceil(b_bits / (k_cb - crc))
        b_prime = b_bits + n_cb * crc
    if b_prime % n_cb:
        raise ValueError(f"B' = {b_prime} is not a multiple of C = {n_cb} (B = {b_bits})")
    k_prime = b_prime // n_cb
    if bg == 1:
        kb = 22
    else:
        kb = 10 if b_bits > 640 else 9 if b_bits > 560 else 8 if b_bits > 192 else 6
    z = min(zz for zz in LIFTING_SIZES if kb * zz >= k_prime)
    k = (22 if bg == 1 else 10) * z
    return CodeBlockSegmentation(b_bits=b_bits, bg=bg, n_cb=n_cb, crc_bits=crc, k_prime=k_prime,
                                 k=k, z=z, kb=kb)


def segment(b, seg: CodeBlockSegmentation):
    """Code blocks c_rk of TS 38.212 5.2.2.

    Args:
      b: int [B] bits (TB followed by its TB CRC).
      seg: sizes from ``code_block_segmentation``.

    Returns:
      int8 [C, K]: per block K' - L bits of b, the CB CRC24B (when C > 1), then F zeros
      (filler bits, 0 for encoding).
    """
    b = jnp.asarray(b, jnp.int8)
    if b.shape[-1] != seg.b_bits:
        raise ValueError(f"segment: expected {seg.b_bits} bits, got {b.shape[-1]}")
    blocks = b.reshape(seg.n_cb, seg.payload_bits)
    if seg.crc_bits:
        blocks = crc_attach(blocks, "24B")
    return jnp.pad(blocks, ((0, 0), (0, seg.n_filler)))


def desegment(c, seg: CodeBlockSegmentation):
    """Inverse of ``segment`` on decoded blocks (code-block concatenation, 5.2.2 reversed).

    Args:
      c: int [C, K] or [C, K'] decoded code blocks.
      seg: sizes from ``code_block_segmentation``.

    Returns:
      (b: int8 [B], cb_crc_ok: bool [C]); cb_crc_ok is all True when C = 1 (no CB CRC).
    """
    c = jnp.asarray(c, jnp.int8)[:, :seg.k_prime]
    if seg.crc_bits:
        ok = crc_check(c, "24B")
    else:
        ok = jnp.ones((seg.n_cb,), bool)
    return c[:, :seg.payload_bits].reshape(seg.b_bits), ok

"""LDPC rate matching and its inverse (TS 38.212 5.4.2).

Bit selection (5.4.2.1): the N encoded bits d_0..d_{N-1} form a circular buffer of length
N_cb = N, or N_cb = min(N, N_ref) with limited-buffer rate matching (LBRM),
N_ref = floor(TBS_LBRM / (C R_LBRM)), R_LBRM = 2/3. Reading starts at k0 (Table
5.4.2.1-2: rv 0..3 -> 0, floor(17 N_cb / 66 Z) Z, floor(33 N_cb / 66 Z) Z,
floor(56 N_cb / 66 Z) Z for BG1; 13, 25, 43 over 50 Z for BG2) and wraps modulo N_cb,
skipping <NULL> filler bits, until E bits e_0..e_{E-1} are taken (a bit may be taken
more than once when E exceeds the buffer).
Bit interleaving (5.4.2.2): f_{i + j Qm} = e_{i E / Qm + j}, i < Qm, j < E / Qm.

Both steps together are one static gather: f = d[idx] with idx [E] built in numpy from
(BG, Z, K', K, N_cb, E, Qm, rv) at first use. The inverse (``rate_recover``) scatter-adds
received LLRs back into the circular buffer, so repeated bits combine; bits never sent
get LLR 0 and filler bits (known zeros) ``FILLER_LLR``.

Code-block concatenation (5.4.2.1, E_r): with G coded bits for C code blocks on N_L
layers, E_r = N_L Qm floor(G / (N_L Qm C)) for r <= C - mod(G / (N_L Qm), C) - 1, else
N_L Qm ceil(G / (N_L Qm C)).

LLR convention (the whole package): L = log P(bit = 0) / P(bit = 1), positive means 0.

Letters: N circular-buffer length (66 Z / 50 Z), N_cb used part of it, E rate-matched bits
of one code block, Qm bits per symbol, G coded bits of a transport block, C code blocks.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax.numpy as jnp
import numpy as np

R_LBRM = (2, 3)  # TS 38.212 5.4.2.1: R_LBRM = 2/3
# LLR given to filler bits (known zeros): large enough to dominate any message, small enough
# that float32 sums of a few hundred of them stay finite.
FILLER_LLR = 1.0e4
# TS 38.212 Table 5.4.2.1-2 numerators of k0 for rv = 0..3.
K0_NUMERATORS = {1: (0, 17, 33, 56), 2: (0, 13, 25, 43)}


@dataclasses.dataclass(frozen=True)
class RateMatchConfig:
    """Static rate-matching parameters of one code block (hashable).

    Attributes:
      bg: base graph, 1 or 2.
      z: lifting size Z.
      k_prime: K', code-block bits before filler bits.
      k: K, code-block length with filler bits (22 Z / 10 Z).
      e: E, rate-matched bits (multiple of qm).
      qm: bits per modulation symbol (1, 2, 4, 6, 8).
      rv: redundancy version 0..3.
      n_cb: circular-buffer length N_cb (None: N, i.e. no LBRM; see ``n_cb_lbrm``).
    """

    bg: int
    z: int
    k_prime: int
    k: int
    e: int
    qm: int
    rv: int = 0
    n_cb: int | None = None

    def __post_init__(self):
        if self.rv not in (0, 1, 2, 3):
            raise ValueError(f"rv must be 0..3, got {self.rv!r}")
        if self.qm not in (1, 2, 4, 6, 8) or self.e <= 0 or self.e % self.qm:
            raise ValueError(f"E = {self.e!r} must be a positive multiple of Qm = {self.qm!r}")
        if not 0 < self.k_prime <= self.k:
            raise ValueError(f"need 0 < K' <= K, got K' = {self.k_prime}, K = {self.k}")
        if self.n_cb is not None and not 0 < self.n_cb <= self.n:
            raise ValueError(f"N_cb must be in (0, N = {self.n}], got {self.n_cb!r}")

    @property
    def n(self) -> int:
        """N = 66 Z (BG1) or 50 Z (BG2)."""
        return (66 if self.bg == 1 else 50) * self.z

    @property
    def ncb(self) -> int:
        """N_cb actually used."""
        return self.n if self.n_cb is None else self.n_cb

    @property
    def k0(self) -> int:
        """Start position k0 (Table 5.4.2.1-2)."""
        return k0(self.bg, self.z, self.ncb, self.rv)

    @property
    def filler(self) -> slice:
        """Positions [K' - 2Z, K - 2Z) of the filler bits in d."""
        return slice(self.k_prime - 2 * self.z, self.k - 2 * self.z)


def k0(bg: int, z: int, n_cb: int, rv: int) -> int:
    """k0 of TS 38.212 Table 5.4.2.1-2."""
    num = K0_NUMERATORS[bg][rv]
    den = 66 if bg == 1 else 50
    return (num * n_cb // (den * z)) * z


def n_cb_lbrm(bg: int, z: int, n_cb_blocks: int, tbs_lbrm: int) -> int:
    """N_cb = min(N, floor(TBS_LBRM / (C R_LBRM))) for limited-buffer rate matching (5.4.2.1).

    TBS_LBRM is set by higher layers (TS 38.212 5.4.2.1 / TS 38.214 5.1.3.2 with the
    maximum layers, modulation and PRBs of the carrier); it is an input here.
    """
    n = (66 if bg == 1 else 50) * z
    n_ref = (tbs_lbrm * R_LBRM[1]) // (n_cb_blocks * R_LBRM[0])
    return min(n, n_ref)


@functools.lru_cache(maxsize=256)
def rate_match_indices(cfg: RateMatchConfig) -> np.ndarray:
    """int32 [E]: f_m = d[idx[m]] (bit selection then bit interleaving)."""
    ncb, k0_ = cfg.ncb, cfg.k0
    fill = cfg.filler
    order = (k0_ + np.arange(ncb)) % ncb  # one lap of the buffer from k0
    order = order[(order < fill.start) | (order >= fill.stop)]
    if order.size == 0:
        raise ValueError("rate matching: the circular buffer holds only filler bits")
    e_idx = np.resize(order, cfg.e)  # repeats the lap as often as needed
    # f_{i + j Qm} = e_{i E/Qm + j}: read e as Qm rows of E/Qm, column by column.
    return e_idx.reshape(cfg.qm, cfg.e // cfg.qm).T.reshape(-1).astype(np.int32)


def rate_match(d, cfg: RateMatchConfig):
    """Rate-matched, interleaved bits f [E] (int8) of one code block's d [N] (5.4.2)."""
    if d.shape[-1] != cfg.n:
        raise ValueError(f"rate_match: expected N = {cfg.n} bits, got {d.shape[-1]}")
    return jnp.asarray(d, jnp.int8)[..., jnp.asarray(rate_match_indices(cfg))]


def rate_recover(llr, cfg: RateMatchConfig, filler_llr: float = FILLER_LLR):
    """Circular-buffer LLRs [N] from the E received LLRs of one code block (5.4.2 inverted).

    Repetitions are summed; bits not sent (punctured by rate matching, or beyond N_cb) get 0;
    filler bits get ``filler_llr`` (known zeros).

    Args:
      llr: float [E] LLRs of f_0..f_{E-1} (positive = 0).
      cfg: the rate-matching parameters used at the transmitter.

    Returns:
      float32 [N] LLRs of d_0..d_{N-1}.
    """
    idx = jnp.asarray(rate_match_indices(cfg))
    out = jnp.zeros((cfg.n,), jnp.float32).at[idx].add(jnp.asarray(llr, jnp.float32))
    return out.at[cfg.filler].set(filler_llr)


def code_block_e(g_bits: int, n_cb_blocks: int, qm: int, n_layers: int = 1) -> tuple[int, ...]:
    """E_r for r = 0..C-1 (TS 38.212 5.4.2.1, all C code blocks scheduled)."""
    unit = n_layers * qm
    if g_bits % unit:
        raise ValueError(f"G = {g_bits} must be a multiple of N_L Qm = {unit}")
    lo = unit * (g_bits // (unit * n_cb_blocks))
    hi = unit * math.ceil(g_bits / (unit * n_cb_blocks))
    n_lo = n_cb_blocks - (g_bits // unit) % n_cb_blocks
    return tuple(lo if r <= n_lo - 1 else hi for r in range(n_cb_blocks))

"""CRC calculation (TS 38.212 5.1): CRC24A, CRC24B, CRC24C, CRC16, CRC11, CRC6.

The parity bits p_0..p_{L-1} of a_0..a_{A-1} are the remainder of
a_0 D^{A+L-1} + ... + a_{A-1} D^L modulo the generator polynomial g_CRC(D), register
initialised to zero and no final inversion; they are appended after the payload, p_0
first (b_k = a_k for k < A, b_{A+l} = p_l). The map a -> p is linear over GF(2), so it is
computed as p = a G mod 2 with a generator matrix G [A, L] built with numpy at first use
(per polynomial and length) and a plain integer product in JAX: batched with vmap or a
leading axis, exact, and cheap next to the decoder.

Uses (TS 38.212 7.2.1 / 6.2.1): transport-block CRC24A if A > 3824 else CRC16;
code-block CRC24B (5.2.2).

Letters: A payload bits, L parity bits.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

# TS 38.212 5.1: generator polynomials as (L, exponents of g_CRC(D)).
CRC_POLYS: dict[str, tuple[int, tuple[int, ...]]] = {
    "24A": (24, (24, 23, 18, 17, 14, 11, 10, 7, 6, 5, 4, 3, 1, 0)),
    "24B": (24, (24, 23, 6, 5, 1, 0)),
    "24C": (24, (24, 23, 21, 20, 17, 15, 13, 12, 8, 4, 2, 1, 0)),
    "16": (16, (16, 12, 5, 0)),
    "11": (11, (11, 10, 9, 5, 0)),
    "6": (6, (6, 5, 0)),
}


def crc_length(poly: str) -> int:
    """L, the number of parity bits of ``poly`` ("24A", "24B", "24C", "16", "11", "6")."""
    if poly not in CRC_POLYS:
        raise ValueError(f"CRC polynomial must be one of {tuple(CRC_POLYS)}, got {poly!r}")
    return CRC_POLYS[poly][0]


@functools.lru_cache(maxsize=64)
def crc_matrix(poly: str, a_len: int) -> np.ndarray:
    """Generator matrix G: uint8 [A, L], row k = parity bits of the unit payload e_k.

    Row k is D^{A-1-k+L} mod g(D) (MSB = coefficient of D^{L-1} first); built backwards from
    D^L mod g by repeated multiplication by D.
    """
    n_par = crc_length(poly)
    g = 0
    for e in CRC_POLYS[poly][1]:
        g |= 1 << e
    top = 1 << n_par
    rem = np.empty(a_len, np.int64)
    r = g ^ top  # D^L mod g
    for k in range(a_len - 1, -1, -1):
        rem[k] = r
        r <<= 1
        if r & top:
            r ^= g
    shifts = np.arange(n_par - 1, -1, -1)
    return ((rem[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def crc_parity(bits, poly: str):
    """CRC parity bits of a payload.

    Args:
      bits: int or bool [..., A] payload bits a_0..a_{A-1} (0/1).
      poly: generator name, e.g. "24A".

    Returns:
      int8 [..., L] parity bits p_0..p_{L-1}.
    """
    a_len = bits.shape[-1]
    g = jnp.asarray(crc_matrix(poly, a_len), jnp.int32)
    return (jnp.asarray(bits, jnp.int32) @ g & 1).astype(jnp.int8)


def crc_attach(bits, poly: str):
    """b = [a, p]: int8 [..., A + L], the payload followed by its CRC parity bits."""
    return jnp.concatenate([jnp.asarray(bits, jnp.int8), crc_parity(bits, poly)], axis=-1)


def crc_check(bits, poly: str):
    """True where the CRC of b = [a, p] (int [..., A + L]) holds: bool [...]."""
    n_par = crc_length(poly)
    a, p = bits[..., :-n_par], bits[..., -n_par:]
    return jnp.all(crc_parity(a, poly) == jnp.asarray(p, jnp.int8), axis=-1)

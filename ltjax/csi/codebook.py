"""TS 38.214 5.2.2.2.1 Type I single-panel codebook (codebookMode = 1), as NumPy data.

Letters: P precoders, Nt ports, r rank (layers).

4 ports (Table 5.2.2.2.1-2 supported configuration (N1, N2) = (2, 1), (O1, O2) = (4, 1)):
  v_l = [1, exp(j 2 pi l / (O1 N1))]^T,  phi_n = exp(j pi n / 2).
  rank 1 (Table 5.2.2.2.1-5): W = 1/sqrt(4) [v_l; phi_n v_l],
      l = i1,1 in 0..7, i1,2 = 0, n = i2 in 0..3            -> 32 precoders,
      pmi = 4 * i1,1 + i2.
  rank 2 (Table 5.2.2.2.1-6): W = 1/sqrt(8) [[v_l, v_l'], [phi_n v_l, -phi_n v_l']],
      l = i1,1 in 0..7, l' = l + k1 with k1 = O1 * i1,3, i1,3 in {0, 1} (Table 5.2.2.2.1-3
      for N1 = 2, N2 = 1), n = i2 in {0, 1}                 -> 32 precoders,
      pmi = 4 * i1,1 + 2 * i1,3 + i2.
2 ports (Table 5.2.2.2.1-1): rank 1 W = 1/sqrt(2) [1, j^n]^T, n = 0..3;
  rank 2 W = 1/2 [[1, 1], [j^n, -j^n]], n = 0, 1.
1 port (no PMI is reported): rank 1, W = [1] (the SISO reference link).

Every column has norm 1/sqrt(r), so ||W||_F = 1: total transmit power 1 for any rank.
"""

from __future__ import annotations

import functools

import numpy as np

SUPPORTED_PORTS = (1, 2, 4)


@functools.lru_cache(maxsize=None)
def _codebook(n_tx: int, rank: int) -> np.ndarray:
    if n_tx == 1:
        return np.ones((1, 1, 1), np.complex128)
    if n_tx == 2:
        if rank == 1:
            return np.stack([np.array([[1.0], [1j ** n]]) / np.sqrt(2.0) for n in range(4)])
        return np.stack([np.array([[1.0, 1.0], [1j ** n, -(1j ** n)]]) / 2.0 for n in range(2)])
    n1, o1 = 2, 4

    def v(l):
        return np.exp(2j * np.pi * l * np.arange(n1) / (o1 * n1))

    out = []
    if rank == 1:
        for i11 in range(n1 * o1):
            for i2 in range(4):
                phi = np.exp(1j * np.pi * i2 / 2)
                out.append(np.concatenate([v(i11), phi * v(i11)])[:, None] / np.sqrt(4.0))
    else:
        for i11 in range(n1 * o1):
            for i13 in range(2):
                lp = i11 + o1 * i13
                for i2 in range(2):
                    phi = np.exp(1j * np.pi * i2 / 2)
                    c0 = np.concatenate([v(i11), phi * v(i11)])
                    c1 = np.concatenate([v(lp), -phi * v(lp)])
                    out.append(np.stack([c0, c1], axis=1) / np.sqrt(8.0))
    return np.stack(out)


def type1_codebook(n_tx: int, rank: int) -> np.ndarray:
    """TS 38.214 Type I single-panel codebook: complex128 [P, Nt, rank].

    Args:
      n_tx: CSI-RS ports Nt (1, 2 or 4).
      rank: 1 or 2.

    Raises:
      ValueError: unsupported port count or rank.
    """
    if n_tx not in SUPPORTED_PORTS:
        raise ValueError(f"type1_codebook: n_tx must be one of {SUPPORTED_PORTS}, got {n_tx!r}")
    if rank not in (1, 2) or rank > n_tx:
        raise ValueError(f"type1_codebook: rank must be 1 or 2 (and at most n_tx = {n_tx!r}), got {rank!r}")
    cb = _codebook(int(n_tx), int(rank))
    cb.setflags(write=False)
    return cb

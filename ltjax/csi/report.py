"""RI/PMI selection and CSI-RS capacity (TS 38.214 5.2.2.2.1 codebook, capacity criterion).

Letters: R resource blocks, Nr UE antennas, Nt gNB ports, r rank, P precoders.

Convention (shared with ltjax.phy): the precoder W [Nt, r] has ||W||_F = 1 (total transmit
power 1 per RE), noise_var is the noise power per receive antenna per RE, so a unit-gain
channel has per-antenna SNR = 1 / noise_var. The capacity of one precoder is the
Gaussian-input mutual information averaged over RBs,

    C(W) = (1/R) sum_r log2 det(I_r + W^H H_r^H H_r W / noise_var)   [bits/s/Hz],

(an ideal receiver; the LMMSE post-equalisation SINR of ltjax.phy is what decides BLER).
For each rank the UE takes the PMI with the largest C, then reports the rank whose best C
is largest (ties go to the lower rank). The reported capacity is C at (RI, PMI): feature 2
of the paper ("CSI-RS capacity with the best PMI for the reported RI"). The best PMI of
every rank is returned too (``pmi_per_rank``, ``precoder_per_rank``), so that a caller can
pick the rank by another rule, e.g. by the CQI-implied rate as a UE does
(``ltjax.link`` with ``LinkConfig.ri_rule = "cqi_rate"``).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.csi.codebook import type1_codebook


@flax.struct.dataclass
class CsiReport:
    """One UE's RI/PMI report.

    Attributes:
      ri: int32 [], reported rank (1..max_rank).
      pmi: int32 [], index into ``type1_codebook(Nt, ri)``.
      capacity: float32 [], C at (ri, pmi) [bits/s/Hz].
      precoder: complex64 [Nt, max_rank], W of (ri, pmi); columns >= ri are zero.
      capacity_per_rank: float32 [max_rank], best C for each rank.
      pmi_per_rank: int32 [max_rank], the best PMI of each rank (0 for a rank above min(Nr, Nt)).
      precoder_per_rank: complex64 [max_rank, Nt, max_rank], W of each rank's best PMI (zero
        columns beyond the rank; all zero for a rank above min(Nr, Nt)).
    """

    ri: jax.Array  # [] int32
    pmi: jax.Array  # [] int32
    capacity: jax.Array  # [] float32
    precoder: jax.Array  # [Nt, max_rank] complex64
    capacity_per_rank: jax.Array  # [max_rank] float32
    pmi_per_rank: jax.Array  # [max_rank] int32
    precoder_per_rank: jax.Array  # [max_rank, Nt, max_rank] complex64


def precoder_capacity(h: jax.Array, w: jax.Array, noise_var) -> jax.Array:
    """C(W) for a batch of precoders: h [R, Nr, Nt], w [P, Nt, r] (r in {1, 2}) -> float32 [P]."""
    g = jnp.einsum("fki,fkj->fij", jnp.conj(h), h)  # H^H H [R, Nt, Nt]
    a = jnp.einsum("pia,fij,pjb->pfab", jnp.conj(w), g, w) / noise_var  # [P, R, r, r]
    if w.shape[-1] == 1:
        det = 1.0 + jnp.real(a[..., 0, 0])
    else:
        det = (1.0 + jnp.real(a[..., 0, 0])) * (1.0 + jnp.real(a[..., 1, 1])) \
            - jnp.abs(a[..., 0, 1]) ** 2
    return jnp.mean(jnp.log2(jnp.maximum(det, 1.0)), axis=-1).astype(jnp.float32)


def select_ri_pmi(h: jax.Array, noise_var, max_rank: int = 2) -> CsiReport:
    """Capacity-maximising RI and PMI from the Type I single-panel codebook.

    Args:
      h: complex64 [R, Nr, Nt] channel (true or estimated) over the CSI-RS RBs.
      noise_var: noise power per receive antenna per RE (scalar, may be traced).
      max_rank: static, 1 or 2; capped at min(Nr, Nt).

    Returns:
      CsiReport (ri, pmi, capacity [bits/s/Hz], precoder [Nt, max_rank], and per rank: capacity,
      PMI and precoder).
    """
    n_rx, n_tx = h.shape[-2], h.shape[-1]
    if max_rank not in (1, 2):
        raise ValueError(f"select_ri_pmi: max_rank must be 1 or 2, got {max_rank!r}")
    h = h.astype(jnp.complex64)
    noise_var = jnp.asarray(noise_var, jnp.float32)
    usable = min(max_rank, n_rx, n_tx)
    caps, idxs, pads = [], [], []
    for r in range(1, max_rank + 1):
        if r > usable:  # a rank above min(Nr, Nt) is never reported (and may have no codebook)
            caps.append(jnp.asarray(-jnp.inf, jnp.float32))
            idxs.append(jnp.zeros((), jnp.int32))
            pads.append(jnp.zeros((n_tx, max_rank), jnp.complex64))
            continue
        cb = type1_codebook(n_tx, r)
        c = precoder_capacity(h, jnp.asarray(cb, jnp.complex64), noise_var)
        i = jnp.argmax(c)
        caps.append(c[i])
        idxs.append(i.astype(jnp.int32))
        padded = np.zeros((cb.shape[0], n_tx, max_rank), np.complex64)
        padded[:, :, :r] = cb
        pads.append(jnp.asarray(padded)[i])
    caps = jnp.stack(caps)
    best = jnp.argmax(caps)  # first maximum: ties go to the lower rank
    return CsiReport(
        ri=(best + 1).astype(jnp.int32),
        pmi=jnp.stack(idxs)[best],
        capacity=caps[best].astype(jnp.float32),
        precoder=jnp.stack(pads)[best],
        capacity_per_rank=jnp.maximum(caps, 0.0).astype(jnp.float32),
        pmi_per_rank=jnp.stack(idxs),
        precoder_per_rank=jnp.stack(pads),
    )

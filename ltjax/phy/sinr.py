"""Post-equalisation LMMSE SINR per resource block and layer.

Letters: R resource blocks, Nr UE antennas, Nt gNB ports, r layers (<= 2).

Convention (shared with ltjax.csi): the precoder W [Nt, r] has ||W||_F = 1 (total transmit
power 1 per RE; Type I columns are unit-norm and scaled 1/sqrt(r)), and ``noise_var`` is the
noise power per receive antenna and RE, so a unit-gain channel has SNR = 1 / noise_var.
With the effective channel G = H W [Nr, r] and an LMMSE receiver, the SINR of layer l is

    SINR_l = 1 / [(I_r + G^H G / N)^{-1}]_{ll} - 1

(e.g. Tse & Viswanath, Sec. 8.3.3). N = noise_var + err_var, where err_var is the per-entry
variance of the channel-estimation error (``ltjax.phy.chest``): with H_hat = H + E and
E ~ CN(0, err_var) the term E W x has power err_var ||W||_F^2 = err_var per receive
antenna, i.e. it acts as extra white noise. A zero (padded) precoder column gives SINR 0
on that layer, so rank 1 with a 2-column zero-padded W needs no special case.
"""

from __future__ import annotations

import jax.numpy as jnp


def lmmse_sinr(h, w, noise_var):
    """Per-RB, per-layer LMMSE SINR (linear).

    Args:
      h: complex64 [R, Nr, Nt] channel.
      w: complex64 [Nt, r] precoder, r in {1, 2} (zero columns allowed).
      noise_var: scalar or [R] noise-plus-estimation-error power per receive antenna.

    Returns:
      float32 [R, r] SINR (linear, >= 0).
    """
    # G = H W written as broadcast multiply-adds over Nt (tiny matrices: XLA's batched complex
    # dot is several times slower than this fused elementwise form on CPU).
    g = jnp.sum(h[:, :, :, None] * w[None, None, :, :], axis=2)  # [R, Nr, r]
    r = w.shape[-1]
    if r not in (1, 2):
        raise ValueError(f"lmmse_sinr: rank must be 1 or 2, got {r}")
    return lmmse_sinr_from_g(jnp.real(g), jnp.imag(g), noise_var)


def _sum_rx(x):
    """x [..., Nr] summed over the receive antennas as explicit additions, x_0 + x_1 + ...

    The value of ``jnp.sum(x, axis=-1)`` (bit for bit for Nr <= 2), written so that XLA fuses
    it into the consumer rather than emitting a separate reduction.
    """
    out = x[..., 0]
    for i in range(1, x.shape[-1]):
        out = out + x[..., i]
    return out


def _rounded(nv, *products):
    """The products as they are, each kept a separately rounded float32 value.

    A select on a condition the compiler cannot decide (the noise power ``nv`` is >= 0 by
    contract, so it always returns the product) stands between each multiply and the add
    that consumes it, so LLVM cannot contract them into one fused multiply-add.
    """
    keep = jnp.asarray(nv) >= 0
    keep = keep[..., None] if keep.ndim else keep  # [R] noise powers broadcast over Nr
    return tuple(jnp.where(keep, p, jnp.float32(0.0)) for p in products)


def lmmse_sinr_from_g(gr, gi, noise_var):
    """``lmmse_sinr`` from the effective channel G = H W given as real and imaginary parts.

    Args:
      gr, gi: float32 [R, Nr, r] real and imaginary parts of G, r in {1, 2}.
      noise_var: scalar or [R] noise-plus-estimation-error power per receive antenna.

    Returns:
      float32 [R, r] SINR (linear, >= 0).
    """
    nv = jnp.asarray(noise_var, jnp.float32)
    r = gr.shape[-1]
    if r not in (1, 2):
        raise ValueError(f"lmmse_sinr: rank must be 1 or 2, got {r}")
    if r == 1:
        p1 = jnp.sum(gr[..., 0] ** 2 + gi[..., 0] ** 2, axis=-1) / nv  # |g_1|^2 / N  [R]
        return p1[:, None].astype(jnp.float32)
    # The Gram terms summed over the receive antennas. ``_rounded`` keeps every product a
    # separately rounded float32 (no contracted multiply-add), so the sums are those XLA's
    # reduction kernels compute; the explicit additions over Nr let XLA on CPU fuse the
    # sums into the SINR's elementwise kernel instead of four library reductions per slot
    # (half of the link engine's run time).
    sq_r, sq_i, rr, ii, ri, ir, sq2_r, sq2_i = _rounded(
        nv, gr[..., 0] ** 2, gi[..., 0] ** 2, gr[..., 0] * gr[..., 1], gi[..., 0] * gi[..., 1],
        gr[..., 0] * gi[..., 1], gi[..., 0] * gr[..., 1], gr[..., 1] ** 2, gi[..., 1] ** 2)
    p1 = _sum_rx(sq_r + sq_i) / nv  # |g_1|^2 / N  [R]
    p2 = _sum_rx(sq2_r + sq2_i) / nv
    c_re = _sum_rx(rr + ii) / nv  # g_1^H g_2 / N
    c_im = _sum_rx(ri - ir) / nv
    a11, a22 = 1.0 + p1, 1.0 + p2
    det = a11 * a22 - (c_re**2 + c_im**2)
    # [(A)^{-1}]_{11} = a22 / det, so SINR_1 = det / a22 - 1 (and symmetrically).
    s1 = det / a22 - 1.0
    s2 = det / a11 - 1.0
    return jnp.maximum(jnp.stack([s1, s2], axis=-1), 0.0).astype(jnp.float32)

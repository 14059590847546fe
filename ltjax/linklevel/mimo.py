"""Layer mapping (TS 38.211 7.3.1.3), precoding and per-RE LMMSE equalisation.

Layer mapping of one code word onto v layers: x^(i)(k) = d(v k + i), i < v, i.e. the
symbol stream is read row-wise into [S / v, v]. Precoding: the transmitted vector on RE n
is W_n x_n, W_n [Nt, v] (one W for all REs or one per RE). The power convention is the
one of ``ltjax.phy.sinr``: ||W||_F = 1 (total transmit power 1 per RE) and ``noise_var``
is the noise power per receive antenna and RE.

LMMSE per RE with effective channel G = H W [Nr, v] and noise-plus-error power N:

  A = (G^H G + N I)^{-1} G^H,   x~ = A y,   mu_l = [A G]_ll,
  x^_l = x~_l / mu_l  (unbiased),   SINR_l = mu_l / (1 - mu_l) = 1 / (N [(G^H G + N I)^{-1}]_ll) - 1,

so the residual on x^_l has variance 1 / SINR_l, which the demapper takes as its noise
variance (Gaussian approximation of the post-equalisation interference).

Channel estimation error: the receiver sees H^ = H + E, E ~ CN(0, err_var) i.i.d., and
treats E W x as extra white noise of power err_var ||W||_F^2 per receive antenna (the same
model as ``ltjax.phy.sinr`` / ``ltjax.phy.chest``); err_var = 0 is perfect CSI.

Letters: Nre resource elements, Nr receive antennas, Nt transmit ports, v layers.
"""

from __future__ import annotations

import jax.numpy as jnp


def layer_map(d, n_layers: int):
    """x [S / v, v] from the symbols d [S] of one code word (TS 38.211 7.3.1.3)."""
    if d.shape[-1] % n_layers:
        raise ValueError(f"layer_map: {d.shape[-1]} symbols do not fill {n_layers} layers")
    return d.reshape(-1, n_layers)


def layer_demap(x):
    """d [S] from per-layer values x [S / v, v] (inverse of ``layer_map``)."""
    return x.reshape(-1)


def effective_channel(h, w):
    """G = H W per RE: h [Nre, Nr, Nt] (or [Nr, Nt]), w [Nt, v] or [Nre, Nt, v] -> [Nre, Nr, v]."""
    return jnp.einsum("...rt,...tv->...rv", h, w)


def lmmse_equalize(y, g, noise_var):
    """Per-RE LMMSE equalisation.

    Args:
      y: complex [Nre, Nr] received samples.
      g: complex [Nre, Nr, v] effective channel (as known to the receiver).
      noise_var: float [] or [Nre] noise (plus estimation-error) power per receive antenna.

    Returns:
      (x_hat complex64 [Nre, v] unbiased symbol estimates,
       sinr float32 [Nre, v] post-equalisation SINR, linear).
    """
    g = jnp.asarray(g, jnp.complex64)
    v = g.shape[-1]
    nv = jnp.asarray(noise_var, jnp.float32)
    nv = jnp.broadcast_to(nv, g.shape[:-2])[..., None, None]
    gh = jnp.conj(jnp.swapaxes(g, -1, -2))  # [Nre, v, Nr]
    gram = gh @ g + nv * jnp.eye(v, dtype=jnp.complex64)
    inv = _hermitian_inverse(gram)  # [Nre, v, v]
    x = jnp.einsum("nvw,nwr,nr->nv", inv, gh, jnp.asarray(y, jnp.complex64))
    # SINR from the diagonal of the inverse (accurate at high SINR, where 1 - mu underflows).
    inv_diag = jnp.real(jnp.diagonal(inv, axis1=-2, axis2=-1))
    sinr = jnp.maximum(1.0 / (nv[..., 0] * inv_diag) - 1.0, 0.0)
    mu = sinr / (1.0 + sinr)
    x_hat = x / jnp.maximum(mu, 1e-12)
    return x_hat.astype(jnp.complex64), sinr.astype(jnp.float32)


def _hermitian_inverse(a):
    """Inverse of Hermitian positive-definite matrices a [..., v, v].

    Closed forms for v = 1 and 2 (1 / a and the adjugate over the determinant): for these
    tiny matrices they are faster to run and to compile on CPU than the batched LU of
    ``jnp.linalg.inv``, which larger v use.
    """
    v = a.shape[-1]
    if v == 1:
        return 1.0 / a
    if v == 2:
        a11, a22 = jnp.real(a[..., 0, 0]), jnp.real(a[..., 1, 1])
        a12 = a[..., 0, 1]
        det = a11 * a22 - jnp.real(a12 * jnp.conj(a12))
        adj = jnp.stack([jnp.stack([a22 + 0j, -a12], -1), jnp.stack([-jnp.conj(a12), a11 + 0j], -1)], -2)
        return (adj / det[..., None, None]).astype(a.dtype)
    return jnp.linalg.inv(a)

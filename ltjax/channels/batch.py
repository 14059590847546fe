"""Batched channel draws for library users: frequency responses of U UEs at T times.

The channel kernels of :mod:`ltjax.channels.fading` are written for one UE (draw once with
``init_channel``, evaluate at any absolute time with ``channel_freq_response``: the TR
38.901 clause 7.7.2 TDL model with sum-of-sinusoids Doppler, clause 7.7.3 delay scaling
and Kronecker MIMO correlation). :func:`freq_response` vmaps them over UEs and times, with
the key convention of :func:`ltjax.batching.map_ues` (UE ``u`` draws from
``fold_in(key, u)``), so its UE ``u`` is the channel a link simulation gives that UE::

    import jax
    from ltjax.channels import ChannelConfig, freq_response, make_channel_params

    cfg = ChannelConfig(model="C", n_rb=52)
    params = make_channel_params(cfg, delay_spread_s=300e-9, doppler_hz=50.0)
    times = jnp.arange(20) * 0.5e-3                           # 20 slots of 0.5 ms
    h = jax.jit(freq_response, static_argnums=(1, 3))(jax.random.key(0), cfg, params, 1000, times)
    h.shape                                                   # (1000, 20, 52, 2, 4)

Letters: U UEs, T times, R resource blocks, Nr UE antennas, Nt gNB ports.
Pure and jit/vmap-safe (``cfg`` and ``n_ue`` are static); it does not call ``jax.jit``.
The whole ``[U, T, R, Nr, Nt]`` array is built at once: for many UEs over many slots use
:func:`ltjax.batching.map_ues` with a per-UE kernel instead.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels.fading import ChannelConfig, ChannelParams, channel_freq_response, init_channel


def _check(key, cfg, params, n_ue, times) -> jax.Array:
    """One-line errors for arguments that would otherwise fail deep inside an einsum."""
    if not isinstance(cfg, ChannelConfig):
        raise TypeError(f"freq_response: cfg must be a ChannelConfig, got {type(cfg).__name__}")
    if not isinstance(params, ChannelParams):
        raise TypeError(f"freq_response: params must be a ChannelParams (make_channel_params(cfg, ...)), "
                        f"got {type(params).__name__}")
    if isinstance(n_ue, bool) or not isinstance(n_ue, (int, np.integer)) or n_ue < 1:
        raise ValueError(f"freq_response: n_ue must be a positive Python int (it sets a shape), got {n_ue!r}")
    for name in ("delay_spread_s", "doppler_hz"):
        if jnp.ndim(getattr(params, name)) != 0:
            raise ValueError(f"freq_response: params.{name} must be a scalar, got shape "
                             f"{jnp.shape(getattr(params, name))} (vmap over parameter values instead)")
    is_typed = jnp.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key) if hasattr(key, "dtype") else False
    if not (is_typed and jnp.ndim(key) == 0) and not (getattr(key, "shape", None) == (2,) and key.dtype == jnp.uint32):
        raise ValueError("freq_response: key must be one PRNG key (jax.random.key(seed)), got "
                         f"{getattr(key, 'dtype', type(key).__name__)} of shape {getattr(key, 'shape', None)}")
    t = jnp.asarray(times, jnp.float32)
    if t.ndim > 1:
        raise ValueError(f"freq_response: times must be a scalar or a 1-D array of seconds, got shape {t.shape}")
    return t


def freq_response(key: jax.Array, cfg: ChannelConfig, params: ChannelParams, n_ue: int, times) -> jax.Array:
    """MIMO frequency responses of ``n_ue`` independent UEs at the given absolute times.

    Args:
      key: one PRNG key; UE ``u`` draws its channel from ``fold_in(key, u)``. Consumed.
      cfg: static channel configuration (model, antennas, RBs, ...).
      params: traced delay spread [s] and maximum Doppler [Hz] (``make_channel_params``).
      n_ue: number of UEs U (static).
      times: float [T] (or a scalar) absolute times [s]; a channel evolves continuously in
        time, so any times may be asked for, in any order.

    Returns:
      complex64 [U, T, R, Nr, Nt] (``[U, R, Nr, Nt]`` for a scalar time), E|H|^2 = 1 per
      entry for TDL models; AWGN: ``awgn_matrix(cfg)`` on every RB.

    Raises:
      TypeError / ValueError: one line naming the argument (wrong type or shape).
    """
    t = _check(key, cfg, params, n_ue, times)

    def one_ue(u):
        state = init_channel(jax.random.fold_in(key, u), cfg)
        at = lambda s: channel_freq_response(state, s, cfg, params)  # noqa: E731
        return at(t) if t.ndim == 0 else jax.vmap(at)(t)

    return jax.vmap(one_ue)(jnp.arange(n_ue, dtype=jnp.uint32))


__all__ = ["freq_response"]

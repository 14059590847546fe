"""A user's own channel model in the link engine: the protocol it implements.

The link engine (``ltjax.link``) runs the built-in TR 38.901 TDL channel by default. A user
channel replaces it when a :class:`ChannelModel` is set as ``LinkConfig.user_channel``; the
engine then draws each UE's channel with ``init`` and evaluates it with ``freq_response``,
everywhere it would evaluate the TDL channel (CSI report, DMRS-based SINR of every slot).

Contract (a pure, jit/vmap-safe object of one UE):

* ``init(key, cfg) -> state``: one UE's channel state, any pytree of arrays, drawn from the
  typed key ``key``; ``cfg`` is the static ``ltjax.channels.ChannelConfig`` (antennas
  ``n_rx`` / ``n_tx``, ``n_rb`` RBs, ``scs_hz``).
* ``freq_response(state, t_s, cfg, params) -> H``: complex64 ``[R, Nr, Nt]``, the channel of
  every RB at absolute time ``t_s`` [s] (float32 []), normalised so that E|H_ij|^2 = 1 (the
  engine's SNR is per receive antenna and RE); ``params`` is the traced
  ``ltjax.channels.ChannelParams`` (``delay_spread_s``, ``doppler_hz``), which the model may use
  or ignore.

The object is part of the static ``LinkConfig`` (a compilation cache key), so it must be
hashable and compare by value: a frozen dataclass is the natural form. Because a user channel
has no delay profile, the engine's DMRS frequency-interpolation term cannot be computed for it:
set ``chest_freq = "none"`` (and keep ``dynamics`` other than ``"profile_switch"``); model the
estimation loss inside the channel if it matters. ``examples/user_channel.py`` is a complete
example.

Letters: R RBs, Nr receive antennas, Nt transmit ports, r precoded layers.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from ltjax.channels.fading import ChannelConfig, ChannelParams


@runtime_checkable
class ChannelModel(Protocol):
    """A user channel for the link engine (see the module docstring for the contract)."""

    def init(self, key: jax.Array, cfg: ChannelConfig) -> Any:
        """One UE's channel state (a pytree of arrays)."""

    def freq_response(self, state: Any, t_s: jax.Array, cfg: ChannelConfig, params: ChannelParams) -> jax.Array:
        """complex64 [R, Nr, Nt]: the channel of every RB at time ``t_s`` [s]."""


def check_channel_model(model: Any) -> str | None:
    """The one-line problem of an object used as ``LinkConfig.user_channel``, or None."""
    if not isinstance(model, ChannelModel):
        return f"must implement init(key, cfg) and freq_response(state, t_s, cfg, params), got {type(model).__name__}"
    try:
        hash(model)
    except TypeError:
        return f"must be hashable (it is part of the static LinkConfig), e.g. a frozen dataclass; got {type(model).__name__}"
    return None


def precoded_response(h: jax.Array, precoder: jax.Array) -> tuple[jax.Array, jax.Array]:
    """G = H W as (Re G, Im G), float32 [R, Nr, r], for H complex64 [R, Nr, Nt] and W complex64 [Nt, r]."""
    g = jnp.einsum("rij,jk->rik", h.astype(jnp.complex64), precoder.astype(jnp.complex64))
    return jnp.real(g).astype(jnp.float32), jnp.imag(g).astype(jnp.float32)


__all__ = ["ChannelModel", "check_channel_model", "precoded_response"]

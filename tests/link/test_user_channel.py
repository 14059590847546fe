"""A user channel (``ltjax.channels.ChannelModel``) in the link engine.

A user channel that wraps the built-in TDL channel reproduces the engine's own channel: the
same frequency response (bit for bit), the same precoded channel within float32 round-off
(the built-in one applies the precoder at the taps), and the same CSI report. Bad user
channels and option combinations are refused with one line.
"""

from __future__ import annotations

import contextlib
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import channel_freq_response, init_channel
from ltjax.link import LinkConfig, effective_channel, freq_response, init_link, link_params_for_scenario


@dataclasses.dataclass(frozen=True)
class WrappedTdl:
    """The built-in TDL channel, seen through the user-channel protocol."""

    def init(self, key, cfg):
        return init_channel(key, cfg)

    def freq_response(self, state, t_s, cfg, params):
        return channel_freq_response(state, t_s, cfg, params)


def _params(user):
    cfg = LinkConfig(chest_freq="none", user_channel=user)
    return link_params_for_scenario("TDL-C200", 12.0, 50.0, cfg)


def test_wrapped_tdl_reproduces_the_built_in_channel():
    builtin, user = _params(None), _params(WrappedTdl())
    key, t = jax.random.key(3), jnp.float32(0.0123)
    s_b, s_u = jax.jit(init_link)(key, builtin), jax.jit(init_link)(key, user)
    for name in ("ri", "cqi", "snr_db", "capacity"):  # the CSI report the engine made through each
        np.testing.assert_array_equal(getattr(s_u.report, name), getattr(s_b.report, name), err_msg=name)
    w = s_b.report.precoder
    for jit in (True, False):  # and the channel the slots see, jitted and not
        with (contextlib.nullcontext() if jit else jax.disable_jit()):
            h_u, h_b = jax.jit(freq_response)(s_u, t, user), jax.jit(freq_response)(s_b, t, builtin)
            np.testing.assert_array_equal(h_u, h_b)
            g_u, g_b = jax.jit(effective_channel)(s_u, t, w, user), jax.jit(effective_channel)(s_b, t, w, builtin)
            for a, b in zip(g_u, g_b):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)  # |G| ~ 1: float32 round-off, 24 taps


class _Unhashable:
    __hash__ = None

    def init(self, key, cfg):
        return None

    def freq_response(self, state, t_s, cfg, params):
        return None


@pytest.mark.parametrize("kw, needle", [
    (dict(user_channel=object(), chest_freq="none"), "LinkConfig.user_channel: must implement init"),
    (dict(user_channel=_Unhashable(), chest_freq="none"), "LinkConfig.user_channel: must be hashable"),
    (dict(user_channel=WrappedTdl()), "LinkConfig.chest_freq: a user channel has no delay profile"),
    (dict(user_channel=WrappedTdl(), chest_freq="none", dynamics="profile_switch", switch_model="A"),
     "LinkConfig.dynamics: a profile switch"),
])
def test_bad_user_channel_is_one_line(kw, needle):
    with pytest.raises(ValueError, match=needle) as e:
        LinkConfig(**kw)
    assert "\n" not in str(e.value)

"""A user experiment, registered from your own file and run by the ``ltjax`` command.

It computes the TB error rate of one MCS over a TDL-C fading channel (SISO) for many UEs:
each UE draws its own channel (``ltjax.channels``), sees an SINR per RB, and
``ltjax.phy.tb_bler`` turns that into the error rate of a TB on those RBs. Run it with::

    ltjax show faded_tb_bler --import examples/user_experiment.py
    ltjax run examples/user_experiment.toml --import examples/user_experiment.py

The same module can be registered for good through the ``ltjax.experiments`` entry-point
group of your own package (``[project.entry-points."ltjax.experiments"]`` in its
pyproject.toml), after which ``ltjax run`` finds it without ``--import``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import ChannelConfig, ChannelParams, channel_freq_response, init_channel
from ltjax.numerics import lin_to_db
from ltjax.params import field
from ltjax.phy import tb_bler
from ltjax.sweep import register_experiment


@struct.dataclass
class FadedTbParams:
    """Parameters of ``faded_tb_bler`` (``ltjax show faded_tb_bler`` prints them)."""

    snr_db: float = field(10.0, "average SNR per RE", unit="dB", lo=-10.0, hi=40.0)
    delay_spread_ns: float = field(300.0, "RMS delay spread of the TDL-C profile", unit="ns", lo=0.0, hi=500.0)
    mcs: int = field(9, "MCS of MCS table 1", lo=0, hi=28)
    n_rb: int = field(24, "allocated resource blocks", lo=1, hi=275)
    n_ue: int = field(64, "UEs (independent channel draws) per grid point", lo=1, hi=10**6)


def one_ue(key, snr_db, delay_spread_s, *, mcs: int, n_rb: int):
    """TB error rate of one UE: a TDL-C channel drawn from ``key``, SINR = SNR |H_r|^2 per RB."""
    cfg = ChannelConfig(model="C", n_rx=1, n_tx=1, n_rb=n_rb)
    h = channel_freq_response(init_channel(key, cfg), 0.0, cfg,
                              ChannelParams(delay_spread_s=delay_spread_s, doppler_hz=jnp.float32(0.0)))
    sinr_db = snr_db + lin_to_db(jnp.abs(h[:, 0, 0]) ** 2)  # [R]
    return tb_bler(sinr_db, mcs, n_rb).bler


@register_experiment("faded_tb_bler", "TB error rate of one MCS over TDL-C fading (a user experiment)",
                     params=FadedTbParams)
def faded_tb_bler(key: jax.Array, p: FadedTbParams):
    bler = map_ues(one_ue, key, p.n_ue, jnp.float32(p.snr_db), jnp.float32(p.delay_spread_ns * 1e-9),
                   static={"mcs": p.mcs, "n_rb": p.n_rb})
    return {"bler": float(bler.mean()), "bler_per_ue": bler}

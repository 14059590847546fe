"""``awgn_ber``: Monte-Carlo uncoded QPSK bit-error rate in AWGN vs. the closed form.

A small, fast, self-contained experiment. It exercises the sweep runner
(grid axes, keys, metrics, plots) and is a sanity check of the noise
convention used throughout ltjax: complex AWGN with E|n|^2 = 1/SNR for
unit-energy symbols, so for QPSK Eb/N0 = SNR/2 and BER = Q(sqrt(SNR)).

The symbols of a grid point are split over ``n_ues`` independent links (UEs),
run with :func:`ltjax.batching.map_ues`: UE ``u`` draws from
``fold_in(point_key, u)`` and returns an integer error count, so the result
is bit-identical for any device count and UE chunk size.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.batching import map_ues
from ltjax.numerics import db_to_lin
from ltjax.params import field
from ltjax.plotting.demo import plot_awgn_ber
from ltjax.sweep.registry import register_experiment


def _qpsk_errors(key, snr_lin, *, n_symbols: int):
    """Bit errors (int32 scalar) of ``n_symbols`` Gray-mapped QPSK symbols of one UE over complex AWGN.

    ``snr_lin``: Es/N0, linear. Noise is complex Gaussian with E|n|^2 = 1/snr_lin.
    """
    kb, kn = jax.random.split(key)
    bits = jax.random.bernoulli(kb, 0.5, (n_symbols, 2))
    sym = ((1 - 2 * bits[:, 0]) + 1j * (1 - 2 * bits[:, 1])) / jnp.sqrt(2.0)
    noise = jax.random.normal(kn, (n_symbols, 2)) @ jnp.array([1.0, 1j]) * jnp.sqrt(0.5 / snr_lin)
    y = sym + noise
    hat = jnp.stack([y.real < 0, y.imag < 0], axis=-1)
    return jnp.sum(hat != bits)


@struct.dataclass
class AwgnBerParams:
    """Parameters of ``awgn_ber``."""

    snr_db: float = field(0.0, "symbol SNR Es/N0", unit="dB", lo=-20.0, hi=30.0)
    n_symbols: int = field(100_000, "symbols per UE", lo=1, hi=10**8)
    n_ues: int = field(1, "independent links (UEs) per grid point", lo=1, hi=10**6)


@register_experiment(
    name="awgn_ber",
    description="Uncoded QPSK BER in AWGN, Monte-Carlo vs closed form (runner smoke test)",
    params=AwgnBerParams,
    plots=(plot_awgn_ber,),
)
def awgn_ber(key, p: AwgnBerParams):
    snr = db_to_lin(p.snr_db)
    n, u = p.n_symbols, p.n_ues
    errors = map_ues(_qpsk_errors, key, u, jnp.float32(snr), static={"n_symbols": n})  # [U] int32
    bits = 2 * n * u
    theory = 0.5 * math.erfc(math.sqrt(float(snr)) / math.sqrt(2.0))
    # Integer sum on the host: exact, independent of chunking and sharding.
    return {"ber": int(np.sum(errors, dtype=np.int64)) / bits, "ber_theory": theory, "bits": bits}

"""``awgn_ber``: Monte-Carlo uncoded QPSK bit-error rate in AWGN vs. the closed form.

A small, fast, self-contained experiment. It exercises the sweep runner
(grid axes, keys, metrics, plots) and is a sanity check of the noise
convention used throughout ltjax: complex AWGN with E|n|^2 = 1/SNR for
unit-energy symbols, so for QPSK Eb/N0 = SNR/2 and BER = Q(sqrt(SNR)).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ltjax.numerics import db_to_lin
from ltjax.plotting.demo import plot_awgn_ber
from ltjax.sweep.registry import Param, register_experiment


def _qpsk_errors(key, snr_lin, n_symbols: int):
    """Bit errors of n_symbols Gray-mapped QPSK symbols over complex AWGN."""
    kb, kn = jax.random.split(key)
    bits = jax.random.bernoulli(kb, 0.5, (n_symbols, 2))
    sym = ((1 - 2 * bits[:, 0]) + 1j * (1 - 2 * bits[:, 1])) / jnp.sqrt(2.0)
    noise = jax.random.normal(kn, (n_symbols, 2)) @ jnp.array([1.0, 1j]) * jnp.sqrt(0.5 / snr_lin)
    y = sym + noise
    hat = jnp.stack([y.real < 0, y.imag < 0], axis=-1)
    return jnp.sum(hat != bits)


@register_experiment(
    name="awgn_ber",
    description="Uncoded QPSK BER in AWGN, Monte-Carlo vs closed form (runner smoke test)",
    params={
        "snr_db": Param("float", 0.0, "symbol SNR Es/N0 [dB]", lo=-20.0, hi=30.0),
        "n_symbols": Param("int", 100_000, "symbols per grid point", lo=1, hi=10**8),
    },
    plots=(plot_awgn_ber,),
)
def awgn_ber(key, p):
    snr = db_to_lin(p["snr_db"])
    n = p["n_symbols"]
    errors = jax.jit(_qpsk_errors, static_argnums=2)(key, snr, n)
    theory = 0.5 * math.erfc(math.sqrt(float(snr)) / math.sqrt(2.0))
    return {"ber": errors / (2 * n), "ber_theory": theory, "bits": 2 * n}

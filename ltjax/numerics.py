"""Numerics shared across the simulator: dB conversions and safe logs.

Keeping these in one place means every module converts dB the same way.
Functions work on jax or numpy arrays (they only use ``jnp``).
"""

import jax.numpy as jnp

TINY = 1e-30  # floor inside logs; far below any physical power we simulate


def db_to_lin(x_db):
    """10^(x/10). Power ratio from dB."""
    return jnp.power(10.0, jnp.asarray(x_db) / 10.0)


def lin_to_db(x):
    """10 log10(max(x, TINY)). dB from a power ratio, safe at 0."""
    return 10.0 * jnp.log10(jnp.maximum(jnp.asarray(x), TINY))


def safe_log(x):
    """Natural log floored at log(TINY)."""
    return jnp.log(jnp.maximum(x, TINY))

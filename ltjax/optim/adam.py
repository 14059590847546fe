"""Adam standard (eq. 8) and Adam one-step reset (eq. 9) as optax transformations.

Update rule shared by both (Alg. 1, line 7, after Kingma & Ba):

    theta <- theta - alpha * (m_t / (1 - b1^tA)) / (sqrt(v_t / (1 - b2^tA)) + eps)

Standard (eq. 8): m_t = b1 m_{t-1} + (1 - b1) g, v_t = b2 v_{t-1} + (1 - b2) g^2, tA = t.
One-step (eq. 9): m_{t-1} = v_{t-1} = 0 and tA = 1 before every update, so
m_t / (1 - b1) = g and v_t / (1 - b2) = g^2 and the update is

    theta <- theta - alpha * g / (|g| + eps)      (element-wise)

a normalised (sign-like) gradient step of size ~alpha per coordinate. It keeps
no state between updates (memory-efficient on a UE).

``learning_rate`` may be a traced scalar when the transformation is built
inside a traced function (LightTune builds it from its traced params).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdamState(NamedTuple):
    """State of :func:`adam_standard`."""

    count: jax.Array  # [] int32, Adam time step t_A of the last update
    mu: optax.Updates  # like params: first moment m_t
    nu: optax.Updates  # like params: second moment v_t


def adam_standard(learning_rate, b1: float = 0.9, b2: float = 0.999,
                  eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam with persistent moments, eq. (8). Equals ``optax.adam(learning_rate, b1, b2, eps)``.

    Returns updates (to be added to params with ``optax.apply_updates``).
    """

    def init_fn(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros([], jnp.int32), mu=zeros, nu=zeros)

    def update_fn(updates, state, params=None):
        del params
        count = state.count + 1
        mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1.0 - b1) * g, state.mu, updates)
        nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1.0 - b2) * g * g, state.nu, updates)
        c1 = 1.0 - b1 ** count.astype(jnp.float32)
        c2 = 1.0 - b2 ** count.astype(jnp.float32)
        new = jax.tree_util.tree_map(
            lambda m, v: -learning_rate * (m / c1.astype(m.dtype))
            / (jnp.sqrt(v / c2.astype(v.dtype)) + eps), mu, nu)
        return new, AdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def adam_one_step(learning_rate, b1: float = 0.9, b2: float = 0.999,
                  eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam reset before every update, eq. (9): update = -lr * g / (|g| + eps) element-wise.

    Written as eq. (9) literally (one Adam step from zero moments with t_A = 1);
    the state is empty.
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params

        def one(g):
            m = (1.0 - b1) * g  # eq. (9): m_0 = 0
            v = (1.0 - b2) * g * g  # eq. (9): v_0 = 0
            return -learning_rate * (m / (1.0 - b1)) / (jnp.sqrt(v / (1.0 - b2)) + eps)

        return jax.tree_util.tree_map(one, updates), state

    return optax.GradientTransformation(init_fn, update_fn)

"""Plain stochastic gradient descent as an optax transformation: the optimiser Theorem 1 assumes.

    theta <- theta - alpha * g

No state is kept between updates. Unlike Adam (eqs. 8, 9), the step depends on the scale of
the gradient, so it depends on the loss convention: ``ltjax.ff.local_grads`` returns the
gradient of eq. (6) with its 1/M_l mean (eq. 7 is M_l times that, see ``ltjax.ff.losses``).

``learning_rate`` may be a traced scalar (LightTune builds the transformation from its
traced params).
"""

from __future__ import annotations

import jax
import optax


def sgd(learning_rate) -> optax.GradientTransformation:
    """SGD: update = -learning_rate * g, element-wise; empty state.

    Returns updates (to be added to params with ``optax.apply_updates``).
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return jax.tree_util.tree_map(lambda g: -learning_rate * g, updates), state

    return optax.GradientTransformation(init_fn, update_fn)


__all__ = ["sgd"]

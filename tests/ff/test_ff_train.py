"""Offline layer-by-layer FF training (ltjax.ff.train) against a plain Python loop, jit == no jit;
inference helpers."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ltjax import ff
from ltjax.optim import adam_standard

# Entry-point style: the per-layer functions jitted once here (the library never jits).
_TRAIN_LAYER = jax.jit(ff.train_layer, static_argnames=("opt", "steps", "loss", "normalize", "goodness"))
_FORWARD = jax.jit(ff.layer_forward, static_argnames=("normalize",))


def _data():
    kx, ky, kn = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (16, 7))
    y = jax.random.randint(ky, (16,), 0, 3)
    y_neg = (y + 1 + jax.random.randint(kn, (16,), 0, 2)) % 3
    return ff.overlay_label(x, y, 3, 2.0), ff.overlay_label(x, y_neg, 3, 2.0)


@pytest.mark.parametrize("jitted", [True, False])
def test_train_layerwise_equals_python_loop(jitted):
    """The scan-based training equals a step-by-step Python loop, with the per-layer functions
    jitted (as the MNIST experiment runs them) and eagerly (``jax.disable_jit``)."""
    x_pos, x_neg = _data()
    params = ff.init(jax.random.key(1), [7, 8, 5])
    opt = adam_standard(0.01)
    steps = 4
    kw = dict(opt=opt, steps=steps, loss="softplus", normalize=True, goodness="mean")
    if jitted:
        got, curves = ff.train_layerwise(params, x_pos, x_neg, 1.0, train_layer_fn=_TRAIN_LAYER,
                                         forward_fn=_FORWARD, **kw)
    else:
        with jax.disable_jit():
            got, curves = ff.train_layerwise(params, x_pos, x_neg, 1.0, **kw)
    xp, xn = x_pos, x_neg
    for l, layer in enumerate(params):
        state, want_curve = opt.init(layer), []
        for _ in range(steps):
            g, value, _, _ = ff.layer_grads(layer, xp, xn, 1.0, "softplus", True, "mean")
            u, state = opt.update(g, state)
            layer = optax.apply_updates(layer, u)
            want_curve.append(value)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got[l], layer)
        np.testing.assert_allclose(curves[l], want_curve, rtol=1e-5)
        xp, xn = ff.layer_forward(layer, xp, True), ff.layer_forward(layer, xn, True)


def test_training_separates_positives_from_negatives():
    """A few hundred steps on a learnable toy problem: loss falls and eq. (5) beats chance clearly."""
    kx, ky = jax.random.split(jax.random.key(2))
    n, c = 256, 3
    y = jax.random.randint(ky, (n,), 0, c)
    # the class is visible in the features: class k has mean +3 in feature k
    x = jax.random.normal(kx, (n, 8)) + 3.0 * jax.nn.one_hot(y, 8)
    x = jnp.concatenate([jnp.zeros((n, c)), x], axis=1)
    y_neg = (y + 1 + jax.random.randint(kx, (n,), 0, c - 1)) % c
    x_pos, x_neg = ff.overlay_label(x, y, c, 3.0), ff.overlay_label(x, y_neg, c, 3.0)
    params = ff.init(jax.random.key(3), [11, 32])
    params, curves = ff.train_layerwise(params, x_pos, x_neg, 2.0, opt=adam_standard(0.03), steps=200,
                                        loss="quadratic", normalize=False, goodness="mean",
                                        train_layer_fn=_TRAIN_LAYER, forward_fn=_FORWARD)
    assert curves[0][-1] < curves[0][0]
    label_fn = functools.partial(ff.overlay_label, num_classes=c, on_value=3.0)
    acc = float(jnp.mean(ff.predict(params, x, jnp.arange(c), label_fn, False) == y))
    # chance is 1/3; 4 binomial sigma above chance at n = 256 is 0.45
    assert acc > 1 / 3 + 4 * np.sqrt((1 / 3) * (2 / 3) / n)


def test_label_modes_and_goodness():
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ff.append_label(x, jnp.array([0.5, 0.25])), [[0, 1, 2, 0.5], [3, 4, 5, 0.25]])
    np.testing.assert_array_equal(ff.overlay_label(x, jnp.array([1, 0]), 2, 9.0), [[0, 9, 2], [9, 0, 5]])
    h = jnp.array([[1.0, -2.0, 3.0]])
    np.testing.assert_array_equal(ff.neuron_goodness(h), [[1, 4, 9]])
    np.testing.assert_array_equal(ff.layer_goodness(h), [14.0])
    xn = ff.normalize_input(jnp.array([[3.0, 4.0]]))
    np.testing.assert_allclose(xn, [[3 / (5 + 1e-4), 4 / (5 + 1e-4)]], rtol=1e-6)

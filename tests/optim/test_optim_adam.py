"""Adam variants of ltjax.optim against optax.adam (eq. 8) and the closed form of eq. (9)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ltjax.optim import adam_one_step, adam_standard


def _grad_sequence(n=12):
    key = jax.random.key(0)
    out = []
    for t in range(n):
        k1, k2 = jax.random.split(jax.random.fold_in(key, t))
        # two "layers" with different shapes; scales spanning 1e-3..1e2 exercise eps and bias correction
        out.append([{"w": jax.random.normal(k1, (4, 3)) * 10.0 ** (t % 6 - 3), "b": jax.random.normal(k2, (3,))}])
    return out


def test_standard_equals_optax_adam():
    grads = _grad_sequence()
    params = jax.tree_util.tree_map(jnp.zeros_like, grads[0])
    ours, ref = adam_standard(0.03), optax.adam(0.03, b1=0.9, b2=0.999, eps=1e-8)
    s_ours, s_ref = ours.init(params), ref.init(params)
    p_ours, p_ref = params, params
    for g in grads:
        u_ours, s_ours = ours.update(g, s_ours, p_ours)
        u_ref, s_ref = ref.update(g, s_ref, p_ref)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-9),
                               u_ours, u_ref)
        p_ours, p_ref = optax.apply_updates(p_ours, u_ours), optax.apply_updates(p_ref, u_ref)
    assert int(s_ours.count) == len(grads)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), p_ours, p_ref)


def test_standard_is_not_one_step():
    """After the first update the two variants differ (moments carried vs reset)."""
    g = _grad_sequence(3)
    params = jax.tree_util.tree_map(jnp.zeros_like, g[0])
    std, one = adam_standard(0.03), adam_one_step(0.03)
    s1, s2 = std.init(params), one.init(params)
    u1, s1 = std.update(g[0], s1)
    u2, s2 = one.update(g[0], s2)
    # first update: identical (both are one Adam step from zero moments, t_A = 1) up to the
    # float32 rounding of 1 - b2**1 = 1 - 0.999 (relative error ~1e-5 from cancellation)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=3e-5), u1, u2)
    u1, _ = std.update(g[1], s1)
    u2, _ = one.update(g[1], s2)
    assert not np.allclose(u1[0]["w"], u2[0]["w"], rtol=1e-3)


def test_one_step_equals_closed_form():
    one = adam_one_step(0.03)
    state = one.init(None)
    for g in _grad_sequence():
        u, state = one.update(g, state)
        want = jax.tree_util.tree_map(lambda x: -0.03 * x / (jnp.abs(x) + 1e-8), g)
        jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=0), u, want)
    assert state == optax.EmptyState()
    # a zero gradient gives a zero update (no 0/0)
    u, _ = one.update({"w": jnp.zeros(3)}, state)
    np.testing.assert_array_equal(u["w"], 0.0)


def test_traced_learning_rate():
    """The learning rate may be traced (LightTune builds the transform from traced params)."""

    @jax.jit
    def step(lr, g):
        return adam_one_step(lr).update(g, optax.EmptyState())[0]

    np.testing.assert_allclose(step(0.5, jnp.array([2.0, -3.0])), [-0.5, 0.5], rtol=1e-6)


def test_update_jit_equals_no_jit():
    """Both transformations, jitted and eagerly (``jax.disable_jit``), over three updates."""
    grads = _grad_sequence(3)
    params = jax.tree_util.tree_map(jnp.zeros_like, grads[0])
    for tx in (adam_standard(0.03), adam_one_step(0.03)):
        s_jit = s_eager = tx.init(params)
        for g in grads:
            u_jit, s_jit = jax.jit(tx.update)(g, s_jit)
            with jax.disable_jit():
                u_eager, s_eager = tx.update(g, s_eager)
            # a few float32 ulps (eps 1.2e-7): XLA fuses the bias corrections and the division
            jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12), u_jit, u_eager)

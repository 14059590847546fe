"""Closed-form FF gradients (ltjax.ff.local_grads) against jax.grad of eqs. (4) / (6), float64, rtol 1e-10."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax import ff


@pytest.fixture
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@functools.partial(jax.jit, static_argnames=("loss", "normalize", "goodness"))
def _autodiff_grads(params, x_pos, x_neg, threshold, loss, normalize, goodness):
    """jax.grad of the sum of the per-layer losses (eq. 4 / 6).

    ``local_losses`` stops gradients between layers (the local-training definition), so the
    gradient of the sum with respect to layer l's parameters is that of layer l's own loss.
    """
    return jax.grad(lambda prm: jnp.sum(ff.local_losses(prm, x_pos, x_neg, threshold, loss, normalize,
                                                         goodness)))(params)


_closed_form = jax.jit(ff.local_grads, static_argnames=("loss", "normalize", "goodness"))


def _inputs(key, sizes, b_pos, b_neg, label_mode, dead):
    k_p, k_xp, k_xn, k_y = jax.random.split(key, 4)
    params = ff.init(k_p, sizes, dtype=jnp.float64)
    # Shift biases up so most units are alive (gradients not trivially zero); with ``dead``,
    # every third unit gets a large negative bias, so z < 0 for every sample (a dead ReLU).
    params = [dict(lay, b=lay["b"] + 0.5) for lay in params]
    if dead:
        params = [dict(lay, b=lay["b"].at[:: 3].set(-1e3)) for lay in params]
    if label_mode == "append":
        d = sizes[0] - 1
        x = jax.random.normal(k_xp, (b_pos, d), jnp.float64)
        xn = jax.random.normal(k_xn, (b_neg, d), jnp.float64)
        y = jax.random.uniform(k_y, (b_pos + b_neg,), jnp.float64)
        return params, ff.append_label(x, y[:b_pos]), ff.append_label(xn, y[b_pos:])
    c = 3
    x = jax.random.normal(k_xp, (b_pos, sizes[0]), jnp.float64)
    xn = jax.random.normal(k_xn, (b_neg, sizes[0]), jnp.float64)
    y = jax.random.randint(k_y, (b_pos + b_neg,), 0, c)
    return params, ff.overlay_label(x, y[:b_pos], c, 2.0), ff.overlay_label(xn, y[b_pos:], c, 2.0)


# sizes (depth 1 to 4), B+, B-, label mode, forced dead units, goodness reduction. Each case
# runs with both losses and with/without normalisation, so every loss x label mode x
# normalisation x goodness combination is covered, with batch 1 and larger, with and
# without dead units.
CASES = [
    ([4, 3], 1, 1, "append", False, "neuron"),
    ([13, 32, 32], 1, 1, "append", True, "mean"),
    ([13, 7, 5, 6], 5, 3, "overlay", True, "mean"),
    ([9, 16, 8], 8, 8, "overlay", False, "neuron"),
    ([20, 4, 11, 3, 5], 2, 6, "append", True, "neuron"),
    ([6, 9, 7], 4, 2, "overlay", False, "mean"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("loss", ["quadratic", "softplus"])
@pytest.mark.parametrize("normalize", [False, True])
def test_closed_form_equals_autodiff(x64, case, loss, normalize):
    sizes, b_pos, b_neg, label_mode, dead, goodness = CASES[case]
    key = jax.random.key(100 * case + 10 * int(normalize) + (loss == "softplus"))
    params, x_pos, x_neg = _inputs(key, sizes, b_pos, b_neg, label_mode, dead)
    # T chosen near the typical goodness so that neither loss branch saturates
    threshold = 0.3 if normalize else 2.0
    got = _closed_form(params, x_pos, x_neg, threshold, loss=loss, normalize=normalize, goodness=goodness)
    want = _autodiff_grads(params, x_pos, x_neg, threshold, loss=loss, normalize=normalize,
                           goodness=goodness)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(params)
    for g, w, lay in zip(got, want, params):
        assert g["w"].dtype == jnp.float64
        assert g["w"].shape == lay["w"].shape and g["b"].shape == lay["b"].shape
        np.testing.assert_allclose(g["w"], w["w"], rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(g["b"], w["b"], rtol=1e-10, atol=1e-300)
        # the test must be able to fail: gradients are not trivially zero
        assert np.abs(w["w"]).max() > 0
    if dead:
        for g in got:  # dead units (bias -1e3) get exactly zero gradient
            assert np.all(g["b"][::3] == 0.0) and np.all(g["w"][:, ::3] == 0.0)


def test_eq7_scale_convention(x64):
    """For |S+| = |S-| = 1, eq. (7) written literally equals M_l times local_grads (the documented convention)."""
    sizes, T = [13, 32, 32], 9.0
    params, x_pos, x_neg = _inputs(jax.random.key(3), sizes, 1, 1, "append", False)
    got = ff.local_grads(params, x_pos, x_neg, T, loss="quadratic")
    xp, xn = x_pos[0], x_neg[0]
    for lay, g in zip(params, got):
        zp, zn = xp @ lay["w"] + lay["b"], xn @ lay["w"] + lay["b"]
        hp, hn = jnp.maximum(zp, 0), jnp.maximum(zn, 0)
        cp = (2 * (hp**2 - T) - 4) * 2 * hp * (zp > 0)
        cn = (2 * (hn**2 - T) + 4) * 2 * hn * (zn > 0)
        eq7_w = jnp.outer(cp, xp) + jnp.outer(cn, xn)  # [out, in], as written in the paper
        eq7_b = cp + cn
        m = lay["w"].shape[1]
        np.testing.assert_allclose(eq7_w.T, m * g["w"], rtol=1e-10)
        np.testing.assert_allclose(eq7_b, m * g["b"], rtol=1e-10)
        xp, xn = hp, hn


def test_losses_match_formulas(x64):
    """Eqs. (4) and (6) against a direct numpy evaluation."""
    rng = np.random.default_rng(0)
    hp, hn, T = rng.normal(size=(3, 5)), rng.normal(size=(4, 5)), 2.0
    gp, gn = hp**2, hn**2
    sp = np.mean(np.log1p(np.exp(-(gp - T)))) + np.mean(np.log1p(np.exp(gn - T)))
    qd = np.mean((gp - T) ** 2 - 4 * (gp - T)) + np.mean((gn - T) ** 2 + 4 * (gn - T))
    np.testing.assert_allclose(ff.softplus_loss(hp, hn, T), sp, rtol=1e-12)
    np.testing.assert_allclose(ff.quadratic_loss(hp, hn, T), qd, rtol=1e-12)
    # reference-code reduction: the loss on the per-sample mean goodness
    mp, mn = gp.mean(1), gn.mean(1)
    sp_m = np.mean(np.log1p(np.exp(-(mp - T)))) + np.mean(np.log1p(np.exp(mn - T)))
    qd_m = np.mean((mp - T) ** 2 - 4 * (mp - T)) + np.mean((mn - T) ** 2 + 4 * (mn - T))
    np.testing.assert_allclose(ff.softplus_loss(hp, hn, T, goodness="mean"), sp_m, rtol=1e-12)
    np.testing.assert_allclose(ff.quadratic_loss(hp, hn, T, goodness="mean"), qd_m, rtol=1e-12)


def test_inputs_detached_between_layers(x64):
    """Changing layer 2's parameters never changes layer 1's gradient."""
    params, x_pos, x_neg = _inputs(jax.random.key(5), [6, 5, 4], 3, 3, "append", False)
    g1 = ff.local_grads(params, x_pos, x_neg, 1.0)
    other = [params[0], jax.tree_util.tree_map(lambda a: a * 3.0, params[1])]
    g2 = ff.local_grads(other, x_pos, x_neg, 1.0)
    np.testing.assert_array_equal(g1[0]["w"], g2[0]["w"])
    assert not np.allclose(g1[1]["w"], g2[1]["w"])


def test_local_grads_jit_equals_no_jit():
    """The closed-form gradients (the runtime path of Alg. 1, line 6), jitted and eagerly."""
    k_p, k_x = jax.random.split(jax.random.key(9))
    params = [dict(lay, b=lay["b"] + 0.5) for lay in ff.init(k_p, [13, 32, 32])]  # float32, units alive
    x = jax.random.normal(k_x, (2, 12))
    x_pos, x_neg = ff.append_label(x[:1], jnp.array([0.2])), ff.append_label(x[1:], jnp.array([0.7]))
    got = _closed_form(params, x_pos, x_neg, 9.0, loss="quadratic", normalize=True, goodness="mean")
    with jax.disable_jit():
        want = ff.local_grads(params, x_pos, x_neg, 9.0, loss="quadratic", normalize=True, goodness="mean")
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), got, want)


def test_local_grads_rejects_unknown_loss():
    params = ff.init(jax.random.key(0), [3, 2])
    with pytest.raises(ValueError, match="loss must be one of"):
        ff.local_grads(params, jnp.ones((1, 3)), jnp.ones((1, 3)), 1.0, loss="hinge")

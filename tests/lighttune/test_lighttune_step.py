"""LightTune step (Alg. 1): vmap == per-UE loop, jit == no jit, trigger, negatives, variants,
NumPy baseline parity."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax import ff
from ltjax import lighttune as lt
from ltjax.bench.lighttune_step import step_ues
from ltjax.bench.reference_lighttune_np import init_state_np, step_np

SIZES = [13, 32, 32]
K = len(lt.BLER_CLASSES)
SPEC = lt.FFSpec()  # labels appended as values, T = 9, per-neuron goodness, eq. 5 on the last layer


def _model(seed=0):
    # positive biases keep most units alive, so updates actually change the model
    return [dict(l, b=l["b"] + 0.3) for l in ff.init(jax.random.key(seed), SIZES)]


def _data(num_ues, seed=1):
    kx, ky = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, (num_ues, 12)), jax.random.randint(ky, (num_ues,), 0, K)


_step = jax.jit(lt.lighttune_step, static_argnums=(4,))
_step_ues = jax.jit(step_ues, static_argnums=(4,))


def _init(model, p, n=None):
    """One UE's state, or ``n`` copies with a leading [U]."""
    s = lt.init_ue_state(model, p)
    return s if n is None else jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + jnp.shape(a)), s)


def _assert_tree_close(a, b, rtol=1e-5, atol=1e-6):
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=rtol, atol=atol), a, b)


@pytest.mark.parametrize("variant,negative,n", [("standard", "uniform", 1000), ("one_step", "hard", 100)])
def test_vmap_equals_loop(variant, negative, n):
    p = lt.LightTuneParams(variant=variant, negative=negative)
    x, y = _data(n)
    states = _init(_model(), p, n)
    key = jax.random.key(7)
    # two consecutive steps, so the standard variant's carried moments are exercised
    s_v, o_v = _step_ues(key, states, x, y, SPEC, p)
    s_v2, o_v2 = _step_ues(jax.random.key(8), s_v, x[::-1], y[::-1], SPEC, p)
    assert 0 < int(o_v.updated.sum()) < n  # both branches occur
    single = _init(_model(), p)
    loop_states, loop_out = [], []
    for u in range(n):
        s_u, o_u = _step(jax.random.fold_in(key, u), single, x[u], y[u], SPEC, p)
        s_u, o_u2 = _step(jax.random.fold_in(jax.random.key(8), u), s_u, x[n - 1 - u], y[n - 1 - u], SPEC, p)
        loop_states.append(s_u)
        loop_out.append((o_u, o_u2))
    stack = lambda *a: np.stack([np.asarray(v) for v in a])  # noqa: E731
    s_loop = jax.tree_util.tree_map(stack, *loop_states)
    for i, o_batch in enumerate((o_v, o_v2)):
        o_loop = jax.tree_util.tree_map(stack, *[o[i] for o in loop_out])
        np.testing.assert_array_equal(o_batch.y_hat, o_loop.y_hat)
        np.testing.assert_array_equal(o_batch.updated, o_loop.updated)
        np.testing.assert_array_equal(o_batch.y_neg, o_loop.y_neg)
    _assert_tree_close(s_v2, s_loop)


@pytest.mark.parametrize("variant", ["standard", "one_step"])
def test_jit_equals_no_jit(variant):
    """Three consecutive steps of one UE, jitted and eagerly (``jax.disable_jit``): the same
    predictions, triggers and negatives; the same weights up to float32 round-off."""
    p = lt.LightTuneParams(variant=variant, negative="hard", delta=0.0)
    spec = lt.default_spec()  # the BLER model's settings: normalisation, mean goodness, sum over layers
    x, y = _data(3, seed=4)
    s_jit = s_eager = _init(_model(), p)
    for t in range(3):
        key = jax.random.key(t)
        s_jit, o_jit = _step(key, s_jit, x[t], y[t], spec, p)
        with jax.disable_jit():
            s_eager, o_eager = lt.lighttune_step(key, s_eager, x[t], y[t], spec, p)
        for f in ("y_hat", "updated", "y_neg"):
            np.testing.assert_array_equal(getattr(o_jit, f), getattr(o_eager, f))
        assert bool(o_jit.updated)  # delta = 0: every step updates, so the update path is compared
    _assert_tree_close(s_jit, s_eager, rtol=1e-6, atol=1e-7)


def test_no_update_below_delta():
    n = 64
    p = lt.LightTuneParams(variant="standard")
    x, _ = _data(n)
    model = _model()
    states = _init(model, p, n)
    y_hat = jax.vmap(lambda xi: lt.predict_class(model, xi, SPEC))(x)
    # truth one class (0.1) away from the prediction: error 0.1 < delta = 0.3
    y_close = jnp.where(y_hat < K - 1, y_hat + 1, y_hat - 1)
    lab = np.asarray(lt.BLER_CLASSES, np.float32)
    for y in (y_hat, y_close):
        new, out = _step_ues(jax.random.key(0), states, x, y, SPEC, p)
        assert not bool(out.updated.any())
        # the step predicts what predict_class predicts, and reports e = |labels[y_hat] - labels[y+]|
        np.testing.assert_array_equal(out.y_hat, y_hat)
        np.testing.assert_array_equal(out.error, np.abs(lab[np.asarray(y_hat)] - lab[np.asarray(y)]))
        jax.tree_util.tree_map(np.testing.assert_array_equal, new.params, states.params)
        jax.tree_util.tree_map(np.testing.assert_array_equal, new.opt_state, states.opt_state)
        np.testing.assert_array_equal(new.n_updates, 0)
        np.testing.assert_array_equal(new.n_seen, 1)
    # delta above the largest possible error: never updates, whatever the truth
    new, out = _step_ues(jax.random.key(0), states, x, (y_hat + 5) % K, SPEC, dataclasses.replace(p, delta=1.5))
    assert not bool(out.updated.any())
    # and errors of exactly delta (3 classes apart) do update despite float32 label rounding
    y_far = jnp.where(y_hat >= 3, y_hat - 3, y_hat + 3)
    _, out = _step_ues(jax.random.key(0), states, x, y_far, SPEC, p)
    assert bool(out.updated.all())


@pytest.mark.parametrize("negative", ["uniform", "hard"])
@pytest.mark.parametrize("delta", [0.3, 0.0])
def test_negatives_never_equal_positive(negative, delta):
    n = 2000
    p = lt.LightTuneParams(negative=negative, delta=delta)
    x, y = _data(n, seed=3)
    states = _init(_model(), p, n)
    _, out = _step_ues(jax.random.key(11), states, x, y, SPEC, p)
    upd = np.asarray(out.updated)
    assert upd.sum() > 100
    assert np.all(np.asarray(out.y_neg)[upd] != np.asarray(y)[upd])
    assert np.all((np.asarray(out.y_neg) >= 0) & (np.asarray(out.y_neg) < K))
    if negative == "hard" and delta > 0:  # hard negative is the model's (wrong) prediction
        np.testing.assert_array_equal(np.asarray(out.y_neg)[upd], np.asarray(out.y_hat)[upd])
    if negative == "uniform":
        # y- - y+ offsets (mod K) are uniform over 1..K-1: each count within 4 binomial sigma
        off = (np.asarray(out.y_neg) - np.asarray(y)) % K
        counts = np.bincount(off, minlength=K)
        assert counts[0] == 0
        pr = 1 / (K - 1)
        assert np.all(np.abs(counts[1:] - n * pr) <= 4 * np.sqrt(n * pr * (1 - pr)))


def test_variants_differ_only_as_specified():
    """First update from fresh state: identical. Later: one-step = -lr g/(|g|+eps); standard = Adam with memory."""
    x, _ = _data(2, seed=5)
    model = _model()
    out = {}
    for variant in ("standard", "one_step"):
        p = lt.LightTuneParams(variant=variant, delta=0.0, negative="hard")
        s = _init(model, p)
        params_seq = [s.params]
        for t in range(2):
            y = (lt.predict_class(s.params, x[t], SPEC) + 4) % K  # always wrong by >= 0.4: update
            s, o = _step(jax.random.key(t), s, x[t], y, SPEC, p)
            assert bool(o.updated)
            params_seq.append(s.params)
        out[variant] = (params_seq, s)
    std, one = out["standard"], out["one_step"]
    _assert_tree_close(std[0][1], one[0][1], rtol=3e-5)  # float32 rounding of 1 - 0.999
    assert int(std[1].opt_state[0].count) == 2
    # one-step: second update is the normalised gradient at its pre-update parameters
    p1 = one[0][1]
    p = lt.LightTuneParams(variant="one_step", delta=0.0, negative="hard")
    y = int((lt.predict_class(p1, x[1], SPEC) + 4) % K)
    y_hat = int(lt.predict_class(p1, x[1], SPEC))
    lab = jnp.asarray(lt.BLER_CLASSES, jnp.float32)
    g = ff.local_grads(p1, ff.append_label(x[1], lab[y])[None], ff.append_label(x[1], lab[y_hat])[None], 9.0)
    want = jax.tree_util.tree_map(lambda w, gi: w - 0.03 * gi / (jnp.abs(gi) + 1e-8), p1, g)
    _assert_tree_close(one[0][2], want)
    # the standard variant's second step differs (it carries the first step's moments)
    assert not np.allclose(std[0][2][0]["w"], one[0][2][0]["w"], rtol=1e-3)


@pytest.mark.parametrize("variant,negative,loss,goodness", [("standard", "uniform", "quadratic", "neuron"),
                                                            ("one_step", "hard", "softplus", "mean")])
def test_numpy_baseline_matches_jax(variant, negative, loss, goodness):
    """The benchmark's NumPy per-UE loop does the same step as the JAX kernel."""
    p = lt.LightTuneParams(variant=variant, negative=negative)
    spec = lt.FFSpec(loss=loss, goodness=goodness)
    n = 20
    x, y = _data(n, seed=9)
    model = _model()
    for u in range(n):
        s_j = _init(model, p)
        s_n = init_state_np(model, variant)
        for t in range(3):
            key = jax.random.fold_in(jax.random.key(t), u)
            r = int(jax.random.randint(key, (), 0, K - 1))  # the draw the JAX step makes
            xt, yt = x[(u + t) % n], int(y[(u + 7 * t) % n])
            s_j, o_j = _step(key, s_j, xt, yt, spec, p)
            s_n, o_n = step_np(s_n, np.asarray(xt), yt, r, spec, p)
            assert o_n["y_hat"] == int(o_j.y_hat) and o_n["updated"] == bool(o_j.updated)
            assert o_n["y_neg"] == int(o_j.y_neg)
        _assert_tree_close(s_n["params"], s_j.params, rtol=1e-4, atol=1e-5)
        assert s_n["n_updates"] == int(s_j.n_updates)


def test_quantize():
    np.testing.assert_array_equal(lt.quantize(jnp.array([0.0, 0.04, 0.06, 0.33, 0.97, 1.0])), [0, 0, 1, 3, 10, 10])


def test_params_validation():
    with pytest.raises(ValueError, match="negative"):
        lt.LightTuneParams(negative="random")
    with pytest.raises(ValueError, match="predict_mode"):
        lt.FFSpec(predict_mode="first")
    with pytest.raises(ValueError, match="label_scale"):
        lt.FFSpec(label_scale=0.0)
    # the spec is static and hashable (a jit static argument, stored with a model)
    assert hash(lt.default_spec()) == hash(lt.default_spec()) and lt.default_spec() != SPEC


def test_frozen_step_predicts_only():
    """``finetune=False`` (Fig. 4's no-fine-tuning baseline): the prediction of Alg. 1, no update."""
    x, y = _data(1, seed=6)
    model = _model()
    p = lt.LightTuneParams(delta=0.0, finetune=False)
    s0 = _init(model, p)
    s1, out = _step(jax.random.key(0), s0, x[0], y[0], SPEC, p)
    assert not bool(out.updated) and int(s1.n_seen) == 1 and int(s1.n_updates) == 0
    assert int(out.y_hat) == int(lt.predict_class(model, x[0], SPEC))
    jax.tree_util.tree_map(np.testing.assert_array_equal, s1.params, s0.params)

"""Online LightTune on raw BLER features: trigger rule, frozen variant, equivalence with Alg. 1's step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax import ff
from ltjax.lighttune import lighttune_step, quantize
from ltjax.lighttune.model import BlerModel, default_lt, normalize_features, predict_bler
from ltjax.lighttune.online import (frozen_step, init_online_state, online_params, online_step,
                                    run_sequence)

_step = jax.jit(online_step, static_argnames=("finetune",))


def _model(seed=0):
    params = [dict(l, b=l["b"] + 0.3) for l in ff.init(jax.random.key(seed), [13, 32, 32])]
    mean = jnp.array([6, 3, 30, 10, 6, 6, 6, 6, 1.5, 7, 66, 2.5], jnp.float32)
    std = jnp.array([4, 1, 30, 3, 4, 4, 4, 4, 0.5, 3, 30, 1], jnp.float32)
    return BlerModel(params=params, feat_mean=mean, feat_std=std, lt=default_lt())


def _features(n, seed=1):
    m = _model()
    return m.feat_mean + m.feat_std * jax.random.normal(jax.random.key(seed), (n, 12))


@pytest.mark.parametrize("variant,negative", [("standard", "uniform"), ("one_step", "hard")])
def test_never_fires_below_delta(variant, negative):
    """True BLER within 0.2 (< delta = 0.3) of the prediction at every period: no update, params unchanged."""
    model = _model()
    lt = online_params(model, variant, negative)
    x = _features(200)
    pred = jax.vmap(lambda xx: predict_bler(model, xx))(x)
    offs = jax.random.choice(jax.random.key(2), jnp.array([-0.2, -0.15, -0.1, -0.04, 0.0, 0.04, 0.1, 0.2]), (200,))
    bler = jnp.clip(pred + offs, 0.0, 1.0)
    outs = run_sequence(jax.random.key(3), model, lt, x, bler)
    assert not bool(np.any(outs.updated))
    assert float(np.max(outs.error_class)) < 0.3 - 1e-6
    np.testing.assert_allclose(outs.error, np.abs(np.asarray(pred) - np.asarray(bler)), atol=1e-6)
    # the model never changed: every prediction equals the offline model's
    np.testing.assert_array_equal(outs.prediction, pred)


def test_fires_at_delta_and_matches_alg1_step():
    model = _model()
    lt = online_params(model, "one_step", "uniform")
    x = _features(1)[0]
    pred = float(predict_bler(model, x))
    target = 1.0 if pred <= 0.5 else 0.0  # error >= 0.5 >= delta
    st0 = init_online_state(model, lt)
    key = jax.random.key(4)
    st1, out = _step(key, st0, x, jnp.float32(target), model, lt)
    assert bool(out.updated) and int(st1.n_updates) == 1 and int(st1.n_seen) == 1
    assert float(out.prediction) == pytest.approx(pred)
    # identical to Alg. 1's step on the standardised features and the quantised label
    ref, ref_out = lighttune_step(key, st0, normalize_features(model, x), quantize(target), lt)
    # jit vs eager: float32 rounding only
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), st1.params, ref.params)
    assert int(ref_out.y_hat) == int(out.y_hat)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(st1.params),
                                                       jax.tree_util.tree_leaves(st0.params)))


def test_frozen_step_never_changes_params():
    model = _model()
    lt = online_params(model, "standard", "uniform")
    x = _features(50, seed=5)
    bler = jax.random.uniform(jax.random.key(6), (50,))
    st = init_online_state(model, lt)
    outs_f = run_sequence(jax.random.key(7), model, lt, x, bler, finetune=False)
    outs_t = run_sequence(jax.random.key(7), model, lt, x, bler, finetune=True)
    assert not bool(np.any(outs_f.updated)) and bool(np.any(outs_t.updated))
    st2, _ = frozen_step(jax.random.key(0), st, x[0], bler[0], model, lt)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(a, b), st2.params, st.params)
    # with fine-tuning, the first period's prediction is the offline one (made before the update)
    assert float(outs_f.prediction[0]) == float(outs_t.prediction[0])


def test_lt_params_must_match_model():
    model = _model()
    bad = online_params(model).replace(threshold=2.0)
    with pytest.raises(ValueError, match="threshold"):
        online_step(jax.random.key(0), init_online_state(model, bad), _features(1)[0], 0.1, model, bad)

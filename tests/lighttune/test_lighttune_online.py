"""The online BLER learner (init / predict / tell): trigger rule, frozen variant, equivalence with
Alg. 1's step, jit == no jit."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax import ff
from ltjax.lighttune import online
from ltjax.lighttune.model import BlerModel, default_spec, predict_bler, standardize
from ltjax.lighttune.step import LightTuneParams, lighttune_step, quantize

_tell = jax.jit(online.tell)
_run = jax.jit(online.run_sequence)


def _model(seed=0, spec=None):
    params = [dict(l, b=l["b"] + 0.3) for l in ff.init(jax.random.key(seed), [13, 32, 32])]
    mean = jnp.array([6, 3, 30, 10, 6, 6, 6, 6, 1.5, 7, 66, 2.5], jnp.float32)
    std = jnp.array([4, 1, 30, 3, 4, 4, 4, 4, 0.5, 3, 30, 1], jnp.float32)
    return BlerModel(params=params, feat_mean=mean, feat_std=std, spec=spec or default_spec())


def _features(n, seed=1):
    m = _model()
    return m.feat_mean + m.feat_std * jax.random.normal(jax.random.key(seed), (n, 12))


@pytest.mark.parametrize("variant,negative", [("standard", "uniform"), ("one_step", "hard")])
def test_never_fires_below_delta(variant, negative):
    """True BLER within 0.2 (< delta = 0.3) of the prediction at every period: no update, params unchanged."""
    model = _model()
    lt = LightTuneParams(variant=variant, negative=negative)
    x = _features(200)
    pred = jax.vmap(lambda xx: predict_bler(model, xx))(x)
    offs = jax.random.choice(jax.random.key(2), jnp.array([-0.2, -0.15, -0.1, -0.04, 0.0, 0.04, 0.1, 0.2]), (200,))
    bler = jnp.clip(pred + offs, 0.0, 1.0)
    outs = _run(jax.random.key(3), model, lt, x, bler)
    assert not bool(np.any(outs.updated))
    assert float(np.max(outs.error_class)) < 0.3 - 1e-6
    np.testing.assert_allclose(outs.error, np.abs(np.asarray(pred) - np.asarray(bler)), atol=1e-6)
    # the model never changed: every prediction equals the offline model's
    np.testing.assert_array_equal(outs.prediction, pred)


def test_fires_at_delta_and_matches_alg1_step():
    model = _model()
    lt = LightTuneParams(variant="one_step", negative="uniform")
    x = _features(1)[0]
    pred = float(predict_bler(model, x))
    target = 1.0 if pred <= 0.5 else 0.0  # error >= 0.5 >= delta
    st0 = online.init(jax.random.key(0), model, lt)
    assert float(online.predict(st0, x)) == pred  # at deployment the learner is the offline model
    key = jax.random.key(4)
    st1, out = _tell(key, st0, x, jnp.float32(target), lt)
    assert bool(out.updated) and int(st1.ue.n_updates) == 1 and int(st1.ue.n_seen) == 1
    assert float(out.prediction) == pytest.approx(pred)  # made before the update
    # identical to Alg. 1's step on the standardised features and the quantised label
    ref, ref_out = lighttune_step(key, st0.ue, standardize(model, x), quantize(target), model.spec, lt)
    # jit vs eager: float32 rounding only
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), st1.ue.params,
                           ref.params)
    assert int(ref_out.y_hat) == int(out.y_hat)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(st1.ue.params),
                                                       jax.tree_util.tree_leaves(st0.ue.params)))
    # the standardisation and the spec are the deployed model's, unchanged by the update
    np.testing.assert_array_equal(st1.feat_mean, model.feat_mean)
    assert st1.spec == model.spec
    # predict uses the fine-tuned weights
    np.testing.assert_array_equal(online.predict(st1, x), predict_bler(st1.model, x))


def test_tell_jit_equals_no_jit():
    """Three periods of one UE through ``tell``, jitted and eagerly (``jax.disable_jit``)."""
    model = _model()
    lt = LightTuneParams(variant="standard", negative="hard", delta=0.0)
    x = _features(3, seed=8)
    bler = jnp.array([1.0, 0.0, 0.6], jnp.float32)
    s_jit = s_eager = online.init(jax.random.key(0), model, lt)
    for t in range(3):
        key = jax.random.key(t)
        s_jit, o_jit = _tell(key, s_jit, x[t], bler[t], lt)
        with jax.disable_jit():
            s_eager, o_eager = online.tell(key, s_eager, x[t], bler[t], lt)
        assert bool(o_jit.updated)
        for f in ("y_hat", "y_true", "updated", "prediction"):
            np.testing.assert_array_equal(getattr(o_jit, f), getattr(o_eager, f))
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), s_jit, s_eager)


def test_frozen_never_changes_params():
    model = _model()
    frozen = LightTuneParams(variant="standard", finetune=False)
    tuned = LightTuneParams(variant="standard")
    x = _features(50, seed=5)
    bler = jax.random.uniform(jax.random.key(6), (50,))
    outs_f = _run(jax.random.key(7), model, frozen, x, bler)
    outs_t = _run(jax.random.key(7), model, tuned, x, bler)
    assert not bool(np.any(outs_f.updated)) and bool(np.any(outs_t.updated))
    st = online.init(jax.random.key(0), model, frozen)
    st2, _ = _tell(jax.random.key(0), st, x[0], bler[0], frozen)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(a, b), st2.ue.params, st.ue.params)
    assert int(st2.ue.n_seen) == 1
    # with fine-tuning, the first period's prediction is the offline one (made before the update)
    assert float(outs_f.prediction[0]) == float(outs_t.prediction[0])


def test_learner_uses_the_models_spec():
    """The FF settings come from the model (no cross-check at run time): a model whose spec
    predicts with the last layer only gives that rule's predictions."""
    last = dataclasses.replace(default_spec(), predict_mode="last")
    m_sum, m_last = _model(), _model(spec=last)
    x = _features(64, seed=9)
    lt = LightTuneParams()
    got_sum = jax.vmap(lambda xx: online.predict(online.init(None, m_sum, lt), xx))(x)
    got_last = jax.vmap(lambda xx: online.predict(online.init(None, m_last, lt), xx))(x)
    np.testing.assert_array_equal(got_sum, jax.vmap(lambda xx: predict_bler(m_sum, xx))(x))
    np.testing.assert_array_equal(got_last, jax.vmap(lambda xx: predict_bler(m_last, xx))(x))
    assert not np.array_equal(got_sum, got_last)  # the two rules disagree somewhere on 64 samples


def test_fig4_variants():
    v = dict(online.fig4_variants(0.2, 0.05))
    assert tuple(v) == ("none", "standard_uniform", "standard_hard", "one_step_uniform", "one_step_hard")
    assert not v["none"].finetune and all(p.finetune for k, p in v.items() if k != "none")
    assert v["standard_hard"].variant == "standard" and v["standard_hard"].negative == "hard"
    assert all(p.delta == 0.2 and p.lr == 0.05 for p in v.values())

"""CQI-Tune (Alg. 2): the reported CQI never goes below CQI_min, and the guarded loop."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st

from ltjax.lighttune import online
from ltjax.lighttune.model import init_model
from ltjax.lighttune.step import LightTuneParams
from ltjax.linkadapt import cqi_tune

_backoff = jax.jit(cqi_tune.backoff_from_predictions)


def _reference(p_hat, cqi_table, cqi_min, tau):
    """Alg. 2 with the guard on the next CQI, as a plain Python loop."""
    c = cqi_table
    while p_hat[cqi_table - c] >= tau and c - 1 >= cqi_min:
        c -= 1
    return c


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.integers(0, 3), st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
       st.sampled_from([0.5, 0.9, 1.0]))
def test_never_below_cqi_min(cqi_table, max_backoff, p, tau):
    p_hat = np.asarray(p[: max_backoff + 1], np.float32)
    cqi_min = max(cqi_table - max_backoff, 1)
    got = int(_backoff(jnp.asarray(p_hat), jnp.int32(cqi_table), jnp.int32(cqi_min), tau))
    assert got == _reference(p_hat, cqi_table, cqi_min, tau)
    assert got <= cqi_table
    if cqi_table >= 1:
        assert got >= cqi_min  # never below CQI_min
    else:
        assert got == 0  # "out of range" stays out of range; no back-off possible


def test_all_high_goes_to_cqi_min_all_low_stays():
    hi = jnp.ones(4)
    lo = jnp.zeros(4)
    assert int(_backoff(hi, jnp.int32(10), jnp.int32(7), 0.9)) == 7
    assert int(_backoff(lo, jnp.int32(10), jnp.int32(7), 0.9)) == 10
    # the printed Alg. 2 would step to CQI_min - 1 = 6; the guarded one stops at 7
    assert int(_backoff(hi, jnp.int32(2), jnp.int32(1), 0.9)) == 1


def test_backoff_cqi_with_ff_model_respects_cqi_min():
    """Random FF models and random raw features: the full predict + back-off path."""
    rng = np.random.default_rng(0)
    mean = np.array([10, 5, 50, 10, 10, 10, 10, 10, 1.5, 7, 66, 2.5], np.float32)
    std = np.array([6, 3, 50, 10, 6, 6, 6, 6, .5, 4, 30, 1.1], np.float32)
    fn = jax.jit(jax.vmap(lambda learner, x, c: cqi_tune.backoff_cqi(learner, x, c, 0.9, 1),
                          in_axes=(None, 0, 0)))
    seen_backoff = False
    for seed in range(4):
        model = init_model(jax.random.key(seed), mean, std)
        learner = online.init(jax.random.key(0), model, LightTuneParams())
        x = jnp.asarray(mean + std * rng.standard_normal((64, 12)) * 2, jnp.float32)
        ctab = jnp.asarray(rng.integers(0, 16, 64), jnp.int32)
        cqi, p_tab = fn(learner, x, ctab)
        cqi, ctab, p_tab = np.asarray(cqi), np.asarray(ctab), np.asarray(p_tab)
        cmin = np.maximum(ctab - 1, 1)
        assert np.all(cqi <= ctab)
        assert np.all(cqi[ctab >= 1] >= cmin[ctab >= 1])
        # a back-off happens exactly when P_hat(CQI_table) >= tau and there is room
        want = np.where((p_tab >= 0.9) & (ctab - 1 >= cmin), ctab - 1, ctab)
        np.testing.assert_array_equal(cqi, want)
        seen_backoff |= bool(np.any(cqi < ctab))
    assert seen_backoff

"""Theorem 1 measured (``lighttune_convergence``): the SGD variant, the frozen reference, the
label-noise statistics, the conditional channel redraw, and a tiny end-to-end run.

Statistical checks use tolerances from the sample size (binomial / exponential sigmas), never
from an observed spread.
"""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax import ff
from ltjax import lighttune as lt
from ltjax.channels import ChannelConfig, channel_taps, init_channel, make_channel_params, resample_given
from ltjax.lighttune import online
from ltjax.lighttune.model import BlerModel, default_spec
from ltjax.lighttune.step import TRIGGER_SLACK
from ltjax.plotting.lighttune_convergence import wilson_interval

_step = jax.jit(lt.lighttune_step, static_argnums=(4,))
_run = jax.jit(online.run_sequence)


def _model(seed=0):
    params = [dict(l, b=l["b"] + 0.3) for l in ff.init(jax.random.key(seed), [13, 32, 32])]
    mean = jnp.array([6, 3, 30, 10, 6, 6, 6, 6, 1.5, 7, 66, 2.5], jnp.float32)
    std = jnp.array([4, 1, 30, 3, 4, 4, 4, 4, 0.5, 3, 30, 1], jnp.float32)
    return BlerModel(params=params, feat_mean=mean, feat_std=std, spec=default_spec())


def test_sgd_variant_is_plain_sgd_on_the_closed_form_gradients():
    """variant="sgd": theta <- theta - lr * local_grads (eq. 7 with the 1/M_l mean), no optimiser state."""
    model = _model()
    spec = model.spec
    p = lt.LightTuneParams(variant="sgd", lr=0.3)
    state = lt.init_ue_state(model.params, p)
    assert all(isinstance(s, type(state.opt_state[0])) and not jax.tree_util.tree_leaves(s)
               for s in state.opt_state)  # EmptyState per layer
    x = jax.random.normal(jax.random.key(1), (12,))
    y_hat = int(jax.jit(lt.predict_class, static_argnums=2)(model.params, x, spec))
    y_true = (y_hat + 5) % spec.num_labels  # 0.5 away at least: the trigger fires
    key = jax.random.key(2)
    new, out = _step(key, state, x, jnp.int32(y_true), spec, p)
    assert bool(out.updated) and int(new.n_updates) == 1
    attach = lt.step.label_fn(spec)

    @jax.jit
    def sgd_by_hand(params, x, y_pos, y_neg):
        grads = ff.local_grads(params, attach(x, y_pos)[None], attach(x, y_neg)[None], spec.threshold,
                               loss=spec.loss, normalize=spec.normalize, goodness=spec.goodness)
        return jax.tree_util.tree_map(lambda w, g: w - 0.3 * g, params, grads)

    want = sgd_by_hand(model.params, x, jnp.int32(y_true), out.y_neg)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), new.params, want)
    with pytest.raises(ValueError, match="variant"):
        lt.LightTuneParams(variant="adagrad")


def test_frozen_reference_is_sgd_with_zero_step():
    """The experiment's "frozen" predictor (SGD, alpha = 0) predicts exactly as no fine-tuning and
    reports the theorem's event |y_hat - y+| >= delta as its trigger."""
    model = _model()
    n = 40
    x = model.feat_mean + model.feat_std * jax.random.normal(jax.random.key(3), (n, 12))
    bler = jax.random.uniform(jax.random.key(4), (n,))
    frozen = _run(jax.random.key(5), model, lt.LightTuneParams(variant="sgd", lr=jnp.float32(0.0)), x, bler)
    none = _run(jax.random.key(5), model, lt.LightTuneParams(finetune=False), x, bler)
    np.testing.assert_array_equal(frozen.prediction, none.prediction)
    np.testing.assert_array_equal(frozen.updated, np.asarray(none.error_class) + TRIGGER_SLACK >= 0.3)
    assert 0 < int(np.sum(frozen.updated)) < n


def test_label_noise_statistics_exact_cases():
    from ltjax.experiments.lighttune_convergence import label_noise

    same = label_noise(np.full((3, 6), 0.42, np.float32), 0.3)  # deterministic labels: no floor
    for k in ("floor_event_lo", "floor_event_hi", "pair_event", "label_std"):
        np.testing.assert_allclose(same[k], 0.0, atol=1e-6)
    for k in ("floor_err_lo", "floor_err_hi"):  # |0.4 - 0.42|: predictions are class values
        np.testing.assert_allclose(same[k], 0.02, atol=1e-6)
    # one probe, labels 0, 0, 1, 1: every class misses half (c <= 0.2 or >= 0.8) or all
    two = label_noise(np.array([[0.0, 0.0, 1.0, 1.0]], np.float32), 0.3)
    assert two["floor_event_lo"][0] == pytest.approx(0.5)
    assert two["floor_event_hi"][0] == pytest.approx(1.0)  # class 0 chosen on (0, 0), scored on (1, 1)
    assert two["pair_event"][0] == pytest.approx(8 / 12)  # 8 of the 12 ordered pairs differ


def test_label_noise_floor_of_coin_flip_labels():
    """Labels 0 or 1 with probability 1/2: rho = 0.5 for every probe. floor_event_hi and pair_event
    are unbiased for it; floor_event_lo has the exact mean E[min(k, R - k)] / R, k ~ Bin(R, 1/2)."""
    from ltjax.experiments.lighttune_convergence import label_noise

    u, r = 400, 16
    rng = np.random.default_rng(0)
    s = label_noise(rng.integers(0, 2, (u, r)).astype(np.float32), 0.3)
    # per-probe variances <= 1/4 / (r/2) (scored on r/2 replays), 1/4 (pairs: bounded by one draw),
    # 1/4 / r (the in-sample min moves by at most the in-sample mean's spread): 4-sigma bounds over u probes
    assert abs(s["floor_event_hi"].mean() - 0.5) < 4 * math.sqrt(0.25 / (r // 2) / u)
    assert abs(s["pair_event"].mean() - 0.5) < 4 * math.sqrt(0.25 / u)
    e_min = sum(math.comb(r, k) * min(k, r - k) for k in range(r + 1)) / 2 ** r / r
    assert abs(s["floor_event_lo"].mean() - e_min) < 4 * math.sqrt(0.25 / u)
    assert e_min < 0.5


def test_wilson_interval():
    lo, hi = wilson_interval(np.array([0.5, 0.0]), 100)
    np.testing.assert_allclose([lo[0], hi[0]], [0.4038, 0.5962], atol=1e-4)  # textbook values
    assert lo[1] == pytest.approx(0.0, abs=1e-12) and hi[1] == pytest.approx(0.0370, abs=1e-4)


def test_resample_given_keeps_the_taps_and_redraws_the_rest():
    """Conditional redraw of the sum-of-sinusoids channel: the taps at the given times are kept,
    and a' - a = N (b - a) with N the projector onto the K - m dimensional null space, so with
    uncorrelated antennas E|a'_k - a_k|^2 summed over k is 2 (K - m) per tap and antenna pair
    (b - a ~ CN(0, 2 I)). A projector of the wrong rank or side gives 2 m (6) or 0."""
    cfg = ChannelConfig(model="A", correlation="low")
    params = make_channel_params(cfg, 30e-9, 100.0)
    times = jnp.array([0.0, 0.003, 0.007], jnp.float32)  # well separated at 100 Hz: rank 3

    def one(k):
        st = init_channel(jax.random.fold_in(k, 0), cfg)
        new = resample_given(jax.random.fold_in(k, 1), st, times, cfg, params)
        at = jnp.concatenate([times, jnp.array([0.05, 1.0], jnp.float32)])
        taps = [jax.vmap(lambda t, s=s: channel_taps(s, t, cfg, params))(at) for s in (st, new)]
        return (taps[0], taps[1],
                jnp.sum(jnp.abs(new.amplitudes - st.amplitudes) ** 2, axis=-1), new.cos_aoa - st.cos_aoa)

    old, new, d2, dang = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), 20))
    np.testing.assert_array_equal(dang, 0.0)  # the arrival angles are kept
    scale = np.sqrt(np.mean(np.abs(old) ** 2))
    assert np.max(np.abs(new[:, :3] - old[:, :3])) < 1e-3 * scale  # kept, to float32 round-off
    assert np.mean(np.abs(new[:, 4] - old[:, 4]) ** 2) > 0.5 * np.mean(np.abs(old[:, 4]) ** 2)  # 1 s on: redrawn
    k, m = cfg.n_sinusoids, 3
    n = d2.size  # UEs x taps x Nr x Nt independent entries, each a sum of K - m Exp(mean 2)
    assert abs(d2.mean() - 2 * (k - m)) < 4 * math.sqrt(4 * (k - m) / n)


@pytest.mark.slow  # compiles the link engine twice (learners, replays): minutes of CPU, whatever the size
def test_experiment_end_to_end(tmp_path):
    """Tiny run: files, shapes, identical features in every replay, probes on the learners' own
    trajectories, and bad values refused in one line before any compute."""
    from ltjax.batching import map_ues
    from ltjax.errors import InputError
    from ltjax.experiments.lighttune_convergence import (VARIANTS, _replay_kernel, link_and_predictors,
                                                          variant_params)
    from ltjax.lighttune.model import load_model
    from ltjax.link import LinkConfig, link_params_for_scenario
    import csv
    from ltjax.sweep.config import parse_sweep
    from ltjax.sweep.runner import run_sweep

    model_path = str(Path(__file__).resolve().parents[2] / "results" / "bler_offline_model" / "ff_model.msgpack")
    base = {"snr_db": 20.0, "n_ue": 2, "n_periods": 3, "tail_periods": 2, "probe_period": 1, "n_rep": 2,
            "model_path": model_path}
    for bad, match in (({"tail_periods": 4}, "tail_periods"), ({"channel": "AWGN"}, "channel"),
                       ({"n_rep": 1}, "n_rep"), ({"sgd_lr": 0.0}, "sgd_lr")):
        with pytest.raises(InputError, match=match) as e:
            cfg = parse_sweep({"experiment": "lighttune_convergence", "params": {**base, **bad}},
                              str(tmp_path / "bad.toml"))
            run_sweep(cfg, out=tmp_path / "bad", progress=False)
        assert "\n" not in str(e.value)
    cfg = parse_sweep({"experiment": "lighttune_convergence", "seed": 3, "params": base}, str(tmp_path / "c.toml"))
    out = run_sweep(cfg, out=tmp_path / "conv", progress=False)
    assert (out / "convergence.png").is_file()
    rows = list(csv.DictReader(open(out / "data.csv")))
    assert len(rows) == 1 and float(rows[0]["probe_features_identical"]) == 1.0
    series = np.load(out / "series.npz")
    assert series["p00000/p_event_t"].shape == (len(VARIANTS), 3)
    # the probes sit on the learners' own link trajectories (same keys): the report-made
    # features of the replays are those of period probe_period in the learners' run
    model, _ = load_model(model_path)
    params = link_params_for_scenario("TDL-A30", 20.0, 10.0, LinkConfig())
    point_key = jax.random.fold_in(jax.random.key(3), 0)
    o = map_ues(link_and_predictors, point_key, 2, params, model, variant_params(0.3, 0.03, 0.3),
                static={"n_periods": 3})
    rep = map_ues(_replay_kernel, point_key, 2, params, static={"probe_period": 1, "n_rep": 2})
    np.testing.assert_allclose(rep["features"][:, 0, 0, :10], o["features"][:, 1, :10], rtol=1e-5, atol=1e-5)

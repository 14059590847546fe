"""Offline ML baseline [16]: schedule, training (jit == no jit), save/load, degenerate files,
frozen weights under calibration, the policy."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.io import config_hash
from ltjax.linkadapt import ml_baseline as mlb

_EPOCH = jax.jit(mlb.train_epoch, static_argnames=("config",))  # entry-point style: jitted once here


def _synthetic(n=2048, seed=0):
    """A learnable BLER: high when the CQI feature exceeds the SNR feature's CQI."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12)).astype(np.float32) * 3 + 8
    x[:, 9] = rng.integers(1, 16, n)
    y = 1 / (1 + np.exp(-(x[:, 9] - 0.8 * x[:, 0])))
    return x, np.round(y * 10) / 10


def test_lr_schedule_cosine_with_warm_restarts():
    spe = 5
    s = mlb.lr_schedule(spe, epochs=30, lr=1e-3, lr_min=1e-5, cycle_epochs=10)
    assert float(s(0)) == pytest.approx(1e-3)
    cos_end = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + np.cos(np.pi * (10 * spe - 1) / (10 * spe)))
    assert float(s(10 * spe - 1)) == pytest.approx(cos_end, rel=1e-3)  # last step of a cycle, ~floor
    assert cos_end < 1.1e-5
    assert float(s(10 * spe)) == pytest.approx(1e-3)  # warm restart at the peak
    assert float(s(15 * spe)) == pytest.approx(0.5 * (1e-3 + 1e-5), rel=1e-3)  # mid-cycle cosine
    assert min(float(s(i)) for i in range(30 * spe)) >= 1e-5 * (1 - 1e-4)


def test_training_lowers_the_loss_and_predicts_direction():
    x, y = _synthetic()
    model, curve = mlb.train(jax.random.key(0), x, y, epochs=8, batch_size=128, epoch_fn=_EPOCH)
    assert curve.shape == (8,) and curve[-1] < curve[0] - 0.05
    xc = np.tile(np.median(x, 0), (2, 1))
    xc[:, 9] = [2, 15]
    p = np.asarray(jax.nn.sigmoid(mlb.ml_logit(model, jnp.asarray(xc))))
    assert p[1] > p[0]  # higher CQI -> higher BLER


def test_train_epoch_jit_equals_no_jit():
    x, y = _synthetic(64)
    model = mlb.init_model(jax.random.key(0), x)
    cfg = mlb.TrainConfig(epochs=2, batch_size=16)
    opt_state = mlb.make_optimizer(cfg, 4).init(model.variables)
    args = (jax.random.key(1), model, opt_state, jnp.asarray(x), jnp.asarray(y, jnp.float32))
    got = _EPOCH(*args, config=cfg)
    with jax.disable_jit():
        want = mlb.train_epoch(*args, config=cfg)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, want)


def test_save_load_roundtrip_and_bad_files(tmp_path):
    x, _ = _synthetic(64)
    model = mlb.init_model(jax.random.key(1), x)
    path = mlb.save_model(tmp_path / "m.msgpack", model, {"epochs": 1})
    cpath = path.with_suffix(".json")
    got, meta = mlb.load_model(path)
    assert meta["config"] == {"epochs": 1} and meta["format_version"] == mlb.FORMAT_VERSION
    assert meta["config_hash"] == config_hash({"epochs": 1}, 16) and meta["kind"] == mlb.MODEL_KIND
    np.testing.assert_array_equal(mlb.ml_logit(got, x), mlb.ml_logit(model, x))
    with pytest.raises(InputError, match="nope.msgpack: no such file.*ml_baseline_offline"):
        mlb.load_model(tmp_path / "nope.msgpack")
    original = cpath.read_text()
    edited = json.loads(original)
    edited["config"]["epochs"] = 5
    cpath.write_text(json.dumps(edited))
    with pytest.raises(InputError, match="m.json: config_hash"):
        mlb.load_model(path)
    cpath.write_text(original)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="m.msgpack"):
        mlb.load_model(path)
    cpath.write_text("{")
    with pytest.raises(InputError, match="m.json"):
        mlb.load_model(path)


def test_degenerate_standardisation_is_refused(tmp_path):
    x, _ = _synthetic(64)
    model = mlb.init_model(jax.random.key(1), x)
    bad = model.replace(feat_std=model.feat_std.at[3].set(1e-45))
    path = tmp_path / "m.msgpack"
    with pytest.raises(ValueError, match="degenerate"):  # never written
        mlb.save_model(path, bad, {})
    from flax import serialization

    path = mlb.save_model(path, model, {})
    tree = serialization.msgpack_restore(path.read_bytes())
    tree["feat_std"] = np.array(tree["feat_std"])
    tree["feat_std"][3] = np.float32(1e-45)
    path.write_bytes(serialization.msgpack_serialize(tree))
    with pytest.raises(InputError, match="m.msgpack: .*degenerate") as e:
        mlb.load_model(path)
    assert "\n" not in str(e.value)


def test_committed_model_still_loads():
    """The committed baselines load: the margin-abstraction one (stamped with the earlier config
    hash, no ``kind``) and the one of the calibrated default."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "results"
    for name in ("ml_baseline_offline_model_margin", "ml_baseline_offline_model"):
        model, meta = mlb.load_model(root / name / "ml_model.msgpack")
        assert meta["config"]["epochs"] == 250 and model.feat_std.shape == (12,)


def test_calibration_changes_only_the_offset():
    """Online calibration moves one logit offset; the deployed weights are untouched, and the
    calibrated P_hat is exactly sigmoid(frozen logit + offset)."""
    x, y = _synthetic(256)
    model = mlb.init_model(jax.random.key(2), x)
    before = jax.tree.map(np.array, model.variables)
    state = mlb.cal_init()
    assert len(jax.tree.leaves(state)) == 1  # no weights in the online state
    p = mlb.MlCalParams(gamma=0.05)
    for n_nack in (40, 30, 0, 5):
        state = mlb.cal_update(state, 160 - n_nack, n_nack, p)
    assert float(state.offset) != 0.0
    cqi, p_cal = mlb.ml_cqi(model, jnp.asarray(x[0]), state)
    # the policy's update is the calibration update and never touches the weights
    pol = mlb.MlPolicy(model=model, cal=p)
    s_pol, m = pol.update(None, mlb.cal_init(), type("Out", (), {"n_ack": 100, "n_nack": 60}))
    assert float(s_pol.offset) == float(mlb.cal_update(mlb.cal_init(), 100, 60, p).offset) == float(m["offset"])
    z = mlb.ml_logit(model, mlb.candidate_features(jnp.asarray(x[0]), jnp.arange(1, 16)))
    np.testing.assert_allclose(np.asarray(p_cal), np.asarray(jax.nn.sigmoid(z + state.offset)), rtol=1e-6)
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.array, model.variables))
    ok = np.asarray(p_cal) <= 0.1
    assert int(cqi) == (int(np.max(np.arange(1, 16)[ok])) if ok.any() else 0)
    # a NACK-heavy period raises the offset (more pessimistic), an all-ACK one lowers it
    s1 = mlb.cal_update(mlb.cal_init(), 100, 60, p)
    s2 = mlb.cal_update(mlb.cal_init(), 160, 0, p)
    assert float(s1.offset) > 0 > float(s2.offset)

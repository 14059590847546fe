"""Offline ML baseline [16]: schedule, training, save/load, frozen weights under calibration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.linkadapt import ml_baseline as mlb


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
    model, curve = mlb.train(jax.random.key(0), x, y, epochs=8, batch_size=128)
    assert curve.shape == (8,) and curve[-1] < curve[0] - 0.05
    xc = np.tile(np.median(x, 0), (2, 1))
    xc[:, 9] = [2, 15]
    p = np.asarray(jax.nn.sigmoid(mlb.ml_logit(model, jnp.asarray(xc))))
    assert p[1] > p[0]  # higher CQI -> higher BLER


def test_save_load_roundtrip_and_bad_files(tmp_path):
    x, _ = _synthetic(64)
    model = mlb.init_model(jax.random.key(1), x)
    path, cpath = mlb.save_model(tmp_path / "m.msgpack", model, {"epochs": 1})
    got, meta = mlb.load_model(path)
    assert meta["config"] == {"epochs": 1} and meta["format_version"] == mlb.FORMAT_VERSION
    np.testing.assert_array_equal(mlb.ml_logit(got, x), mlb.ml_logit(model, x))
    with pytest.raises(InputError, match="missing"):
        mlb.load_model(tmp_path / "nope.msgpack")
    path.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="m.msgpack"):
        mlb.load_model(path)
    cpath.write_text("{")
    with pytest.raises(InputError, match="m.json"):
        mlb.load_model(path)


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
    z = mlb.ml_logit(model, mlb.candidate_features(jnp.asarray(x[0]), jnp.arange(1, 16)))
    np.testing.assert_allclose(np.asarray(p_cal), np.asarray(jax.nn.sigmoid(z + state.offset)), rtol=1e-6)
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.array, model.variables))
    ok = np.asarray(p_cal) <= 0.1
    assert int(cqi) == (int(np.max(np.arange(1, 16)[ok])) if ok.any() else 0)
    # a NACK-heavy period raises the offset (more pessimistic), an all-ACK one lowers it
    s1 = mlb.cal_update(mlb.cal_init(), 100, 60, p)
    s2 = mlb.cal_update(mlb.cal_init(), 160, 0, p)
    assert float(s1.offset) > 0 > float(s2.offset)

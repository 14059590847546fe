"""Offline BLER model: closed-form-gradient training reduces the loss; dataset/model artefacts
round-trip; bad, edited or degenerate files -> one-line InputError naming the file."""

import json
import os
import stat
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.io import config_hash
from ltjax.lighttune.dataset import generate_bler_dataset, load_dataset, save_dataset
from ltjax.lighttune.model import (STD_FLOOR, feature_stats, init_model, load_model, predict_bler, save_model,
                                   standardize)
from ltjax.lighttune.step import predict_class
from ltjax.lighttune.train import evaluate, evaluate_arrays, train_chunk, train_offline

REPO = Path(__file__).resolve().parents[2]
# Entry-point style: the training pieces jitted once here (the library never jits).
_CHUNK = jax.jit(train_chunk, static_argnames=("n_epochs", "spec"))
_EVAL = jax.jit(evaluate_arrays, static_argnames=("spec",))


def _train(*args, **kw):
    return train_offline(*args, log=None, chunk_fn=_CHUNK, eval_fn=_EVAL, **kw)


def _synthetic(n, seed=0):
    """Features [n, 12] on raw scales and a BLER that depends on feature 0 (a toy SNR)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 12)).astype(np.float32) * np.array([4, 1, 30, 3, 4, 4, 4, 4, 0.5, 3, 30, 1], np.float32)
    f += np.array([6, 3, 30, 10, 6, 6, 6, 6, 1.5, 7, 66, 2.5], np.float32)
    bler = np.clip(0.5 - 0.06 * (f[:, 0] - 6) + 0.05 * rng.normal(size=n), 0, 1).astype(np.float32)
    return {"features": f, "bler": bler, "snr_db": f[:, 0].copy()}


def test_training_with_closed_form_grads_reduces_loss():
    d = _synthetic(512)
    model = init_model(jax.random.key(0), *feature_stats(d["features"]))
    _, curve = _train(jax.random.key(1), model, d, None, epochs=60, eval_every=30)
    lpe = curve["loss_per_epoch"]  # [E, L]: eq. 6 before each update, per layer
    assert lpe.shape == (60, 2) and np.all(np.isfinite(lpe))
    # each layer's loss falls by far more than its epoch-to-epoch noise (fresh negatives each epoch)
    for layer in range(2):
        first, last = lpe[:5, layer].mean(), lpe[-5:, layer].mean()
        assert last < 0.5 * first, (layer, first, last)


def test_training_independent_of_chunking():
    d = _synthetic(128)
    model = init_model(jax.random.key(0), *feature_stats(d["features"]))
    a, ca = _train(jax.random.key(1), model, d, None, epochs=12, eval_every=12)
    b, cb = _train(jax.random.key(1), model, d, None, epochs=12, eval_every=5)
    np.testing.assert_allclose(ca["loss_per_epoch"], cb["loss_per_epoch"], rtol=1e-5, atol=1e-5)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), a.params, b.params)


def test_train_chunk_jit_equals_no_jit():
    """Two epochs of the offline training, jitted and eagerly (``jax.disable_jit``)."""
    d = _synthetic(32)
    model = init_model(jax.random.key(0), *feature_stats(d["features"]))
    z = standardize(model, d["features"])
    y = jnp.asarray(np.rint(d["bler"] * 10), jnp.int32)
    from ltjax.optim import adam_standard

    opt_state = tuple(adam_standard(0.03).init(layer) for layer in model.params)
    args = (model.params, opt_state, jax.random.key(1), jnp.int32(0), z, y, jnp.float32(0.03))
    got = _CHUNK(*args, n_epochs=2, spec=model.spec)
    with jax.disable_jit():
        want = train_chunk(*args, n_epochs=2, spec=model.spec)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, want)


def test_standardisation_and_prediction():
    d = _synthetic(256)
    model = init_model(jax.random.key(0), *feature_stats(d["features"]))
    z = np.asarray(standardize(model, d["features"]))
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    x = jnp.asarray(d["features"][:8])
    got = jax.vmap(lambda xx: predict_bler(model, xx))(x)
    k = jax.vmap(lambda zz: predict_class(model.params, zz, model.spec))(jnp.asarray(z[:8]))
    np.testing.assert_array_equal(got, np.asarray(model.spec.labels, np.float32)[np.asarray(k)])
    assert set(np.round(np.asarray(got, np.float64), 1).tolist()).issubset({round(0.1 * k, 1) for k in range(11)})
    ev = evaluate(model, d["features"], d["bler"], _EVAL)
    assert 0 <= ev["acc"] <= 1 and 0 <= ev["mae"] <= 1
    for bad in (x[0, :11], x[:2]):  # a wrong feature length, a batch without vmap: one clear line
        with pytest.raises(ValueError, match=r"x_raw must have shape \[12\].*got \(") as e:
            predict_bler(model, bad)
        assert "\n" not in str(e.value)


def test_feature_stats_floor_is_relative_to_the_scale():
    f = np.zeros((4, 12), np.float32)
    f[:, 10] = 106.0  # a constant RB count: std floored at STD_FLOOR * 106, not 0
    f[:, 0] = [1.0, 2.0, 3.0, 4.0]
    _, std = feature_stats(f)
    assert std[10] == pytest.approx(STD_FLOOR * 106, rel=1e-6) and std[1] == pytest.approx(STD_FLOOR)
    assert std[0] == pytest.approx(np.std([1.0, 2.0, 3.0, 4.0]))


def test_model_round_trip_exact_and_bad_files(tmp_path):
    d = _synthetic(64)
    model = init_model(jax.random.key(3), *feature_stats(d["features"]))
    path = save_model(tmp_path / "m.msgpack", model, {"run": "test", "epochs": 1})
    for f in (path, tmp_path / "m.json"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o644
    loaded, meta = load_model(path)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(x, y), model.params, loaded.params)
    np.testing.assert_array_equal(model.feat_mean, loaded.feat_mean)
    np.testing.assert_array_equal(model.feat_std, loaded.feat_std)
    assert loaded.spec == model.spec
    assert meta["config_hash"] == config_hash({"run": "test", "epochs": 1}, 16) and meta["format_version"] == 1
    assert meta["kind"] == "ff_bler_model"
    with pytest.raises(InputError, match="nope.msgpack: no such file.*bler_offline"):
        load_model(tmp_path / "nope.msgpack")
    bad = tmp_path / "bad.msgpack"
    bad.write_bytes(path.read_bytes()[:40])
    (tmp_path / "bad.json").write_text((tmp_path / "m.json").read_text())
    with pytest.raises(InputError, match="bad.msgpack: corrupted") as e:
        load_model(bad)
    assert "\n" not in str(e.value)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json: unreadable"):
        load_model(bad)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    sidecar["sizes"] = [13, 32, 16]  # shapes no longer match the file
    (tmp_path / "m.json").write_text(json.dumps(sidecar))
    with pytest.raises(InputError, match="m.msgpack: corrupted, incompatible"):
        load_model(path)
    sidecar["sizes"] = [13, 32, 32]
    sidecar["config"]["epochs"] = 2  # edited by hand: the hash no longer matches
    (tmp_path / "m.json").write_text(json.dumps(sidecar))
    with pytest.raises(InputError, match="m.json: config_hash"):
        load_model(path)


@pytest.mark.parametrize("bad", ["tiny_std", "zero_std", "nan_mean", "inf_std"])
def test_degenerate_standardisation_is_refused(tmp_path, bad):
    """A model whose feature std is below the floor (e.g. 1e-45) or whose statistics are not
    finite would map features to +-inf: refused on load with a one-line error naming the file."""
    from flax import serialization

    d = _synthetic(64)
    path = save_model(tmp_path / "m.msgpack", init_model(jax.random.key(3), *feature_stats(d["features"])), {})
    tree = serialization.msgpack_restore(path.read_bytes())
    tree = {**tree, "feat_mean": np.array(tree["feat_mean"]), "feat_std": np.array(tree["feat_std"])}  # writable
    if bad == "tiny_std":
        tree["feat_std"][4] = np.float32(1e-45)
    elif bad == "zero_std":
        tree["feat_std"][0] = 0.0
    elif bad == "nan_mean":
        tree["feat_mean"][2] = np.nan
    else:
        tree["feat_std"][3] = np.inf
    path.write_bytes(serialization.msgpack_serialize(tree))
    with pytest.raises(InputError, match="m.msgpack: .*(degenerate|non-finite)") as e:
        load_model(path)
    assert "\n" not in str(e.value)


def test_committed_model_and_dataset_still_load():
    """The committed artefacts load, and each dataset is the one its bler_offline sweep reuses:
    results/bler_offline_model/ that of the engine's defaults (first-transmission labels, the
    calibrated LDPC BLER model), results/bler_offline_model_margin/ the same physics with the
    hand-chosen margin model; never the legacy physics' (whose model is kept in
    results/bler_offline_model_legacy/)."""
    import ltjax.experiments.bler_offline as bo
    from ltjax.link.config import LEGACY_PHYSICS
    from ltjax.params import build

    model, meta = load_model(REPO / "results/bler_offline_model/ff_model.msgpack")
    assert model.spec.predict_mode == "sum_layers" and model.spec.label_scale == 10.0
    legacy_model, _ = load_model(REPO / "results/bler_offline_model_legacy/ff_model.msgpack")
    assert legacy_model.spec == model.spec
    data, cfg = load_dataset(REPO / "results/bler_offline_model/dataset.npz")
    assert data["features"].shape == (91_520, 12)
    point_key = jax.random.fold_in(jax.random.key(0), 0)  # sweeps/bler_offline.toml: seed 0, point 0
    today = config_hash(bo._dataset_config(build(bo.BlerOfflineParams, {}), point_key), 16)
    assert config_hash(cfg, 16) == today
    assert config_hash(bo._dataset_config(build(bo.BlerOfflineParams, dict(LEGACY_PHYSICS)), point_key), 16) != today
    margin_model, _ = load_model(REPO / "results/bler_offline_model_margin/ff_model.msgpack")
    assert margin_model.spec == model.spec
    margin_data, margin_cfg = load_dataset(REPO / "results/bler_offline_model_margin/dataset.npz")
    assert margin_data["features"].shape == (91_520, 12)
    margin = config_hash(bo._dataset_config(build(bo.BlerOfflineParams, {"bler_model": "margin"}), point_key), 16)
    assert config_hash(margin_cfg, 16) == margin != today


def test_dataset_generation_files_and_chunking(tmp_path):
    kw = dict(channel="TDL-A30", snr_db_range=(0.0, 12.0), doppler_hz=10.0, periods_per_ue=2)
    a = generate_bler_dataset(jax.random.key(5), 7, chunk_ues=None, **kw)  # 4 UEs, last period cut
    b = generate_bler_dataset(jax.random.key(5), 7, chunk_ues=1, **kw)
    assert a["features"].shape == (7, 12) and a["bler"].shape == (7,) and a["snr_db"].shape == (7,)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])  # independent of the UE chunking
    assert np.all((a["snr_db"] >= 0) & (a["snr_db"] <= 12))
    np.testing.assert_array_equal(a["snr_db"][:6:2], a["snr_db"][1:6:2])  # one SNR per UE
    assert np.all((a["bler"] >= 0) & (a["bler"] <= 1))
    np.testing.assert_array_equal(a["features"][:, 3] >= 0, True)
    path = save_dataset(tmp_path / "d.npz", a, {"n": 7})
    back, cfg = load_dataset(path)
    assert cfg == {"n": 7}
    for k in a:
        np.testing.assert_array_equal(back[k], a[k])
    with pytest.raises(InputError, match="x.npz: no such file"):
        load_dataset(tmp_path / "x.npz")
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match="d.npz: corrupted"):
        load_dataset(path)


def test_raw_appended_label_gives_convex_first_layer_goodness():
    """Why the BLER model length-normalises its inputs (docs/lighttune.md): without normalisation
    the appended label y enters layer 1 linearly, so G_1(y) = sum_j ReLU(a_j + w_j y)^2 is convex
    in y and eq. 5 over layer 1 can only pick an end class (0 or 1.0). With normalisation the
    label also scales every other input and G_1(y) can peak inside (0, 1)."""
    from ltjax import ff

    rng = np.random.default_rng(0)
    ys = jnp.linspace(-5.0, 5.0, 41)
    interior_peaks = 0
    for trial in range(20):
        params = ff.init(jax.random.key(trial), (13, 32))
        x = jnp.asarray(rng.normal(size=12), jnp.float32)
        g = lambda norm: jax.vmap(lambda y: ff.layer_goodness(
            ff.layer_forward(params[0], ff.append_label(x, y), norm)))(ys)
        raw = np.asarray(g(False), np.float64)
        # convexity: every second difference >= 0 (float32 slack relative to the values)
        assert np.all(np.diff(raw, 2) >= -1e-4 * raw.max()), trial
        assert int(np.argmax(raw)) in (0, len(ys) - 1)
        interior_peaks += 0 < int(np.argmax(np.asarray(g(True)))) < len(ys) - 1
    assert interior_peaks > 0  # normalisation makes interior classes reachable


def test_default_bler_model_learns_a_feature_dependent_bler():
    """The default BLER model (Table IV + our three choices) beats the best constant predictor
    on a toy set where the BLER depends on one feature. Guards against the failure mode of the
    raw label encoding: a model that always predicts the same class."""
    d = _synthetic(2048, seed=1)
    v = _synthetic(1024, seed=2)
    model = init_model(jax.random.key(0), *feature_stats(d["features"]))
    trained, _ = _train(jax.random.key(1), model, d, None, epochs=600, eval_every=600)
    pred = np.asarray(jax.jit(jax.vmap(lambda x: predict_bler(trained, x)))(jnp.asarray(v["features"])))
    mae = np.abs(pred - v["bler"]).mean()
    const = min(np.abs(c - v["bler"]).mean() for c in np.round(np.arange(11) * 0.1, 1))
    assert len(np.unique(pred)) >= 3
    assert mae < 0.8 * const, (mae, const)


@pytest.mark.parametrize("model_dir, bler_model", [("bler_offline_model", None),
                                                    ("bler_offline_model_margin", "margin")])
def test_default_physics_remakes_the_committed_dataset_bit_for_bit(model_dir, bler_model):
    """The first 32 UEs (256 samples) of a committed dataset, simulated again with the engine's
    default link physics (the engine that made it; for the margin dataset with only
    ``bler_model = "margin"`` changed): features, labels and SNRs identical. The same 32-UE
    micro-batch as the committed run, so float results are bit-identical too."""
    import dataclasses

    from ltjax.link import LinkConfig

    data, _ = load_dataset(REPO / "results" / model_dir / "dataset.npz")
    cfg = LinkConfig() if bler_model is None else dataclasses.replace(LinkConfig(), bler_model=bler_model)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(0), 0), 0)  # seed 0, point 0, training split
    again = generate_bler_dataset(key, 256, channel="TDL-A30", snr_db_range=(0.0, 12.0), doppler_hz=10.0,
                                  periods_per_ue=8, cfg=cfg)
    for name in ("features", "bler", "snr_db"):
        np.testing.assert_array_equal(again[name], data[name][:256], err_msg=name)
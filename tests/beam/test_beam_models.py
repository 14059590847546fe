"""Beam-prediction models: padded apply == flax apply, the evaluation table, vmapped training == per-model
training, jit == no jit, the cache (identity of the committed entry, round trip, corrupted or copied files),
and a trained own-region model beats the legacy baseline."""

import dataclasses
import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.dataset import BeamData, make_region_data
from ltjax.beam.inference import evaluate_all, flat_id, model_inputs, padded_apply, unflat_id
from ltjax.beam.model import ModelRegistry, identity, load_perf_table, save_perf_table
from ltjax.beam.training import BeamMLP, TrainConfig, train_depth, train_one
from ltjax.errors import InputError

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "beam_models"

CFG = BeamConfig()
TINY = TrainConfig(width=16, epochs=1, batch=50, n_per_region=200, n_eval=50)


@pytest.fixture(scope="module")
def tiny_registry():
    """Untrained (initialised) models: enough for layout, padding and serialization tests."""
    params = {}
    for mid, depth in enumerate(TINY.depths):
        keys = jax.random.split(jax.random.key(mid), CFG.n_set_b * CFG.n_regions)
        p = jax.vmap(lambda k: BeamMLP(depth, TINY.width).init(k, jnp.zeros((1, CFG.set_b_size))))(keys)
        params[mid] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(CFG.n_set_b, CFG.n_regions, *a.shape[1:]), p)
    curves = {k: np.zeros((3, 3, 6, 1), np.float32) for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    return ModelRegistry(cfg=CFG, tc=TINY, params=params, curves=curves, identity="tiny"), None


def test_padded_apply_equals_flax_apply(tiny_registry):
    reg, _ = tiny_registry
    pm = reg.padded()
    x = jax.random.normal(jax.random.key(2), (7, CFG.set_b_size))
    for sb, mid, r in [(0, 0, 0), (1, 1, 3), (2, 2, 5)]:
        m = flat_id(sb, mid, r)
        assert m == (sb * 3 + mid) * 6 + r and unflat_id(m) == (sb, mid, r)
        ref = BeamMLP(TINY.depths[mid], TINY.width).apply(reg.get(sb, mid, r), x)
        got = padded_apply(jax.tree_util.tree_map(lambda a: a[m], pm), x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_evaluation_table_equals_flax_apply_and_numpy_metrics(tiny_registry):
    reg, _ = tiny_registry
    rng = np.random.default_rng(0)
    rsrp = rng.normal(-90.0, 10.0, (CFG.n_regions, 30, CFG.n_beams)).astype(np.float32)
    ev = BeamData(rsrp=jnp.asarray(rsrp), meas=jnp.asarray(rsrp), pos=jnp.zeros((CFG.n_regions, 30, 2)))
    e_tab, t_tab = jax.jit(evaluate_all, static_argnums=(1, 3))(reg.padded(), CFG, ev, 3)
    assert e_tab.shape == t_tab.shape == (54, CFG.n_regions)
    for sb, mid, r in [(0, 0, 0), (1, 2, 4), (2, 1, 5)]:
        logits = np.asarray(BeamMLP(TINY.depths[mid], TINY.width).apply(reg.get(sb, mid, r),
                                                                        model_inputs(CFG, ev.meas, sb)))
        pred = logits.argmax(-1)
        e = (rsrp.max(-1) - np.take_along_axis(rsrp, pred[..., None], -1)[..., 0]).mean(-1)
        m = flat_id(sb, mid, r)
        np.testing.assert_allclose(np.asarray(e_tab[m]), e, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(t_tab[m]), (pred == rsrp.argmax(-1)).mean(-1).astype(np.float32))


def test_committed_cache_keeps_its_identity_and_loads():
    """The identity of the default configs is the committed entry's name, and the entry loads."""
    tc = TrainConfig()
    ident = identity(CFG, ChannelParams(), tc, 0)
    assert ident == "b83873ab2ca67307"
    reg = ModelRegistry.load(COMMITTED / ident, CFG, tc, identity=ident)
    assert reg.identity == ident and reg.curves["val_acc"].shape == (3, 3, 6, 30)
    e_tab, t_tab = load_perf_table(COMMITTED / ident)
    assert e_tab.shape == t_tab.shape == (54, 6)
    # Another seed or recipe is another entry.
    assert identity(CFG, ChannelParams(), tc, 1) != ident
    assert identity(CFG, ChannelParams(), dataclasses.replace(tc, width=32), 0) != ident


def test_save_load_round_trip_and_corrupted_file(tiny_registry, tmp_path):
    reg, _ = tiny_registry
    assert not ModelRegistry.exists(tmp_path)
    reg.save(tmp_path)
    assert ModelRegistry.exists(tmp_path)
    # Written atomically: mode 0644, no temporary files left beside them.
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["config.json", "curves.npz", "models_id0.msgpack", "models_id1.msgpack", "models_id2.msgpack"]
    assert all(os.stat(tmp_path / n).st_mode & 0o777 == 0o644 for n in names)
    back = ModelRegistry.load(tmp_path, CFG, TINY, identity="tiny")
    with pytest.raises(InputError, match="config.json.*does not match"):
        ModelRegistry.load(tmp_path, CFG, TINY, identity="another")
    e_tab = np.arange(54 * 6, dtype=np.float32).reshape(54, 6)
    assert load_perf_table(tmp_path) is None
    save_perf_table(tmp_path, e_tab, e_tab / 1000)
    for a, b in zip(load_perf_table(tmp_path), (e_tab, e_tab / 1000)):
        np.testing.assert_array_equal(a, b)
    for key in reg.keys():
        for a, b in zip(jax.tree_util.tree_leaves(reg.get(*key)), jax.tree_util.tree_leaves(back.get(*key))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    bad = tmp_path / "models_id1.msgpack"
    bad.write_bytes(bad.read_bytes()[: 100])
    with pytest.raises(InputError, match="models_id1.msgpack"):
        ModelRegistry.load(tmp_path, CFG, TINY)
    # A file of another architecture is refused too (width mismatch).
    with pytest.raises(InputError, match="models_id0.msgpack"):
        ModelRegistry.load(tmp_path, CFG, dataclasses.replace(TINY, width=8))
    (tmp_path / "models_id0.msgpack").unlink()
    with pytest.raises(InputError, match="models_id0.msgpack: model file missing"):
        ModelRegistry.load(tmp_path, CFG, TINY)
    (tmp_path / "perf_table.npz").write_bytes(b"not an npz")
    with pytest.raises(InputError, match="perf_table.npz: unreadable performance table"):
        load_perf_table(tmp_path)


def test_train_one_jit_equals_no_jit():
    """One epoch of two minibatches of a small model, jitted and op by op."""
    tc = TrainConfig(width=8, epochs=1, batch=20)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(50, CFG.set_b_size)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, CFG.n_beams, 50).astype(np.int32))
    args = (jax.random.key(3), x[:40], y[:40], x[40:], y[40:], 3, tc)
    p_jit, c_jit = jax.jit(train_one, static_argnums=(5, 6))(*args)
    with jax.disable_jit():
        p_eager, c_eager = train_one(*args)
    # float32: the same operations in a different fusion order differ by a few ulps.
    for a, b in zip(jax.tree_util.tree_leaves((p_jit, c_jit)), jax.tree_util.tree_leaves((p_eager, c_eager))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_trained_own_region_model_beats_baseline_and_vmap_equals_single():
    """Region 1: small DNNs (Set B 0 and 1) trained vmapped for 6 epochs vs the strongest measured Set B beam;
    the vmapped training of model 0 equals training it alone."""
    tc = TrainConfig(width=32, epochs=6, n_per_region=4000)
    region = 1
    data = jax.jit(make_region_data, static_argnums=(1, 3))(jax.random.key(5), CFG, ChannelParams(), 5000)
    y = data.label[region]
    n_tr = 3600
    xs = jnp.stack([model_inputs(CFG, data.meas[region], sb) for sb in (0, 1)])  # [2, N, S]
    ys = jnp.stack([y, y])
    keys = jax.random.split(jax.random.key(6), 2)
    p_v, c_v = jax.jit(train_depth, static_argnums=(5, 6))(keys, xs[:, :n_tr], ys[:, :n_tr], xs[:, n_tr:4000],
                                                           ys[:, n_tr:4000], 3, tc)
    p_1, c_1 = jax.jit(train_one, static_argnums=(5, 6))(keys[0], xs[0, :n_tr], y[:n_tr], xs[0, n_tr:4000],
                                                         y[n_tr:4000], 3, tc)
    for a, b in zip(jax.tree_util.tree_leaves(p_v), jax.tree_util.tree_leaves(p_1)):
        np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b), rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(np.asarray(c_v[2][0]), np.asarray(c_1[2]), rtol=1e-3)
    y_te = np.asarray(y[4000:])  # 1000 unseen locations of the same region
    n = len(y_te)
    sigma = math.sqrt(0.25 / n) * math.sqrt(2)  # worst-case binomial std of a difference of two accuracies
    for j, sb in enumerate((0, 1)):
        params = jax.tree_util.tree_map(lambda a: a[j], p_v)
        pred = np.asarray(jnp.argmax(BeamMLP(3, 32).apply(params, xs[j, 4000:]), -1))
        idx = CFG.set_b_array()[sb]
        base = idx[np.argmax(np.asarray(data.meas[region, 4000:])[:, idx], -1)]
        acc_dnn, acc_base = np.mean(pred == y_te), np.mean(base == y_te)
        assert acc_dnn - acc_base > 4 * sigma, (sb, acc_dnn, acc_base)

"""Beam-prediction models: padded apply == flax apply, vmapped training == per-model training,
serialization round trip / corrupted file, and a trained own-region model beats the legacy baseline."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.dataset import make_region_data
from ltjax.beam.model import BeamMLP, ModelRegistry, TrainConfig, model_inputs, padded_apply, train_depth, train_one
from ltjax.errors import InputError

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
        m = (sb * 3 + mid) * 6 + r
        ref = BeamMLP(TINY.depths[mid], TINY.width).apply(reg.get(sb, mid, r), x)
        got = padded_apply(jax.tree_util.tree_map(lambda a: a[m], pm), x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_save_load_round_trip_and_corrupted_file(tiny_registry, tmp_path):
    reg, _ = tiny_registry
    reg.save(tmp_path)
    back = ModelRegistry.load(tmp_path, CFG, TINY)
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

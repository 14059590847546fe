"""LCM engine: the monitoring rule on synthetic e_RSRP, the 5-step message order, grouped inference,
jit == no jit for a decision and a window, results independent of the UE chunk size, and UEs simulated
alone equal to the same UEs simulated in one block."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.beam.inference import grouped_logits, padded_apply
from ltjax.beam.mobility import init_ue
from ltjax.beam.model import ModelRegistry
from ltjax.beam.training import BeamMLP, TrainConfig
from ltjax.lcm import messages as msg
from ltjax.lcm.engine import (LcmConfig, LcmParams, LcmState, decide, init_state, lanes, lcm_window, make_tables,
                              simulate)

CFG = BeamConfig()
TC = TrainConfig(width=8)
W = 10
LC = LcmConfig(window=W, n_windows=6)
M = 54
# gamma = -3 dB forces frequent adaptations, so that the runs below have triggers and messages to compare.
ALL_LANES = lanes([msg.NON_LCM, msg.ONLY_DATASET, msg.PROPOSED], [-3.0, -3.0, -3.0])


@pytest.fixture(scope="module")
def tables():
    params = {}
    for mid, depth in enumerate(TC.depths):
        keys = jax.random.split(jax.random.key(10 + mid), 18)
        p = jax.vmap(lambda k: BeamMLP(depth, TC.width).init(k, jnp.zeros((1, 16))))(keys)
        params[mid] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(3, 6, *a.shape[1:]), p)
    reg = ModelRegistry(cfg=CFG, tc=TC, params=params, curves={})
    e_tab = np.asarray(jax.random.uniform(jax.random.key(3), (M, 6), minval=0.0, maxval=5.0))
    return make_tables(CFG, reg.padded(), e_tab)


def _assert_same(a, b, float_tol=None):
    """Equal pytrees of numpy arrays; floats within ``float_tol`` (rtol, atol) when given, else exact."""
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        if float_tol is not None and np.issubdtype(x.dtype, np.inexact):
            np.testing.assert_allclose(x, y, rtol=float_tol[0], atol=float_tol[1], err_msg=str(path))
        else:
            np.testing.assert_array_equal(x, y, err_msg=str(path))


def _state(active=0, ref=0.0, ref_pending=False, adapting=False):
    return LcmState(active=jnp.int32(active), ref=jnp.float32(ref), ref_pending=jnp.bool_(ref_pending),
                    adapting=jnp.bool_(adapting), nonrec=jnp.zeros((M,), bool), hits=jnp.zeros((8,), jnp.int32),
                    n_trigger=jnp.int32(0), n_fallback=jnp.int32(0))


def _window_with_error(e_steps, region=2):
    """Synthetic window: true best beam 0 at 0 dBm, beam 1 at -e_t, the model always predicts beam 1."""
    e_steps = jnp.asarray(e_steps, jnp.float32)
    rsrp = jnp.full((W, 64), -100.0).at[:, 0].set(0.0).at[:, 1].set(-e_steps)
    logits = jnp.zeros((W, 64)).at[:, 1].set(10.0)
    return rsrp, rsrp, jnp.full((W,), region, jnp.int32), logits


def test_adaptation_fires_exactly_when_rule_says(tables):
    gamma = 5.0
    run = jax.jit(lambda st, win, prm: decide(st, *win, prm, tables, CFG, LC))
    # sequence of window means: 1 (sets ref = 1), 6 (= ref + gamma: no trigger), 6.01 (trigger)
    for strategy in (msg.NON_LCM, msg.ONLY_DATASET, msg.PROPOSED):
        prm = LcmParams(gamma_db=gamma, strategy=strategy)
        active0 = (1 * 3 + 2) * 6 + 0  # Set B 1, model ID 2, dataset 0; the UE is in region 2
        st = _state(active=active0, ref_pending=True)
        st, out = run(st, _window_with_error(jnp.linspace(0.5, 1.5, W)), prm)
        assert not bool(out["trigger"]) and float(st.ref) == pytest.approx(1.0, abs=1e-5)
        assert not bool(st.ref_pending)
        st, out = run(st, _window_with_error(jnp.full((W,), 6.0)), prm)
        assert not bool(out["trigger"]) and int(st.active) == active0
        st, out = run(st, _window_with_error(jnp.full((W,), 6.01)), prm)
        if strategy == msg.NON_LCM:
            assert not bool(out["trigger"]) and int(st.active) == active0
            continue
        assert bool(out["trigger"]) and bool(st.ref_pending) and int(st.n_trigger) == 1
        if strategy == msg.ONLY_DATASET:
            assert int(st.active) == (1 * 3 + 2) * 6 + 2 and not bool(st.adapting)
        else:
            region_models = np.arange(M)[np.arange(M) % 6 == 2]
            e_tab = np.asarray(tables.e_table)
            assert int(st.active) == region_models[np.argmin(e_tab[region_models, 2])]
            assert bool(st.nonrec[active0]) and int(st.nonrec.sum()) == 1 and bool(st.adapting)
        # the next window re-sets the reference from the new model and does not test
        st, out = run(st, _window_with_error(jnp.full((W,), 30.0)), prm)
        assert not bool(out["trigger"]) and float(st.ref) == pytest.approx(30.0)


def test_proposed_excludes_non_recommended_and_messages_in_order(tables):
    prm = LcmParams(gamma_db=0.0, strategy=msg.PROPOSED)
    run = jax.jit(lambda st, win: decide(st, *win, prm, tables, CFG, LC))
    e_tab = np.asarray(tables.e_table)
    region_models = np.arange(M)[np.arange(M) % 6 == 2]
    ranked = region_models[np.argsort(e_tab[region_models, 2])]
    st = _state(active=int(ranked[0]), ref=0.0)
    st, out = run(st, _window_with_error(jnp.full((W,), 1.0)))  # 1 > 0 + 0: trigger
    assert bool(out["trigger"])
    assert int(st.active) == int(ranked[1])  # the best one is now non-recommended
    # The next window begins with Steps 1-5 in order, legacy BM (strongest measured Set B beam) meanwhile.
    rsrp, meas, region, logits = _window_with_error(jnp.full((W,), 1.0))
    sb = int(st.active) // 18
    idx = CFG.set_b_array()[sb]
    in_b = int(idx[idx > 1][0])  # a Set B beam other than the true best (0) and the predicted (1)
    rsrp = rsrp.at[:, in_b].set(-0.5)  # a Set B beam that the legacy sweep will pick
    st2, out = run(st, (rsrp, rsrp, region, logits))
    np.testing.assert_array_equal(np.asarray(out["msgs"]), [1, 2, 3, 4, 5] + [0] * (W - 5))
    e = np.asarray(out["e"])
    r0 = np.asarray(rsrp[0])
    legacy_e = r0.max() - r0[idx[np.argmax(r0[idx])]]  # strongest measured beam of the active Set B
    assert legacy_e in (0.0, 0.5)
    np.testing.assert_allclose(e[:5], legacy_e, atol=1e-6)
    np.testing.assert_allclose(e[5:], 1.0, atol=1e-6)


def test_grouped_inference_equals_per_ue_models(tables):
    u = 37
    ids = jax.random.randint(jax.random.key(0), (u,), 0, M)
    x = jax.random.normal(jax.random.key(1), (u, 3, 16))
    for tile in (1, 2, 5):
        got = jax.jit(grouped_logits, static_argnums=3)(tables.models, ids, x, tile)
        ref = jax.vmap(lambda m, xx: padded_apply(jax.tree_util.tree_map(lambda a: a[m], tables.models), xx))(ids, x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_decide_jit_equals_no_jit(tables):
    prm = LcmParams(gamma_db=jnp.float32(0.0), strategy=jnp.int32(msg.PROPOSED))
    st = _state(active=7, ref=0.5, adapting=True)
    rsrp, meas, region, logits = _window_with_error(jnp.linspace(0.0, 2.0, W))
    meas = meas + jax.random.normal(jax.random.key(4), meas.shape)  # legacy steps pick from noisy measurements
    logits = logits + jax.random.normal(jax.random.key(5), logits.shape)
    args = (st, rsrp, meas, region, logits, prm, tables, CFG, LC)
    jitted = jax.jit(decide, static_argnums=(7, 8))(*args)
    with jax.disable_jit():
        eager = decide(*args)
    assert bool(jitted[1]["trigger"])  # the window exercises the adaptation branch
    _assert_same(jitted, eager, float_tol=(1e-6, 1e-6))


def test_window_jit_equals_no_jit(tables):
    """One window of 6 steps of 3 UEs in 3 lanes (channel, grouped inference, decisions), jitted and op by op."""
    lc = LcmConfig(window=6, n_windows=1)
    ue_keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(8), u))(jnp.arange(3))
    ue = jax.vmap(lambda k: init_ue(k, CFG))(ue_keys)
    st = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (3, *a.shape)),
                                jax.vmap(lambda u: init_state(u, CFG, lc, tables))(ue))
    args = (ue_keys, ue, st, jnp.int32(0), ALL_LANES, tables, ChannelParams(), MobilityParams(), CFG, lc)
    jitted = jax.jit(lcm_window, static_argnums=(8, 9))(*args)
    with jax.disable_jit():
        eager = lcm_window(*args)
    # float32 channel (sin/cos, log10 of sums of 6 paths): a few ulps of |RSRP| ~ 100 dBm between fusions.
    _assert_same(jitted, eager, float_tol=(1e-5, 1e-4))


def _run(tables, n_ue, **kw):
    return simulate(jax.random.key(9), n_ue, ALL_LANES, tables, ChannelParams(), MobilityParams(), cfg=CFG, lc=LC,
                    **kw)


@pytest.fixture(scope="module")
def blocks_of_two(tables):
    """3 UEs in blocks of 2 UEs (the second block padded with a UE that is dropped), one chunk."""
    return _run(tables, 3, ue_block=2)


def test_results_do_not_depend_on_the_ue_chunk_size_and_log_order(tables, blocks_of_two):
    """One chunk of 4 UEs or two chunks of 2 UEs: bit for bit the same."""
    two_chunks = _run(tables, 3, ue_block=2, chunk_size=2)
    assert blocks_of_two["e"].shape == (3, 3, LC.window * LC.n_windows)
    assert blocks_of_two["region"].shape == (3, LC.n_windows)
    _assert_same(blocks_of_two, two_chunks)
    # Message log: every adaptation is exactly 1,2,3,4,5 at the start of the window after a trigger.
    msgs = blocks_of_two["msgs"][2].reshape(3, LC.n_windows, W)
    trig = blocks_of_two["trigger"][2]
    assert trig.sum() > 0
    for u in range(3):
        for w in range(LC.n_windows):
            expect = [1, 2, 3, 4, 5] + [0] * (W - 5) if (w > 0 and trig[u, w - 1]) else [0] * W
            np.testing.assert_array_equal(msgs[u, w], expect)
    assert blocks_of_two["msgs"][:2].max() == 0  # only the proposed strategy signals
    # non-LCM keeps its initial model
    assert np.all(blocks_of_two["active"][0] == blocks_of_two["active"][0][:, :1])


def test_ue_results_do_not_depend_on_the_other_ues_of_their_block(tables, blocks_of_two):
    """Blocks of 2 UEs and one block of 3 group the UEs differently for inference: the same decisions, and
    the same e_RSRP up to float32 rounding of the tile matmuls."""
    one_block = _run(tables, 3, ue_block=3)
    _assert_same(blocks_of_two, one_block, float_tol=(1e-5, 1e-4))
    assert one_block["trigger"].sum() > 0

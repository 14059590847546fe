"""LCM engine: the monitoring rule on synthetic e_RSRP, the message order (any latency, across windows),
grouped and deduplicated inference against per-UE models, the readings (initial model, only dataset ID,
proactive trigger, monitors), jit == no jit for a decision and a window, results independent of the UE
chunk size and of the other UEs of a block, and common random numbers: the non-LCM lane is the same for
every window length and lane set."""

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
from ltjax.lcm.engine import (LcmConfig, LcmParams, LcmState, adaptation_steps, decide, init_state, lane_scores,
                              lanes, lcm_window, make_tables, score_window, simulate, ue_keys_of)

CFG = BeamConfig()
TC = TrainConfig(width=8)
W = 10
LC = LcmConfig(window=W, n_windows=6, keep_steps=True)
MP = MobilityParams()
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


def _state(active=0, ref=0.0, ref_pending=False, legacy_left=0):
    return LcmState(active=jnp.int32(active), ref=jnp.float32(ref), ref_true=jnp.float32(ref),
                    ref_pending=jnp.bool_(ref_pending), legacy_left=jnp.int32(legacy_left),
                    nonrec=jnp.zeros((M,), bool), hits=jnp.zeros((8,), jnp.int32), n_trigger=jnp.int32(0),
                    n_fallback=jnp.int32(0))


def _window_with_error(e_steps):
    """Synthetic window: true best beam 0 at 0 dBm, beam 1 at -e_t, the model always predicts beam 1.
    Returns (rsrp, meas, logits)."""
    e_steps = jnp.asarray(e_steps, jnp.float32)
    rsrp = jnp.full((e_steps.shape[0], 64), -100.0).at[:, 0].set(0.0).at[:, 1].set(-e_steps)
    logits = jnp.zeros_like(rsrp).at[:, 1].set(10.0)
    return rsrp, rsrp, logits


KEYS = ue_keys_of(jax.random.key(77))[1]


def _decider(tables, lc=LC):
    """jit(decide) on a synthetic window: (state, (rsrp, meas, logits), params, region_end) -> (state, out)."""
    def run(st, win, prm, region_end=2):
        rsrp, meas, logits = win
        sb = tables.model_set_b[st.active]
        sc = score_window(logits, rsrp, meas, tables.set_b_mask[sb], lc.k_sweep)
        return decide(st, sc, jnp.int32(region_end), jnp.int32(W), KEYS, prm, tables, MP, lc)
    return jax.jit(run)


def test_adaptation_fires_exactly_when_rule_says(tables):
    gamma = 5.0
    run = _decider(tables)
    # sequence of window means: 1 (sets ref = 1), 6 (= ref + gamma: no trigger), 6.01 (trigger)
    for strategy in (msg.NON_LCM, msg.ONLY_DATASET, msg.PROPOSED):
        prm = LcmParams(gamma_db=gamma, strategy=strategy)
        active0 = (1 * 3 + 2) * 6 + 0  # Set B 1, model ID 2, dataset 0; the UE is in region 2
        st = _state(active=active0, ref_pending=True)
        st, out = run(st, _window_with_error(jnp.linspace(0.5, 1.5, W)), prm)
        assert not bool(out["trigger"]) and float(st.ref) == pytest.approx(1.0, abs=1e-5)
        assert not bool(st.ref_pending) and not bool(out["tested"])
        st, out = run(st, _window_with_error(jnp.full((W,), 6.0)), prm)
        assert not bool(out["trigger"]) and int(st.active) == active0 and bool(out["tested"])
        st, out = run(st, _window_with_error(jnp.full((W,), 6.01)), prm)
        assert bool(out["genie"])  # the true statistic is degraded whatever the strategy does about it
        if strategy == msg.NON_LCM:
            assert not bool(out["trigger"]) and int(st.active) == active0
            continue
        assert bool(out["trigger"]) and bool(st.ref_pending) and int(st.n_trigger) == 1
        if strategy == msg.ONLY_DATASET:
            assert int(st.active) == (1 * 3 + 2) * 6 + 2 and int(st.legacy_left) == 0
        else:
            region_models = np.arange(M)[np.arange(M) % 6 == 2]
            e_tab = np.asarray(tables.e_table)
            assert int(st.active) == region_models[np.argmin(e_tab[region_models, 2])]
            assert bool(st.nonrec[active0]) and int(st.nonrec.sum()) == 1 and int(st.legacy_left) == 5
        # the next window re-sets the reference from the new model and does not test
        st, out = run(st, _window_with_error(jnp.full((W,), 30.0)), prm)
        assert not bool(out["trigger"]) and not bool(out["tested"]) and float(st.ref) == pytest.approx(30.0)


def test_proposed_excludes_non_recommended_and_messages_in_order(tables):
    prm = LcmParams(gamma_db=0.0, strategy=msg.PROPOSED)
    run = _decider(tables)
    e_tab = np.asarray(tables.e_table)
    region_models = np.arange(M)[np.arange(M) % 6 == 2]
    ranked = region_models[np.argsort(e_tab[region_models, 2])]
    st = _state(active=int(ranked[0]), ref=0.0)
    st, out = run(st, _window_with_error(jnp.full((W,), 1.0)), prm)  # 1 > 0 + 0: trigger
    assert bool(out["trigger"])
    assert int(st.active) == int(ranked[1])  # the best one is now non-recommended
    # The next window begins with Steps 1-5 in order, legacy BM (strongest measured Set B beam) meanwhile.
    rsrp, meas, logits = _window_with_error(jnp.full((W,), 1.0))
    sb = int(st.active) // 18
    idx = CFG.set_b_array()[sb]
    in_b = int(idx[idx > 1][0])  # a Set B beam other than the true best (0) and the predicted (1)
    rsrp = rsrp.at[:, in_b].set(-0.5)  # a Set B beam that the legacy sweep will pick
    st2, out = run(st, (rsrp, rsrp, logits), prm)
    np.testing.assert_array_equal(np.asarray(out["msgs"]), [1, 2, 3, 4, 5] + [0] * (W - 5))
    e = np.asarray(out["e"])
    r0 = np.asarray(rsrp[0])
    legacy_e = r0.max() - r0[idx[np.argmax(r0[idx])]]  # strongest measured beam of the active Set B
    assert legacy_e in (0.0, 0.5)
    np.testing.assert_allclose(e[:5], legacy_e, atol=1e-6)
    np.testing.assert_allclose(e[5:], 1.0, atol=1e-6)


@pytest.mark.parametrize("latency_ms,codes", [
    (5.0, [4, 5] + [0] * 8),                                     # 25 ms: two steps, last message of each
    (40.0, [0, 1, 0, 2, 0, 3, 0, 4, 0, 5]),                      # one message every other step
    (60.0, [0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 5] + [0] * 5),  # 15 steps: across two windows
])
def test_message_latency_sets_the_legacy_steps_and_the_log(tables, latency_ms, codes):
    prm = LcmParams(gamma_db=0.0, strategy=msg.PROPOSED, latency_ms=latency_ms)
    n_leg = int(adaptation_steps(jnp.float32(latency_ms), MP.dt_s))
    assert n_leg == int(np.ceil(5 * latency_ms / 20.0 - 1e-9))
    run = _decider(tables)
    st, out = run(_state(active=2, ref=0.0), _window_with_error(jnp.full((W,), 1.0)), prm)
    assert bool(out["trigger"]) and int(st.legacy_left) == n_leg
    log, used = [], []
    for _ in range(2):
        st, out = run(st, _window_with_error(jnp.full((W,), 1.0)), prm)
        log += list(np.asarray(out["msgs"]))
        if n_leg >= W and len(log) == W:  # the whole first window was legacy: no reference, no test yet
            assert bool(st.ref_pending) and not bool(out["tested"])
    np.testing.assert_array_equal(log, codes + [0] * (2 * W - len(codes)))
    assert not bool(st.ref_pending) and int(st.legacy_left) == 0  # the reference is set once the model runs


def test_readings_initial_model_and_only_dataset_choices(tables):
    ue = init_ue(jax.random.key(5), CFG)
    from ltjax.beam.geometry import region_index
    r0 = int(region_index(ue.pos, CFG))
    e_tab = np.asarray(tables.e_table)
    region_models = np.arange(M)[np.arange(M) % 6 == r0]

    def initial(**kw):
        return int(init_state(ue, KEYS, LcmParams(**kw), tables, CFG, LC).active)

    assert initial(initial=msg.INIT_BEST) == region_models[np.argmin(e_tab[region_models, r0])]
    assert initial(initial=msg.INIT_DEFAULT) == r0  # Set B 0, model ID 0, the region's dataset ID
    picks = {int(init_state(ue, ue_keys_of(jax.random.key(i))[1], LcmParams(initial=msg.INIT_RANDOM), tables,
                            CFG, LC).active) for i in range(40)}
    assert picks <= set(region_models) and len(picks) >= 5  # uniform over 9 models: 40 draws see >= 5
    # only dataset ID, random: a model of the region at the window end, any Set B and model ID
    run = _decider(tables)
    prm = LcmParams(gamma_db=0.0, strategy=msg.ONLY_DATASET, only_dataset=msg.OD_RANDOM)
    st, out = run(_state(active=7, ref=0.0), _window_with_error(jnp.full((W,), 1.0)), prm, 4)
    assert bool(out["trigger"]) and int(st.active) % 6 == 4


def test_proactive_trigger_on_region_change_keeps_the_model_recommendable(tables):
    run = _decider(tables)
    prm = LcmParams(gamma_db=50.0, strategy=msg.PROPOSED, trigger=msg.TRIGGER_E_OR_REGION)
    st, out = run(_state(active=6 * 3 + 1, ref=0.0), _window_with_error(jnp.full((W,), 1.0)), prm, 1)
    assert not bool(out["trigger"])  # in its model's region (dataset 1), no degradation: nothing
    st, out = run(st, _window_with_error(jnp.full((W,), 1.0)), prm, 4)
    assert bool(out["trigger"]) and int(st.active) % 6 == 4 and int(st.legacy_left) == 5
    assert not bool(st.nonrec.any())  # not degraded, only out of region: not put on the list
    # the e_RSRP-only reading ignores the region change
    st, out = run(_state(active=6 * 3 + 1, ref=0.0), _window_with_error(jnp.full((W,), 1.0)),
                  prm.replace(trigger=msg.TRIGGER_E_RSRP), 4)
    assert not bool(out["trigger"])


def test_monitors_full_sweep_and_topk_estimates(tables):
    lc = LcmConfig(window=W, n_windows=1, k_sweep=2)
    run = _decider(tables, lc)
    # true e = 3 dB every step; meas shows beam 0 only 1 dB above beam 1 except at the last step (4 dB)
    rsrp, _, logits = _window_with_error(jnp.full((W,), 3.0))
    meas = rsrp.at[:, 1].set(-1.0).at[-1, 1].set(-4.0)
    logits = logits.at[:, 0].set(5.0)  # beam 0 is the second most likely: inside the Top-2 sweep
    base = dict(gamma_db=2.0, strategy=msg.PROPOSED)
    for monitor, stat in ((msg.MONITOR_GENIE, 3.0), (msg.MONITOR_FULL_SWEEP, 4.0),
                          (msg.MONITOR_TOPK_SWEEP, (9 * 1.0 + 4.0) / 10)):
        st, _ = run(_state(active=0, ref_pending=True), (rsrp, meas, logits), LcmParams(monitor=monitor, **base))
        assert float(st.ref) == pytest.approx(stat, abs=1e-5)
        assert float(st.ref_true) == pytest.approx(3.0, abs=1e-5)


def test_grouped_inference_equals_per_ue_models(tables):
    u = 37
    ids = jax.random.randint(jax.random.key(0), (u,), 0, M)
    x = jax.random.normal(jax.random.key(1), (u, 3, 16))
    for tile in (1, 2, 5):
        got = jax.jit(grouped_logits, static_argnums=3)(tables.models, ids, x, tile)
        ref = jax.vmap(lambda m, xx: padded_apply(jax.tree_util.tree_map(lambda a: a[m], tables.models), xx))(ids, x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("models_per_ue", [1, 2, 16])
def test_deduplicated_lane_scores_equal_per_lane_scoring(tables, models_per_ue):
    """Each lane's scores equal score_window of its UE's own model, whether the distinct (UE, model) rows
    fit the deduplicated capacity (16), need a larger one (2) or fall back to every lane (1)."""
    g, q = 7, 5
    rng = np.random.default_rng(0)
    active = np.tile(rng.integers(0, M, (1, q)), (g, 1))
    active[3:, :2] = rng.integers(0, M, (g - 3, 2))  # some lanes differ
    st = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (g, q, *a.shape)), _state())
    st = st.replace(active=jnp.asarray(active, jnp.int32))
    rsrp = jnp.asarray(rng.normal(-90, 10, (q, W, 64)), jnp.float32)
    meas = rsrp + jnp.asarray(rng.normal(0, 1, rsrp.shape), jnp.float32)
    lc = LcmConfig(window=W, models_per_ue=models_per_ue, k_sweep=3)
    got = jax.jit(lambda s: lane_scores(s, rsrp, meas, tables, CFG, lc))(st)
    for gi in range(g):
        for qi in range(q):
            m = int(active[gi, qi])
            sb = int(tables.model_set_b[m])
            x = (meas[qi][:, CFG.set_b_array()[sb]] - CFG.norm_offset_db) / CFG.norm_scale_db
            logits = padded_apply(jax.tree_util.tree_map(lambda a: a[m], tables.models), x)
            ref = score_window(logits, rsrp[qi], meas[qi], tables.set_b_mask[sb], 3)
            _assert_same(jax.tree_util.tree_map(lambda a: a[gi, qi], got), ref, float_tol=(1e-5, 1e-4))


def test_decide_jit_equals_no_jit(tables):
    prm = LcmParams(gamma_db=jnp.float32(0.0), strategy=jnp.int32(msg.PROPOSED))
    st = _state(active=7, ref=0.5, legacy_left=5)
    rsrp, meas, logits = _window_with_error(jnp.linspace(0.0, 2.0, W))
    meas = meas + jax.random.normal(jax.random.key(4), meas.shape)  # legacy steps pick from noisy measurements
    logits = logits + jax.random.normal(jax.random.key(5), logits.shape)
    sc = score_window(logits, rsrp, meas, tables.set_b_mask[0], 2)
    args = (st, sc, jnp.int32(2), jnp.int32(W), KEYS, prm, tables, MP, LC)
    jitted = jax.jit(decide, static_argnums=(8,))(*args)
    with jax.disable_jit():
        eager = decide(*args)
    assert bool(jitted[1]["trigger"])  # the window exercises the adaptation branch
    _assert_same(jitted, eager, float_tol=(1e-6, 1e-6))


def test_window_jit_equals_no_jit(tables):
    """One window of 6 steps of 3 UEs in 3 lanes (channel, grouped inference, decisions), jitted and op by op."""
    lc = LcmConfig(window=6, n_windows=1)
    ue_keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(8), u))(jnp.arange(3))
    k_init, keys = jax.vmap(ue_keys_of)(ue_keys)
    ue = jax.vmap(lambda k: init_ue(k, CFG))(k_init)
    from ltjax.beam.geometry import region_index
    st = jax.vmap(lambda prm: jax.vmap(lambda u, k: init_state(u, k, prm, tables, CFG, lc))(ue, keys))(ALL_LANES)
    args = (keys, ue, region_index(ue.pos, CFG), st, jnp.int32(0), ALL_LANES, tables, ChannelParams(),
            MobilityParams(), CFG, lc)
    jitted = jax.jit(lcm_window, static_argnums=(9, 10))(*args)
    with jax.disable_jit():
        eager = lcm_window(*args)
    # float32 channel (sin/cos, log10 of sums of 6 paths): a few ulps of |RSRP| ~ 100 dBm between fusions.
    _assert_same(jitted, eager, float_tol=(1e-5, 1e-4))


def _run(tables, n_ue, params=ALL_LANES, lc=LC, **kw):
    return simulate(jax.random.key(9), n_ue, params, tables, ChannelParams(), MobilityParams(), cfg=CFG, lc=lc,
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
    # non-LCM keeps its initial model; window means are the means of the steps
    assert np.all(blocks_of_two["active"][0] == blocks_of_two["active"][0][:, :1])
    np.testing.assert_allclose(blocks_of_two["e_win"], blocks_of_two["e"].reshape(3, 3, LC.n_windows, W).mean(-1),
                               rtol=1e-6, atol=1e-6)


def test_ue_results_do_not_depend_on_the_other_ues_of_their_block(tables, blocks_of_two):
    """Blocks of 2 UEs and one block of 3 group the UEs differently for inference: the same decisions, and
    the same e_RSRP up to float32 rounding of the tile matmuls."""
    one_block = _run(tables, 3, ue_block=3)
    _assert_same(blocks_of_two, one_block, float_tol=(1e-5, 1e-4))
    assert one_block["trigger"].sum() > 0


def test_common_random_numbers_non_lcm_is_the_same_for_every_window_and_lane_set(tables):
    """The non-LCM lane does not depend on T_LCM (the window length) or on which other lanes run (Figs. 7
    and 8 points): per-step e_RSRP bit for bit, per-UE mean e_RSRP to 1e-6 relative (float32 window means
    are summed in different groups), Top-K hits exactly; the channel (region crossings) likewise."""
    runs = []
    for w, prm in ((30, ALL_LANES), (10, ALL_LANES), (6, lanes([msg.NON_LCM] + [msg.PROPOSED] * 4, [5.0, 1.0, 2.0,
                                                                                                    3.0, 10.0]))):
        lc = LcmConfig(window=w, n_windows=60 // w, keep_messages=False, keep_steps=True)
        runs.append(_run(tables, 4, params=prm, lc=lc))
    ref = runs[0]
    for out in runs[1:]:
        np.testing.assert_array_equal(out["e"][0], ref["e"][0])
        np.testing.assert_allclose(out["e_win"][0].astype(np.float64).mean(-1),
                                   ref["e_win"][0].astype(np.float64).mean(-1), rtol=1e-6, atol=0)
        np.testing.assert_array_equal(out["hits"][0], ref["hits"][0])
        np.testing.assert_array_equal(out["crossings"], ref["crossings"])
    assert runs[1]["trigger"][1:].sum() > 0  # the adaptive lanes did adapt (so they differ from non-LCM)

"""LCM over mobility: per-UE channel windows, deduplicated grouped inference and the monitoring/adaptation rule.

Letters as in ``ltjax.beam``: U UEs, Q UEs of one block, G lanes, M models, W steps of one LCM window,
T = W * n_windows steps, B Set A beams, S Set B beams, K the largest K of Top-K, R regions, C inference
rows (distinct (UE, model) pairs of a window).

One window is T_LCM = W steps of 20 ms. For a block of UEs, each window (``lcm_window``) is:
  1. ``channel_window`` (per UE, vmapped): a ``lax.scan`` over W steps of mobility + channel giving the true
     and measured Set A RSRP [W, B], the region [W] and the region crossings;
  2. ``score_rows``: the distinct (UE, active model) pairs over all lanes are found (lanes often share a
     model: at t = 0 every regional lane of a UE has the same one) and only those run through
     ``ltjax.beam.inference.grouped_logits`` (UEs sorted by model and packed into single-model tiles, no
     per-UE copy of the weights); each pair's window is reduced at once to per-step scores
     (``score_window``: e_RSRP and the best beam's rank for the model and for legacy beam management, and
     the monitoring estimates), so the lanes gather [W] numbers instead of [W, B] logits;
  3. ``decide`` (per UE and lane, vmapped): the lane's per-step e_RSRP and Top-K hits
     (``ltjax.beam.metrics`` definitions), then the monitoring rule at the window end.
``simulate_block`` scans the windows of one block (the kernel, for Q UEs); ``simulate`` runs it for U UEs
through the one batching boundary, ``ltjax.batching.map_ues`` (chunks, devices), in blocks of
``UE_BLOCK`` UEs: grouped inference must see a block of UEs at once.

Common random numbers. UE u uses the key fold_in(point_key, u), split into its start state, its channel
innovations, its measurement noise and its random model choices; step t's innovations and noise come
from fold_in(that key, t) alone (``ltjax.beam.mobility.step_innovations``). Nothing depends on the window
length or the lane, so every strategy, gamma and T_LCM sees the same channels; experiments pass a
point_key that does not depend on the grid point.

Monitoring rule (paper Sec. IV-A, our reading): a statistic of the window (``messages.MONITORS``: the true
mean e_RSRP over the steps that used the model, or an estimate from sweeps) is compared with ref + gamma,
where ref is the same statistic in the first window after the model's activation (ref is (re)set there and
no test is made in it). A statistic above ref + gamma is a degradation. Strategies (``messages``):
  * non-LCM, global: never trigger;
  * only dataset ID: on degradation a model of the current region's dataset ID is activated from the next
    window (same Set B and model ID, or a random one of the region's models), no signalling;
  * proposed: on degradation (or, with the proactive trigger, when the network sees that the UE is outside
    its model's region) Steps 1-5 are sent from the next window on, legacy beam management meanwhile;
    on a degradation the NW adds the current model to the UE's non-recommended list; it recommends the
    current region's models not on it and the UE picks the one with the lowest evaluation-set e_RSRP (table
    [M, R]). Without candidates the NW sends only support information (Step 3's fallback: the UE would train
    a new model); retraining is excluded, as in the paper, so the region's models leave the list and the
    best of them is used.
The initial model (``messages.INITIAL``) is the same for every strategy of a lane set except global.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.batching import map_ues
from ltjax.beam.channel import beam_rsrp_dbm, measure
from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.beam.dataset import normalise
from ltjax.beam.geometry import region_index
from ltjax.beam.inference import PaddedMLP, grouped_logits, legacy_scores, tile_size
from ltjax.beam.metrics import e_rsrp
from ltjax.beam.mobility import UeState, init_ue, step_innovations, step_ue
from ltjax.beam.pool import ModelPool, paper_pool
from ltjax.lcm import messages as msg

# UEs per block of ``simulate``. Grouped inference sees one block at a time and its tile size grows with
# the block (``tile_size``), so the block size is fixed rather than derived from the chunk: a run of
# U <= UE_BLOCK UEs is one block and larger runs are split into blocks of 1000, the last padded with UEs
# that are simulated and dropped.
UE_BLOCK = 1000
# A message is "delivered" in the step where i * latency falls; the slack absorbs float32 rounding of
# ratios such as 0.02 / 0.005.
_SLACK = 1e-4

Tables = ModelPool  # the model-side constants the LCM kernels take (``ltjax.beam.pool``)


@dataclasses.dataclass(frozen=True)
class LcmConfig:
    """Static LCM settings.

    Attributes:
      window: W, steps per LCM period (T_LCM / dt); must exceed the messages' steps.
      n_windows: windows simulated (T = W * n_windows steps).
      k_max: largest K of Top-K/1 accuracy.
      meas_noise: draw the Gaussian dB error of ``ChannelParams.meas_noise_db`` (thermal noise is drawn
        whenever ``ChannelParams.awgn`` is set).
      keep_messages: return the per-UE, per-step message log [U, G, T] (int8).
      keep_steps: return the per-step e_RSRP [U, G, T] (otherwise only window means).
      k_sweep: K of the Top-K sweep monitor (0: its estimate is not computed).
      models_per_ue: rows of the deduplicated inference per UE (C = Q * models_per_ue); a window whose UEs
        use more distinct models than that runs the undeduplicated inference (C = Q * G) instead.
    """

    window: int = 50
    n_windows: int = 100
    k_max: int = 8
    meas_noise: bool = False
    keep_messages: bool = True
    keep_steps: bool = False
    k_sweep: int = 0
    models_per_ue: int = 4


@struct.dataclass
class LcmParams:
    """Traced LCM parameters of one lane (or of G lanes, each field [G]); codes in ``messages``.

    Attributes:
      gamma_db: degradation threshold gamma_RSRP [dB].
      strategy: STRATEGIES code.
      initial: INITIAL code (ignored by the global strategy: its best global model).
      only_dataset: ONLY_DATASET_CHOICES code.
      trigger: TRIGGERS code of the proposed strategy.
      monitor: MONITORS code.
      latency_ms: delay of each of the five messages [ms].
    """

    gamma_db: float = 5.0
    strategy: int = msg.PROPOSED
    initial: int = msg.INIT_BEST
    only_dataset: int = msg.OD_KEEP_IDS
    trigger: int = msg.TRIGGER_E_RSRP
    monitor: int = msg.MONITOR_GENIE
    latency_ms: float = 20.0


def make_tables(cfg: BeamConfig, models: PaddedMLP, e_table, top1_table=None) -> ModelPool:
    """The pool of the one family of models ``models`` [M] with evaluation table ``e_table`` [M, R]."""
    return paper_pool(cfg, models, e_table, top1_table)


@struct.dataclass
class UeKeys:
    """The keys of one UE (each [] typed key; with a leading [Q] in a block).

    Attributes:
      innov: channel innovations, step t from fold_in(innov, t).
      meas: measurement noise, step t from fold_in(meas, t).
      choice: random model choices, at step t from fold_in(choice, t).
    """

    innov: jax.Array
    meas: jax.Array
    choice: jax.Array


def ue_keys_of(key):
    """(start-state key, UeKeys) of one UE key."""
    k_init, k_innov, k_meas, k_choice = jax.random.split(key, 4)
    return k_init, UeKeys(innov=k_innov, meas=k_meas, choice=k_choice)


@struct.dataclass
class LcmState:
    """LCM state of one UE in one lane (``simulate_block`` carries it with leading [G, Q]).

    Attributes:
      active: [] int32 pool index m of the active model.
      ref: [] float32 the monitor's reference statistic at activation [dB].
      ref_true: [] float32 the true (genie) reference at activation [dB], for false-alarm bookkeeping.
      ref_pending: [] bool, the next window with monitored steps (re)sets the references.
      legacy_left: [] int32 steps of legacy beam management left in the ongoing adaptation.
      nonrec: [M] bool, the NW's non-recommended list for this UE.
      hits: [K] int32 Top-K hits so far (K = 1..k_max).
      n_trigger: [] int32 adaptations triggered; n_fallback: [] int32 Step-3 fallbacks.
    """

    active: jax.Array
    ref: jax.Array
    ref_true: jax.Array
    ref_pending: jax.Array
    legacy_left: jax.Array
    nonrec: jax.Array
    hits: jax.Array
    n_trigger: jax.Array
    n_fallback: jax.Array


@struct.dataclass
class WindowScores:
    """Per-step outcomes of one (UE, model) pair over one window.

    Attributes:
      e_model: [W] e_RSRP of the model's predicted beam [dB].
      rank_model: [W] int32 beams the model scores above the true best one (Top-K hit: rank < K).
      e_legacy: [W] e_RSRP of legacy beam management with the model's Set B [dB].
      rank_legacy: [W] int32 the same rank for legacy beam management.
      est_sweep: [] e_RSRP estimated from one full Set A sweep at the last step [dB].
      est_topk: [W] e_RSRP estimated from the measured Top-K predicted beams [dB] (0 when k_sweep = 0).
    """

    e_model: jax.Array
    rank_model: jax.Array
    e_legacy: jax.Array
    rank_legacy: jax.Array
    est_sweep: jax.Array
    est_topk: jax.Array


def _rank_of_best(scores, best):
    """[W] int32 beams scored strictly above the true best one (the rank ``metrics.top_k`` compares with K)."""
    own = jnp.take_along_axis(scores, best[:, None], axis=-1)
    return jnp.sum(scores > own, axis=-1).astype(jnp.int32)


def score_window(logits, rsrp, meas, in_set_b, k_sweep: int = 0) -> WindowScores:
    """Reduces one (UE, model) window to per-step scores.

    Args:
      logits: [W, B] the model's logits; rsrp, meas: [W, B] true and measured L1-RSRP [dBm];
      in_set_b: [B] bool, the model's Set B (legacy beam management measures it).
      k_sweep: K of the Top-K sweep estimate (static; 0 skips it).
    """
    best = jnp.argmax(rsrp, axis=-1)
    pred = jnp.argmax(logits, axis=-1)
    legacy = legacy_scores(meas, in_set_b)
    meas_pred = jnp.take_along_axis(meas, pred[:, None], axis=-1)[:, 0]
    if k_sweep:
        top = jax.lax.top_k(logits, k_sweep)[1]
        est_topk = jnp.max(jnp.take_along_axis(meas, top, axis=-1), axis=-1) - meas_pred
    else:
        est_topk = jnp.zeros_like(meas_pred)
    return WindowScores(e_model=e_rsrp(rsrp, pred), rank_model=_rank_of_best(logits, best),
                        e_legacy=e_rsrp(rsrp, jnp.argmax(legacy, axis=-1)), rank_legacy=_rank_of_best(legacy, best),
                        est_sweep=jnp.max(meas[-1]) - meas_pred[-1], est_topk=est_topk)


def _region_models(tables: ModelPool, region):
    """[M] bool: the regional models of ``region``."""
    return tables.model_dataset == region


def _random_model(key, candidates):
    """[] int32 uniform among the True entries of ``candidates`` [M] (at least one)."""
    return jax.random.categorical(key, jnp.where(candidates, 0.0, -jnp.inf)).astype(jnp.int32)


def _best_model(tables: ModelPool, candidates, region):
    """[] int32 the candidate with the lowest evaluation-table e_RSRP on ``region``."""
    return jnp.argmin(jnp.where(candidates, tables.e_table[:, region], jnp.inf)).astype(jnp.int32)


def initial_model(ue: UeState, keys: UeKeys, params: LcmParams, tables: ModelPool, cfg: BeamConfig):
    """[] int32 the lane's model at t = 0 for one UE (``messages.INITIAL``; the global strategy takes the
    global model with the lowest evaluation e_RSRP averaged over the regions)."""
    r0 = region_index(ue.pos, cfg)
    cand = _region_models(tables, r0)
    best = _best_model(tables, cand, r0)
    default = jnp.argmax(cand & (tables.model_mid == 0)).astype(jnp.int32)  # lowest Set B ID, model ID 0
    random = _random_model(jax.random.fold_in(keys.choice, 0), cand)
    regional = jnp.select([params.initial == msg.INIT_DEFAULT, params.initial == msg.INIT_RANDOM],
                          [default, random], best)
    glob = jnp.argmin(jnp.where(tables.model_dataset < 0, tables.e_table.mean(axis=1), jnp.inf)).astype(jnp.int32)
    return jnp.where(params.strategy == msg.GLOBAL, glob, regional)


def init_state(ue: UeState, keys: UeKeys, params: LcmParams, tables: ModelPool, cfg: BeamConfig,
               lc: LcmConfig) -> LcmState:
    """LCM state of one UE in one lane at t = 0: its initial model, references to be set."""
    return LcmState(active=initial_model(ue, keys, params, tables, cfg), ref=jnp.float32(0.0),
                    ref_true=jnp.float32(0.0), ref_pending=jnp.bool_(True), legacy_left=jnp.int32(0),
                    nonrec=jnp.zeros((tables.n_models,), bool), hits=jnp.zeros((lc.k_max,), jnp.int32),
                    n_trigger=jnp.int32(0), n_fallback=jnp.int32(0))


def adaptation_steps(latency_ms, dt_s):
    """[] int32 steps of legacy beam management in one adaptation: until the step in which message 5
    arrives, ceil(5 latency / dt)."""
    return jnp.ceil(msg.N_MESSAGES * latency_ms * 1e-3 / dt_s - _SLACK).astype(jnp.int32)


def _delivered(a, latency_ms, dt_s):
    """[...] int32 messages delivered by the end of adaptation step a (a = -1: none)."""
    n = jnp.floor((a + 1) * dt_s / (latency_ms * 1e-3) + _SLACK).astype(jnp.int32)
    return jnp.clip(n, 0, msg.N_MESSAGES)


def channel_window(keys: UeKeys, ue: UeState, t0, region_prev, cfg: BeamConfig, chp: ChannelParams,
                   mp: MobilityParams, lc: LcmConfig):
    """W steps t0 .. t0 + W - 1 of one UE.

    Args:
      keys: the UE's keys (not consumed: step t uses fold_in(key, t)).
      ue: its state before step t0; region_prev: [] int32 its region before step t0.
    Returns:
      (ue, rsrp [W, B] dBm, meas [W, B] dBm, region [W] int32, crossings [] int32 region changes).
    """
    ts = t0 + jnp.arange(lc.window)
    normals = step_innovations(keys.innov, t0, lc.window, cfg)
    noisy = chp.awgn or lc.meas_noise

    def step(s, inp):
        nz, t = inp
        s = step_ue(nz, s, cfg, mp)
        rsrp = beam_rsrp_dbm(cfg, chp, s.pos, s.z, s.alpha())
        meas = measure(jax.random.fold_in(keys.meas, t) if noisy else None, rsrp, chp)
        return s, (rsrp, meas, region_index(s.pos, cfg))

    ue, (rsrp, meas, region) = jax.lax.scan(step, ue, (normals, ts))
    crossings = jnp.sum(region != jnp.concatenate([region_prev[None], region[:-1]])).astype(jnp.int32)
    return ue, rsrp, meas, region, crossings


def decide(st: LcmState, sc: WindowScores, region_end, t_end, keys: UeKeys, params: LcmParams,
           tables: ModelPool, mp: MobilityParams, lc: LcmConfig):
    """Metrics of one window and the monitoring/adaptation decision for one UE in one lane.

    Args:
      st: the UE's state at the window start.
      sc: the window's scores of the active model (``score_window``).
      region_end: [] int32 region at the window end; t_end: [] int32 index of the window's last step + 1.
      keys: the UE's keys (random model choices at t_end).
      params: the lane's parameters (scalars).
    Returns:
      (new state, outputs) with outputs e [W] dB, msgs [W] int8, active [] (model used in this window),
      trigger [] bool, tested [] bool (a degradation test was made), genie [] bool (the true e_RSRP
      statistic exceeded its reference + gamma in a tested window).
    """
    w = sc.e_model.shape[0]
    j = jnp.arange(w)
    # Legacy beam management while the adaptation's messages are under way (a prefix of the window).
    legacy = j < st.legacy_left
    e = jnp.where(legacy, sc.e_legacy, sc.e_model)
    rank = jnp.where(legacy, sc.rank_legacy, sc.rank_model)
    hits = st.hits + jnp.sum(rank[:, None] < jnp.arange(1, lc.k_max + 1), axis=0).astype(jnp.int32)
    n_leg = adaptation_steps(params.latency_ms, mp.dt_s)
    a = n_leg - st.legacy_left + j  # adaptation step of window step j
    new_msg = _delivered(a, params.latency_ms, mp.dt_s)
    msgs = jnp.where(legacy & (new_msg > _delivered(a - 1, params.latency_ms, mp.dt_s)), new_msg,
                     msg.NONE).astype(jnp.int8)

    used = ~legacy
    n_used = jnp.sum(used)
    e_true = jnp.sum(jnp.where(used, e, 0.0)) / jnp.maximum(n_used, 1)
    topk = jnp.sum(jnp.where(used, sc.est_topk, 0.0)) / jnp.maximum(n_used, 1)
    sweep_ok = used[-1]  # the full sweep at the last step monitors the model only if it was in use then
    stat = jnp.select([params.monitor == msg.MONITOR_FULL_SWEEP, params.monitor == msg.MONITOR_TOPK_SWEEP],
                      [sc.est_sweep, topk], e_true)
    has_stat = jnp.where(params.monitor == msg.MONITOR_FULL_SWEEP, sweep_ok, n_used > 0)
    set_ref = st.ref_pending & has_stat
    ref = jnp.where(set_ref, stat, st.ref)
    ref_true = jnp.where(set_ref, e_true, st.ref_true)
    tested = ~st.ref_pending & has_stat
    degraded = tested & (stat > ref + params.gamma_db)
    genie = tested & (e_true > ref_true + params.gamma_db)

    legacy_end = jnp.maximum(st.legacy_left - w, 0)
    own_region = tables.model_dataset[st.active]
    left_region = (params.strategy == msg.PROPOSED) & (params.trigger == msg.TRIGGER_E_OR_REGION) & \
        (own_region >= 0) & (region_end != own_region) & (legacy_end == 0)
    adaptive = (params.strategy == msg.ONLY_DATASET) | (params.strategy == msg.PROPOSED)
    trigger = adaptive & (degraded | left_region)

    # only dataset ID: the current region's model with the same Set B and model ID, or a random one of them.
    region_models = _region_models(tables, region_end)
    k_t = jax.random.fold_in(keys.choice, t_end)
    same_ids = tables.by_ids[tables.model_set_b[st.active], tables.model_mid[st.active], region_end]
    same_ids = jnp.where(same_ids >= 0, same_ids, st.active)
    m_dataset = jnp.where(params.only_dataset == msg.OD_RANDOM, _random_model(k_t, region_models), same_ids)
    # proposed: Step 1 marks a degraded model; Step 3 recommends the region's models not on the list.
    prop = trigger & (params.strategy == msg.PROPOSED)
    nonrec = st.nonrec | ((prop & degraded) & (jnp.arange(tables.n_models) == st.active))
    cand = region_models & ~nonrec
    fallback = prop & ~jnp.any(cand)
    nonrec = jnp.where(fallback, nonrec & ~region_models, nonrec)
    cand = jnp.where(jnp.any(cand), cand, region_models)
    m_prop = _best_model(tables, cand, region_end)
    new = jnp.where(params.strategy == msg.PROPOSED, m_prop, m_dataset)
    out = {"e": e, "msgs": msgs, "active": st.active, "trigger": trigger, "tested": tested, "genie": genie}
    st = st.replace(active=jnp.where(trigger, new, st.active), ref=ref, ref_true=ref_true,
                    ref_pending=trigger | (st.ref_pending & ~set_ref),
                    legacy_left=jnp.where(prop, n_leg, legacy_end), nonrec=nonrec, hits=hits,
                    n_trigger=st.n_trigger + trigger, n_fallback=st.n_fallback + fallback)
    return st, out


def _distinct_rows(active, n_rows: int):
    """Distinct (model, UE) pairs of the lanes' active models active [G, Q].

    Returns (row_model [n_rows], row_ue [n_rows], lane_row [G, Q] index of each lane's row, n_distinct []);
    rows past n_distinct repeat pair (model 0, UE 0) and are never gathered.
    """
    n_g, n_q = active.shape
    pair = (active * n_q + jnp.arange(n_q)).ravel()
    order = jnp.argsort(pair)
    sorted_pair = pair[order]
    first = jnp.concatenate([jnp.ones((1,), bool), sorted_pair[1:] != sorted_pair[:-1]])
    row_sorted = (jnp.cumsum(first) - 1).astype(jnp.int32)
    lane_row = jnp.zeros_like(row_sorted).at[order].set(row_sorted).reshape(n_g, n_q)
    rows = jnp.zeros((n_rows,), jnp.int32).at[jnp.where(first, row_sorted, n_rows)].set(sorted_pair, mode="drop")
    return rows // n_q, rows % n_q, lane_row, row_sorted[-1] + 1


def score_rows(row_model, row_ue, rsrp, meas, tables: ModelPool, cfg: BeamConfig, lc: LcmConfig,
               tile: int) -> WindowScores:
    """``score_window`` of each (model, UE) row, with the models' logits from one grouped inference.

    Args:
      row_model, row_ue: [C] int32; rsrp, meas: [Q, W, B] of the block's UEs.
      tile: UEs per inference tile (static).
    Returns:
      WindowScores with leading [C].
    """
    set_b = tables.model_set_b[row_model]
    # the rows' measured Set B RSRPs, normalised by the one fixed affine map of every model
    x = normalise(cfg, jnp.take_along_axis(meas[row_ue], tables.set_b_idx[set_b][:, None, :], axis=-1))
    logits = grouped_logits(tables.models, row_model, x, tile)
    return jax.vmap(lambda lg, q, sb: score_window(lg, rsrp[q], meas[q], tables.set_b_mask[sb], lc.k_sweep))(
        logits, row_ue, set_b)


def lane_scores(st: LcmState, rsrp, meas, tables: ModelPool, cfg: BeamConfig, lc: LcmConfig) -> WindowScores:
    """The scores of every lane's active model, WindowScores with leading [G, Q].

    Distinct (UE, model) pairs run once. The number of rows is static, so the window picks (``lax.switch``)
    the smallest of C = Q, 2Q, 4Q, ..., up to Q * models_per_ue, that holds its distinct pairs, or all
    G * Q when even that is too small. The tile size depends on Q only, so a (UE, model) row gives the same
    logits whatever else is computed with it.
    """
    n_g, n_q = st.active.shape
    tile = tile_size(n_q, tables.n_models)

    def with_rows(n_rows):
        def run(_):
            row_model, row_ue, lane_row, _ = _distinct_rows(st.active, n_rows)
            rows = score_rows(row_model, row_ue, rsrp, meas, tables, cfg, lc, tile)
            return jax.tree_util.tree_map(lambda a: a[lane_row], rows)
        return run

    caps = [n_q * c for c in (1, 2, 4, 8, 16) if c <= lc.models_per_ue and c < n_g] + [n_g * n_q]
    if len(caps) == 1:
        return with_rows(caps[0])(None)
    n_distinct = _distinct_rows(st.active, caps[0])[3]
    branch = jnp.sum(n_distinct > jnp.asarray(caps[:-1]))
    return jax.lax.switch(branch, [with_rows(c) for c in caps], None)


def lcm_window(keys: UeKeys, ue: UeState, region_prev, st: LcmState, wi, params: LcmParams, tables: ModelPool,
               chp: ChannelParams, mp: MobilityParams, cfg: BeamConfig, lc: LcmConfig):
    """One LCM window of a block of Q UEs in G lanes sharing one channel.

    Args:
      keys: UeKeys with leading [Q]; ue: UeState with leading [Q]; region_prev: [Q] int32 regions before
        the window; st: LcmState with leading [G, Q]; wi: [] window index.
      params: LcmParams with fields [G].
    Returns:
      (ue, region [Q] at the window end, st, outputs) with outputs e [G, Q, W] dB, msgs [G, Q, W] int8,
      active, trigger, tested, genie [G, Q], region [Q] and crossings [Q].
    """
    t0 = wi * lc.window
    ue, rsrp, meas, region, crossings = jax.vmap(
        lambda k, s, r: channel_window(k, s, t0, r, cfg, chp, mp, lc))(keys, ue, region_prev)
    scores = lane_scores(st, rsrp, meas, tables, cfg, lc)
    t_end = t0 + lc.window

    def decide_ues(st_g, sc_g, prm):  # one lane, [Q] UEs
        return jax.vmap(lambda s, c, r, k: decide(s, c, r, t_end, k, prm, tables, mp, lc))(
            st_g, sc_g, region[:, -1], keys)

    st, out = jax.vmap(decide_ues)(st, scores, params)
    out["region"] = region[:, -1]
    out["crossings"] = crossings
    return ue, region[:, -1], st, out


def simulate_block(ue_keys, params: LcmParams, tables: ModelPool, chp: ChannelParams, mp: MobilityParams, *,
                   cfg: BeamConfig, lc: LcmConfig):
    """The LCM of a block of Q UEs for lc.n_windows * lc.window steps (a ``map_ues`` kernel, batched=True).

    Args:
      ue_keys: [Q] typed keys (consumed, ``ue_keys_of``).
      params: LcmParams with fields [G], one lane per (strategy, gamma, reading) combination.
    Returns:
      dict with e_win [Q, G, n_windows] window-mean e_RSRP [dB], active, trigger, tested, genie
      [Q, G, n_windows], hits [Q, G, K] int32, n_trigger, n_fallback [Q, G], region [Q, n_windows] int32
      (region at each window end), crossings [Q] int32 (region changes over the run); msgs [Q, G, T] int8
      if lc.keep_messages, e [Q, G, T] dB if lc.keep_steps.
    """
    k_init, keys = jax.vmap(ue_keys_of)(ue_keys)
    ue = jax.vmap(lambda k: init_ue(k, cfg))(k_init)
    region0 = region_index(ue.pos, cfg)
    st = jax.vmap(lambda prm: jax.vmap(lambda u, k: init_state(u, k, prm, tables, cfg, lc))(ue, keys))(params)
    n_g, n_ue = params.gamma_db.shape[0], ue_keys.shape[0]

    def window(carry, wi):
        ue, region, st, crossings = carry
        ue, region, st, out = lcm_window(keys, ue, region, st, wi, params, tables, chp, mp, cfg, lc)
        crossings = crossings + out.pop("crossings")
        out["e_win"] = out["e"].mean(-1)
        if not lc.keep_steps:
            del out["e"]
        if not lc.keep_messages:
            del out["msgs"]
        return (ue, region, st, crossings), out

    carry = (ue, region0, st, jnp.zeros((n_ue,), jnp.int32))
    (ue, _, st, crossings), out = jax.lax.scan(window, carry, jnp.arange(lc.n_windows))

    def steps(a):  # [n_win, G, Q, W] -> [Q, G, T]
        return jnp.moveaxis(a, 0, 2).reshape(n_g, n_ue, -1).swapaxes(0, 1)

    def windows(a):  # [n_win, G, Q] -> [Q, G, n_win]
        return jnp.moveaxis(a, 0, -1).swapaxes(0, 1)

    res = {k: windows(out[k]) for k in ("e_win", "active", "trigger", "tested", "genie")}
    res.update(hits=st.hits.swapaxes(0, 1), n_trigger=st.n_trigger.T, n_fallback=st.n_fallback.T,
               region=out["region"].T, crossings=crossings)
    for k in ("msgs", "e"):
        if k in out:
            res[k] = steps(out[k])
    return res


def simulate(point_key, n_ue: int, params: LcmParams, tables: ModelPool, chp: ChannelParams, mp: MobilityParams, *,
             cfg: BeamConfig, lc: LcmConfig, ue_block: int = UE_BLOCK, chunk_size: int | None = None):
    """Runs the LCM of ``n_ue`` UEs for lc.n_windows * lc.window steps (host numpy results).

    The channel (trajectories, RSRPs) is computed once per window and shared by G lanes given by
    ``params`` with leading axis [G] (``lanes``): strategies, gammas and readings are compared on identical
    channels (common random numbers), and a gamma sweep costs one channel simulation.

    Args:
      point_key: typed key; UE u uses fold_in(point_key, u). Pass the same key at every grid point for
        common random numbers across points (different T_LCM, readings of the lanes, ...).
      n_ue: U.
      params: LcmParams with fields [G].
      ue_block: UEs per block (see ``UE_BLOCK``); results depend on it in the last float bits only
        through the grouped inference's tile size.
      chunk_size: UEs per chunk of ``map_ues`` (None: the runner's ``--ue-chunk``); results do not
        depend on it.
    Returns:
      ``simulate_block``'s dict with the lane axis first for per-lane arrays ([G, U, ...]) and region
      [U, n_windows], crossings [U].
    """
    out = map_ues(simulate_block, point_key, n_ue, params, tables, chp, mp, static={"cfg": cfg, "lc": lc},
                  micro_batch=ue_block, chunk_size=chunk_size, batched=True)
    return {k: v if k in ("region", "crossings") else np.moveaxis(v, 0, 1) for k, v in out.items()}


def lanes(strategies, gammas, **fields) -> LcmParams:
    """LcmParams batched over lanes: ``strategies`` and ``gammas`` equal-length sequences, every other field
    (``initial``, ``only_dataset``, ``trigger``, ``monitor``, ``latency_ms``) a scalar for all lanes or a
    sequence of the same length."""
    n = len(strategies)
    kw = {}
    for f in dataclasses.fields(LcmParams):
        if f.name in ("gamma_db", "strategy"):
            continue
        v = fields.pop(f.name, f.default)
        dtype = jnp.float32 if isinstance(f.default, float) else jnp.int32
        kw[f.name] = jnp.broadcast_to(jnp.asarray(v, dtype), (n,))
    if fields:
        raise TypeError(f"lanes: unknown fields {sorted(fields)}")
    return LcmParams(gamma_db=jnp.asarray(gammas, jnp.float32), strategy=jnp.asarray(strategies, jnp.int32), **kw)

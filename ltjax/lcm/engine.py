"""LCM over mobility: a ``lax.scan`` over LCM windows of per-UE kernels vmapped over UEs.

One window is T_LCM = W steps of 20 ms. For each window:
  1. ``channel_window`` (per UE, vmapped): a ``lax.scan`` over W steps of mobility + channel giving the true
     and measured Set A RSRP [W, B] and the region [W];
  2. ``grouped_logits`` (batched): inference of every UE's *active* model on its Set B input. UEs are sorted
     by active model and packed into tiles of one model each, so each tile is one dense matmul chain and no
     per-UE copy of the weights is made (the model only changes at window ends);
  3. ``decide`` (per UE, vmapped): per-step e_RSRP = RSRP(true best) - RSRP(predicted) [dB] and Top-K hits,
     then the monitoring rule at the window end.

Monitoring rule (paper Sec. IV-A, our reading): the window mean of e_RSRP over the steps that used the
model is compared with ref + gamma, where ref is the mean over the first window after the model's
activation (ref is (re)set in that window and no test is made in it). A window mean > ref + gamma triggers:
  * non-LCM: never triggers;
  * only dataset ID: the model with the current region's dataset ID and the same Set B and model ID is
    activated from the next window (no signalling, no evaluation);
  * proposed: Steps 1-5 (``ltjax.lcm.messages``) are sent in the first 5 steps of the next window with
    legacy beam management meanwhile; the NW adds the current model to the UE's non-recommended list and
    recommends the models trained on the UE's current region (dataset ID) that are not on it; the UE picks
    the one with the lowest mean e_RSRP on that region's evaluation set (precomputed table [M, R]). If no
    candidate is left, the NW sends only support information (Step 3's fallback: the UE would train a new
    model); since retraining is excluded, as in the paper, the region's models are cleared from the list and
    the best of them is used.
Every UE starts with the best model (lowest evaluation e_RSRP) of its initial region, for every strategy.
Keys: UE u uses fold_in(key, u); window w uses fold_in(ue_key, w), from which the window's innovations are drawn.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.beam.channel import beam_rsrp_dbm, measure
from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.beam.geometry import region_of
from ltjax.beam.mobility import UeState, init_ue, step_ue
from ltjax.beam.model import PaddedMLP, padded_apply
from ltjax.beam.dataset import normalise
from ltjax.lcm import messages as msg


@dataclasses.dataclass(frozen=True)
class LcmConfig:
    """Static LCM settings.

    Attributes:
      window: W, steps per LCM period (T_LCM / dt); must exceed n_msg.
      n_windows: windows simulated (T = W * n_windows steps).
      k_max: largest K of Top-K/1 accuracy.
      n_models_per_region: model IDs (3).
      meas_noise: draw measurement noise (False skips 64 normals per UE-step when meas_noise_db = 0).
      keep_messages: return the per-UE, per-step message log [U, T] (int8).
    """

    window: int = 50
    n_windows: int = 100
    k_max: int = 8
    n_model_ids: int = 3
    meas_noise: bool = False
    keep_messages: bool = True


@struct.dataclass
class LcmParams:
    """Traced LCM parameters: gamma_db (degradation threshold [dB]) and strategy (messages.STRATEGIES)."""

    gamma_db: float = 5.0
    strategy: int = msg.PROPOSED


@struct.dataclass
class Tables:
    """Model-side constants.

    Attributes:
      models: PaddedMLP with leading axis [M].
      e_table: [M, R] mean e_RSRP [dB] of model m on region r's evaluation set.
      set_b_idx: [n_set_b, S] int32 Set B beam indices; set_b_mask: [n_set_b, B] bool.
    """

    models: PaddedMLP
    e_table: jax.Array
    set_b_idx: jax.Array
    set_b_mask: jax.Array


def make_tables(cfg: BeamConfig, models: PaddedMLP, e_table) -> Tables:
    idx = cfg.set_b_array()
    mask = np.zeros((cfg.n_set_b, cfg.n_beams), bool)
    for i, p in enumerate(idx):
        mask[i, p] = True
    return Tables(models=models, e_table=jnp.asarray(e_table, jnp.float32), set_b_idx=jnp.asarray(idx),
                  set_b_mask=jnp.asarray(mask))


@struct.dataclass
class LcmState:
    """Per-UE LCM state (unbatched shapes; the engine adds a leading [U]).

    Attributes:
      active: [] int32 flat model index m of the active model.
      ref: [] float32 reference e_RSRP at activation [dB].
      ref_pending: [] bool, this window (re)sets ref.
      adapting: [] bool, this window starts with the 5 adaptation messages (legacy BM meanwhile).
      nonrec: [M] bool, the NW's non-recommended list for this UE.
      hits: [K] int32 Top-K hits so far (K = 1..k_max).
      n_trigger: [] int32 adaptations triggered; n_fallback: [] int32 Step-3 fallbacks.
    """

    active: jax.Array
    ref: jax.Array
    ref_pending: jax.Array
    adapting: jax.Array
    nonrec: jax.Array
    hits: jax.Array
    n_trigger: jax.Array
    n_fallback: jax.Array


def _dataset_of(m, cfg: BeamConfig):
    return m % cfg.n_regions


def _set_b_of(m, cfg: BeamConfig, lc: LcmConfig):
    return m // (lc.n_model_ids * cfg.n_regions)


def init_state(ue: UeState, cfg: BeamConfig, lc: LcmConfig, tables: Tables) -> LcmState:
    """LCM state of one UE at t = 0: the best evaluated model of its initial region, ref to be set."""
    r0 = region_of(ue.pos, cfg.n_regions)
    n_m = tables.e_table.shape[0]
    own = _dataset_of(jnp.arange(n_m), cfg) == r0
    active = jnp.argmin(jnp.where(own, tables.e_table[:, r0], jnp.inf)).astype(jnp.int32)
    return LcmState(active=active, ref=jnp.float32(0.0), ref_pending=jnp.bool_(True),
                    adapting=jnp.bool_(False), nonrec=jnp.zeros((n_m,), bool),
                    hits=jnp.zeros((lc.k_max,), jnp.int32), n_trigger=jnp.int32(0), n_fallback=jnp.int32(0))


def channel_window(key, ue: UeState, cfg: BeamConfig, chp: ChannelParams, mp: MobilityParams, lc: LcmConfig):
    """W steps of one UE: (ue, rsrp [W, B] dBm, meas [W, B] dBm, region [W] int32). The key is consumed."""

    k_mob, k_meas = jax.random.split(key)
    normals = jax.random.normal(k_mob, (lc.window, cfg.n_paths, 4))
    meas_keys = jax.random.split(k_meas, lc.window) if lc.meas_noise else jnp.zeros((lc.window,))

    def step(s, inp):
        nz, km = inp
        s = step_ue(nz, s, cfg, mp)
        rsrp = beam_rsrp_dbm(cfg, chp, s.pos, s.z, s.alpha())
        meas = measure(km if lc.meas_noise else None, rsrp, chp)
        return s, (rsrp, meas, region_of(s.pos, cfg.n_regions))

    ue, (rsrp, meas, region) = jax.lax.scan(step, ue, (normals, meas_keys))
    return ue, rsrp, meas, region


def grouped_logits(models: PaddedMLP, model_id, x, tile: int):
    """Logits [U, W, B] of each UE's own model: x [U, W, S], model_id [U] int.

    UEs are sorted by model and each model's group is padded to a multiple of ``tile`` UEs, so every tile
    holds one model: P = U + M (tile - 1) padded rows at most (static), one gather of weights per tile.
    """
    u, w, s = x.shape
    n_m = models.w_in.shape[0]
    order = jnp.argsort(model_id, stable=True)
    sid = model_id[order]
    counts = jnp.bincount(model_id, length=n_m)
    start = jnp.cumsum(counts) - counts
    pcount = (counts + tile - 1) // tile * tile
    pend = jnp.cumsum(pcount)
    pstart = pend - pcount
    slot_sorted = pstart[sid] + (jnp.arange(u) - start[sid])
    slot = jnp.zeros((u,), jnp.int32).at[order].set(slot_sorted.astype(jnp.int32))
    n_tiles = -(-(u + n_m * (tile - 1)) // tile)
    xp = jnp.zeros((n_tiles * tile, w, s), x.dtype).at[slot].set(x)
    tile_model = jnp.clip(jnp.searchsorted(pend, jnp.arange(n_tiles) * tile, side="right"), 0, n_m - 1)
    p_tiles = jax.tree_util.tree_map(lambda a: a[tile_model], models)
    out = jax.vmap(padded_apply)(p_tiles, xp.reshape(n_tiles, tile * w, s))
    return out.reshape(n_tiles * tile, w, -1)[slot]


def decide(st: LcmState, rsrp, meas, region, logits, params: LcmParams, tables: Tables, cfg: BeamConfig,
           lc: LcmConfig):
    """Metrics of one window and the monitoring/adaptation decision for one UE.

    Args:
      rsrp, meas, logits: [W, B]; region: [W] int32.
    Returns:
      (new state, outputs) with outputs e [W] dB, msgs [W] int8, active [] (model used in this window),
      trigger [] bool.
    """
    w = rsrp.shape[0]
    sb = _set_b_of(st.active, cfg, lc)
    legacy = st.adapting & (jnp.arange(w) < msg.N_MESSAGES)
    legacy_scores = jnp.where(tables.set_b_mask[sb], meas, -jnp.inf)
    scores = jnp.where(legacy[:, None], legacy_scores, logits)
    best = jnp.argmax(rsrp, axis=-1)
    pred = jnp.argmax(scores, axis=-1)
    take = lambda a, i: jnp.take_along_axis(a, i[:, None], axis=-1)[:, 0]  # noqa: E731
    e = take(rsrp, best) - take(rsrp, pred)
    rank = jnp.sum(scores > take(scores, best)[:, None], axis=-1)
    hits = st.hits + jnp.sum(rank[:, None] < jnp.arange(1, lc.k_max + 1)[None, :], axis=0).astype(jnp.int32)
    msgs = jnp.where(legacy, jnp.arange(w) + 1, msg.NONE).astype(jnp.int8)

    used = ~legacy
    e_win = jnp.sum(jnp.where(used, e, 0.0)) / jnp.maximum(jnp.sum(used), 1)
    set_ref = st.ref_pending
    ref = jnp.where(set_ref, e_win, st.ref)
    trigger = (params.strategy != msg.NON_LCM) & ~set_ref & (e_win > ref + params.gamma_db)

    r_end = region[-1]
    n_m = tables.e_table.shape[0]
    mid = (st.active // cfg.n_regions) % lc.n_model_ids
    m_dataset = ((sb * lc.n_model_ids + mid) * cfg.n_regions + r_end).astype(jnp.int32)
    # proposed: Step 1 marks the current model; Step 3 recommends the region's models not on the list.
    prop = trigger & (params.strategy == msg.PROPOSED)
    nonrec = st.nonrec | (prop & (jnp.arange(n_m) == st.active))
    region_models = _dataset_of(jnp.arange(n_m), cfg) == r_end
    cand = region_models & ~nonrec
    fallback = prop & ~jnp.any(cand)
    nonrec = jnp.where(fallback, nonrec & ~region_models, nonrec)
    cand = jnp.where(jnp.any(cand), cand, region_models)
    m_prop = jnp.argmin(jnp.where(cand, tables.e_table[:, r_end], jnp.inf)).astype(jnp.int32)
    new = jnp.where(params.strategy == msg.PROPOSED, m_prop, m_dataset)
    out = {"e": e, "msgs": msgs, "active": st.active, "trigger": trigger}
    st = st.replace(active=jnp.where(trigger, new, st.active), ref=ref, ref_pending=trigger, adapting=prop,
                    nonrec=nonrec, hits=hits, n_trigger=st.n_trigger + trigger,
                    n_fallback=st.n_fallback + fallback)
    return st, out


def tile_size(n_ue: int, n_models: int) -> int:
    """UEs per inference tile: padding overhead at most ~1/8 of U."""
    return max(1, n_ue // (8 * n_models))


def simulate(key, ue_ids, cfg: BeamConfig, lc: LcmConfig, params: LcmParams, chp: ChannelParams,
             mp: MobilityParams, tables: Tables):
    """Runs the LCM of ``len(ue_ids)`` UEs for lc.n_windows * lc.window steps (jit this).

    The channel (trajectories, RSRPs) is computed once per window and shared by G "lanes", each an
    (LCM strategy, gamma) pair given by ``params`` with leading axis [G]: the strategies are compared on
    identical channels (common random numbers), and a gamma sweep costs one channel simulation.

    Args:
      key: typed key of the experiment point; UE u uses fold_in(key, ue_ids[u]).
      ue_ids: [U] int32 UE indices (a subset gives exactly those rows of a bigger run).
      params: LcmParams with gamma_db [G], strategy [G].
    Returns:
      dict with e [G, U, T] dB per step, msgs [G, U, T] int8 (if keep_messages), active [G, U, n_windows],
      trigger [G, U, n_windows] bool, hits [G, U, K] int32, n_trigger [G, U], n_fallback [G, U],
      region [U, n_windows] int32 (region at each window end).
    """
    ue_keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(ue_ids)
    ue = jax.vmap(lambda k: init_ue(k, cfg))(ue_keys)
    st0 = jax.vmap(lambda u: init_state(u, cfg, lc, tables))(ue)
    n_g = params.gamma_db.shape[0]
    st = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n_g, *a.shape)), st0)
    n_ue = ue_ids.shape[0]
    tile = tile_size(n_ue, tables.e_table.shape[0])

    def lane(st, prm, rsrp, meas, region):
        sb = _set_b_of(st.active, cfg, lc)
        x = normalise(cfg, jnp.take_along_axis(meas, tables.set_b_idx[sb][:, None, :], axis=-1))
        logits = grouped_logits(tables.models, st.active, x, tile)
        return jax.vmap(lambda s, a, b, c, d: decide(s, a, b, c, d, prm, tables, cfg, lc))(
            st, rsrp, meas, region, logits)

    def window(carry, wi):
        ue, st = carry
        wkeys = jax.vmap(lambda k: jax.random.fold_in(k, wi))(ue_keys)
        ue, rsrp, meas, region = jax.vmap(lambda k, s: channel_window(k, s, cfg, chp, mp, lc))(wkeys, ue)
        st, out = jax.vmap(lambda s, p: lane(s, p, rsrp, meas, region))(st, params)
        if not lc.keep_messages:
            out = {k: v for k, v in out.items() if k != "msgs"}
        out["region"] = region[:, -1]
        return (ue, st), out

    (ue, st), out = jax.lax.scan(window, (ue, st), jnp.arange(lc.n_windows))
    steps = lambda a: jnp.moveaxis(a, 0, 2).reshape(n_g, n_ue, -1)  # [n_win, G, U, W] -> [G, U, T]  # noqa: E731
    res = {
        "e": steps(out["e"]),
        "active": jnp.moveaxis(out["active"], 0, -1),
        "trigger": jnp.moveaxis(out["trigger"], 0, -1),
        "hits": st.hits,
        "n_trigger": st.n_trigger,
        "n_fallback": st.n_fallback,
        "region": out["region"].T,
    }
    if lc.keep_messages:
        res["msgs"] = steps(out["msgs"])
    return res


def lanes(strategies, gammas) -> LcmParams:
    """LcmParams batched over the (strategy, gamma) pairs given as equal-length sequences."""
    return LcmParams(gamma_db=jnp.asarray(gammas, jnp.float32), strategy=jnp.asarray(strategies, jnp.int32))

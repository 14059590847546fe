"""LCM over mobility: per-UE channel windows, grouped inference and the monitoring/adaptation rule.

Letters as in ``ltjax.beam``: U UEs, Q UEs of one block, G lanes, M models, W steps of one LCM window,
T = W * n_windows steps, B Set A beams, S Set B beams, K the largest K of Top-K, R regions.

One window is T_LCM = W steps of 20 ms. For a block of UEs, each window (``lcm_window``) is:
  1. ``channel_window`` (per UE, vmapped): a ``lax.scan`` over W steps of mobility + channel giving the true
     and measured Set A RSRP [W, B] and the region [W];
  2. ``ltjax.beam.inference.grouped_logits`` (per lane, across the block): inference of every UE's *active*
     model on its Set B input. UEs are sorted by active model and packed into tiles of one model each, so
     each tile is one dense matmul chain and no per-UE copy of the weights is made (the model only changes
     at window ends);
  3. ``decide`` (per UE and lane, vmapped): per-step e_RSRP and Top-K hits (``ltjax.beam.metrics``), then
     the monitoring rule at the window end.
``simulate_block`` scans the windows of one block (the kernel, for Q UEs); ``simulate`` runs it for U UEs
through the one batching boundary, ``ltjax.batching.map_ues`` (chunks, devices), in blocks of
``UE_BLOCK`` UEs: grouped inference must see a block of UEs at once, and the tile size depends on the
block size, so results are bit-identical for any chunk size and device count at a fixed block size.

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

from ltjax.batching import map_ues
from ltjax.beam.channel import beam_rsrp_dbm, measure
from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
from ltjax.beam.geometry import region_of
from ltjax.beam.inference import (PaddedMLP, grouped_logits, legacy_scores, model_inputs, set_b_masks, tile_size,
                                  unflat_id)
from ltjax.beam.metrics import e_rsrp, top_k
from ltjax.beam.mobility import UeState, init_ue, step_ue
from ltjax.lcm import messages as msg

# UEs per block of ``simulate``. Grouped inference sees one block at a time and its tile size grows with
# the block (``tile_size``), so the block size is fixed rather than derived from the chunk: a run of
# U <= UE_BLOCK UEs is one block (as the U = 10 and U = 1000 reference runs are), and larger runs are
# split into blocks of 1000 (tiles of 2 UEs), the last padded with UEs that are simulated and dropped.
UE_BLOCK = 1000


@dataclasses.dataclass(frozen=True)
class LcmConfig:
    """Static LCM settings.

    Attributes:
      window: W, steps per LCM period (T_LCM / dt); must exceed n_msg.
      n_windows: windows simulated (T = W * n_windows steps).
      k_max: largest K of Top-K/1 accuracy.
      n_model_ids: model IDs (3).
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
    """Traced LCM parameters of one lane (or of G lanes, each field [G]).

    Attributes:
      gamma_db: degradation threshold gamma_RSRP [dB].
      strategy: int, one of ``messages.STRATEGIES``.
    """

    gamma_db: float = 5.0
    strategy: int = msg.PROPOSED


@struct.dataclass
class Tables:
    """Model-side constants.

    Attributes:
      models: PaddedMLP with leading axis [M].
      e_table: [M, R] mean e_RSRP [dB] of model m on region r's evaluation set.
      set_b_mask: [n_set_b, B] bool, the beams of each Set B pattern.
    """

    models: PaddedMLP
    e_table: jax.Array
    set_b_mask: jax.Array


def make_tables(cfg: BeamConfig, models: PaddedMLP, e_table) -> Tables:
    """Tables of the models ``models`` [M] with evaluation table ``e_table`` [M, R]."""
    return Tables(models=models, e_table=jnp.asarray(e_table, jnp.float32), set_b_mask=jnp.asarray(set_b_masks(cfg)))


@struct.dataclass
class LcmState:
    """LCM state of one UE in one lane (``simulate_block`` carries it with leading [G, Q]).

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


def init_state(ue: UeState, cfg: BeamConfig, lc: LcmConfig, tables: Tables) -> LcmState:
    """LCM state of one UE at t = 0: the best evaluated model of its initial region, ref to be set."""
    r0 = region_of(ue.pos, cfg.n_regions)
    n_m = tables.e_table.shape[0]
    own = unflat_id(jnp.arange(n_m), lc.n_model_ids, cfg.n_regions)[2] == r0
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


def decide(st: LcmState, rsrp, meas, region, logits, params: LcmParams, tables: Tables, cfg: BeamConfig,
           lc: LcmConfig):
    """Metrics of one window and the monitoring/adaptation decision for one UE in one lane.

    Args:
      st: the UE's state at the window start.
      rsrp, meas: [W, B] true and measured L1-RSRP [dBm]; region: [W] int32.
      logits: [W, B] of the active model on this window's Set B measurements.
      params: the lane's gamma_db [] and strategy [].
    Returns:
      (new state, outputs) with outputs e [W] dB, msgs [W] int8, active [] (model used in this window),
      trigger [] bool.
    """
    w = rsrp.shape[0]
    sb, mid, _ = unflat_id(st.active, lc.n_model_ids, cfg.n_regions)
    # During Steps 1-5 the UE uses legacy beam management (the strongest measured beam of its Set B).
    legacy = st.adapting & (jnp.arange(w) < msg.N_MESSAGES)
    scores = jnp.where(legacy[:, None], legacy_scores(meas, tables.set_b_mask[sb]), logits)
    e = e_rsrp(rsrp, jnp.argmax(scores, axis=-1))
    hits = st.hits + jnp.sum(top_k(scores, jnp.argmax(rsrp, axis=-1), lc.k_max), axis=0).astype(jnp.int32)
    msgs = jnp.where(legacy, jnp.arange(w) + 1, msg.NONE).astype(jnp.int8)

    used = ~legacy
    e_win = jnp.sum(jnp.where(used, e, 0.0)) / jnp.maximum(jnp.sum(used), 1)
    set_ref = st.ref_pending
    ref = jnp.where(set_ref, e_win, st.ref)
    trigger = (params.strategy != msg.NON_LCM) & ~set_ref & (e_win > ref + params.gamma_db)

    r_end = region[-1]
    n_m = tables.e_table.shape[0]
    m_dataset = ((sb * lc.n_model_ids + mid) * cfg.n_regions + r_end).astype(jnp.int32)
    # proposed: Step 1 marks the current model; Step 3 recommends the region's models not on the list.
    prop = trigger & (params.strategy == msg.PROPOSED)
    nonrec = st.nonrec | (prop & (jnp.arange(n_m) == st.active))
    region_models = unflat_id(jnp.arange(n_m), lc.n_model_ids, cfg.n_regions)[2] == r_end
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


def lcm_window(ue_keys, ue: UeState, st: LcmState, wi, params: LcmParams, tables: Tables, chp: ChannelParams,
               mp: MobilityParams, cfg: BeamConfig, lc: LcmConfig):
    """One LCM window of a block of Q UEs in G lanes sharing one channel.

    Args:
      ue_keys: [Q] typed keys of the UEs; the window's innovations come from fold_in(ue_key, wi).
      ue: UeState with leading [Q]; st: LcmState with leading [G, Q]; wi: [] window index.
      params: LcmParams with fields [G].
    Returns:
      (ue, st, outputs) with outputs e [G, Q, W] dB, msgs [G, Q, W] int8, active [G, Q], trigger [G, Q],
      region [Q] (the region at the window end).
    """
    wkeys = jax.vmap(lambda k: jax.random.fold_in(k, wi))(ue_keys)
    ue, rsrp, meas, region = jax.vmap(lambda k, s: channel_window(k, s, cfg, chp, mp, lc))(wkeys, ue)
    tile = tile_size(ue_keys.shape[0], tables.e_table.shape[0])

    def lane(st, prm):
        set_b_id = unflat_id(st.active, lc.n_model_ids, cfg.n_regions)[0]
        x = jax.vmap(lambda m, b: model_inputs(cfg, m, b))(meas, set_b_id)  # [Q, W, S]
        logits = grouped_logits(tables.models, st.active, x, tile)
        return jax.vmap(lambda s, a, b, c, d: decide(s, a, b, c, d, prm, tables, cfg, lc))(
            st, rsrp, meas, region, logits)

    st, out = jax.vmap(lane)(st, params)
    out["region"] = region[:, -1]
    return ue, st, out


def simulate_block(ue_keys, params: LcmParams, tables: Tables, chp: ChannelParams, mp: MobilityParams, *,
                   cfg: BeamConfig, lc: LcmConfig):
    """The LCM of a block of Q UEs for lc.n_windows * lc.window steps (a ``map_ues`` kernel, batched=True).

    Args:
      ue_keys: [Q] typed keys (consumed): UE q's start state and its windows' innovations.
      params: LcmParams with fields [G], one lane per (strategy, gamma) pair.
    Returns:
      dict with e [Q, G, T] dB per step, msgs [Q, G, T] int8 (if lc.keep_messages), active [Q, G, n_windows]
      (model used in each window), trigger [Q, G, n_windows] bool, hits [Q, G, K] int32,
      n_trigger [Q, G], n_fallback [Q, G], region [Q, n_windows] int32 (region at each window end).
    """
    ue = jax.vmap(lambda k: init_ue(k, cfg))(ue_keys)
    st0 = jax.vmap(lambda u: init_state(u, cfg, lc, tables))(ue)
    n_g, n_ue = params.gamma_db.shape[0], ue_keys.shape[0]
    st = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n_g, *a.shape)), st0)

    def window(carry, wi):
        ue, st = carry
        ue, st, out = lcm_window(ue_keys, ue, st, wi, params, tables, chp, mp, cfg, lc)
        if not lc.keep_messages:
            del out["msgs"]
        return (ue, st), out

    (ue, st), out = jax.lax.scan(window, (ue, st), jnp.arange(lc.n_windows))

    def steps(a):  # [n_win, G, Q, W] -> [Q, G, T]
        return jnp.moveaxis(a, 0, 2).reshape(n_g, n_ue, -1).swapaxes(0, 1)

    def windows(a):  # [n_win, G, Q] -> [Q, G, n_win]
        return jnp.moveaxis(a, 0, -1).swapaxes(0, 1)

    res = {
        "e": steps(out["e"]),
        "active": windows(out["active"]),
        "trigger": windows(out["trigger"]),
        "hits": st.hits.swapaxes(0, 1),
        "n_trigger": st.n_trigger.T,
        "n_fallback": st.n_fallback.T,
        "region": out["region"].T,
    }
    if lc.keep_messages:
        res["msgs"] = steps(out["msgs"])
    return res


def simulate(point_key, n_ue: int, params: LcmParams, tables: Tables, chp: ChannelParams, mp: MobilityParams, *,
             cfg: BeamConfig, lc: LcmConfig, ue_block: int = UE_BLOCK, chunk_size: int | None = None):
    """Runs the LCM of ``n_ue`` UEs for lc.n_windows * lc.window steps (host numpy results).

    The channel (trajectories, RSRPs) is computed once per window and shared by G "lanes", each an
    (LCM strategy, gamma) pair given by ``params`` with leading axis [G]: the strategies are compared on
    identical channels (common random numbers), and a gamma sweep costs one channel simulation.

    Args:
      point_key: typed key of the experiment point; UE u uses fold_in(point_key, u).
      n_ue: U.
      params: LcmParams with gamma_db [G], strategy [G] (``lanes``).
      ue_block: UEs per block (see ``UE_BLOCK``); results depend on it in the last float bits only
        through the grouped inference's tile size.
      chunk_size: UEs per chunk of ``map_ues`` (None: the runner's ``--ue-chunk``); results do not
        depend on it.
    Returns:
      dict with e [G, U, T] dB per step, msgs [G, U, T] int8 (if keep_messages), active [G, U, n_windows],
      trigger [G, U, n_windows] bool, hits [G, U, K] int32, n_trigger [G, U], n_fallback [G, U],
      region [U, n_windows] int32 (region at each window end).
    """
    out = map_ues(simulate_block, point_key, n_ue, params, tables, chp, mp, static={"cfg": cfg, "lc": lc},
                  micro_batch=ue_block, chunk_size=chunk_size, batched=True)
    return {k: v if k == "region" else np.moveaxis(v, 0, 1) for k, v in out.items()}


def lanes(strategies, gammas) -> LcmParams:
    """LcmParams batched over the (strategy, gamma) pairs given as equal-length sequences."""
    return LcmParams(gamma_db=jnp.asarray(gammas, jnp.float32), strategy=jnp.asarray(strategies, jnp.int32))

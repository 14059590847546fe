"""Benchmarks of beam prediction and LCM: ``beam-train`` (54 models vmapped vs sequential) and ``lcm`` (UE-steps/s).

beam-train: per depth, the 18 models of that depth trained in one vmapped jit, against two sequential
baselines, each timed for one model and multiplied by 18 (the 18 runs are identical in cost):
  * "standard loop" (the target's reference): the usual flax loop a user writes - for each epoch a numpy
    shuffle, then for each minibatch of 50 a jitted ``train_step`` called from Python (no per-step host
    sync: losses stay on device until the epoch ends), then a jitted validation call;
  * "scanned": the same fully jitted ``train_one`` kernel as the vmapped path, without vmap (the
    strongest sequential baseline: no Python per step at all).
To keep the run short everything is timed for ``epochs_timed`` epochs (the standard loop: best of 3 epochs
after one warm-up epoch) and scaled linearly to 30 (an epoch is a fixed number of identical minibatch
steps). Target: vmapped >= 2.5x faster than the standard loop; the scanned ratio is reported beside it.
The vmapped trainer gathers each epoch's shuffled samples once and slices contiguous minibatches, and
counts a Top-1 hit as logit[label] >= max (both leave the trained weights bit-identical).
GEMM floor, measured in the same run: the 18 models' training GEMMs alone (forward, and the two backward
products per layer, less the first layer's input gradient) at the batched rate this machine reaches for the minibatch
shape [18, 50, 64] x [18, 64, 64] (a jitted ``lax.scan`` of 200 batched matmuls, so no dispatch cost);
``ceiling_vs_standard_loop`` = standard loop time / GEMM floor, the speed-up a vmapped trainer whose step
cost nothing but its matmuls would reach.

lcm: the real workloads, run as the experiment runs them (``ltjax.lcm.engine.simulate`` through
``ltjax.batching.map_ues`` in blocks of ``UE_BLOCK`` UEs, results copied to the host): the 13-lane gamma
sweep of ``sweeps/lcm_gamma.toml`` at U = 1000 over all 5000 steps (target < 2 min), and one lane at
10,000 UEs for 500 steps extrapolated linearly to 5000 (target < 60 s). The run also times, on 10,000 UEs,
blocks and one 50-step window, the parts of a UE-step apart (each through ``map_ues``, best of 3; each UE
returns a sum so that only the compute is timed): the 24 mobility/fading innovations alone (``normals``),
the whole channel window (mobility, Set A RSRP, region; includes the normals), the grouped inference of
random active models with its scoring (argmax, e_RSRP, ranks; ``inference_and_scores``) and the model
matmuls alone (``model_matmuls``); ``floor`` = channel window + inference and scores, the work every
UE-step of a lane must do, non-matmul work included.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp

from ltjax.batching import map_ues
from ltjax.bench import register_bench
from ltjax.bench.common import print_table, time_jitted, write_bench

LCM_BUDGET_US = 1e6 * 60.0 / (10_000 * 5000)  # the target, 10k UEs x 5000 steps in 60 s, per UE-step


def _load():
    return os.getloadavg()[0]


def _gpu_fields() -> dict:
    """``gpu``/``gpu_reason`` of the payload: these benchmarks time the default backend only."""
    backend = jax.default_backend()
    if backend == "gpu":
        return {"gpu": jax.devices()[0].device_kind, "gpu_reason": None}
    return {"gpu": None, "gpu_reason": f"no GPU visible to JAX (backend {backend!r}); GPU figures not measured"}


def _batched_gemm_gflops(n_models: int, batch: int, width: int, repeats: int = 200) -> float:
    """GFLOP/s of [n_models, batch, width] x [n_models, width, width] batched matmuls in a jitted scan."""
    x = jax.random.normal(jax.random.key(0), (n_models, batch, width))
    w = jax.random.normal(jax.random.key(1), (n_models, width, width)) / width ** 0.5

    def body(h, _):
        return jnp.einsum("mbk,mkn->mbn", h, w), None

    fn = jax.jit(lambda h: jax.lax.scan(body, h, None, length=repeats)[0])
    t = time_jitted(fn, x, repeats=3)
    return 2.0 * n_models * batch * width * width * repeats / t["run_s"] / 1e9


def _train_gemm_flops(depth: int, n_in: int, width: int, n_out: int) -> float:
    """Matmul FLOPs of one training sample-step of the MLP: the forward product of every layer and its two
    backward products (weight and input gradient), less the first layer's input gradient (not needed)."""
    macs = n_in * width + (depth - 1) * width * width + width * n_out
    return 2.0 * (3 * macs - n_in * width)


def _standard_loop_epoch_s(x_tr, y_tr, x_va, y_va, depth: int, tc) -> float:
    """Seconds per epoch of the standard per-minibatch flax loop for one model: the best of 3 epochs after a
    warm-up epoch (one epoch is ~0.1 s, so a load spike on the shared machine would dominate a single one)."""
    import time

    import numpy as np
    import optax

    from ltjax.beam.training import BeamMLP, loss_and_top1

    model = BeamMLP(depth, tc.width)
    x_tr, y_tr = np.asarray(x_tr), np.asarray(y_tr)
    params = model.init(jax.random.key(0), x_tr[:1])
    opt = optax.adam(tc.lr)
    ost = opt.init(params)

    @jax.jit
    def train_step(p, o, xb, yb):
        (loss, acc), g = jax.value_and_grad(lambda q: loss_and_top1(model, q, xb, yb), has_aux=True)(p)
        upd, o = opt.update(g, o, p)
        return optax.apply_updates(p, upd), o, loss, acc

    eval_step = jax.jit(lambda p, x, y: loss_and_top1(model, p, x, y))
    rng = np.random.default_rng(0)
    n_b = x_tr.shape[0] // tc.batch

    def epoch(params, ost):
        perm = rng.permutation(x_tr.shape[0])[: n_b * tc.batch].reshape(n_b, tc.batch)
        losses = []
        for idx in perm:
            params, ost, loss, acc = train_step(params, ost, x_tr[idx], y_tr[idx])
            losses.append(loss)
        val = eval_step(params, x_va, y_va)
        jax.block_until_ready((params, val))
        float(jnp.mean(jnp.stack(losses)))  # what a user logs once per epoch
        return params, ost

    params, ost = epoch(params, ost)  # warm-up: compiles train_step and eval_step
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        params, ost = epoch(params, ost)
        best = min(best, time.perf_counter() - t0)
    return best


@register_bench("beam-train", "train the 54 beam models vmapped per depth vs sequentially (target >= 2.5x)")
def bench_beam_train(args):
    from ltjax.beam.config import BeamConfig, ChannelParams
    from ltjax.beam.training import TrainConfig, split_inputs, train_depth, train_one
    from ltjax.experiments.beam_train import datasets

    cfg = BeamConfig()
    full = TrainConfig()
    tc = dataclasses.replace(full, n_per_region=1000, epochs=1) if args.quick else dataclasses.replace(full, epochs=3)
    train, _ = datasets(0, cfg, ChannelParams(), tc)
    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, train)
    keys = jax.random.split(jax.random.key(0), x_tr.shape[0])
    scale = full.epochs / tc.epochs
    rows, tot_v, tot_s, tot_l, tot_f = [], 0.0, 0.0, 0.0, 0.0
    load0 = _load()
    gemm_gflops = _batched_gemm_gflops(int(x_tr.shape[0]), tc.batch, tc.width)
    n_steps_30 = (int(x_tr.shape[1]) // tc.batch) * full.epochs
    for depth in tc.depths:
        fv = jax.jit(train_depth, static_argnums=(5, 6))
        fs = jax.jit(train_one, static_argnums=(5, 6))
        tv = time_jitted(fv, keys, x_tr, y_tr, x_va, y_va, depth, tc, repeats=1)
        ts = time_jitted(fs, keys[0], x_tr[0], y_tr[0], x_va[0], y_va[0], depth, tc, repeats=1)
        te = _standard_loop_epoch_s(x_tr[0], y_tr[0], x_va[0], y_va[0], depth, tc)
        n_m = int(x_tr.shape[0])
        v30, s30, l30 = tv["run_s"] * scale, ts["run_s"] * n_m * scale, te * n_m * full.epochs
        tot_v, tot_s, tot_l = tot_v + v30, tot_s + s30, tot_l + l30
        floor30 = (n_m * tc.batch * n_steps_30 * _train_gemm_flops(depth, cfg.set_b_size, tc.width, cfg.n_beams)
                   / (gemm_gflops * 1e9))
        tot_f += floor30
        rows.append({"depth": depth, "models": n_m, "vmapped_s_30ep": v30, "standard_loop_s_30ep": l30,
                     "gemm_floor_s_30ep": floor30,
                     "speedup_vs_standard_loop": l30 / v30, "scanned_s_30ep": s30, "speedup_vs_scanned": s30 / v30,
                     "compile_vmapped_s": tv["compile_s"], "compile_single_s": ts["compile_s"]})
    speed_l, speed_s = tot_l / tot_v, tot_s / tot_v
    ceiling = tot_l / tot_f
    print_table(rows, list(rows[0]))
    print(f"all 54: vmapped {tot_v:.1f} s; standard per-minibatch loop {tot_l:.1f} s -> {speed_l:.2f}x "
          f"(target >= 2.5x, judged here); fully scanned sequential {tot_s:.1f} s -> {speed_s:.2f}x")
    print(f"GEMM floor of the vmapped training {tot_f:.1f} s at {gemm_gflops:.0f} GFLOP/s "
          f"([{x_tr.shape[0]}, {tc.batch}, {tc.width}] batched matmuls) -> ceiling {ceiling:.2f}x vs the standard loop")
    payload = {"quick": args.quick, "width": tc.width, "n_train_per_model": int(x_tr.shape[1]),
               "epochs_timed": tc.epochs, "scaled_to_epochs": full.epochs, "rows": rows,
               "all54_vmapped_s": tot_v, "all54_standard_loop_s": tot_l, "all54_scanned_s": tot_s,
               "speedup_vs_standard_loop": speed_l, "speedup_vs_scanned": speed_s,
               "batched_gemm_gflops": gemm_gflops, "all54_gemm_floor_s": tot_f,
               "ceiling_vs_standard_loop": ceiling,
               "target": ">= 2.5x vs the standard per-minibatch loop (speedup_vs_standard_loop)",
               "target_met": speed_l >= 2.5,
               "method": ("standard loop = Python loop over minibatches calling a jitted train_step (one model, best of "
                          "3 epochs after a warm-up epoch) x 30 epochs x 18 per depth; scanned = the jitted train_one "
                          "kernel alone x 18 per depth; vmapped and scanned timed for epochs_timed epochs and "
                          "scaled linearly to 30"),
               "load_avg_1min_start_end": [load0, _load()], **_gpu_fields()}
    print(write_bench("beam_train", payload, args.out_dir))


def _normals_part(key, *, cfg, n_steps):
    """One UE's mobility/fading innovations of one window (keyed by step, as the engine draws them), summed
    (``map_ues`` kernel)."""
    from ltjax.beam.mobility import step_innovations

    return jnp.sum(step_innovations(key, 0, n_steps, cfg))


def _channel_part(key, chp, mp, *, cfg, lc):
    """One UE's channel window from its start state, summed (``map_ues`` kernel)."""
    from ltjax.beam.geometry import region_index
    from ltjax.beam.mobility import init_ue
    from ltjax.lcm.engine import channel_window, ue_keys_of

    k_init, keys = ue_keys_of(key)
    ue = init_ue(k_init, cfg)
    _, rsrp, meas, region, _ = channel_window(keys, ue, 0, region_index(ue.pos, cfg), cfg, chp, mp, lc)
    return jnp.sum(rsrp) + jnp.sum(meas), region[-1]


def _inference_part(ue_keys, tables, rsrp, *, cfg, lc):
    """Grouped inference and scoring of a block of UEs with random active models on the windows rsrp [Q, W, B]
    (``map_ues`` kernel, batched): the e_RSRP of every step, [Q, W]."""
    from ltjax.beam.inference import tile_size
    from ltjax.lcm.engine import score_rows

    q = ue_keys.shape[0]
    active = jax.vmap(lambda k: jax.random.randint(k, (), 0, tables.n_models))(ue_keys)
    rows = score_rows(active, jnp.arange(q), rsrp[:q], rsrp[:q], tables, cfg, lc, tile_size(q, tables.n_models))
    return rows.e_model


def _matmul_part(ue_keys, tables, x, *, tile):
    """The model matmuls alone (grouped logits of random active models), summed per UE (batched kernel)."""
    from ltjax.beam.inference import grouped_logits

    q = ue_keys.shape[0]
    active = jax.vmap(lambda k: jax.random.randint(k, (), 0, tables.n_models))(ue_keys)
    return jnp.sum(grouped_logits(tables.models, active, x[:q], tile), axis=(1, 2))


def _lcm_parts(n_ue: int, cfg, chp, mp, lc, tables, block: int) -> dict:
    """Microseconds per UE-step of the LCM's parts on ``n_ue`` UEs and one window (see the module docstring)."""
    from ltjax.beam.inference import tile_size

    w = lc.window
    key = jax.random.key(0)
    q = min(block, n_ue)
    rsrp = -90.0 + 10.0 * jax.random.normal(jax.random.key(1), (q, w, cfg.n_beams))
    x = jax.random.normal(jax.random.key(2), (q, w, cfg.set_b_size))
    parts = {
        "normals": lambda: map_ues(_normals_part, key, n_ue, static={"cfg": cfg, "n_steps": w}, micro_batch=block),
        "channel_window": lambda: map_ues(_channel_part, key, n_ue, chp, mp, static={"cfg": cfg, "lc": lc},
                                          micro_batch=block),
        "inference_and_scores": lambda: map_ues(_inference_part, key, n_ue, tables, rsrp,
                                                static={"cfg": cfg, "lc": lc}, micro_batch=block, batched=True),
        "model_matmuls": lambda: map_ues(_matmul_part, key, n_ue, tables, x,
                                         static={"tile": tile_size(q, tables.n_models)}, micro_batch=block,
                                         batched=True),
    }
    per = 1e6 / (n_ue * w)
    return {name: time_jitted(fn)["run_s"] * per for name, fn in parts.items()}


def _timed_simulate(n_ue: int, n_steps: int, prm, tables, chp, mp, cfg) -> dict:
    """One run of ``simulate`` as the experiment runs it (map_ues, blocks of UE_BLOCK), compile apart."""
    from ltjax.lcm.engine import UE_BLOCK, LcmConfig, simulate

    lc = LcmConfig(window=50, n_windows=n_steps // 50, keep_messages=False)
    t = time_jitted(lambda: simulate(jax.random.key(0), n_ue, prm, tables, chp, mp, cfg=cfg, lc=lc), repeats=1)
    n_lanes = int(prm.gamma_db.shape[0])
    return {"n_ue": n_ue, "steps": n_steps, "lanes": n_lanes, "ue_block": min(UE_BLOCK, n_ue), "run_s": t["run_s"],
            "compile_s": t["compile_s"], "ue_steps_per_s": n_ue * n_steps / t["run_s"]}


@register_bench("lcm", "LCM over mobility: 13-lane gamma sweep at U = 1000 (< 2 min), 10k UEs x 5000 steps x 1 lane "
                       "(< 60 s)")
def bench_lcm(args):
    from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
    from ltjax.beam.training import TrainConfig
    from ltjax.experiments.beam_train import load_models
    from ltjax.lcm import messages as msg
    from ltjax.lcm.engine import UE_BLOCK, LcmConfig, lanes, make_tables

    cfg, chp, mp = BeamConfig(), ChannelParams(), MobilityParams()
    reg, e_tab, t_tab = load_models(0, cfg, chp, TrainConfig())
    tables = make_tables(cfg, reg.padded(), e_tab, t_tab)
    load0 = _load()
    # The gamma sweep of sweeps/lcm_gamma.toml: non-LCM + (only dataset ID, proposed) x 6 gammas = 13 lanes.
    gammas = [5.0, 1.0, 2.0, 3.0, 7.0, 10.0]
    sweep = lanes([msg.NON_LCM] + [s for _ in gammas for s in (msg.ONLY_DATASET, msg.PROPOSED)],
                  [5.0] + [g for g in gammas for _ in range(2)])
    n_sweep, steps_sweep = (200, 1000) if args.quick else (1000, 5000)
    gamma_row = _timed_simulate(n_sweep, steps_sweep, sweep, tables, chp, mp, cfg)
    gamma_row["projected_1000_x_5000_s"] = gamma_row["run_s"] * (1000 * 5000) / (n_sweep * steps_sweep)
    one = lanes([msg.PROPOSED], [5.0])
    n_ue, steps = (1000, 500) if args.quick else (10_000, 500)
    row = _timed_simulate(n_ue, steps, one, tables, chp, mp, cfg)
    proj = 10_000 * 5000 / row["ue_steps_per_s"]
    row["projected_10k_x_5000_s"] = proj
    print_table([gamma_row], list(gamma_row))
    print_table([row], list(row))
    print(f"13-lane gamma sweep, U = 1000 x 5000 steps: {gamma_row['projected_1000_x_5000_s']:.1f} s (target < 120 s)")
    print(f"projected 10k UEs x 5000 steps x 1 lane: {proj:.1f} s (target < 60 s)")
    lc = LcmConfig(window=50, n_windows=1, keep_messages=False)
    parts = _lcm_parts(n_ue, cfg, chp, mp, lc, tables, UE_BLOCK)
    parts["whole_step_one_lane"] = 1e6 / row["ue_steps_per_s"]
    parts["floor"] = parts["channel_window"] + parts["inference_and_scores"]
    print("per UE-step [us]: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
          + f"; budget of the target {LCM_BUDGET_US:.2f}")
    payload = {"quick": args.quick, "gamma_sweep": gamma_row, "one_lane": row, "width": reg.tc.width,
               "target": "13-lane gamma sweep at U = 1000 x 5000 steps < 120 s; 10k x 5000 x 1 lane < 60 s",
               "target_met": {"gamma_sweep": gamma_row["projected_1000_x_5000_s"] < 120.0, "one_lane": proj < 60.0},
               "method": ("simulate through map_ues (blocks of ue_block UEs, results copied to the host) as the "
                          "experiment runs it; the gamma sweep over all 5000 steps (its distinct (UE, model) rows "
                          "grow as lanes adapt), the 1-lane run over 500 steps scaled linearly (uniform in time); "
                          "parts each through map_ues on one 50-step window, best of 3; floor = channel window "
                          "(mobility, innovations, 64-beam RSRP, region) + inference and scoring of one model per "
                          "UE-step (matmuls, argmax, e_RSRP, ranks): the work every UE-step of a lane must do"),
               "per_ue_step_us": parts, "budget_per_ue_step_us": LCM_BUDGET_US,
               "load_avg_1min_start_end": [load0, _load()], **_gpu_fields()}
    print(write_bench("lcm", payload, args.out_dir))

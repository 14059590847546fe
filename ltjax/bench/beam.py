"""Benchmarks of the beam/LCM issue: ``beam-train`` (54 models vmapped vs sequential) and ``lcm`` (UE-steps/s).

beam-train: per depth, the 18 models of that depth trained in one vmapped jit, against one model trained
alone (same jitted kernel, no vmap) multiplied by 18 (sequential = 18 identical calls, so timing one is
exact up to noise). To keep the run short both are timed for ``epochs_timed`` epochs and scaled linearly
to 30 (an epoch is a fixed number of identical minibatch steps). Target: vmapped >= 5x faster.

lcm: the full LCM scan (channel + grouped inference + decision, one strategy lane) in UE-steps/s; the
full mode times 10,000 UEs for ``steps_timed`` steps and extrapolates linearly to 5000 steps.
Target: 10k UEs x 5000 steps < 60 s.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp

from ltjax.bench import register_bench
from ltjax.bench.common import print_table, time_jitted, write_bench

NO_GPU = "no GPU lent to this task (CPU-only helper machine); not measured"


def _load():
    return os.getloadavg()[0]


@register_bench("beam-train", "train the 54 beam models vmapped per depth vs sequentially (target >= 5x)")
def bench_beam_train(args):
    from ltjax.beam.config import BeamConfig, ChannelParams
    from ltjax.beam.model import TrainConfig, datasets, split_inputs, train_depth, train_one

    cfg = BeamConfig()
    full = TrainConfig()
    tc = dataclasses.replace(full, n_per_region=1000, epochs=1) if args.quick else dataclasses.replace(full, epochs=3)
    train, _ = datasets(0, cfg, ChannelParams(), tc)
    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, train)
    keys = jax.random.split(jax.random.key(0), x_tr.shape[0])
    scale = full.epochs / tc.epochs
    rows, tot_v, tot_s = [], 0.0, 0.0
    load0 = _load()
    for depth in tc.depths:
        fv = jax.jit(train_depth, static_argnums=(5, 6))
        fs = jax.jit(train_one, static_argnums=(5, 6))
        tv = time_jitted(fv, keys, x_tr, y_tr, x_va, y_va, depth, tc, repeats=1)
        ts = time_jitted(fs, keys[0], x_tr[0], y_tr[0], x_va[0], y_va[0], depth, tc, repeats=1)
        v30, s30 = tv["run_s"] * scale, ts["run_s"] * x_tr.shape[0] * scale
        tot_v, tot_s = tot_v + v30, tot_s + s30
        rows.append({"depth": depth, "models": int(x_tr.shape[0]), "vmapped_s_30ep": v30, "sequential_s_30ep": s30,
                     "speedup": s30 / v30, "compile_vmapped_s": tv["compile_s"], "compile_single_s": ts["compile_s"]})
    speed = tot_s / tot_v
    print_table(rows, list(rows[0]))
    print(f"all 54: vmapped {tot_v:.1f} s, sequential {tot_s:.1f} s, speedup {speed:.2f}x (target >= 5x)")
    payload = {"quick": args.quick, "width": tc.width, "n_train_per_model": int(x_tr.shape[1]),
               "epochs_timed": tc.epochs, "scaled_to_epochs": full.epochs, "rows": rows,
               "all54_vmapped_s": tot_v, "all54_sequential_s": tot_s, "speedup": speed,
               "target": ">= 5x", "target_met": speed >= 5.0,
               "method": "sequential = one model timed alone x 18 per depth; both scaled linearly from epochs_timed",
               "load_avg_1min_start_end": [load0, _load()], "gpu": None, "gpu_reason": NO_GPU}
    print(write_bench("beam_train", payload, args.out_dir))


@register_bench("lcm", "LCM scan over mobility in UE-steps/s (target 10k UEs x 5000 steps < 60 s)")
def bench_lcm(args):
    from ltjax.beam.config import BeamConfig, ChannelParams, MobilityParams
    from ltjax.beam.model import TrainConfig, load_or_train_tables
    from ltjax.lcm import messages as msg
    from ltjax.lcm.engine import LcmConfig, lanes, make_tables, simulate

    cfg, chp = BeamConfig(), ChannelParams()
    reg, e_tab, _ = load_or_train_tables(0, cfg, chp, TrainConfig())
    tables = make_tables(cfg, reg.padded(), e_tab)
    n_ue, steps = (1000, 500) if args.quick else (10_000, 500)
    lc = LcmConfig(window=50, n_windows=steps // 50, keep_messages=False)
    prm = lanes([msg.PROPOSED], [5.0])
    fn = jax.jit(simulate, static_argnums=(2, 3))
    load0 = _load()
    t = time_jitted(fn, jax.random.key(0), jnp.arange(n_ue), cfg, lc, prm, chp, MobilityParams(), tables, repeats=1)
    rate = n_ue * steps / t["run_s"]
    proj = 10_000 * 5000 / rate
    row = {"n_ue": n_ue, "steps": steps, "run_s": t["run_s"], "compile_s": t["compile_s"], "ue_steps_per_s": rate,
           "projected_10k_x_5000_s": proj}
    print_table([row], list(row))
    print(f"projected 10k UEs x 5000 steps: {proj:.1f} s (target < 60 s)")
    payload = {"quick": args.quick, **row, "lanes": 1, "width": reg.tc.width, "target": "< 60 s for 10k x 5000",
               "target_met": proj < 60.0,
               "method": "one strategy lane; timed steps scaled linearly to 5000 (the scan is uniform in time)",
               "load_avg_1min_start_end": [load0, _load()], "gpu": None, "gpu_reason": NO_GPU}
    print(write_bench("lcm", payload, args.out_dir))

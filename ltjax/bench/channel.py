"""``ltjax bench channel``: UE-slots/s of TDL-C 2x4 MIMO frequency responses over 106 RBs.

Letters: U UEs, S slots, R resource blocks, L taps, Nr x Nt antennas, K sinusoids.

JAX: a per-UE kernel (draw the UE's channel, then ``channel_freq_response`` vmapped over
its S slots) batched over U UEs by ``ltjax.batching.map_ues``, the batching boundary every
experiment uses; compile time is reported apart; the output [U, S, R, Nr, Nt] complex64 is
materialised on the host. The channel draw is timed on its own (a kernel that draws the
channel and returns a checksum) and subtracted, so the rate is that of the frequency
responses.
Reference: a per-UE NumPy loop doing the same maths (all S slots of one UE vectorised in
NumPy, which is the strongest per-UE NumPy form), timed on a subset of UEs and scaled per
UE. The two agree to float32 precision (``max_abs_diff``). Target: >= 50x the NumPy loop.
For context only, a loop over UEs *and* slots (one NumPy call per UE-slot) is also timed
(``speedup_vs_per_slot_loop``); the target is judged against the stronger per-UE loop.
"""

from __future__ import annotations

import time

import numpy as np

from ltjax.bench import register_bench
from ltjax.bench.common import print_table, time_jitted, write_bench

TARGET_SPEEDUP = 50.0


def _numpy_one_ue(amplitudes, cos_aoa, times, powers, cycles_norm, ds, fd):
    """Same maths as ltjax.channels.channel_freq_response for one UE, all S slots: [S, R, Nr, Nt]."""
    k = cos_aoa.shape[-1]
    phase = 2.0 * np.pi * fd * cos_aoa[None] * times[:, None, None]  # [S, L, K]
    rot = np.cos(phase) + 1j * np.sin(phase)
    taps = np.einsum("lrtk,slk->slrt", amplitudes, rot) * np.sqrt(powers / k)[None, :, None, None]
    ang = -2.0 * np.pi * cycles_norm * ds  # [R, L]
    steer = np.cos(ang) + 1j * np.sin(ang)
    return np.einsum("fl,slrt->sfrt", steer, taps)


def _freq_responses(ue_key, params, times, *, cfg):
    """One UE: its channel drawn from ``ue_key``, then H at every time: complex64 [S, R, Nr, Nt]."""
    import jax

    from ltjax.channels import channel_freq_response, init_channel

    state = init_channel(ue_key, cfg)
    return jax.vmap(lambda t: channel_freq_response(state, t, cfg, params))(times)


def _channel_draw(ue_key, *, cfg):
    """One UE's channel state (what ``_freq_responses`` draws before its slots)."""
    from ltjax.channels import init_channel

    return init_channel(ue_key, cfg)


def _channel_draw_checksum(ue_key, *, cfg):
    """The channel draw alone, reduced to a scalar so that timing it moves no large array."""
    import jax.numpy as jnp

    state = _channel_draw(ue_key, cfg=cfg)
    return jnp.sum(jnp.abs(state.amplitudes)) + jnp.sum(state.cos_aoa)


@register_bench("channel", "UE-slots/s of TDL-C 2x4 frequency responses (106 RBs), JAX vmap vs per-UE NumPy")
def run(args):
    import jax
    import jax.numpy as jnp

    from ltjax.batching import map_ues
    from ltjax.channels import ChannelConfig, ChannelParams
    from ltjax.channels import normalized_profile, slot_duration_s

    cfg = ChannelConfig(model="C", n_rx=2, n_tx=4, n_rb=106, correlation="low")
    params = ChannelParams(jnp.float32(200e-9), jnp.float32(50.0))
    delays_norm, powers = normalized_profile("C")
    cycles_norm = np.outer(cfg.rb_frequencies_hz(), delays_norm)
    sizes = [(1000, 4), (10000, 2)] if args.quick else [(1000, 20), (10000, 4)]
    n_ref = 20 if args.quick else 100
    key = jax.random.key(0)
    rows = []
    for n_ue, n_slot in sizes:
        times = jnp.asarray(1.0 + slot_duration_s(cfg.scs_hz) * np.arange(n_slot), jnp.float32)
        t = time_jitted(lambda: map_ues(_freq_responses, key, n_ue, params, times, static={"cfg": cfg}),
                        repeats=3)
        t_draw = time_jitted(lambda: map_ues(_channel_draw_checksum, key, n_ue, static={"cfg": cfg}),
                             repeats=3)
        run_s = max(t["run_s"] - t_draw["run_s"], 1e-9)
        jax_rate = n_ue * n_slot / run_s
        states = map_ues(_channel_draw, key, n_ref, static={"cfg": cfg})  # the first n_ref UEs' channels

        amp = np.asarray(states.amplitudes).astype(np.complex128)
        cos = np.asarray(states.cos_aoa).astype(np.float64)
        times_np = np.asarray(times, np.float64)
        t0 = time.perf_counter()
        ref = [_numpy_one_ue(amp[u], cos[u], times_np, powers, cycles_norm, 200e-9, 50.0)
               for u in range(n_ref)]
        np_s = time.perf_counter() - t0
        np_rate = n_ref * n_slot / np_s
        # Context only: the same loop also over slots (one NumPy call per UE-slot).
        n_ref2 = max(n_ref // 5, 1)
        t0 = time.perf_counter()
        for u in range(n_ref2):
            for s in range(n_slot):
                _numpy_one_ue(amp[u], cos[u], times_np[s:s + 1], powers, cycles_norm, 200e-9, 50.0)
        np_slot_rate = n_ref2 * n_slot / (time.perf_counter() - t0)
        got = map_ues(_freq_responses, key, n_ref, params, times, static={"cfg": cfg})
        # Context: a bare complex GEMM of the frequency stage alone, [R, L] x [L, U S Nr Nt]
        # (the bulk of the flops), shows how close the kernel is to this machine's limit.
        a = jnp.ones((cfg.n_rb, len(powers)), jnp.complex64)
        x = jnp.ones((len(powers), n_ue * n_slot * cfg.n_rx * cfg.n_tx), jnp.complex64)
        gemm_s = time_jitted(jax.jit(jnp.matmul), a, x, repeats=3)["run_s"]
        del x
        rows.append({
            "n_ue": n_ue, "n_slot": n_slot, "compile_s": t["compile_s"], "jax_run_s": run_s,
            "jax_run_with_channel_draw_s": t["run_s"], "channel_draw_s": t_draw["run_s"],
            "jax_ue_slots_per_s": jax_rate, "numpy_ue_subset": n_ref, "numpy_s_subset": np_s,
            "numpy_ue_slots_per_s": np_rate, "speedup": jax_rate / np_rate,
            "numpy_per_slot_loop_ue_slots_per_s": np_slot_rate,
            "speedup_vs_per_slot_loop": jax_rate / np_slot_rate,
            "target_met": bool(jax_rate / np_rate >= TARGET_SPEEDUP),
            "max_abs_diff": float(np.max(np.abs(got - np.stack(ref)))),
            "bare_freq_gemm_s": gemm_s, "kernel_over_bare_gemm": run_s / gemm_s,
        })
    print_table(rows, ["n_ue", "n_slot", "compile_s", "jax_run_s", "jax_ue_slots_per_s",
                       "numpy_ue_slots_per_s", "speedup", "target_met",
                       "speedup_vs_per_slot_loop", "kernel_over_bare_gemm", "max_abs_diff"])
    payload = {
        "what": "TDL-C200 2x4 MIMO frequency response over 106 RBs at 30 kHz SCS, K=16 sinusoids,"
                " L=24 taps; JAX: per-UE kernel (vmap over slots) batched by ltjax.batching.map_ues,"
                " channel-draw time subtracted, vs per-UE NumPy loop (slots vectorised within a UE),"
                " NumPy timed on a subset of UEs and scaled per UE",
        "micro_batch": 32,
        "quick": bool(args.quick),
        "target": f">= {TARGET_SPEEDUP:g}x the per-UE NumPy loop",
        "target_met": all(r["target_met"] for r in rows),
        "rows": rows,
        "device": str(jax.devices()[0]),
        "gpu": str(jax.devices()[0]) if jax.devices()[0].platform == "gpu" else None,
        "gpu_reason": None if jax.devices()[0].platform == "gpu" else "no GPU visible to JAX (CPU-only run)",
    }
    path = write_bench("channel", payload, args.out_dir)
    print(f"wrote {path}; target >= {TARGET_SPEEDUP:g}x: {'met' if payload['target_met'] else 'NOT met'}")
    return payload

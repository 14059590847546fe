"""``ltjax bench channel``: TDL-C200 2x4 frequency responses over 106 RBs, ltjax against Sionna.

Job: U UEs x S slots of the TR 38.901 TDL-C channel (delay spread 200 ns, maximum Doppler
50 Hz, K = 16 sinusoids, 2 UE antennas x 4 gNB ports, no spatial correlation), its
frequency response at the centre of each of R = 106 RBs at 30 kHz SCS, one sample per
0.5 ms slot, complex64 [U, S, R, Nr, Nt] materialised, so U * S UE-slots per call.

Peer: NVIDIA Sionna (``sionna-no-rt`` 2.2, PyTorch CPU, 2 threads):
``sionna.phy.channel.tr38901.TDL`` + ``sionna.phy.channel.cir_to_ofdm_channel``
(:mod:`ltjax.bench.peers.sionna_channel`). Sionna draws new channels on every call, so the
headline ltjax side does too (``ltjax_draw_each_call``: ``init_channel`` then
``channel_freq_response`` vmapped over UEs and slots, one jitted call); ``ltjax_drawn_once``
evaluates channels drawn once (how the link engine uses them). The three run alternating,
median and spread of >= 3 calls each (:func:`ltjax.bench.peers.timing.compare`).

Roofline: the FLOPs are counted by hand in real arithmetic (XLA counts a complex
multiply-add as 2 FLOPs, not 8: see :mod:`ltjax.bench.roofline`), the bytes are XLA's.
Floors measured in the same run: the bare complex GEMM of the frequency stage
[R, L] x [L, U S Nr Nt], the bulk of the FLOPs, and the time to write the output
[U, S, R, Nr, Nt] to fresh memory at the measured first-touch bandwidth.

Letters: U UEs, S slots, R resource blocks, L taps, K sinusoids, Nr x Nt antennas.
"""

from __future__ import annotations

from ltjax.bench import register_bench
from ltjax.bench.common import (Record, comparison, goal, kernel_roofline, machine_ceilings, peer_info,
                                print_summary, time_jitted)

SEED = 0
# (UEs, slots) per mode; the full size is the one a Sionna user would run for one 80 ms period.
SIZES = {"full": [(1000, 160)], "quick": [(100, 16)]}
REPEATS = 3
TARGET_VS_SIONNA = 10.0
TARGET_OVER_GEMM = 1.5
PEER_CODE_PATH = ("sionna.phy.channel.tr38901.TDL(model='C', delay_spread=200e-9, num_sinusoids=16, "
                  "num_rx_ant=2, num_tx_ant=4, precision='single', device='cpu')(batch_size, "
                  "num_time_steps=S, sampling_frequency=2000) -> sionna.phy.channel.cir_to_ofdm_channel("
                  "rb_centres, a, tau), 100 UEs per call into one preallocated tensor, torch 2 threads")


def _bare_gemm_s(n_ue: int, n_slot: int, n_taps: int) -> float:
    """Best time of the complex64 GEMM [R, L] x [L, U S Nr Nt] alone (the frequency stage)."""
    import jax
    import jax.numpy as jnp

    from ltjax.bench.peers.sionna_channel import N_RB, N_RX, N_TX

    a = jnp.ones((N_RB, n_taps), jnp.complex64)
    x = jnp.ones((n_taps, n_ue * n_slot * N_RX * N_TX), jnp.complex64)
    return time_jitted(jax.jit(jnp.matmul), a, x, repeats=REPEATS)["run_s"]


@register_bench("channel", "TDL-C200 2x4 frequency responses (106 RBs): ltjax vs Sionna TDL, same draws per call")
def run(args):
    from ltjax.bench.peers import sionna_channel as sc
    from ltjax.bench.peers.timing import compare
    from ltjax.bench.roofline import cost_of

    quick = bool(getattr(args, "quick", False))
    sizes = SIZES["quick" if quick else "full"]
    rec = Record("channel", "TDL-C200 2x4 MIMO frequency response over 106 RBs at 30 kHz SCS, K = 16 "
                 "sinusoids, L = 24 taps, fresh channel draws every call, output materialised",
                 {"sizes_ue_slot": sizes, "n_rb": sc.N_RB, "antennas": [sc.N_RX, sc.N_TX],
                  "delay_spread_s": sc.DELAY_SPREAD_S, "doppler_hz": sc.DOPPLER_HZ,
                  "num_sinusoids": sc.N_SINUSOIDS, "correlation": "none (TS 38.101-4 low)",
                  "repeats": REPEATS, "torch_threads": 2}, SEED, quick)
    peer = peer_info("Sionna TDL", PEER_CODE_PATH, sc.available)
    rec.payload["peer"] = peer
    ceilings = machine_ceilings(quick)
    kernels, floors = [], []
    for n_ue, n_slot in sizes:
        run_draw, kernel, kargs = sc.ltjax_tdl_callable(n_ue, n_slot, draw=True, seed=SEED)
        run_once, _, _ = sc.ltjax_tdl_callable(n_ue, n_slot, draw=False, seed=SEED)
        fns = {}
        if peer["available"]:
            import torch

            from ltjax.bench.peers import set_torch_threads

            set_torch_threads(2)
            tdl = sc.make_sionna_tdl(seed=SEED)
            out = torch.empty((n_ue, 1, sc.N_RX, 1, sc.N_TX, n_slot, sc.N_RB), dtype=torch.complex64)
            fns["sionna_tdl"] = lambda: sc.sionna_freq_response(tdl, n_ue, n_slot, out=out, chunk=100)
        fns["ltjax_draw_each_call"] = run_draw
        fns["ltjax_drawn_once"] = run_once
        report = compare(fns, repeats=REPEATS, work=float(n_ue * n_slot))
        case = f"{n_ue} UEs x {n_slot} slots"
        rec.payload["comparisons"].append(comparison(case, "UE-slots/s", report, "ltjax_draw_each_call",
                                                     ["sionna_tdl"]))
        xla = cost_of(kernel, *kargs)
        hand = sc.hand_flops(n_ue, n_slot)
        cost = {"flops": hand["flops"], "bytes_accessed": xla["bytes_accessed"],
                "transcendentals": hand["transcendentals"]}
        seconds = report["results"]["ltjax_draw_each_call"]["median_s"]
        gemm_s = _bare_gemm_s(n_ue, n_slot, n_taps=24)
        out_bytes = n_ue * n_slot * sc.N_RB * sc.N_RX * sc.N_TX * 8
        write_s = out_bytes / (ceilings["bandwidth_fresh_output_gb_per_s"] * 1e9)
        kernels.append(kernel_roofline(f"ltjax TDL, draw each call ({case})", cost, seconds, ceilings,
                                       flops_source="counted by hand in real FLOPs (sionna_channel.hand_flops); "
                                                    "bytes from XLA's cost analysis",
                                       xla_flops=xla["flops"], compile_s=xla["compile_s"]))
        floors.append({"case": case, "bare_freq_gemm_s": gemm_s, "output_bytes": out_bytes,
                       "output_fresh_write_s": write_s,
                       "kernel_s": seconds,
                       "kernel_drawn_once_s": report["results"]["ltjax_drawn_once"]["median_s"],
                       "kernel_over_bare_gemm": seconds / gemm_s,
                       "kernel_drawn_once_over_bare_gemm":
                           report["results"]["ltjax_drawn_once"]["median_s"] / gemm_s,
                       "kernel_over_gemm_plus_write": seconds / (gemm_s + write_s)})
    rec.payload["roofline"] = {"machine": {k: ceilings[k] for k in ("gemm_gflops", "bandwidth_gb_per_s",
                                                                      "bandwidth_fresh_output_gb_per_s")},
                               "kernels": kernels, "floors": floors}
    head = rec.payload["comparisons"][-1]
    vs = head["speedup"].get("sionna_tdl")
    fl = floors[-1]
    if vs:
        # What the same ratio would be if ltjax's kernel ran at its bare-GEMM floor.
        ceiling = head["results"]["sionna_tdl"]["median_s"] / fl["bare_freq_gemm_s"]
        reason = (f"ceiling on this machine: Sionna's median time over the bare frequency GEMM alone is "
                  f"{ceiling:.2f}x, so even a kernel at its GEMM floor would be {ceiling:.2f}x Sionna")
    else:
        ceiling, reason = None, f"Sionna not run: {peer['status']}"
    rec.payload["goals"] = [
        goal(f"ltjax >= {TARGET_VS_SIONNA:g}x Sionna ({head['case']}, draw each call)", TARGET_VS_SIONNA,
             vs["median"] if vs else None, reason=reason, spread=[vs["min"], vs["max"]] if vs else None,
             ceiling_at_gemm_floor=ceiling),
        goal(f"kernel within {TARGET_OVER_GEMM:g}x of its bare frequency GEMM", TARGET_OVER_GEMM,
             fl["kernel_over_bare_gemm"], higher_is_better=False,
             reason=(f"the output alone ({fl['output_bytes'] / 1e9:.2f} GB complex64) takes "
                     f"{fl['output_fresh_write_s']:.3g} s to write to fresh memory at the measured "
                     f"{ceilings['bandwidth_fresh_output_gb_per_s']:.2g} GB/s, against {fl['bare_freq_gemm_s']:.3g} s "
                     f"for the bare GEMM; kernel / (GEMM + write) = {fl['kernel_over_gemm_plus_write']:.2f}")),
    ]
    path = rec.write(getattr(args, "out_dir", None))
    print_summary(rec.payload)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return rec.payload

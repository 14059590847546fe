"""``ltjax bench link-period``: one full 80 ms CSI-RS period for U UEs, and why no peer runs it.

Job: per UE, 160 slots of (TDL-C200 2x4 channel at 106 RBs, DMRS estimation error, LMMSE
SINR of the precoded channel, effective SINR, BLER, ACK/NACK draw, HARQ with chase
combining), then the CSI-RS report (RI/PMI search over the Type I codebook, SNR /
delay-spread / Doppler estimates, CQI) and the 12 LightTune features:
``ltjax.link.init_link`` then ``link_period`` under ``follow_cqi``, with the link defaults
(``LinkConfig()``, ``link_params_for_scenario("TDL-C200", snr_db=15, doppler_hz=50)``),
batched over U UEs by ``ltjax.batching.map_ues`` (the boundary every experiment uses).

Peer: none runs this job. Sionna 2.2 (``sionna-no-rt``) has a PHY abstraction, EESM and
OLLA, but no HARQ processes or chase combining (every ``PHYAbstraction`` call is a new
transport block), no MIESM, no channel-estimation-error abstraction and no CSI report
(no CQI table, no Type I PMI/RI search): see :data:`ltjax.bench.peers.sionna_sys.COVERAGE`.
What a Sionna user can assemble from the pieces that exist, the per-slot loop of Sionna's TDL
channel, a per-RB SINR, ``EESM``, ``PHYAbstraction`` and ``OuterLoopLinkAdaptation``
(:class:`ltjax.bench.peers.sionna_sys.SionnaSysPeriod`), does strictly less work than the
job, so its time is a lower bound on any Sionna-built peer; it is timed (full mode, when
Sionna is installed) and reported as such, never as a like-for-like ratio.

The ltjax side is timed alternating with its own initial state (channel draw + first CSI
report: subtracted per round) and with a floor measured in the same run: the precoded
channel G = H W (2 layers) alone at every slot and RB of every UE (``precoded_channel``,
the channel step of every slot), reduced to a scalar so that no output is written.

Roofline: FLOPs counted from the jaxpr with every scan body times its length
(:func:`ltjax.bench.roofline.jaxpr_flops`: XLA's cost analysis counts the slot scan once);
bytes from XLA's cost analysis (slot scan counted once, so a lower bound).

Letters: U UEs, S slots, R RBs.
"""

from __future__ import annotations

import statistics

from ltjax.bench import register_bench
from ltjax.bench.common import (Record, comparison, goal, kernel_roofline, machine_ceilings, peer_info,
                                print_summary)

SEED = 0
SIZES = {"full": [1_000, 10_000], "quick": [200]}
REPEATS = 3
TARGET_S_10K = 12.0
SIONNA_CONTEXT_UES = 1_000
# UEs vmapped together inside map_ues's loop: it divides 1k and 10k (no padding UEs) and
# keeps the per-slot working set (H, SINR, HARQ buffers of the micro-batch) cache-sized.
MICRO_BATCH = 40
PEER_CODE_PATH = ("none faithful; lower bound: sionna.phy.channel.tr38901.TDL + cir_to_ofdm_channel per period, "
                  "MRC SINR, then per slot sionna.sys.EESM -> PHYAbstraction -> OuterLoopLinkAdaptation "
                  "(ltjax.bench.peers.sionna_sys.SionnaSysPeriod)")


def _init_kernel(ue_key, params):
    """The initial state of one UE; returns its first CSI report (needs the whole init)."""
    import jax

    from ltjax.link import init_link

    return init_link(jax.random.split(ue_key)[0], params).report


def _period_kernel(ue_key, params):
    """The initial state of one UE (as ``_init_kernel``), then one period under ``follow_cqi``."""
    import jax

    from ltjax.link import follow_cqi, init_link, link_period

    k_init, k_period = jax.random.split(ue_key)
    state = init_link(k_init, params)
    _, out = link_period(k_period, state, follow_cqi(state.report), params)
    return out


def _channel_floor_kernel(ue_key, params, times):
    """One UE's channel drawn, then G = H W (2 layers) at every slot time, reduced to sum |G|^2."""
    import jax
    import jax.numpy as jnp

    from ltjax.channels import init_channel, precoded_channel

    cfg = params.cfg.channel
    state = init_channel(jax.random.split(ue_key)[0], cfg)
    w = jnp.eye(cfg.n_tx, 2, dtype=jnp.complex64) / jnp.sqrt(2.0)

    def power(t):
        gr, gi = precoded_channel(state, t, w, cfg, params.channel)
        return jnp.sum(gr * gr + gi * gi)

    return jnp.sum(jax.vmap(power)(times))


def _period_roofline(params, n_ue: int) -> dict[str, float]:
    """FLOPs (loop-aware) and bytes (XLA, loops once) of ``n_ue`` UE-periods, from one micro-batch."""
    import jax

    from ltjax.bench.roofline import cost_of, jaxpr_flops

    keys = jax.random.split(jax.random.key(SEED), MICRO_BATCH)
    batch = jax.jit(jax.vmap(_period_kernel, in_axes=(0, None)))
    xla = cost_of(batch, keys, params)
    counted = jaxpr_flops(batch, keys, params)
    scale = n_ue / MICRO_BATCH
    return {"flops": counted["flops"] * scale, "bytes_accessed": xla["bytes_accessed"] * scale,
            "transcendentals": counted["transcendentals"] * scale, "xla_flops_loops_once": xla["flops"] * scale,
            "while_loops": counted["while_loops"]}


def _period_seconds(report) -> dict[str, float]:
    """Period time per round: (init + period) minus init of the same round; median and spread."""
    both = report["results"]["ltjax_init_and_period"]["samples_s"]
    init = report["results"]["ltjax_init"]["samples_s"]
    d = [max(b - i, 1e-9) for b, i in zip(both, init)]
    return {"median_s": statistics.median(d), "min_s": min(d), "max_s": max(d), "samples_s": d}


def _sionna_context(n_ue: int) -> dict:
    """Sionna's TDL + MRC SINR + per-slot SYS loop for ``n_ue`` UEs x one period (a lower bound)."""
    from ltjax.bench.peers.sionna_sys import time_sionna_sys

    rep = time_sionna_sys(n_ue=n_ue, repeats=REPEATS, with_channel=True, with_ltjax=False)
    return {"what": "lower bound on a Sionna-built peer: it does less than the job (no HARQ, no DMRS error, "
                    "MRC instead of LMMSE/PMI SINR, EESM, per-slot OLLA, no CSI report)",
            "results": rep["results"], "setup": rep["setup"], "faithful_peer": rep["faithful_peer"],
            "coverage": rep["coverage"]}


@register_bench("link-period", "A full 80 ms link period (channel..HARQ, CSI, features) for 1k/10k UEs; "
                "no faithful Sionna peer (stated, lower bound timed)")
def run(args):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ltjax.batching import map_ues
    from ltjax.bench.peers import sionna_sys as ss
    from ltjax.bench.peers.timing import compare
    from ltjax.link import LinkConfig, link_params_for_scenario

    quick = bool(getattr(args, "quick", False))
    sizes = SIZES["quick" if quick else "full"]
    cfg = LinkConfig()
    params = link_params_for_scenario("TDL-C200", snr_db=15.0, doppler_hz=50.0, cfg=cfg)
    rec = Record("link-period", "One 80 ms CSI-RS period (160 slots + CSI report + features) per UE, "
                 "link defaults, batched by ltjax.batching.map_ues",
                 {"channel": "TDL-C200", "doppler_hz": 50.0, "snr_db": 15.0, "n_rb": cfg.channel.n_rb,
                  "slots_per_period": cfg.slots_per_period, "n_harq": cfg.n_harq, "esm": cfg.esm,
                  "ues": sizes, "micro_batch": MICRO_BATCH, "repeats": REPEATS}, SEED, quick)
    ok, why = ss.faithful_peer()
    peer = peer_info("Sionna SYS (no faithful peer)", PEER_CODE_PATH, None, reason=why)
    peer["sionna"] = ss.available()[1]
    rec.payload["peer"] = peer
    rec.payload["coverage"] = {k: {"sionna": v[0], "note": v[1]} for k, v in ss.COVERAGE.items()}
    ceilings = machine_ceilings(quick)
    key = jax.random.key(SEED)
    times = jnp.asarray(1.0 + cfg.slot_s * np.arange(cfg.slots_per_period), jnp.float32)
    kernels, floors, periods = [], [], {}
    for n_ue in sizes:
        fns = {"ltjax_init": lambda n=n_ue: jax.block_until_ready(
                   map_ues(_init_kernel, key, n, params, micro_batch=MICRO_BATCH)),
               "ltjax_init_and_period": lambda n=n_ue: jax.block_until_ready(
                   map_ues(_period_kernel, key, n, params, micro_batch=MICRO_BATCH)),
               "channel_floor": lambda n=n_ue: jax.block_until_ready(
                   map_ues(_channel_floor_kernel, key, n, params, times, micro_batch=MICRO_BATCH))}
        report = compare(fns, repeats=REPEATS, work=float(n_ue))
        case = f"{n_ue} UEs x 1 period"
        entry = comparison(case, "UE-periods/s", report, "ltjax_init_and_period", [])
        per = _period_seconds(report)
        entry["period_only"] = {**per, "rate_median": n_ue / per["median_s"],
                                "ue_slots_per_s": n_ue * cfg.slots_per_period / per["median_s"]}
        periods[n_ue] = per
        rec.payload["comparisons"].append(entry)
        floor_s = report["results"]["channel_floor"]["median_s"]
        floors.append({"case": case, "precoded_channel_all_slots_s": floor_s,
                       "period_s": per["median_s"],
                       "init_and_period_s": report["results"]["ltjax_init_and_period"]["median_s"],
                       "channel_share_of_init_and_period": floor_s /
                       report["results"]["ltjax_init_and_period"]["median_s"]})
        cost = _period_roofline(params, n_ue)
        kernels.append(kernel_roofline(f"ltjax init + period ({case})", cost,
                                       report["results"]["ltjax_init_and_period"]["median_s"], ceilings,
                                       flops_source="jaxpr count with scan bodies times their length "
                                                    "(roofline.jaxpr_flops); bytes from XLA's cost analysis "
                                                    "with the slot scan counted once (a lower bound)",
                                       xla_flops_loops_once=cost["xla_flops_loops_once"]))
    rec.payload["roofline"] = {"machine": {k: ceilings[k] for k in ("gemm_gflops", "bandwidth_gb_per_s",
                                                                      "bandwidth_fresh_output_gb_per_s")},
                               "kernels": kernels, "floors": floors}
    if not quick and ss.available()[0]:
        rec.payload["sionna_lower_bound"] = _sionna_context(SIONNA_CONTEXT_UES)
    big = max(sizes)
    fl = floors[-1]
    rec.payload["goals"].append(goal(
        f"one 80 ms period for 10k UEs in < {TARGET_S_10K:g} s (link defaults)", TARGET_S_10K,
        periods[big]["median_s"] if big == 10_000 else None, unit=" s", higher_is_better=False,
        spread=[periods[big]["min_s"], periods[big]["max_s"]],
        reason=(f"measured at {big} UEs only (quick mode): {periods[big]['median_s']:.3g} s; " if big != 10_000
                else "") + f"floor: the precoded channel alone at every slot and RB of {big} UEs takes "
        f"{fl['precoded_channel_all_slots_s']:.3g} s ({fl['channel_share_of_init_and_period']:.0%} of "
        f"init + period)"))
    path = rec.write(getattr(args, "out_dir", None))
    print_summary(rec.payload)
    for e in rec.payload["comparisons"]:
        p = e["period_only"]
        print(f"  {e['case']}: period alone {p['median_s']:.3g} s [{p['min_s']:.3g}, {p['max_s']:.3g}], "
              f"{p['ue_slots_per_s']:.4g} UE-slots/s")
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return rec.payload

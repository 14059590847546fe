"""The side-by-side benchmarks at tiny sizes: their records, their oracles and their cost counts.

No timed assertions: speed is reported by the benchmarks, never asserted. The peers are
switched off here (the "peer not installed" path) except where a test checks that a peer
does the same work as ltjax.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.bench import common


@pytest.fixture
def tiny_ceilings(monkeypatch):
    """Machine ceilings measured on tiny arrays (the real ones take seconds)."""
    monkeypatch.setitem(common.CEILING_SIZES, "quick", {"gemm_n": 128, "stream_bytes": 4e6, "repeats": 2})
    monkeypatch.setattr(common, "_CEILINGS", {})


def _not_installed():
    return False, "torch is not installed (pip install 'ltjax[bench]')"


def _check_record(path, name: str):
    rec = json.loads(path.read_text())
    assert rec["benchmark"] == name
    assert len(rec["load_average"]["start"]) == 3 and len(rec["load_average"]["end"]) == 3
    assert rec["environment"]["git_sha"] is not None and rec["devices"]
    assert path.with_suffix(".png").stat().st_size > 0
    for k in rec["roofline"]["kernels"]:
        assert k["seconds"] > 0 and k["flops"] > 0 and k["bytes_accessed"] > 0
        assert k["roofline_fraction"] == max(k["flop_fraction"], k["byte_fraction"]) > 0
    assert rec["goals"]
    return rec


# ---- channel ----------------------------------------------------------------------------------------


def _numpy_one_ue(amplitudes, cos_aoa, times, powers, cycles_norm, ds, fd):
    """ltjax.channels.channel_freq_response for one UE at all S times, in NumPy: [S, R, Nr, Nt]."""
    k = cos_aoa.shape[-1]
    phase = 2.0 * np.pi * fd * cos_aoa[None] * times[:, None, None]  # [S, L, K]
    rot = np.cos(phase) + 1j * np.sin(phase)
    taps = np.einsum("lrtk,slk->slrt", amplitudes, rot) * np.sqrt(powers / k)[None, :, None, None]
    ang = -2.0 * np.pi * cycles_norm * ds  # [R, L]
    steer = np.cos(ang) + 1j * np.sin(ang)
    return np.einsum("fl,slrt->sfrt", steer, taps)


def test_channel_bench_kernel_equals_numpy_oracle_and_runs_without_jit():
    from ltjax.bench.peers import sionna_channel as sc
    from ltjax.channels import ChannelConfig, normalized_profile

    _, kernel, (states, times) = sc.ltjax_tdl_callable(3, 4, draw=False, seed=5)
    got = np.asarray(kernel(states, times))  # [U, S, R, Nr, Nt]
    cfg = ChannelConfig(model="C", n_rx=sc.N_RX, n_tx=sc.N_TX, n_rb=sc.N_RB)
    delays, powers = normalized_profile("C")
    cycles = np.outer(cfg.rb_frequencies_hz(), delays)
    amp = np.asarray(states.amplitudes).astype(np.complex128)
    cos = np.asarray(states.cos_aoa).astype(np.float64)
    ref = np.stack([_numpy_one_ue(amp[u], cos[u], np.asarray(times, np.float64), powers, cycles,
                                  sc.DELAY_SPREAD_S, sc.DOPPLER_HZ) for u in range(3)])
    assert got.shape == ref.shape == (3, 4, sc.N_RB, sc.N_RX, sc.N_TX)
    # |H| is O(1); float32 phases of ~2 pi f_D t with t ~ 1 s carry ~1e-6 relative error
    np.testing.assert_allclose(got, ref, atol=2e-4)
    with jax.disable_jit():
        eager = np.asarray(kernel(states, times[:2]))
    np.testing.assert_allclose(eager, got[:, :2], atol=1e-5)


def test_channel_bench_runs_ltjax_alone_without_sionna(tmp_path, monkeypatch, tiny_ceilings):
    from ltjax.bench import channel
    from ltjax.bench.peers import sionna_channel

    monkeypatch.setattr(sionna_channel, "available", _not_installed)
    monkeypatch.setitem(channel.SIZES, "quick", [(8, 2)])
    channel.run(argparse.Namespace(quick=True, out_dir=str(tmp_path)))
    rec = _check_record(tmp_path / "channel.json", "channel")
    assert rec["peer"]["available"] is False and "not installed" in rec["peer"]["status"]
    (c,) = rec["comparisons"]
    assert set(c["results"]) == {"ltjax_draw_each_call", "ltjax_drawn_once"} and c["speedup"] == {}
    assert all(r["n"] >= 3 for r in c["results"].values())
    vs_sionna = rec["goals"][0]
    assert vs_sionna["measured"] is None and "Sionna not run" in vs_sionna["reason"]
    (fl,) = rec["roofline"]["floors"]
    assert fl["output_bytes"] == 8 * 2 * 106 * 8 * 8 and fl["bare_freq_gemm_s"] > 0


# ---- LightTune step -------------------------------------------------------------------------------------


def test_lighttune_bench_peer_does_the_same_work_and_floors_are_measured(tmp_path, monkeypatch, tiny_ceilings):
    """torch's bmm and vmap steps update the same half of the UEs as ltjax; the floors are measured
    on the right state (the standard variant's state is the model plus Adam's m and v)."""
    pytest.importorskip("torch")
    from ltjax.bench import lighttune_step

    monkeypatch.setitem(lighttune_step.SIZES, "quick", [64])
    lighttune_step.run(argparse.Namespace(quick=True, out_dir=str(tmp_path)))
    rec = _check_record(tmp_path / "lighttune_step.json", "lighttune-step")
    assert [c["case"] for c in rec["comparisons"]] == ["one_step Adam, 64 UEs", "standard Adam, 64 UEs"]
    for c in rec["comparisons"]:
        assert c["update_fraction_first_call"] == {"frac": 0.5, "bmm": 0.5, "vmap": 0.5}
        assert set(c["speedup"]) == {"torch_bmm", "torch_vmap"}
        for s in c["speedup"].values():
            assert s["rounds"] >= 3 and s["min"] <= s["median"] <= s["max"]
    for f in rec["roofline"]["floors"]:
        assert f["state_rw_s"] > 0 and f["predict_s"] > 0
        assert f["state_mb"] == pytest.approx(
            (3 if f["variant"] == "standard" else 1) * 64 * (13 * 32 + 32 + 32 * 32 + 32) * 4 / 2**20, rel=0.01)
    assert len(rec["goals"]) == 4 and all(g["measured"] > 0 for g in rec["goals"])


def test_speedup_is_per_round_ratio_of_rates():
    rep = {"results": {"peer": {"samples_s": [2.0, 4.0, 3.0], "work_per_call": 10.0},
                       "ltjax": {"samples_s": [1.0, 1.0, 0.5], "work_per_call": 10.0}}}
    s = common.speedup(rep, "ltjax", "peer")
    assert (s["median"], s["min"], s["max"], s["rounds"]) == (4.0, 2.0, 6.0, 3)


# ---- roofline of loops ------------------------------------------------------------------------------------


def test_jaxpr_flops_counts_scan_bodies_times_length_and_complex_as_four():
    from ltjax.bench.roofline import cost_of, jaxpr_flops

    a = jnp.ones((32, 32), jnp.float32)

    def chain(a):
        return jax.lax.scan(lambda c, _: (c @ a, None), a, None, length=10)[0]

    assert jaxpr_flops(chain, a)["flops"] == 10 * 2 * 32 ** 3
    assert cost_of(chain, a)["flops"] < 2 * 2 * 32 ** 3  # XLA: the loop body once (why jaxpr_flops exists)
    c = a.astype(jnp.complex64)
    assert jaxpr_flops(jnp.matmul, c, c)["flops"] == 8 * 32 ** 3
    f = jaxpr_flops(lambda x: jax.lax.cond(x[0, 0] > 0, lambda y: jnp.sin(y) @ y, lambda y: y + 1.0, x), a)
    assert f["flops"] == 2 * 32 ** 3 + 1 and f["transcendentals"] == 32 * 32  # the costlier branch, + the test

"""Peer implementations (torch / Sionna) and the measuring tools: semantics, shapes, cost counts.

No timed assertions: speed is reported by the benches, never asserted. torch and Sionna are
optional (the ``bench`` extra); their tests skip when they are missing.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

PEER_MODULES = ("sionna_channel", "sionna_sys", "torch_lighttune", "torch_mnist_ff")


@pytest.mark.parametrize("name", PEER_MODULES)
def test_peer_modules_import_without_optional_deps_and_report_availability(name):
    mod = importlib.import_module(f"ltjax.bench.peers.{name}")
    ok, reason = mod.available()
    assert isinstance(ok, bool) and isinstance(reason, str) and reason


def test_peer_modules_import_and_report_unavailable_when_torch_and_sionna_are_missing():
    # A fresh interpreter in which importing torch or sionna fails, as on a machine without the extra.
    code = ("import sys\n"
            "sys.modules['torch'] = None\nsys.modules['sionna'] = None\n"
            "import importlib\n"
            f"for name in {PEER_MODULES!r}:\n"
            "    ok, why = importlib.import_module('ltjax.bench.peers.' + name).available()\n"
            "    assert ok is False and why, (name, ok, why)\n"
            "import ltjax.bench.roofline, ltjax.bench.peers.timing\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


# ---- torch LightTune step == ltjax's ------------------------------------------------------------


@pytest.mark.parametrize("variant,impl,dtype,tol", [("one_step", "bmm", "float64", 1e-9),
                                                     ("standard", "vmap", "float64", 1e-9),
                                                     ("standard", "bmm", "float32", 1e-4)])
def test_torch_lighttune_step_equals_ltjax(variant, impl, dtype, tol):
    pytest.importorskip("torch")
    from ltjax.bench.peers.torch_lighttune import check_against_ltjax

    r = check_against_ltjax(num_ues=24, variant=variant, impl=impl, steps=3, seed=3, dtype=dtype)
    # float64: identical semantics up to round-off. float32: weights are O(0.3), but Adam's
    # g / (|g| + eps) amplifies the rounding of a nearly cancelling gradient element (see
    # check_against_ltjax), so a few weights differ by ~1e-5.
    assert r["max_abs_diff"] <= tol, r
    assert r["max_abs_diff_moments"] <= tol, r
    assert r["y_hat_mismatches"] == 0 and r["updated_mismatches"] == 0, r
    # the check has teeth: updates happened and moved weights far more than the tolerance
    assert 0 < r["n_updates"] < r["ue_steps"], r
    assert r["max_abs_update"] > 100 * tol, r


def test_torch_lighttune_bmm_equals_vmap_with_own_negatives():
    torch = pytest.importorskip("torch")
    from ltjax.bench.peers import torch_lighttune as tl

    cfg = tl.TorchLT(variant="standard")
    rng = np.random.default_rng(0)
    weights = [{"w": rng.uniform(-0.3, 0.3, (13, 32)).astype(np.float32),
                "b": rng.uniform(-0.3, 0.3, 32).astype(np.float32)},
               {"w": rng.uniform(-0.2, 0.2, (32, 32)).astype(np.float32),
                "b": rng.uniform(-0.2, 0.2, 32).astype(np.float32)}]
    st = tl.init_state(weights, 16, "standard")
    x = torch.from_numpy(rng.standard_normal((16, 12)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 11, 16))
    y_neg = tl.draw_negatives(y, 11, torch.Generator().manual_seed(0))
    assert bool((y_neg != y).all()) and int(y_neg.max()) <= 10
    a, oa = tl.step_bmm(st, x, y, cfg, y_neg=y_neg)
    b, ob = tl.step_vmap(st, x, y, cfg, y_neg=y_neg)
    for key in ("w", "b", "m_w", "v_w"):
        for u, v in zip(a[key], b[key]):
            np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-6)
    assert torch.equal(oa["updated"], ob["updated"]) and torch.equal(a["count"], b["count"])


# ---- Sionna TDL peer ------------------------------------------------------------------------------


def test_sionna_tdl_shapes_unit_power_and_fresh_draws():
    pytest.importorskip("torch")
    pytest.importorskip("sionna")
    from ltjax.bench.peers import sionna_channel as sc

    n_ue, n_slots = 64, 8
    tdl = sc.make_sionna_tdl(seed=0)
    h = sc.sionna_freq_response(tdl, n_ue, n_slots, chunk=32)
    assert tuple(h.shape) == (n_ue, 1, sc.N_RX, 1, sc.N_TX, n_slots, sc.N_RB)
    assert str(h.dtype) == "torch.complex64"
    power = h.abs().square()
    # E|H|^2 = 1 (normalised PDP). Per UE and antenna pair the RB-average of |H|^2 has a std
    # of ~0.3 (sum of P_l^2 over TDL-C taps); 64 x 8 of them put the mean within ~0.015.
    assert abs(float(power.mean()) - 1.0) < 0.1
    h2 = sc.sionna_freq_response(tdl, n_ue, n_slots, chunk=32)
    assert float((h2 - h).abs().max()) > 0.1  # redrawn on every call


def test_sionna_sys_loop_runs_and_reports_missing_pieces():
    pytest.importorskip("torch")
    pytest.importorskip("sionna")
    from ltjax.bench.peers import sionna_sys as ss

    ok, why = ss.faithful_peer()
    assert not ok and "HARQ" in why
    r = ss.quick_check(n_ue=4, n_slots=3)
    assert r["sinr_shape"] == (3, ss.N_RB, 4)
    assert np.all((r["n_ack"] >= 0) & (r["n_ack"] <= 3))
    assert np.all((r["mcs"] >= 0) & (r["mcs"] <= 28))
    assert np.all((r["mean_tbler"] >= 0) & (r["mean_tbler"] <= 1))


# ---- torch forward-forward MNIST == ltjax's -----------------------------------------------------------


def test_torch_mnist_ff_matches_ltjax_training():
    pytest.importorskip("torch")
    from ltjax.bench.peers import torch_mnist_ff as mf

    if not (mf.default_data_dir() / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"MNIST not found at {mf.default_data_dir()}")
    # n_test = n_train: one compiled accuracy call serves both splits
    r = mf.train_vs_ltjax(n_train=200, steps_per_layer=3, seed=0, n_test=200)
    t, j = r["torch"], r["ltjax"]
    np.testing.assert_allclose(t["final_loss"], j["final_loss"], rtol=1e-4)
    # same init, negatives and updates: predictions agree up to rare float32 near-ties
    for key in ("test_accuracy", "test_accuracy_sum", "train_accuracy"):
        assert abs(t[key] - j[key]) <= 2e-3, (key, t[key], j[key])


# ---- roofline ------------------------------------------------------------------------------------------


def test_cost_of_matmul_counts_2n3_flops_and_positive_bytes():
    import jax
    import jax.numpy as jnp

    from ltjax.bench.roofline import cost_of

    n = 256
    a = jnp.ones((n, n), jnp.float32)
    c = cost_of(jax.jit(jnp.matmul), a, a)
    assert abs(c["flops"] / (2 * n ** 3) - 1.0) < 0.03
    assert c["bytes_accessed"] >= 3 * n * n * 4 * 0.97  # two inputs read, one output written
    assert c["compile_s"] >= 0 and c["lower_s"] >= 0
    # plain functions are jitted for the caller; ShapeDtypeStructs are enough
    c2 = cost_of(lambda x: jnp.cos(x).sum(), jax.ShapeDtypeStruct((1000,), jnp.float32))
    assert c2["transcendentals"] == pytest.approx(1000) and c2["flops"] > 0


def test_cost_of_counts_complex_matmul_as_2n3():
    """The roofline docstring's caveat: XLA counts a complex MAC as 2 FLOPs, not 8. If this fails,
    XLA changed its convention: update the caveat in ltjax/bench/roofline.py."""
    import jax.numpy as jnp

    from ltjax.bench.roofline import cost_of

    n = 64
    a = jnp.ones((n, n), jnp.complex64)
    assert cost_of(jnp.matmul, a, a)["flops"] == pytest.approx(2 * n ** 3, rel=0.03)


def test_measure_helpers_and_roofline_arithmetic():
    from ltjax.bench.roofline import measure_bandwidth, measure_gemm_rate, roofline

    g = measure_gemm_rate(n=128, repeats=2)
    assert g["gflops"] > 0 and g["xla_flops"] == pytest.approx(2 * 128 ** 3, rel=0.03)
    b = measure_bandwidth(nbytes=4e6, repeats=2)
    assert b["gb_per_s"] > 0 and b["gb_per_s_fresh_output"] > 0
    assert b["xla_bytes_accessed"] == pytest.approx(b["bytes_per_call"], rel=0.03)
    # 1 GFLOP and 1 GB in 1 s on a 10 GFLOP/s, 5 GB/s machine: 10 % and 20 %, memory-bound
    r = roofline({"flops": 1e9, "bytes_accessed": 1e9}, 1.0, 10.0, 5.0)
    assert r["flop_fraction"] == pytest.approx(0.1) and r["byte_fraction"] == pytest.approx(0.2)
    assert r["bound"] == "memory" and r["roofline_fraction"] == pytest.approx(0.2)
    assert r["ridge_point"] == pytest.approx(2.0) and r["arithmetic_intensity"] == pytest.approx(1.0)
    assert roofline({"flops": 1e10, "bytes_accessed": 1e8}, 2.0, 10.0, 5.0)["bound"] == "compute"
    with pytest.raises(ValueError):
        roofline({"flops": 1.0, "bytes_accessed": 1.0}, 0.0, 1.0, 1.0)


# ---- side-by-side timing -----------------------------------------------------------------------------


def test_compare_alternates_and_reports_median_and_spread():
    from ltjax.bench.peers.timing import compare

    calls = []
    rep = compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=1, warmup=1,
                  work={"a": 10.0, "b": 20.0})
    assert rep["repeats"] == 3  # at least 3 repeats, so a median and a spread exist
    assert calls == ["a", "b"] * 4  # one warm-up round, then 3 alternating rounds
    for name in ("a", "b"):
        r = rep["results"][name]
        assert r["n"] == 3 and r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["rate_min"] <= r["rate_median"] <= r["rate_max"]
        assert r["first_call_s"] >= 0
    assert rep["results"]["b"]["work_per_call"] == 20.0
    assert rep["ratio_of_medians"]["a"] == 1.0
    env = rep["environment"]
    assert env["cpu_count"] >= 1
    if "jax" in sys.modules:
        assert "jax_device" in env

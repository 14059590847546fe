"""``ltjax bench mnist``: forward-forward MNIST training per step, ltjax against the PyTorch reference.

Job: the FF network [784, 500, 500] of ``ltjax run sweeps/mnist_ff_loss.toml`` (Softplus
loss eq. 4, mean goodness, length-normalised layer inputs, label one-hot overlaid on the
first pixels, T = 2, Adam lr 0.03), trained layer after layer, full batch on B training
images (B positives and B negatives per step).

Peer: the PyTorch reference semantics (mpezeshki/pytorch_forward_forward, the code the
LightTune paper cites), written in :mod:`ltjax.bench.peers.torch_mnist_ff` with the same
initial weights and negatives as ltjax: ``nn.Linear`` layers, ``torch.optim.Adam`` per layer,
``loss.backward()``, torch 2.13 CPU with 2 threads.

Two measurements:

* per step, alternating (:func:`~ltjax.bench.peers.torch_mnist_ff.time_steps_vs_ltjax`): one
  call is ``steps_per_call`` Adam steps of one layer; median and spread of >= 3 calls per side,
  layer 1 (784 -> 500) and layer 2 (500 -> 500) apart;
* a full training of both sides from the same weights and negatives
  (:func:`~ltjax.bench.peers.torch_mnist_ff.train_vs_ltjax`), to show the speed is at equal
  accuracy (test accuracy of eq. 5 on the last layer and summed over layers).

Roofline: XLA's cost analysis of one compiled ltjax step, held against the measured GEMM
rate, for both sides (the same arithmetic). Floor measured in the same run: the bare GEMMs
of one step, x [2B, N] @ W [N, M] (forward) and x^T @ dL/dz (weight gradient), under XLA;
both sides are GEMM-bound when their step is close to it.

Letters: B training images, N / M a layer's inputs / neurons.
"""

from __future__ import annotations

from ltjax.bench import register_bench
from ltjax.bench.common import (Record, comparison, goal, kernel_roofline, machine_ceilings, peer_info,
                                print_summary)

SEED = 0
SIZES = {"full": {"n_train": 10_000, "steps_per_call": 5, "train_steps_per_layer": 100, "n_test": None},
         "quick": {"n_train": 500, "steps_per_call": 2, "train_steps_per_layer": 5, "n_test": 500}}
REPEATS = 3
TARGET_SPEEDUP = 1.2
TARGET_OVER_GEMM = 1.1
PEER_CODE_PATH = ("ltjax.bench.peers.torch_mnist_ff: nn.Linear + ReLU on x / (||x|| + 1e-4), "
                  "softplus(-(g+ - T)).mean() + softplus(g- - T).mean(), loss.backward(), torch.optim.Adam(lr=0.03) "
                  "per layer, full batch, layer after layer, 2 threads")


def _gemm_floor_s(n_rows: int, n_in: int, n_out: int, repeats: int = 5) -> dict[str, float]:
    """Median time of the bare GEMMs of one step, x [rows, N] @ W [N, M] and x^T @ dz [rows, M]."""
    import statistics
    import time

    import jax
    import jax.numpy as jnp

    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    x = jax.random.normal(k1, (n_rows, n_in), jnp.float32)
    w = jax.random.normal(k2, (n_in, n_out), jnp.float32)
    dz = jax.random.normal(k3, (n_rows, n_out), jnp.float32)
    f = jax.jit(lambda x, w, dz: (x @ w, x.T @ dz))
    jax.block_until_ready(f(x, w, dz))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(x, w, dz))
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "flops": 4.0 * n_rows * n_in * n_out}


@register_bench("mnist", "Forward-forward MNIST [784, 500, 500] training: s/step of ltjax vs the PyTorch reference")
def run(args):
    from ltjax.bench.peers import torch_mnist_ff as mf

    quick = bool(getattr(args, "quick", False))
    size = SIZES["quick" if quick else "full"]
    rec = Record("mnist", "Forward-forward training of [784, 500, 500] on MNIST, Softplus loss, mean goodness, "
                 "full batch, layer after layer", {**size, "sizes": list(mf.SIZES), "lr": mf.LR,
                                                   "threshold": mf.THRESHOLD, "repeats": REPEATS,
                                                   "torch_threads": 2}, SEED, quick)
    peer = peer_info("PyTorch reference semantics", PEER_CODE_PATH, mf.available)
    rec.payload["peer"] = peer
    data = mf.default_data_dir()
    if not (data / "t10k-labels-idx1-ubyte.gz").exists():
        rec.payload["goals"].append(goal("ltjax step vs the PyTorch reference", TARGET_SPEEDUP, None,
                                         reason=f"MNIST not found at {data} (set LTJAX_DATA_DIR)"))
        path = rec.write(getattr(args, "out_dir", None))
        print(f"MNIST not found at {data} (set LTJAX_DATA_DIR); wrote {path}")
        return rec.payload
    with_torch = peer["available"]
    steps = mf.time_steps_vs_ltjax(size["n_train"], size["steps_per_call"], repeats=REPEATS, seed=SEED,
                                   with_torch=with_torch)
    ceilings = machine_ceilings(quick)
    kernels, floors = [], []
    rows = 2 * size["n_train"]
    for l, (n_in, n_out) in enumerate(zip(mf.SIZES[:-1], mf.SIZES[1:])):
        rep = steps[f"layer{l + 1}"]
        case = f"layer {l + 1} ({n_in} -> {n_out}), B = {size['n_train']}"
        rec.payload["comparisons"].append(comparison(case, "steps/s", rep, "ltjax", ["torch"]))
        layer, xp, xn = steps["setup"]["layer_inputs"][l]
        cost = mf.ltjax_step_cost(layer, xp, xn)
        floor = _gemm_floor_s(rows, n_in, n_out)
        entry = {"case": case, "bare_gemm_s": floor["median_s"], "bare_gemm_flops": floor["flops"]}
        for side in rep["results"]:
            s_step = rep["results"][side]["median_s"] / size["steps_per_call"]
            kernels.append(kernel_roofline(f"{side} step, layer {l + 1}", cost, s_step, ceilings,
                                           flops_source="XLA cost analysis of one compiled ltjax step "
                                                        "(the same arithmetic on both sides)"))
            entry[f"{side}_s_per_step"] = s_step
            entry[f"{side}_over_bare_gemm"] = s_step / floor["median_s"]
        floors.append(entry)
    rec.payload["roofline"] = {"machine": {k: ceilings[k] for k in ("gemm_gflops", "bandwidth_gb_per_s",
                                                                      "bandwidth_fresh_output_gb_per_s")},
                               "kernels": kernels, "floors": floors}
    acc = mf.train_vs_ltjax(size["n_train"], size["train_steps_per_layer"], seed=SEED,
                            sides=("torch", "ltjax") if with_torch else ("ltjax",), n_test=size["n_test"])
    rec.payload["accuracy"] = acc
    for c, fl in zip(rec.payload["comparisons"], floors):
        s = c["speedup"].get("torch")
        both_gemm_bound = bool(s) and max(fl["ltjax_over_bare_gemm"], fl["torch_over_bare_gemm"]) <= TARGET_OVER_GEMM
        rec.payload["goals"].append(goal(
            f"ltjax >= {TARGET_SPEEDUP:g}x the PyTorch reference per step ({c['case']})", TARGET_SPEEDUP,
            s["median"] if s else None, spread=[s["min"], s["max"]] if s else None,
            reason=None if s else f"PyTorch not run: {peer['status']}",
            both_gemm_bound=both_gemm_bound))
        rec.payload["goals"].append(goal(
            f"or, both GEMM-bound, within {TARGET_OVER_GEMM:g}x of the bare GEMMs of a step ({c['case']})",
            TARGET_OVER_GEMM, fl["ltjax_over_bare_gemm"], higher_is_better=False,
            reason=(f"ltjax {fl['ltjax_s_per_step']:.3g} s/step, PyTorch "
                    f"{fl['torch_s_per_step']:.3g} s/step, " if s else "")
            + f"bare GEMMs {fl['bare_gemm_s']:.3g} s"))
    if with_torch:
        rec.payload["goals"].append(goal(
            "at equal accuracy: |test accuracy ltjax - PyTorch| (eq. 5, last layer)", 0.01,
            abs(acc["ltjax"]["test_accuracy"] - acc["torch"]["test_accuracy"]), unit="", higher_is_better=False,
            reason=f"ltjax {acc['ltjax']['test_accuracy']:.4f}, PyTorch {acc['torch']['test_accuracy']:.4f} "
                   f"after {size['train_steps_per_layer']} steps per layer from the same weights and negatives"))
    path = rec.write(getattr(args, "out_dir", None))
    print_summary(rec.payload)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return rec.payload

"""``ltjax bench lighttune-step``: UE-steps/s of the LightTune step, ltjax against PyTorch written batched.

Job (Ali & Penna, Alg. 1): every UE holds its own FF model [13, 32, 32] (12 features + the
appended label) and, for the standard Adam variant, its own Adam moments; one step predicts
over K = 11 BLER classes (eq. 5), checks the trigger |P_hat - P+| >= delta and, where it
fires, takes one FF update with the closed-form per-layer gradient and Adam (standard,
eq. 8, or one-step reset, eq. 9). The BLER model's settings (``default_spec()``: mean
goodness, length normalisation, label value (P - 0.5) * 10, quadratic loss, T 9, prediction
summed over layers) with delta 0.3 and lr 0.03. Truths are chosen so that exactly half the
UEs update (even UEs y+ = y_hat, odd UEs y+ = y_hat + 5 mod 11).

ltjax: :func:`step_ues` (``lighttune_step`` vmapped over UEs), jitted with the UE states
donated (updated in place, as in the scan over CSI-RS periods of an online run).
Peer: the same step written batched in PyTorch 2.13 (CPU, 2 threads) as a PyTorch user would
(:mod:`ltjax.bench.peers.torch_lighttune`): per-UE weights as [U, N, M] tensors and
``torch.bmm`` (``torch_bmm``), and the one-UE step batched with ``torch.func.vmap``
(``torch_vmap``); the tests check both give ltjax's weights (float64 to 1e-9). All three
thread their own state through their calls and run alternating, median and spread of >= 3.

Roofline: XLA's cost analysis of the compiled step against the measured GEMM rate and
bandwidth. Floors measured in the same run, on the same states: ``state_rw_s``, one jitted,
donated pass that reads every UE's state and writes it back (the least memory traffic of a
dense step that updates every UE's state in place), and ``predict_s``, the forward pass over
the K candidate labels alone (eq. 5; every UE needs it every step).

Letters: U UEs, K candidate labels, N / M a layer's inputs / neurons.
"""

from __future__ import annotations

import time

from ltjax.bench import register_bench
from ltjax.bench.common import (Record, comparison, goal, kernel_roofline, machine_ceilings, peer_info,
                                print_summary, time_jitted)

SEED = 0
MODEL_SIZES = [13, 32, 32]
SIZES = {"full": [1_000, 10_000], "quick": [1_000]}
VARIANTS = ("one_step", "standard")
IMPLS = ("bmm", "vmap")
REPEATS = 3
TARGET_AT_10K = 10.0
PEER_CODE_PATH = ("ltjax.bench.peers.torch_lighttune.step_bmm (per-UE weights [U, N, M], torch.bmm, "
                  "torch.where masks) and step_vmap (one-UE step under torch.func.vmap), torch.inference_mode, "
                  "2 threads")


def step_ues(key, states, x, y, spec, params):
    """:func:`ltjax.lighttune.lighttune_step` for U UEs (leading [U] on states, x, y); UE u uses
    ``fold_in(key, u)``. The benchmark's batched step (jitted by the caller)."""
    import jax
    import jax.numpy as jnp

    from ltjax import lighttune as lt

    keys = jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(x.shape[0]))
    return jax.vmap(lt.lighttune_step, in_axes=(0, 0, 0, 0, None, None))(keys, states, x, y, spec, params)


def _floors(states, x, spec, repeats: int = 5) -> dict:
    """Best-of times of the two floors (see the module docstring) on the given per-UE states.

    The states are donated to the read-write pass (consumed). Returns ``state_mb``,
    ``state_rw_s``, ``state_rw_gb_per_s`` and ``predict_s``."""
    import jax
    import jax.numpy as jnp

    from ltjax import lighttune as lt

    # ``+ zero`` with a traced zero so XLA can neither skip the pass nor fold it away.
    touch = jax.jit(lambda st, zero: (jax.tree_util.tree_map(lambda a: a + zero.astype(a.dtype), st), None),
                    donate_argnums=(0,))
    t_rw, st, _ = _time_donated(touch, states, jnp.zeros([], jnp.float32), repeats=repeats)
    best_rw = t_rw["run_s"]
    predict = jax.jit(jax.vmap(lambda m, xi: lt.predict_class(m, xi, spec)))
    t = time_jitted(predict, st.params, x, repeats=repeats)
    nbytes = sum(a.size * a.dtype.itemsize for a in jax.tree_util.tree_leaves(st))
    return {"state_mb": nbytes / 2**20, "state_rw_s": best_rw, "state_rw_gb_per_s": 2 * nbytes / best_rw / 1e9,
            "predict_s": t["run_s"]}


def _time_donated(fn, state, *args, repeats: int = 3):
    """Like ``time_jitted`` for ``fn(state, *args) -> (state, out)`` with ``state`` donated: threads it through.

    Every call sees the same inputs' shapes; the state it is given is the previous
    call's output (a real online run does exactly this). The update fraction is set
    by the inputs and the initial model, so the first call's outputs are returned.
    """
    import jax

    t0 = time.perf_counter()
    state, out = jax.block_until_ready(fn(state, *args))
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        state, _ = jax.block_until_ready(fn(state, *args))
        best = min(best, time.perf_counter() - t0)
    return {"compile_s": max(first - best, 0.0), "run_s": best}, state, out


@register_bench("lighttune-step", "UE-steps/s of the LightTune step (both Adam variants): ltjax vs batched PyTorch")
def run(args):
    import jax

    from ltjax.bench.peers import torch_lighttune as tl
    from ltjax.bench.roofline import cost_of

    quick = bool(getattr(args, "quick", False))
    sizes = SIZES["quick" if quick else "full"]
    rec = Record("lighttune-step", "One LightTune step (Alg. 1) for U UEs, each with its own FF model "
                 "[13, 32, 32] and Adam state, half the UEs updating",
                 {"model_sizes": MODEL_SIZES, "labels": 11, "delta": 0.3, "threshold": 9.0, "lr": 0.03,
                  "spec": "BLER model (ltjax.lighttune.default_spec())", "ues": sizes,
                  "variants": list(VARIANTS), "repeats": REPEATS, "torch_threads": 2}, SEED, quick)
    peer = peer_info("PyTorch, batched by hand", PEER_CODE_PATH, tl.available)
    rec.payload["peer"] = peer
    impls = IMPLS if peer["available"] else ()
    ceilings = machine_ceilings(quick)
    kernels, floors = [], []
    for variant in VARIANTS:
        for n in sizes:
            report = tl.time_vs_ltjax(n, variant, repeats=REPEATS, impls=impls)
            case = f"{variant} Adam, {n} UEs"
            entry = comparison(case, "UE-steps/s", report, "ltjax", [f"torch_{i}" for i in IMPLS])
            entry["update_fraction_first_call"] = report["setup"]["update_fraction_first_call"]
            rec.payload["comparisons"].append(entry)
            side, model, x, y = tl._bench_inputs(n, variant, SEED)
            states = side.init_states(model, n)
            step = jax.jit(lambda st, k, x, y: side.step_ues(k, st, x, y), donate_argnums=(0,))
            cost = cost_of(step, states, jax.random.key(42), x, y)
            seconds = report["results"]["ltjax"]["median_s"]
            fl = _floors(states, x, side.spec)
            kernels.append(kernel_roofline(f"ltjax step ({case})", cost, seconds, ceilings,
                                           compile_s=cost["compile_s"]))
            floors.append({"case": case, "variant": variant, "ues": n, "ltjax_s": seconds, **fl,
                           "ltjax_over_state_rw_plus_predict": seconds / (fl["state_rw_s"] + fl["predict_s"])})
    rec.payload["roofline"] = {"machine": {k: ceilings[k] for k in ("gemm_gflops", "bandwidth_gb_per_s",
                                                                      "bandwidth_fresh_output_gb_per_s")},
                               "kernels": kernels, "floors": floors}
    for c in rec.payload["comparisons"]:
        n = int(c["case"].split(", ")[1].split()[0])
        if n != max(sizes):
            continue
        fl = next(f for f in floors if f["case"] == c["case"])
        for p in [f"torch_{i}" for i in IMPLS]:
            s = c["speedup"].get(p)
            rec.payload["goals"].append(goal(
                f"ltjax >= {TARGET_AT_10K:g}x {p} at 10k UEs ({c['case']})", TARGET_AT_10K,
                s["median"] if s else None, spread=[s["min"], s["max"]] if s else None,
                reason=(None if s else f"PyTorch not run: {peer['status']}") if n == 10_000 else
                f"measured at {n} UEs (quick mode), not 10k",
                floor=(f"ltjax's step takes {fl['ltjax_over_state_rw_plus_predict']:.2f}x the time of its two "
                       f"floors (read + write every UE's state, {fl['state_rw_s']:.3g} s; the K-label forward "
                       f"pass, {fl['predict_s']:.3g} s)")))
    path = rec.write(getattr(args, "out_dir", None))
    print_summary(rec.payload)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return rec.payload

"""``ltjax bench scaling``: strong and weak scaling of the sharded UE path over 1, 2, 4, 8 CPU devices.

Kernel: the ``awgn_ber`` experiment's per-UE kernel (QPSK over AWGN, an integer
error count per UE) run through :func:`ltjax.batching.map_ues`, i.e.
exactly what the runner does for a grid point: per-UE keys, UE axis padded and
sharded with ``NamedSharding(mesh, P("ue"))``.

* strong scaling: U fixed, D = 1, 2, 4, 8 devices; speedup t(1)/t(D),
  efficiency speedup / D;
* weak scaling: U = D * U_per_device; efficiency t(1)/t(D).

Each device count runs in its own subprocess (``JAX_NUM_CPU_DEVICES=D``, the
device count is fixed when JAX starts). The CPU "devices" share the machine's
physical cores, so the gain stops at the number of physical cores (2 on the
reference machine). A GPU figure is recorded when JAX sees a GPU, else
``"gpu": null`` with the reason.

Writes ``results/bench/scaling.json`` and ``scaling.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ltjax.bench import register_bench
from ltjax.bench.common import print_table, write_bench

DEVICES = (1, 2, 4, 8)


def _worker(n_ues: int, n_symbols: int, platform: str) -> dict:
    """Runs in the subprocess: times map_ues over n_ues UEs on all local devices."""
    import resource
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np

    from ltjax.bench.common import time_jitted
    from ltjax.experiments.demo import _qpsk_errors
    from ltjax.batching import map_ues

    key = jax.random.fold_in(jax.random.key(0), 0)

    def run():
        return map_ues(_qpsk_errors, key, n_ues, jnp.float32(2.0), static={"n_symbols": n_symbols})

    t = time_jitted(run, repeats=3)
    # Process CPU time per run (all threads): on a machine shared with other
    # work the wall time cannot show parallel gains, the CPU cost still shows overhead.
    r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    errors = int(np.sum(run(), dtype=np.int64))
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    t["cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    t["cpu_per_wall"] = t["cpu_s"] / (c1 - c0)
    return {"devices": jax.local_device_count(), "platform": jax.devices()[0].platform,
            "device_kind": jax.devices()[0].device_kind, "ues": n_ues, "symbols_per_ue": n_symbols,
            **t, "ue_per_s": n_ues / t["run_s"], "bit_errors": errors}


def _spawn(devices: int | None, n_ues: int, n_symbols: int, platform: str) -> dict | str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_FLAGS", "JAX_NUM_CPU"))}
    if platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["JAX_NUM_CPU_DEVICES"] = str(devices)
    else:  # whatever JAX picks by itself (a GPU if one is visible)
        env.pop("JAX_PLATFORMS", None)
    code = ("import json, sys; from ltjax.bench.scaling import _worker; "
            f"print('RESULT' + json.dumps(_worker({n_ues}, {n_symbols}, {platform!r})))")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT"):])
    lines = r.stderr.strip().splitlines() or ["no output"]
    tail = next((x for x in reversed(lines) if "Error" in x), lines[-1])
    return f"exit {r.returncode}: {tail.strip()}"


def _plot(payload: dict, path: Path) -> Path:
    from ltjax.plotting.common import plt, save

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    d = [r["devices"] for r in payload["strong"]]
    a.plot(d, [r["speedup"] for r in payload["strong"]], "o-", label="strong: t(1)/t(D)")
    a.plot(d, d, "k:", label="ideal")
    a.axhline(payload["physical_cores"], color="gray", ls="--", lw=0.8, label="physical cores")
    a.set_xlabel("CPU devices D")
    a.set_ylabel("speedup")
    a.set_xscale("log", base=2)
    a.legend(fontsize=8)
    b.plot(d, [r["efficiency"] for r in payload["strong"]], "o-", label="strong")
    b.plot([r["devices"] for r in payload["weak"]], [r["efficiency"] for r in payload["weak"]], "s-",
           label="weak")
    b.set_xlabel("CPU devices D")
    b.set_ylabel("parallel efficiency")
    b.set_xscale("log", base=2)
    b.set_ylim(0, 1.2)
    b.legend(fontsize=8)
    fig.suptitle(f"map_ues scaling, awgn_ber kernel ({payload['physical_cores']} cores)", fontsize=10)
    return save(fig, path)


@register_bench("scaling", "strong/weak scaling of the sharded per-UE path (map_ues) over 1-8 CPU devices")
def run(args) -> dict:
    quick = bool(getattr(args, "quick", False))
    n_symbols = 2_000 if quick else 20_000
    strong_ues = 64 if quick else 512
    weak_per_dev = 8 if quick else 64
    strong, weak = [], []
    load_before = os.getloadavg()[0]
    for d in DEVICES:
        r = _spawn(d, strong_ues, n_symbols, "cpu")
        if isinstance(r, str):
            raise RuntimeError(f"scaling worker with {d} devices failed: {r}")
        strong.append(r)
        r = _spawn(d, weak_per_dev * d, n_symbols, "cpu")
        if isinstance(r, str):
            raise RuntimeError(f"scaling worker with {d} devices failed: {r}")
        weak.append(r)
    for r in strong:
        r["speedup"] = strong[0]["run_s"] / r["run_s"]
        r["efficiency"] = r["speedup"] / r["devices"]
    for r in weak:
        r["efficiency"] = weak[0]["run_s"] / r["run_s"]
    # Same draws whatever the device count: a built-in correctness check.
    same = len({r["bit_errors"] for r in strong}) == 1
    gpu = _spawn(None, strong_ues, n_symbols, "default")
    gpu_reason = None
    if isinstance(gpu, str) or gpu.get("platform") != "gpu":
        gpu_reason = f"no GPU visible to JAX on this machine ({gpu if isinstance(gpu, str) else gpu['platform']})"
        gpu = None
    cores = os.cpu_count() or 1
    best = max(strong, key=lambda r: r["speedup"])
    payload = {
        "kernel": "awgn_ber per-UE QPSK kernel via ltjax.batching.map_ues",
        "quick": quick,
        "physical_cores": cores,
        "strong": strong,
        "weak": weak,
        "bit_identical_across_devices": same,
        # Other processes on the machine skew every timing; recorded so a reader can judge.
        "load_avg_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "gpu": gpu,
        "gpu_reason": gpu_reason,
        "expectation": f"speedup stops growing at about the number of physical cores ({cores})",
        "summary": {"best_strong_speedup": best["speedup"], "at_devices": best["devices"],
                    "strong_efficiency_at_2": next(r["efficiency"] for r in strong if r["devices"] == 2),
                    "weak_efficiency_at_8": weak[-1]["efficiency"]},
    }
    print("strong scaling (U fixed):")
    print_table(strong, ["devices", "ues", "compile_s", "run_s", "cpu_s", "cpu_per_wall", "ue_per_s", "speedup",
                         "efficiency"])
    print("weak scaling (U per device fixed):")
    print_table(weak, ["devices", "ues", "compile_s", "run_s", "cpu_s", "cpu_per_wall", "ue_per_s", "efficiency"])
    print(f"bit-identical across device counts: {same}; gpu: {gpu_reason or gpu}; "
          f"load average (1 min) {payload['load_avg_1m']}")
    path = write_bench("scaling", payload, getattr(args, "out_dir", None))
    png = _plot(payload, path.with_suffix(".png"))
    print(f"wrote {path} and {png}")
    return payload


if __name__ == "__main__":  # pragma: no cover
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", default=None)
    run(p.parse_args())

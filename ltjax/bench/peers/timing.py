"""Side-by-side timing of two or more implementations of the same job, interleaved.

On a shared machine the load changes from second to second, so timing A fully and then B
fully can hand one of them a quiet minute and the other a busy one. :func:`compare` runs the
callables alternating (A, B, A, B, ...) so every implementation samples the same stretches of
load, and reports the median with the spread (min, max) of each, never a single best figure.

Every callable must do the whole job and return only when the work is finished: wrap JAX
functions with :func:`blocking` (``jax.block_until_ready`` on the result), since JAX
dispatches asynchronously; PyTorch CPU ops are synchronous. Warm-up calls (JIT compilation,
allocator warm-up, lazy table loading) are run first, timed apart and reported as
``first_call_s``, never mixed into the samples.

The record also says how many threads PyTorch used and which device JAX ran on, read only
from libraries that are already imported (looking never imports torch or jax).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Mapping

MIN_REPEATS = 3


def blocking(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` followed by ``jax.block_until_ready`` on its result (JAX dispatch is asynchronous)."""

    def run(*args, **kwargs):
        import jax

        return jax.block_until_ready(fn(*args, **kwargs))

    run.__name__ = getattr(fn, "__name__", "blocking")
    return run


def environment() -> dict[str, Any]:
    """Threads and devices of the libraries already imported, CPU count and load average.

    Returns a dict with ``torch_threads`` / ``torch_interop_threads`` / ``torch_version`` (only when
    torch is imported), ``jax_device`` / ``jax_backend`` / ``jax_version`` (only when jax is
    imported), ``cpu_count``, ``loadavg_1_5_15`` and ``python``.
    """
    env: dict[str, Any] = {"cpu_count": os.cpu_count(), "python": platform.python_version()}
    if hasattr(os, "getloadavg"):
        env["loadavg_1_5_15"] = list(os.getloadavg())
    torch = sys.modules.get("torch")
    if torch is not None:
        env.update(torch_version=torch.__version__, torch_threads=torch.get_num_threads(),
                   torch_interop_threads=torch.get_num_interop_threads())
    jax = sys.modules.get("jax")
    if jax is not None:
        dev = jax.devices()[0]
        env.update(jax_version=jax.__version__, jax_backend=jax.default_backend(),
                   jax_device=f"{dev.platform}:{dev.device_kind}", jax_device_count=jax.device_count())
    return env


def summarize(samples_s: list[float], work: float | None = None) -> dict[str, Any]:
    """Median and spread of wall times [s]; with ``work`` (units per call) also rates [units/s].

    ``rate_min`` comes from the slowest call and ``rate_max`` from the fastest.
    """
    out: dict[str, Any] = {"n": len(samples_s), "median_s": statistics.median(samples_s),
                           "min_s": min(samples_s), "max_s": max(samples_s),
                           "samples_s": list(samples_s)}
    if work is not None:
        out.update(work_per_call=work, rate_median=work / out["median_s"],
                   rate_min=work / out["max_s"], rate_max=work / out["min_s"])
    return out


def compare(fns: Mapping[str, Callable[[], Any]], repeats: int = 3, warmup: int = 1,
            work: float | Mapping[str, float] | None = None) -> dict[str, Any]:
    """Times the callables interleaved: ``warmup`` rounds, then ``repeats`` rounds of (A, B, ...).

    Args:
      fns: name -> zero-argument callable that does the whole job and blocks until it is done
        (see :func:`blocking`). The order of the mapping is the order within a round.
      repeats: timed calls per callable, at least 3 (raised to 3 when smaller), so a median
        and a spread exist.
      warmup: untimed-for-the-samples rounds first (>= 1: the first call carries JIT
        compilation or lazy set-up); the first call's time is reported as ``first_call_s``.
      work: units of work per call (e.g. UE-slots), one number for all or one per name; when
        given, rates [units/s] are reported beside the times.

    Returns:
      ``{"results": {name: {median_s, min_s, max_s, samples_s, first_call_s, [rates]}},
      "order": [...], "repeats": int, "environment": {...}, "ratio_of_medians": {...}}``, where
      ``ratio_of_medians[name]`` is the median time of ``name`` over that of the first callable.
    """
    if not fns:
        raise ValueError("compare: no callables given")
    repeats = max(int(repeats), MIN_REPEATS)
    warmup = max(int(warmup), 1)
    names = list(fns)
    env_before = environment()
    first: dict[str, float] = {}
    for r in range(warmup):
        for name in names:
            t0 = time.perf_counter()
            fns[name]()
            if r == 0:
                first[name] = time.perf_counter() - t0
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            t0 = time.perf_counter()
            fns[name]()
            samples[name].append(time.perf_counter() - t0)
    results = {}
    for name in names:
        w = work.get(name) if isinstance(work, Mapping) else work
        results[name] = {**summarize(samples[name], w), "first_call_s": first[name]}
    base = results[names[0]]["median_s"]
    env = environment()
    env["loadavg_before_1_5_15"] = env_before.get("loadavg_1_5_15")
    return {"results": results, "order": names, "repeats": repeats, "warmup": warmup,
            "ratio_of_medians": {n: results[n]["median_s"] / base for n in names},
            "environment": env}


def format_table(report: dict[str, Any], unit: str = "units/s") -> str:
    """A few aligned lines of :func:`compare`'s report: median [min, max] time and rate per name."""
    lines = []
    for name in report["order"]:
        r = report["results"][name]
        line = f"{name:>28s}: {r['median_s']:.4g} s [{r['min_s']:.4g}, {r['max_s']:.4g}]"
        if "rate_median" in r:
            line += f"  {r['rate_median']:.4g} {unit} [{r['rate_min']:.4g}, {r['rate_max']:.4g}]"
        line += f"  (first call {r['first_call_s']:.3g} s)"
        lines.append(line)
    return "\n".join(lines)

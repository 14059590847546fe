"""Benchmark helpers: compile time measured apart, ``block_until_ready``, peak RSS, JSON out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ltjax.io import atomic_write_json, check_output_path, environment, peak_rss_mb

BENCH_DIR = Path("results") / "bench"


def check_out_dir(out_dir: str | Path | None) -> Path:
    """Checks ``ltjax bench --out-dir`` before the benchmark runs (one-line InputError naming the flag).

    The directory may exist or not; it must not be a file, a special file, a system
    directory (/proc, /sys, /dev) or lie under an unwritable directory.
    """
    return check_output_path(out_dir if out_dir is not None else BENCH_DIR, "--out-dir", directory=True)


def time_jitted(fn: Callable, *args, repeats: int = 3) -> dict[str, float]:
    """Times a jitted function: the first call (compile + run) and the best of ``repeats``.

    Returns ``{"compile_s": first - best, "run_s": best}``; blocks on results.
    """
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return {"compile_s": max(first - best, 0.0), "run_s": best}


def write_bench(name: str, payload: dict[str, Any], out_dir: str | Path | None = None) -> Path:
    """Writes ``<out_dir>/<name>.json`` with the payload plus environment and peak RSS."""
    path = Path(out_dir or BENCH_DIR) / f"{name}.json"
    atomic_write_json(path, {"benchmark": name, **payload, "peak_rss_mb": peak_rss_mb(),
                             "environment": environment()})
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Prints rows as an aligned text table."""
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)

"""Benchmark helpers: compile time apart, ``block_until_ready``, the peer's status, the machine's
ceilings, the ltjax / peer speed-up from alternating samples, and one JSON + PNG per benchmark.

Every side-by-side benchmark (``channel``, ``lighttune-step``, ``mnist``, ``link-period``) writes
``<out_dir>/<name>.json`` with the same top-level layout, so that :mod:`ltjax.bench.plot` and
``docs/benchmarks.md`` read them alike:

* ``config``, ``seed``, ``quick``: what was run;
* ``peer``: ``{"name", "code_path", "available", "status"}``; ``status`` is the peer's version,
  or why it was not run (not installed, or no faithful peer exists);
* ``comparisons``: one entry per case, each with ``unit``, the timing report of
  :func:`ltjax.bench.peers.timing.compare` (``results``: median, min, max of >= 3 alternating
  calls per implementation) and ``speedup`` (ltjax over the peer: median and spread of the
  per-round ratios);
* ``roofline``: the machine's measured ceilings and, per kernel, the fractions of them it
  reached (:func:`ltjax.bench.roofline.roofline`), with the floor measured in the same run;
* ``goals``: each target as a goal with the measured value beside it and, where it is out
  of reach, the measured reason;
* ``load_average``: the 1/5/15-minute load at start and end (the machine may be shared);
  ``environment``: git SHA and dirty flag, versions, devices; ``peer_versions``.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from ltjax.io import atomic_write_json, check_output_path, environment, peak_rss_mb

BENCH_DIR = Path("results") / "bench"

# Sizes of the two ceilings (GEMM [n, n] float32, streamed array [bytes]) per mode.
CEILING_SIZES = {"full": {"gemm_n": 2048, "stream_bytes": 1e9, "repeats": 5},
                 "quick": {"gemm_n": 1024, "stream_bytes": 2.5e8, "repeats": 3}}


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


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages, or None where the platform has none."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def peer_info(name: str, code_path: str, available: Callable[[], tuple[bool, str]] | None,
              reason: str | None = None) -> dict[str, Any]:
    """The peer's record: ``available()`` decides (version or why not); ``reason`` without a
    check states why no peer is run (e.g. no faithful peer exists)."""
    if available is None:
        return {"name": name, "code_path": code_path, "available": False, "status": reason}
    ok, status = available()
    return {"name": name, "code_path": code_path, "available": bool(ok), "status": status}


def peer_versions() -> dict[str, str | None]:
    """Installed versions of the peers' packages (None where absent); nothing is imported."""
    from importlib import metadata

    out = {}
    for p in ("torch", "sionna-no-rt", "sionna"):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


_CEILINGS: dict[str, dict[str, Any]] = {}


def machine_ceilings(quick: bool) -> dict[str, Any]:
    """This machine's float32 GEMM rate and streaming bandwidth under XLA, measured once per process.

    Returns ``{"gemm_gflops", "bandwidth_gb_per_s", "bandwidth_fresh_output_gb_per_s",
    "gemm", "bandwidth"}`` (the last two: the full measurement records of
    :func:`ltjax.bench.roofline.measure_gemm_rate` / ``measure_bandwidth``).
    """
    from ltjax.bench.roofline import measure_bandwidth, measure_gemm_rate

    mode = "quick" if quick else "full"
    if mode not in _CEILINGS:
        size = CEILING_SIZES[mode]
        gemm = measure_gemm_rate(n=size["gemm_n"], repeats=size["repeats"])
        bw = measure_bandwidth(nbytes=size["stream_bytes"], repeats=size["repeats"])
        _CEILINGS[mode] = {"gemm_gflops": gemm["gflops"], "bandwidth_gb_per_s": bw["gb_per_s"],
                           "bandwidth_fresh_output_gb_per_s": bw["gb_per_s_fresh_output"],
                           "gemm": gemm, "bandwidth": bw}
    return _CEILINGS[mode]


def kernel_roofline(name: str, cost: dict[str, float], seconds: float, ceilings: dict[str, Any],
                    flops_source: str = "XLA cost analysis of the compiled kernel", **extra) -> dict[str, Any]:
    """One kernel's roofline entry: its cost, its median time and the fractions of the ceilings."""
    from ltjax.bench.roofline import roofline

    r = roofline(cost, seconds, ceilings["gemm_gflops"], ceilings["bandwidth_gb_per_s"])
    return {"kernel": name, "flops": float(cost["flops"]), "bytes_accessed": float(cost["bytes_accessed"]),
            "transcendentals": float(cost.get("transcendentals", 0.0)), "flops_source": flops_source,
            **r, **extra}


def speedup(report: dict[str, Any], ltjax: str, peer: str) -> dict[str, float]:
    """ltjax over the peer from :func:`~ltjax.bench.peers.timing.compare`'s alternating samples.

    Each round times the peer and ltjax back to back, so the ratio of one round's two times
    sees one stretch of load; the median and spread (min, max) are over rounds.
    """
    p, j = report["results"][peer]["samples_s"], report["results"][ltjax]["samples_s"]
    wp = report["results"][peer].get("work_per_call", 1.0)
    wj = report["results"][ltjax].get("work_per_call", 1.0)
    ratios = [(wj / tj) / (wp / tp) for tp, tj in zip(p, j)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "rounds": len(ratios)}


def comparison(case: str, unit: str, report: dict[str, Any], ltjax: str, peers: list[str]) -> dict[str, Any]:
    """One ``comparisons`` entry: the timing report and ltjax's speed-up over each peer that ran."""
    ran = [p for p in peers if p in report["results"]]
    return {"case": case, "unit": unit, "ltjax": ltjax, "peers": ran,
            "results": report["results"], "order": report["order"],
            "speedup": {p: speedup(report, ltjax, p) for p in ran},
            "timing_environment": report.get("environment")}


def goal(text: str, target: float, measured: float | None, unit: str = "x",
         higher_is_better: bool = True, reason: str | None = None, **extra) -> dict[str, Any]:
    """A target stated as a goal with the measured value beside it (never a pass/fail line).

    ``reason``: where the goal is out of reach, the measured floor or cause that explains it.
    """
    reached = None if measured is None else (measured >= target if higher_is_better else measured <= target)
    return {"goal": text, "target": target, "measured": measured, "unit": unit,
            "reached": reached, "reason": reason, **extra}


class Record:
    """The record of one benchmark run: started before any work, written by :meth:`write`."""

    def __init__(self, name: str, what: str, config: dict[str, Any], seed: int, quick: bool):
        self.name, self.t0 = name, time.perf_counter()
        self.payload: dict[str, Any] = {"benchmark": name, "what": what, "config": config, "seed": seed,
                                        "quick": bool(quick), "load_average": {"start": load_average()},
                                        "comparisons": [], "goals": []}

    def write(self, out_dir: str | Path | None = None) -> Path:
        """Writes ``<out_dir>/<name>.json`` and the PNG beside it; returns the JSON path."""
        import jax

        self.payload["load_average"]["end"] = load_average()
        self.payload["wall_s"] = time.perf_counter() - self.t0
        self.payload["devices"] = [f"{d.platform}:{d.device_kind}" for d in jax.devices()]
        self.payload["peer_versions"] = peer_versions()
        path = write_bench(self.name, self.payload, out_dir)
        from ltjax.bench.plot import plot_bench

        plot_bench(self.payload, path.with_suffix(".png"))
        return path


def write_bench(name: str, payload: dict[str, Any], out_dir: str | Path | None = None) -> Path:
    """Writes ``<out_dir>/<name>.json`` with the payload plus environment and peak RSS."""
    path = Path(out_dir or BENCH_DIR) / f"{name.replace('-', '_')}.json"
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


def print_summary(payload: dict[str, Any]) -> None:
    """The comparisons, roofline fractions and goals of a record, for the terminal."""
    peer = payload.get("peer", {})
    print(f"peer: {peer.get('name')}: {peer.get('status')}")
    for c in payload["comparisons"]:
        print(f"-- {c['case']} ({c['unit']}, median [min, max] of {len(c['results'][c['ltjax']]['samples_s'])})")
        for name in c["order"]:
            r = c["results"][name]
            if "rate_median" in r:
                print(f"  {name:>28s}: {r['rate_median']:.4g} [{r['rate_min']:.4g}, {r['rate_max']:.4g}]")
        for p, s in c["speedup"].items():
            print(f"  ltjax / {p}: {s['median']:.3g}x [{s['min']:.3g}, {s['max']:.3g}]")
    for k in payload.get("roofline", {}).get("kernels", []):
        print(f"  roofline {k['kernel']}: {k['roofline_fraction']:.1%} ({k['bound']}-bound by the counts; "
              f"FLOPs {k['flop_fraction']:.1%}, bytes {k['byte_fraction']:.1%})")
    for g in payload["goals"]:
        m = g["measured"]
        shown = "not measured" if m is None else f"{m:.3g}{g['unit']}"
        print(f"  goal: {g['goal']}: measured {shown}" + (f" ({g['reason']})" if g.get("reason") else ""))
    la = payload["load_average"]
    print(f"  load average (1 min) at start {la['start'][0]:.2f}, at end {la['end'][0]:.2f}"
          if la.get("start") and la.get("end") else "")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)

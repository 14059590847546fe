"""Runs a validated sweep: grid points -> data.csv, series.npz, meta.json, plots.

Keys: point ``i`` gets ``fold_in(key(seed), i)``; experiments fold in the UE
index below that, so draws never depend on chunking or device count.

Crash safety and resume: each finished grid point is saved atomically to
``<out>.work/point-XXXXX.npz`` next to a ``manifest.json`` holding the config
hash. Re-running the same sweep skips finished points; a corrupt point file is
recomputed; a changed config is refused unless ``force``. The final directory
is assembled in a temp directory and renamed into place, so ``<out>`` is
either absent, the previous complete result (until ``force``), or complete.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ltjax.errors import InputError, NumericalError
from ltjax.sweep.config import SweepConfig
from ltjax.sweep.io import (atomic_write_bytes, atomic_write_json, atomic_write_text, environment,
                            format_csv)
from ltjax.sweep.progress import Progress

RESULTS_ROOT = Path("results")


def output_dir(cfg: SweepConfig, out: str | Path | None = None) -> Path:
    """``--out`` beats the sweep's ``out`` key, which beats ``results/<name>``."""
    return Path(out or cfg.out or RESULTS_ROOT / cfg.name)


def _split_metrics(exp_name: str, idx: int, metrics: Any) -> tuple[dict, dict]:
    """Point-function output -> (scalars for data.csv, arrays for series.npz)."""
    import jax

    if not isinstance(metrics, dict):
        metrics = {"value": metrics}
    metrics = jax.device_get(metrics)
    scalars, series = {}, {}
    for k, v in metrics.items():
        a = np.asarray(v)
        if a.ndim == 0:
            scalars[k] = a.item()
        else:
            series[k] = a
    return scalars, series


def _check_finite(cfg: SweepConfig, idx: int, point: dict, scalars: dict, series: dict) -> None:
    allowed = set(cfg.experiment.allow_nonfinite)
    bad = [k for k, v in scalars.items()
           if k not in allowed and isinstance(v, float) and not math.isfinite(v)]
    bad += [k for k, a in series.items()
            if k not in allowed and np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a))]
    if bad:
        raise NumericalError(
            f"experiment {cfg.experiment.name!r}, grid point {idx} {point}: "
            f"non-finite metric(s) {', '.join(sorted(bad))}")


def _save_point(path: Path, config_hash: str, scalars: dict, series: dict) -> None:
    import io

    buf = io.BytesIO()
    arrays = {"__hash__": np.array(config_hash), "__scalars__": np.array(json.dumps(scalars))}
    arrays.update({f"series/{k}": v for k, v in series.items()})
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load_point(path: Path, config_hash: str) -> tuple[dict, dict] | None:
    """A finished point, or None if missing, corrupt or from another config."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["__hash__"]) != config_hash:
                return None
            scalars = json.loads(str(z["__scalars__"]))
            series = {k[len("series/"):]: z[k] for k in z.files if k.startswith("series/")}
        return scalars, series
    except Exception:  # noqa: BLE001 - any unreadable file is just recomputed
        return None


def run_sweep(cfg: SweepConfig, out: str | Path | None = None, force: bool = False,
              progress: bool = True) -> Path:
    """Runs every grid point of ``cfg`` and writes the result directory.

    Returns the result directory. Raises InputError when ``out`` exists (and
    not ``force``) or cannot be written, NumericalError on NaN/inf metrics.
    """
    import jax

    out_dir = output_dir(cfg, out)
    if out_dir.exists() and not force:
        raise InputError(f"{out_dir}: result directory exists; pass --force to overwrite it")
    work = out_dir.parent / f".{out_dir.name}.work"
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {out_dir}: cannot create output directory ({e.strerror})") from None
    config_hash = cfg.config_hash()
    manifest = work / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text()).get("config_hash")
        except (OSError, ValueError):
            old = None
        if old != config_hash and not force:
            raise InputError(
                f"{cfg.source}: config changed since the unfinished run in {work} was started; "
                "pass --force to discard it")
        if old != config_hash:
            shutil.rmtree(work)
            work.mkdir(parents=True)
    atomic_write_json(manifest, {"config_hash": config_hash, "config": cfg.as_dict()})

    points = cfg.points()
    start = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    root = jax.random.key(cfg.seed)
    rows, all_series, resumed = [], {}, 0
    with Progress(len(points), cfg.name, enabled=progress) as bar:
        for i, point in enumerate(points):
            pfile = work / f"point-{i:05d}.npz"
            done = _load_point(pfile, config_hash) if pfile.exists() else None
            if done is None:
                scalars, series = _split_metrics(cfg.experiment.name, i,
                                                 cfg.experiment.fn(jax.random.fold_in(root, i), dict(point)))
                _check_finite(cfg, i, point, scalars, series)
                _save_point(pfile, config_hash, scalars, series)
            else:
                scalars, series = done
                resumed += 1
            rows.append({"point": i, **point, **scalars})
            all_series.update({f"p{i:05d}/{k}": v for k, v in series.items()})
            bar.update()

    columns = ["point", *cfg.experiment.params]
    for r in rows:
        columns += [k for k in r if k not in columns]
    end = datetime.now(timezone.utc)
    meta = {
        "experiment": cfg.experiment.name,
        "sweep_file": cfg.source,
        "config": cfg.as_dict(),
        "config_hash": config_hash,
        "seed": cfg.seed,
        "n_points": len(points),
        "points_resumed": resumed,
        "start_utc": start.isoformat(),
        "end_utc": end.isoformat(),
        "wall_s": time.perf_counter() - t0,
        "command": f"ltjax run {cfg.source}",
        **environment(),
    }

    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    atomic_write_text(tmp / "data.csv", format_csv(rows, columns))
    if all_series:
        import io

        buf = io.BytesIO()
        np.savez_compressed(buf, **all_series)
        atomic_write_bytes(tmp / "series.npz", buf.getvalue())
    atomic_write_json(tmp / "meta.json", meta)
    for plot in cfg.experiment.plots:
        plot(tmp)
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)
    shutil.rmtree(work, ignore_errors=True)
    return out_dir

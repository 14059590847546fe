"""Runs a validated sweep: grid points -> data.csv, series.npz, meta.json, plots.

Keys: point ``i`` gets ``fold_in(key(seed), i)``; experiments fold in the UE
index below that (``ltjax.batching.map_ues``), so draws never depend on
chunking, device count, process count or executor.

Chunks and resume : the grid points are computed in
chunks of ``chunk_points`` points. Each finished chunk is saved atomically
(temp, fsync, rename) to ``<parent>/.<name>.work/chunk-*.npz`` with the config
hash and a digest (``ltjax.sweep.chunks``); ``manifest.json`` there holds the
config hash. Re-running the same sweep skips finished points; a corrupt or
partial chunk is recomputed; a changed config is refused unless ``force``.
Finiteness of the metrics is checked at every chunk boundary.

The final directory is assembled in ``.<name>.tmp`` and renamed into place,
so ``<out>`` is either absent, the previous complete result (until ``force``),
or complete. The work directory is removed once the result is in place.

Scale-out: ``executor`` runs chunks in this process (``inline``), as a
submitit job array (local or SLURM) or on Ray (``ltjax.sweep.executors``).
Under ``jax.distributed`` (``ltjax run --distributed``) process ``p`` of
``P`` computes the points ``i % P == p``; results are gathered with a JAX
collective and process 0 alone writes the result directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ltjax.errors import ExecutionError, InputError, NumericalError
from ltjax.sweep import chunks as ck
from ltjax.sweep import distributed as dist
from ltjax.sweep.config import SweepConfig
from ltjax.sweep.executors import EXECUTORS, ChunkJob, run_ray, run_submitit
from ltjax.io import atomic_write_bytes, atomic_write_json, atomic_write_text, environment, format_csv
from ltjax.batching import on_devices, ue_chunking
from ltjax.sweep.progress import Progress

RESULTS_ROOT = Path("results")


def output_dir(cfg: SweepConfig, out: str | Path | None = None) -> Path:
    """``--out`` beats the sweep's ``out`` key, which beats ``results/<name>``."""
    return Path(out or cfg.out or RESULTS_ROOT / cfg.name)


def work_dir(out_dir: Path) -> Path:
    """The resumable per-chunk directory beside the result directory."""
    return out_dir.parent / f".{out_dir.name}.work"


def _prepare(cfg: SweepConfig, out_dir: Path, force: bool, config_hash: str) -> str | None:
    """Checks the output and sets up the work directory; returns an error message or None."""
    if out_dir.exists() and not force:
        return f"{out_dir}: result directory exists; pass --force to overwrite it"
    work = work_dir(out_dir)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"--out {out_dir}: cannot create output directory ({e.strerror})"
    if not os.access(work, os.W_OK):
        return f"--out {out_dir}: output directory is not writable"
    manifest = work / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text()).get("config_hash")
        except (OSError, ValueError, AttributeError):
            old = None  # an unreadable manifest: only the chunk files' own hashes count
        if old is not None and old != config_hash:
            if not force:
                return (f"{cfg.source}: config changed since the unfinished run in {work} was started "
                        f"(config hash {old[:12]} -> {config_hash[:12]}); pass --force to discard it")
            shutil.rmtree(work)
            work.mkdir(parents=True)
    atomic_write_json(manifest, {"config_hash": config_hash, "config": cfg.as_dict()})
    return None


def _has_chunks(work: Path) -> bool:
    return work.is_dir() and any(work.glob("chunk-*.npz"))


def _batches(indices: list[int], size: int) -> list[list[int]]:
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def run_sweep(cfg: SweepConfig, out: str | Path | None = None, force: bool = False,
              progress: bool = True, *, chunk_points: int = 1, ue_chunk: int | None = None,
              executor: str = "inline", executor_options: dict[str, Any] | None = None,
              data_dir: str | None = None, command: str | None = None,
              points_over_devices: bool = False) -> Path:
    """Runs every grid point of ``cfg`` and writes the result directory.

    Args:
      cfg: a validated sweep (``load_sweep``).
      out: result directory; default the sweep's ``out`` or ``results/<name>``.
      force: overwrite an existing result / discard work of a changed config.
      progress: show the progress bar (stderr).
      chunk_points: grid points per chunk (per saved file, per cluster job).
      ue_chunk: default UE chunk size of ``map_ues`` (None: all UEs at once).
      executor: one of ``EXECUTORS``.
      executor_options: passed to submitit's ``update_parameters`` / Ray.
      data_dir: exported as ``LTJAX_DATA_DIR`` to cluster workers.
      command: the command line, for meta.json (default ``ltjax run <file>``).
      points_over_devices: inline executor only: run chunks of grid points
        concurrently, one per local device (for experiments whose points are
        small or do not use ``map_ues``); otherwise points run one after the
        other and ``map_ues`` shards each point's UEs over all devices.

    Returns the result directory. Raises InputError when ``out`` exists (and
    not ``force``) or cannot be written, NumericalError on NaN/inf metrics.
    Under ``jax.distributed`` every process must call it; only process 0 writes.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} not in {EXECUTORS}")
    if isinstance(chunk_points, bool) or int(chunk_points) < 1:
        raise ValueError(f"chunk_points must be >= 1, got {chunk_points!r}")
    import jax

    out_dir = output_dir(cfg, out)
    work = work_dir(out_dir)
    config_hash = cfg.config_hash()
    rank, size = dist.process_index(), dist.process_count()
    err = _prepare(cfg, out_dir, force, config_hash) if rank == 0 else None
    if size > 1:
        err = dist.agree_on_error(err)  # also a barrier: the manifest is in place
    if err:
        raise InputError(err)

    points = cfg.points()
    start = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    done = ck.load_done(work, config_hash, len(points))
    mine = [i for i in range(len(points)) if i % size == rank]
    resumed = sum(i in done for i in mine)
    todo = _batches([i for i in mine if i not in done], chunk_points)
    failure: Exception | None = None
    try:
        with Progress(len(mine), cfg.name, enabled=progress and rank == 0) as bar:
            bar.update(resumed, "resumed" if resumed else "")
            if executor == "inline":
                def one_chunk(idx, devices=None):
                    with contextlib.ExitStack() as stack:
                        if devices is not None:
                            stack.enter_context(on_devices(devices))
                        res = ck.compute_chunk(cfg.experiment, cfg.seed, idx, points,
                                               base_dir=cfg.base_dir, relative=cfg.path_keys())
                    blob = ck.encode_chunk(config_hash, res)
                    atomic_write_bytes(ck.chunk_path(work, idx), blob)
                    # Store what a resume would read back, so both give the same data.csv.
                    return ck.decode_chunk(blob, config_hash)

                with ue_chunking(ue_chunk):
                    if points_over_devices and jax.local_device_count() > 1 and len(todo) > 1:
                        _run_on_devices(todo, one_chunk, bar, done)
                    else:
                        for idx in todo:
                            done.update(one_chunk(idx))
                            bar.update(len(idx))
            else:
                jobs = [ChunkJob(cfg.experiment.name, cfg.seed, tuple(idx), tuple(points[i] for i in idx),
                                 str(work.resolve()), config_hash, ue_chunk, data_dir,
                                 {k: v for k, v in os.environ.items() if k.startswith(("JAX_", "XLA_", "LTJAX_"))},
                                 cfg.base_dir, cfg.path_keys())
                        for idx in todo]

                def on_done(job):
                    bar.update(len(job.indices))

                if executor.startswith("submitit"):
                    run_submitit(jobs, work / "submitit", executor.split("-", 1)[1],
                                 dict(executor_options or {}), on_done)
                else:
                    run_ray(jobs, dict(executor_options or {}), on_done)
                done = ck.load_done(work, config_hash, len(points))
                missing = [i for i in mine if i not in done]
                if missing:
                    raise ExecutionError(f"{executor}: chunk files for grid points {missing[:10]} missing in {work}")
    except Exception as e:  # noqa: BLE001 - re-raised below, after the other processes are told
        failure = e
    if size > 1:  # every process learns about any failure; nobody waits forever
        msg = dist.agree_on_error(f"{type(failure).__name__}\t{failure}" if failure else None)
        if msg and failure is None:
            kind, _, text = msg.partition("\t")
            failure = {"InputError": InputError, "NumericalError": NumericalError}.get(kind, ExecutionError)(
                f"another process failed: {text}")
    if failure is not None:
        if isinstance(failure, InputError) and rank == 0 and not _has_chunks(work):
            shutil.rmtree(work, ignore_errors=True)  # bad input: leave nothing behind
        raise failure

    if size > 1:
        blobs = dist.allgather_bytes(ck.encode_chunk(config_hash, {i: done[i] for i in mine}))
        done = {}
        for b in blobs:
            done.update(ck.decode_chunk(b, config_hash) or {})
    if rank != 0:
        return out_dir
    missing = [i for i in range(len(points)) if i not in done]
    if missing:
        raise ExecutionError(f"grid points {missing[:10]} have no result after the gather")

    rows, all_series = [], {}
    for i, point in enumerate(points):
        scalars, series = done[i]
        rows.append({"point": i, **point, **scalars})
        all_series.update({f"p{i:05d}/{k}": v for k, v in series.items()})
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
        "command": command or f"ltjax run {cfg.source}",
        "execution": {"executor": executor, "chunk_points": chunk_points, "ue_chunk": ue_chunk,
                      "points_over_devices": points_over_devices,
                      "process_count": size, "local_device_count": jax.local_device_count()},
        **environment(),
    }
    _write_result(cfg, out_dir, rows, columns, all_series, meta)
    shutil.rmtree(work, ignore_errors=True)
    return out_dir


def _run_on_devices(todo: list[list[int]], one_chunk, bar, done: dict) -> None:
    """Point-parallel mode: one worker thread per local device, each chunk on one device.

    Chunk ``k`` goes to device ``k % D``; inside it ``map_ues`` shards over
    that device only. Results do not change (same keys, same per-UE code).
    """
    import jax

    devices = jax.local_devices()
    queues: list[list[list[int]]] = [todo[d::len(devices)] for d in range(len(devices))]

    stop = threading.Event()  # after a failure the other threads start no new chunk

    def worker(d: int):
        out = []
        try:
            for idx in queues[d]:
                if stop.is_set():
                    break
                out.append(one_chunk(idx, (devices[d],)))
        except BaseException:
            stop.set()
            raise
        return out

    with ThreadPoolExecutor(max_workers=len(devices), thread_name_prefix="ltjax-dev") as pool:
        futures = [pool.submit(worker, d) for d in range(len(devices)) if queues[d]]
        for fut in as_completed(futures):
            for res in fut.result():
                done.update(res)
                bar.update(len(res))


def _write_result(cfg: SweepConfig, out_dir: Path, rows, columns, all_series, meta) -> None:
    """Assembles ``.<name>.tmp`` and renames it to ``out_dir`` (the old one goes last)."""
    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        atomic_write_text(tmp / "data.csv", format_csv(rows, columns))
        if all_series:
            buf = io.BytesIO()
            np.savez_compressed(buf, **all_series)
            atomic_write_bytes(tmp / "series.npz", buf.getvalue())
        atomic_write_json(tmp / "meta.json", meta)
        for plot in cfg.experiment.plots:
            plot(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)

"""Runs a validated sweep: grid points -> data.csv, series.npz, meta.json, plots.

Keys: point ``i`` gets ``fold_in(key(seed), i)``; experiments fold in the UE
index below that (``ltjax.batching.map_ues``), so draws never depend on
chunking, device count, process count or executor.

Chunks and resume : the grid points are computed in
chunks of ``chunk_points`` points. Each finished chunk is saved atomically
(temp, fsync, rename) to ``<parent>/.<name>.work/chunk-*.npz`` with the config
hash and a digest (``ltjax.sweep.chunks``); ``manifest.json`` there holds the
config hash and the code that computes them (ltjax version and git commit). Re-running the
same sweep skips finished points; a corrupt or partial chunk is recomputed; a changed config,
or chunks computed by another ltjax version or commit, are refused unless ``force`` (which
then discards them), so a result never mixes points from two versions of the code.
Finiteness of the metrics is checked at every chunk boundary.

The final directory is assembled in ``.<name>.tmp`` and renamed into place,
so ``<out>`` is either absent, the previous complete result (until ``force``),
or complete. The work directory is removed once the result is in place.

Before any compute (``ltjax.sweep.outdir``): the output directory is checked (``force``
replaces only an ltjax result directory, never a user's directory or file), every path
parameter is checked, and the run takes the directory's lock, which it holds until the
result is in place; a second run into the same directory is refused at once. Under the
``ltjax`` command SIGINT / SIGTERM end the run at once with 130 / 143
(``ltjax.sweep.interrupts``); the final swap of the result directory is the one section
an interrupt waits for.

Limits: by default a chunk holds ``ceil(n_points / MAX_CHUNK_FILES)`` points, so a large
grid writes at most ``MAX_CHUNK_FILES`` chunk files; the grid size itself is capped when
the sweep file is read (``ltjax.sweep.config.DEFAULT_MAX_POINTS``).

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
import logging
import math
import os
import shutil
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ltjax.errors import ExecutionError, InputError, NumericalError
from ltjax.sweep import chunks as ck
from ltjax.sweep import distributed as dist
from ltjax.sweep import interrupts
from ltjax.sweep import outdir
from ltjax.sweep.config import SweepConfig
from ltjax.sweep.executors import EXECUTORS, ChunkJob, run_ray, run_submitit
from ltjax.io import FILE_MODE, atomic_write_bytes, atomic_write_json, atomic_write_text, environment, format_csv, git_info
from ltjax.batching import on_devices, ue_chunking
from ltjax.sweep.progress import CompileClock, Progress

log = logging.getLogger(__name__)

RESULTS_ROOT = outdir.RESULTS_ROOT
# Default chunking writes at most this many chunk files (and submits as many cluster jobs).
MAX_CHUNK_FILES = 1000
# Test hook (see ``_test_hook``): "<phase>:<INT|TERM|KILL>".
TEST_SIGNAL_ENV = "LTJAX_TEST_SIGNAL"


def output_paths(cfg: SweepConfig, out: str | Path | None = None) -> outdir.OutputPaths:
    """``--out`` beats the sweep's ``out`` key, which beats ``results/<name>``."""
    return outdir.output_paths(cfg.source, cfg.name, cfg.out, out)


def output_dir(cfg: SweepConfig, out: str | Path | None = None) -> Path:
    """The result directory of ``cfg`` (see :func:`output_paths`)."""
    return output_paths(cfg, out).out


def work_dir(out_dir: Path) -> Path:
    """The resumable per-chunk directory beside the result directory."""
    return outdir.OutputPaths(Path(out_dir), str(out_dir)).work


def default_chunk_points(n_points: int) -> int:
    """Grid points per chunk when not given: 1, or enough that at most MAX_CHUNK_FILES chunks exist."""
    return max(1, math.ceil(n_points / MAX_CHUNK_FILES))


def _test_hook(phase: str) -> None:
    """Test hook: with ``LTJAX_TEST_SIGNAL=<phase>:<SIG>`` the run sends itself SIG at ``phase``.

    Phases: ``chunk<k>`` (right after the k-th chunk file of this run is saved), ``write``
    (the new result is complete in ``.<name>.tmp``), ``rename`` (inside the deferred
    section, between the two renames). It lets the tests interrupt a run at an exact
    point instead of racing a timer. Unset (always, outside the tests) it does nothing.
    """
    spec = os.environ.get(TEST_SIGNAL_ENV)
    if not spec or spec.partition(":")[0] != phase:
        return
    os.kill(os.getpid(), getattr(signal, "SIG" + spec.partition(":")[2]))
    if phase != "rename":
        time.sleep(60)  # the signal handler ends the process meanwhile



def code_identity() -> dict:
    """The code a chunk is computed by: ltjax's version and, in a git checkout, its commit."""
    from ltjax import __version__

    return {"ltjax_version": __version__, "git_sha": git_info()["git_sha"]}


def _other_code(old: dict, new: dict) -> bool:
    """True when a work directory's chunks were computed by a different ltjax (version or commit)."""
    if old.get("ltjax_version") != new.get("ltjax_version"):
        return True
    return bool(old.get("git_sha") and new.get("git_sha") and old["git_sha"] != new["git_sha"])


def _code_text(code: dict) -> str:
    sha = code.get("git_sha")
    return f"ltjax {code.get('ltjax_version')}" + (f" at {str(sha)[:12]}" if sha else "")

class _Claim:
    """Rank 0's hold on the output: parents it created, the lock, the work directory."""

    def __init__(self, paths: outdir.OutputPaths):
        self.paths = paths
        self.created: list[Path] = []
        self.created_work = False
        self.lock: outdir.RunLock | None = None

    def take(self, cfg: SweepConfig, force: bool, config_hash: str) -> None:
        """Checks everything, then creates parents, takes the lock and sets up the work directory."""
        paths = self.paths
        outdir.check_output(paths, force=force, sweep_file=cfg.source)
        outdir.check_path_params(cfg, paths)
        self.created = outdir.make_parents(paths.out)
        self.lock = outdir.RunLock(paths.lock, paths.where).acquire()
        interrupts.add_cleanup(self.lock.release)
        # Again under the lock: a run that finished meanwhile may have written the result.
        outdir.check_output(paths, force=force, sweep_file=cfg.source)
        self._prepare_work(cfg, force, config_hash)

    def _prepare_work(self, cfg: SweepConfig, force: bool, config_hash: str) -> None:
        work, where = self.paths.work, self.paths.where
        manifest = work / "manifest.json"
        code = code_identity()
        if manifest.is_file():
            try:
                old_manifest = json.loads(manifest.read_bytes()[: 2**20])
                old, old_code = old_manifest.get("config_hash"), old_manifest.get("code")
            except (OSError, ValueError, AttributeError):
                old, old_code = None, None  # an unreadable manifest: only the chunk files' own hashes count
            if old is not None and old != config_hash:
                if not force:
                    raise InputError(f"{cfg.source}: config changed since the unfinished run in {work} was "
                                     f"started (config hash {str(old)[:12]} -> {config_hash[:12]}); pass "
                                     "--force to discard it")
                shutil.rmtree(work)
            elif isinstance(old_code, dict) and _other_code(old_code, code):
                # Chunks computed by other code would be mixed into this result: never silently.
                if not force:
                    raise InputError(f"{cfg.source}: the unfinished run in {work} was computed by other code "
                                     f"({_code_text(old_code)}; this is {_code_text(code)}); pass --force to "
                                     "discard it")
                shutil.rmtree(work)
        try:
            self.created_work = not work.is_dir()
            work.mkdir(exist_ok=True)
        except OSError as e:
            raise InputError(f"{where}: cannot create {work} ({e.strerror})") from None
        atomic_write_json(manifest, {"config_hash": config_hash, "config": cfg.as_dict(), "code": code})

    def abandon(self, bad_input: bool) -> None:
        """After a failure: on bad input with nothing computed, remove every trace; then unlock."""
        work = self.paths.work
        if bad_input and self.created_work and not _has_chunks(work):
            shutil.rmtree(work, ignore_errors=True)
        self.release()
        if bad_input:
            outdir.remove_empty(self.created)

    def release(self) -> None:
        if self.lock is not None:
            interrupts.remove_cleanup(self.lock.release)
            self.lock.release()


def _has_chunks(work: Path) -> bool:
    return work.is_dir() and any(work.glob("chunk-*.npz"))


def _batches(indices: list[int], size: int) -> list[list[int]]:
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def run_sweep(cfg: SweepConfig, out: str | Path | None = None, force: bool = False,
              progress: bool = True, *, chunk_points: int | None = None, ue_chunk: int | None = None,
              executor: str = "inline", executor_options: dict[str, Any] | None = None,
              data_dir: str | None = None, command: str | None = None,
              points_over_devices: bool = False) -> Path:
    """Runs every grid point of ``cfg`` and writes the result directory.

    Args:
      cfg: a validated sweep (``load_sweep``).
      out: result directory; default the sweep's ``out`` or ``results/<name>``.
      force: replace an existing ltjax result directory / discard work of a changed config.
      progress: show the progress bar (stderr).
      chunk_points: grid points per chunk (per saved file, per cluster job); None:
        :func:`default_chunk_points`.
      ue_chunk: default UE chunk size of ``map_ues`` (None: all UEs at once).
      executor: one of ``EXECUTORS``.
      executor_options: passed to submitit's ``update_parameters`` / Ray.
      data_dir: exported as ``LTJAX_DATA_DIR`` to cluster workers.
      command: the command line, for meta.json (default ``ltjax run <file>``).
      points_over_devices: inline executor only: run chunks of grid points
        concurrently, one per local device (for experiments whose points are
        small or do not use ``map_ues``); otherwise points run one after the
        other and ``map_ues`` shards each point's UEs over all devices.

    Returns the result directory. Raises InputError before any compute when the output
    or a path parameter is refused (``ltjax.sweep.outdir``) or another run holds the
    output's lock, NumericalError on NaN/inf metrics. Under ``jax.distributed`` every
    process must call it; only process 0 writes.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r} not in {EXECUTORS}")
    if chunk_points is None:
        chunk_points = default_chunk_points(cfg.n_points)
    if isinstance(chunk_points, bool) or int(chunk_points) < 1:
        raise ValueError(f"chunk_points must be >= 1, got {chunk_points!r}")
    paths = output_paths(cfg, out)
    config_hash = cfg.config_hash()
    rank, size = dist.process_index(), dist.process_count()
    claim = _Claim(paths) if rank == 0 else None
    err = None
    if claim is not None:
        try:
            claim.take(cfg, force, config_hash)
        except InputError as e:
            err = str(e)
    if size > 1:
        err = dist.agree_on_error(err)  # also a barrier: the manifest is in place
    if err:
        if claim is not None:
            claim.abandon(bad_input=True)
        raise InputError(err)
    try:
        out_dir = _run_claimed(cfg, paths, force, config_hash, progress, chunk_points, ue_chunk, executor,
                               executor_options, data_dir, command, points_over_devices, rank, size)
    except BaseException as e:
        if claim is not None:
            claim.abandon(bad_input=isinstance(e, InputError))
        raise
    if claim is not None:
        claim.release()
    return out_dir


def _run_claimed(cfg: SweepConfig, paths: outdir.OutputPaths, force: bool, config_hash: str, progress: bool,
                 chunk_points: int, ue_chunk: int | None, executor: str, executor_options, data_dir,
                 command, points_over_devices: bool, rank: int, size: int) -> Path:
    """:func:`run_sweep` once the output is checked and locked: compute, gather, write."""
    import jax

    out_dir, work = paths.out, paths.work
    points = cfg.points()
    start = datetime.now(timezone.utc)
    # The checkout as the run starts: files the run itself writes into the tree (a model an
    # experiment declares as its output) must not make the result look made from edited code.
    code_at_start = git_info()
    t0 = time.perf_counter()
    CompileClock.install()
    compile0, phases0 = CompileClock.seconds(), CompileClock.breakdown()
    done = ck.load_done(work, config_hash, len(points))
    mine = [i for i in range(len(points)) if i % size == rank]
    resumed = sum(i in done for i in mine)
    todo = _batches([i for i in mine if i not in done], chunk_points)
    log.info("%s: %s, %d grid points (%d resumed, %d to compute in %d chunks) -> %s", cfg.name,
             cfg.experiment.name, len(mine), resumed, len(mine) - resumed, len(todo), out_dir)
    failure: Exception | None = None
    try:
        with Progress(len(mine), cfg.name, enabled=progress and rank == 0) as bar:
            bar.update(resumed, "resumed" if resumed else "")
            if executor == "inline":
                saved = [0]  # chunk files written by this run (for the test hook)

                def one_chunk(idx, devices=None):
                    t_chunk, c_chunk = time.perf_counter(), CompileClock.seconds()
                    with contextlib.ExitStack() as stack:
                        if devices is not None:
                            stack.enter_context(on_devices(devices))
                        res = ck.compute_chunk(cfg.experiment, cfg.seed, idx, points,
                                               base_dir=cfg.base_dir, relative=cfg.path_keys())
                    blob = ck.encode_chunk(config_hash, res)
                    atomic_write_bytes(ck.chunk_path(work, idx), blob)
                    saved[0] += 1
                    if log.isEnabledFor(logging.INFO):
                        log.info("%s: %.2f s (compile %.2f s)", _describe_points(cfg, points, idx),
                                 time.perf_counter() - t_chunk, CompileClock.seconds() - c_chunk)
                    _test_hook(f"chunk{saved[0]}")
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
        raise failure  # run_sweep cleans up (bad input: nothing left behind)

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
    wall_s, compile_s = time.perf_counter() - t0, CompileClock.seconds() - compile0
    phases = {k: v - phases0[k] for k, v in CompileClock.breakdown().items()}
    log.info("%s: %d grid points in %.1f s, of which %.1f s compiling (this process: tracing %.1f s, lowering "
             "%.1f s, XLA compile or cache load %.1f s)", cfg.name, len(points), wall_s, compile_s, phases["trace"],
             phases["lower"], phases["xla"])
    meta = {
        **outdir.marker_fields(uuid.uuid4().hex),
        "experiment": cfg.experiment.name,
        "sweep_file": cfg.source,
        "config": cfg.as_dict(),
        "config_hash": config_hash,
        "seed": cfg.seed,
        "n_points": len(points),
        "points_resumed": resumed,
        "start_utc": start.isoformat(),
        "end_utc": end.isoformat(),
        "wall_s": wall_s,
        "compile_s": compile_s,
        "compile_phases_s": phases,
        "command": command or f"ltjax run {cfg.source}",
        "overrides": list(cfg.overrides),
        "execution": {"executor": executor, "chunk_points": chunk_points, "ue_chunk": ue_chunk,
                      "points_over_devices": points_over_devices,
                      "process_count": size, "local_device_count": jax.local_device_count()},
        **environment(),
        **code_at_start,
    }
    _write_result(cfg, paths, force, rows, columns, all_series, meta)
    return out_dir


def _describe_points(cfg: SweepConfig, points: list[dict], idx: list[int]) -> str:
    """``point 3 (snr_db=4.0, mcs=16)`` or ``points 3-5`` for the log."""
    if len(idx) == 1:
        axes = ", ".join(f"{k}={points[idx[0]][k]}" for k in cfg.axes)
        return f"point {idx[0]}" + (f" ({axes})" if axes else "")
    return f"points {idx[0]}-{idx[-1]}" if idx == list(range(idx[0], idx[-1] + 1)) else f"points {idx}"


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


def _write_result(cfg: SweepConfig, paths: outdir.OutputPaths, force: bool, rows, columns, all_series,
                  meta) -> None:
    """Assembles ``.<name>.tmp`` and swaps it in for ``out`` (the old one goes last).

    ``meta.json`` is written first, so an interrupted assembly leaves a directory that
    the next run recognises as its own leftover. The swap and the removal of the work
    directory run in an interrupt-deferred section: an interrupted run leaves either the
    old result and the work directory, or the new result alone.
    """
    out_dir, tmp, old = paths.out, paths.tmp, paths.old
    shutil.rmtree(tmp, ignore_errors=True)  # a leftover of an interrupted run (checked at the start)
    try:
        tmp.mkdir()
        atomic_write_json(tmp / "meta.json", meta)
        atomic_write_text(tmp / "data.csv", format_csv(rows, columns))
        if all_series:
            buf = io.BytesIO()
            np.savez_compressed(buf, **all_series)
            atomic_write_bytes(tmp / "series.npz", buf.getvalue())
        for plot in cfg.experiment.plots:
            plot(tmp)
        for f in tmp.iterdir():  # plots are written with the umask; every result file reads 0644
            if f.is_file() and not f.is_symlink():
                f.chmod(FILE_MODE)
        _test_hook("write")
        # The output may have appeared while the run computed (not from ltjax: the lock is held).
        if out_dir.exists() or out_dir.is_symlink():
            outdir.check_output(paths, force=force, sweep_file=cfg.source)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with interrupts.deferred():
        if out_dir.exists():
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            _test_hook("rename")
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            _test_hook("rename")
            tmp.rename(out_dir)
        shutil.rmtree(paths.work, ignore_errors=True)

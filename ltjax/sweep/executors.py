"""Where chunks of grid points run: in this process, as SLURM job-array tasks
(submitit), or as Ray tasks.

Every executor runs the same function, :func:`run_chunk_job`, on a picklable
:class:`ChunkJob`; the job writes its chunk file into the sweep's work
directory (which must be on a filesystem the driver can read: a shared
filesystem on a cluster) and returns a status. The driver then loads the
chunk files exactly as on a resume, so results never depend on the executor.

submitit and Ray are optional extras (``pip install 'ltjax[cluster]'``).

Trust: submitit pickles every :class:`ChunkJob` and its returned status into
``<work>/submitit/`` and the driver unpickles them. It is the one place where ltjax uses
pickle (chunk files, results and artefacts never do), so the work directory must be
trusted: whoever can write into it can make the driver run code. Keep it on a filesystem
only you (or your job) can write to. Ray sends jobs over its own connection instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ltjax.errors import ExecutionError, InputError, NumericalError

EXECUTORS = ("inline", "submitit-local", "submitit-slurm", "ray")


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker process needs to compute and save one chunk."""

    experiment: str
    seed: int
    indices: tuple[int, ...]
    points: tuple[dict, ...]  # the points of ``indices``, in the same order
    work: str
    config_hash: str
    ue_chunk: int | None = None
    data_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_dir: str | None = None  # where the sweep file's relative paths resolve
    relative: tuple[str, ...] = ()  # the path parameters written in the sweep file


def run_chunk_job(job: ChunkJob) -> tuple[str, str | None]:
    """Worker entry point: ``("ok", None)``, ``("input", msg)`` or ``("numerical", msg)``."""
    os.environ.update(job.env)
    if job.data_dir:
        os.environ["LTJAX_DATA_DIR"] = job.data_dir
    from ltjax.sweep.chunks import compute_chunk, save_chunk
    from ltjax.batching import ue_chunking
    from ltjax.sweep.registry import get_experiment

    exp = get_experiment(job.experiment)
    if exp is None:
        return "input", f"experiment {job.experiment!r} is not registered in the worker"
    points = {i: p for i, p in zip(job.indices, job.points)}
    try:
        with ue_chunking(job.ue_chunk):
            res = compute_chunk(exp, job.seed, list(job.indices), points, base_dir=job.base_dir,
                                relative=job.relative)
    except InputError as e:
        return "input", str(e)
    except NumericalError as e:
        return "numerical", str(e)
    save_chunk(Path(job.work), job.config_hash, res)
    return "ok", None


def _raise_status(status: str, msg: str | None) -> None:
    if status == "input":
        raise InputError(msg)
    if status == "numerical":
        raise NumericalError(msg)


def run_submitit(jobs: list[ChunkJob], folder: Path, cluster: str, options: dict[str, Any],
                 on_done: Callable[[ChunkJob], None]) -> None:
    """Runs the chunk jobs as one submitit job array and waits for them.

    ``cluster``: ``"local"`` (subprocesses on this machine, for tests) or
    ``"slurm"``. ``options`` go to ``executor.update_parameters`` (e.g.
    ``slurm_partition``, ``timeout_min``, ``gpus_per_node``,
    ``slurm_array_parallelism``).
    """
    try:
        import submitit
    except ImportError:
        raise InputError("--executor submitit-*: submitit is not installed; "
                         "allowed: pip install 'ltjax[cluster]'") from None
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = {"timeout_min": 60, "name": "ltjax"}
    params.update(options)
    ex.update_parameters(**params)
    handles = ex.map_array(run_chunk_job, jobs)
    pending = dict(zip(range(len(jobs)), handles))
    while pending:
        for k in [k for k, h in pending.items() if h.done()]:
            h = pending.pop(k)
            try:
                status, msg = h.result()
            except Exception as e:  # noqa: BLE001 - a crashed job: report its id and first line
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ExecutionError(f"submitit job {h.job_id} failed: {first} (logs in {folder})") from None
            _raise_status(status, msg)
            on_done(jobs[k])
        if pending:
            time.sleep(0.2)


def run_ray(jobs: list[ChunkJob], options: dict[str, Any], on_done: Callable[[ChunkJob], None]) -> None:
    """Runs the chunk jobs as Ray tasks (``RAY_ADDRESS`` or a local Ray)."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray: ray is not installed; allowed: pip install ray") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None)
    remote = ray.remote(num_gpus=options.get("gpus_per_task", 0))(run_chunk_job)
    refs = {remote.remote(j): j for j in jobs}
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        for r in ready:
            job = refs.pop(r)
            _raise_status(*ray.get(r))
            on_done(job)

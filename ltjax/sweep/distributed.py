"""Multi-process (multi-host) sweeps on ``jax.distributed``.

``ltjax run --distributed`` starts one process per host (or per GPU); each
calls :func:`initialize`, computes its own slice of the grid points (point
``i`` belongs to process ``i % P``), and the per-point results are gathered
on every process with ``multihost_utils.process_allgather`` (a collective of
the JAX runtime: gloo on CPU, NCCL on GPU). Process 0 alone writes the
result directory.

Where the coordinator address, process count and process id come from, first
match wins:
  1. the flags ``--coordinator HOST:PORT --num-processes P --process-id I``;
  2. the environment ``LTJAX_COORDINATOR``, ``LTJAX_NUM_PROCESSES``,
     ``LTJAX_PROCESS_ID``;
  3. SLURM / other clusters: ``jax.distributed.initialize()`` with no
     arguments auto-detects them (``SLURM_JOB_ID`` etc.).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ltjax.errors import InputError


@dataclass(frozen=True)
class DistSpec:
    """Where to find the coordinator; all None means auto-detect (SLURM)."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


def resolve_spec(coordinator: str | None, num_processes: int | None, process_id: int | None) -> DistSpec:
    """Merges flags and ``LTJAX_*`` environment; InputError on an incomplete or bad set."""
    env = os.environ

    def _int(flag, v, envname):
        if v is None and env.get(envname):
            try:
                return int(env[envname])
            except ValueError:
                raise InputError(f"${envname}: expected an integer, got {env[envname]!r}") from None
        return v

    coordinator = coordinator or env.get("LTJAX_COORDINATOR") or None
    num_processes = _int("--num-processes", num_processes, "LTJAX_NUM_PROCESSES")
    process_id = _int("--process-id", process_id, "LTJAX_PROCESS_ID")
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise InputError("--distributed: give all of --coordinator, --num-processes and --process-id "
                         "(or LTJAX_COORDINATOR/LTJAX_NUM_PROCESSES/LTJAX_PROCESS_ID), or none to auto-detect SLURM")
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InputError(f"--coordinator {coordinator!r}: expected HOST:PORT with a port in 1..65535")
        if num_processes < 1:
            raise InputError(f"--num-processes {num_processes}: must be >= 1")
        if not 0 <= process_id < num_processes:
            raise InputError(f"--process-id {process_id}: must be in 0..{num_processes - 1} (--num-processes)")
    elif "SLURM_JOB_ID" not in env:
        raise InputError("--distributed: no --coordinator/--num-processes/--process-id given and "
                         "not inside a SLURM job; allowed: the three flags, LTJAX_* variables, or SLURM")
    return DistSpec(coordinator, num_processes, process_id)


def initialize(spec: DistSpec, timeout_s: int = 300) -> None:
    """Calls ``jax.distributed.initialize`` (gloo collectives on CPU)."""
    import jax

    # CPU-only processes need a cross-process collective backend for the gather.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {"initialization_timeout": timeout_s}
    if spec.coordinator is not None:
        kwargs.update(coordinator_address=spec.coordinator, num_processes=spec.num_processes,
                      process_id=spec.process_id)
    try:
        jax.distributed.initialize(**kwargs)
    except (RuntimeError, ValueError) as e:  # unreachable coordinator, bad SLURM env, late call
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        where = f"--coordinator {spec.coordinator}" if spec.coordinator else "--distributed (auto-detect)"
        raise InputError(f"{where}: jax.distributed.initialize failed: {first}") from None


def shutdown() -> None:
    import jax

    jax.distributed.shutdown()


def process_index() -> int:
    import jax

    return jax.process_index()


def process_count() -> int:
    import jax

    return jax.process_count()


def allgather_bytes(blob: bytes) -> list[bytes]:
    """Every process's ``blob``, in process order, on every process.

    One collective for the lengths, one for the zero-padded payloads (the
    collective needs equal shapes). A single process returns ``[blob]``.
    """
    if process_count() == 1:
        return [blob]
    from jax.experimental import multihost_utils

    n = np.array([len(blob)], dtype=np.int64)
    lengths = np.asarray(multihost_utils.process_allgather(n)).reshape(-1)
    buf = np.zeros(int(lengths.max()) or 1, dtype=np.uint8)
    buf[: len(blob)] = np.frombuffer(blob, dtype=np.uint8)
    allb = np.asarray(multihost_utils.process_allgather(buf))
    return [allb[i, : int(lengths[i])].tobytes() for i in range(len(lengths))]


def agree_on_error(message: str | None) -> str | None:
    """All processes learn the first non-empty error message (a barrier, too)."""
    msgs = [m.decode() for m in allgather_bytes((message or "").encode())]
    return next((m for m in msgs if m), None)

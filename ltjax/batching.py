"""The one batching boundary: run a per-UE kernel over U UEs, in chunks, sharded over devices.

Every batched path in ltjax (link engine, LightTune, link adaptation, beam LCM, benchmarks)
goes through :func:`map_ues`::

    out = map_ues(kernel, point_key, n_ues, params, inputs, static={"n_periods": 20})

The kernel contract is :data:`UEKernel`: ``kernel(ue_key, *args, **static) -> pytree``
describes ONE UE (no batch axis), usually ``kernel(key, params, inputs, **static)`` with
``params`` a traced ``flax.struct`` pytree (what a sweep varies) and ``static`` the hashable
configuration that sets shapes or control flow. ``map_ues`` returns the same pytree with a
leading UE axis of length ``n_ues``, as host numpy arrays. A kernel that must see a block
of UEs at once (e.g. inference grouped by model across UEs) is declared ``batched=True``:
it then receives the keys of a micro-batch ``[M]`` and returns outputs with a leading
``[M]``; everything else (keys, chunking, sharding) is the same.

Letters: U UEs, D local devices, M UEs per micro-batch (default 32),
C UEs per chunk (a multiple of D * M).

Reproducibility contract : UE ``u`` always gets the key
``fold_in(point_key, u)`` where ``point_key = fold_in(key(seed), point)`` is
what the runner passes to the experiment. The draws of a UE therefore do not
depend on U's padding, on the chunk size or on how many devices share the UE
axis. The UE axis is padded up to a multiple of C, every chunk is placed on a
1-D mesh ``("ue",)`` over the local devices (``Mesh`` built from
``jax.local_devices()`` rather than ``jax.make_mesh``, which would take every
process's devices) with ``NamedSharding(mesh, P("ue"))``, and the padding UEs
are dropped before the result is returned. Inside each device the UEs run as
a ``lax.map`` over micro-batches of M vmapped UEs, so the compiled per-UE
code is the same for every C and D and float outputs are bit-identical too
(a plain vmap over a whole shard lets XLA vectorise reductions differently
for different shard sizes, which changes the last bits). Reductions over UEs
are left to the caller, on the host, over the full ``[U, ...]`` array.
``tests/test_distributed_scaleout.py`` checks all this on 1, 4 and 8 devices.

The shard_map runs with its varying-manual-axes check off (``check_vma=False``): the UE
shards are independent by construction (nothing is reduced over the ``"ue"`` axis inside),
so kernels need no "anchors" to make constant initial carries look varying.

``jax.jit`` is applied here because this is the boundary that entry points (experiments,
benchmarks, tests) call; kernels themselves stay un-jitted. Nothing here imports the sweep
runner: it is a neutral module below the domain packages.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import Any, Callable, Hashable, Mapping

import numpy as np

# Kernel contract: kernel(ue_key, *args, **static) -> pytree of arrays for ONE UE
# (usually kernel(key, params, inputs, **static)); with batched=True the keys and outputs
# carry a leading micro-batch axis [M].
UEKernel = Callable[..., Any]

# The runner's UE chunk size (``ltjax run --ue-chunk``); None = all UEs at once.
_DEFAULTS: dict[str, Any] = {"chunk_size": None}


@contextlib.contextmanager
def ue_chunking(chunk_size: int | None):
    """Sets the default ``chunk_size`` of :func:`map_ues` inside the block."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    old = _DEFAULTS["chunk_size"]
    _DEFAULTS["chunk_size"] = chunk_size
    try:
        yield
    finally:
        _DEFAULTS["chunk_size"] = old


def default_chunk_size() -> int | None:
    """The chunk size :func:`map_ues` uses when none is given."""
    env = os.environ.get("LTJAX_UE_CHUNK")
    if _DEFAULTS["chunk_size"] is None and env:
        return int(env)
    return _DEFAULTS["chunk_size"]


# Per-thread device subset: the runner's point-parallel mode runs one grid
# point per device in threads, each thread pinned to its own device.
_LOCAL = threading.local()


@contextlib.contextmanager
def on_devices(devices):
    """Inside the block (this thread only), ``map_ues`` and default placement use ``devices``."""
    import jax

    old = getattr(_LOCAL, "devices", None)
    _LOCAL.devices = tuple(devices)
    try:
        with jax.default_device(devices[0]):
            yield
    finally:
        _LOCAL.devices = old


def local_mesh():
    """A 1-D mesh named ``"ue"`` over this process's devices (all of them).

    In a multi-process run (``jax.distributed``) only the local devices are
    used: grid points are split between processes, UEs between a process's
    own devices. Inside :func:`on_devices` only the given devices are used.
    """
    import jax
    from jax.sharding import Mesh

    devices = getattr(_LOCAL, "devices", None) or jax.local_devices()
    return Mesh(np.array(devices), ("ue",))


def padded_size(n: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= ``n`` (and >= ``multiple``)."""
    return max(-(-n // multiple), 1) * multiple


@functools.lru_cache(maxsize=128)
def _batched(kernel: Callable, static_items: tuple, n_args: int, micro: int, mesh_key: tuple,
             batched: bool = False):
    """The compiled program for one chunk: (point_key, ue_index[C], *args) -> outputs [C, ...].

    Per device (``shard_map`` over the ``"ue"`` mesh axis) the C/D UEs of the
    shard are run as a ``lax.map`` over micro-batches of ``micro`` UEs, each
    micro-batch a ``vmap`` of the one-UE kernel. The loop body therefore has
    the same shape whatever C and D are, so XLA emits the same per-UE code
    and float results do not change with the chunk size or device count
    (a plain ``vmap`` over the whole shard lets XLA vectorise reductions
    differently for different shard sizes, which changes the last bits).
    Cached per kernel, static kwargs, micro-batch and mesh.
    """
    import jax
    from jax.sharding import PartitionSpec as P

    static = dict(static_items)
    mesh = local_mesh()

    def one(point_key, ue, *args):
        return kernel(jax.random.fold_in(point_key, ue), *args, **static)

    def block(point_key, b, *args):  # b: [micro] int32 UE indices
        keys = jax.vmap(lambda u: jax.random.fold_in(point_key, u))(b)
        return kernel(keys, *args, **static)

    def shard(point_key, ue, *args):  # ue: [C/D] int32, this device's UEs
        blocks = ue.reshape(-1, micro)  # [C/(D*micro), micro]
        step = block if batched else jax.vmap(one, in_axes=(None, 0) + (None,) * n_args)
        out = jax.lax.map(lambda b: step(point_key, b, *args), blocks)
        return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), out)

    spmd = jax.shard_map(shard, mesh=mesh, in_specs=(P(), P("ue")) + (P(),) * n_args,
                         out_specs=P("ue"), check_vma=False)
    return jax.jit(spmd)


def map_ues(kernel: UEKernel, point_key, n_ues: int, *args,
            chunk_size: int | None = None, static: Mapping[str, Hashable] | None = None,
            micro_batch: int = 32, batched: bool = False):
    """Runs ``kernel`` for UEs ``0..n_ues-1``; returns the stacked outputs ``[U, ...]`` (numpy).

    Args:
      kernel: ``kernel(ue_key, *args, **static) -> pytree of arrays`` for one UE.
        Must be a hashable, long-lived function (module-level) so the compiled
        program is reused across grid points.
      point_key: typed key of the grid point (``jax.random.key`` based).
      n_ues: U >= 1.
      *args: arrays or scalars shared by all UEs (replicated on every device).
      chunk_size: UEs per chunk C, rounded up to a multiple of the device
        count D; None uses the runner's ``--ue-chunk`` (default: all UEs in one
        chunk). Memory scales with C, never with U.
      static: hashable keyword arguments that set shapes or control flow
        (e.g. ``{"n_symbols": 1000}``); part of the compilation cache key.
      micro_batch: UEs vmapped together inside each device's loop. Results
        are bit-identical for any ``chunk_size`` and device count at a fixed
        ``micro_batch``; changing it may change float results in the last
        bits (integer outputs never change).
      batched: the kernel takes a block of UE keys ``[M]`` (M = micro-batch) and
        returns outputs with a leading ``[M]`` (see the module docstring).

    Returns:
      The kernel's pytree with a leading axis of length U, as numpy arrays.
    """
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P

    if isinstance(n_ues, bool) or int(n_ues) != n_ues or n_ues < 1:
        raise ValueError(f"n_ues must be a positive integer, got {n_ues!r}")
    n_ues = int(n_ues)
    mesh = local_mesh()
    n_dev = mesh.devices.size
    chunk = chunk_size if chunk_size is not None else default_chunk_size()
    micro = max(1, min(int(micro_batch), n_ues))  # never depends on D: see _batched
    chunk = padded_size(min(chunk or n_ues, n_ues), n_dev * micro)
    total = padded_size(n_ues, chunk)
    static_items = tuple(sorted((static or {}).items()))
    fn = _batched(kernel, static_items, len(args), micro, tuple(d.id for d in mesh.devices.flat), bool(batched))
    ue_sharding = NamedSharding(mesh, P("ue"))
    replicated = NamedSharding(mesh, P())
    key_r = jax.device_put(point_key, replicated)
    args_r = jax.device_put(args, replicated)
    pieces = []
    for start in range(0, total, chunk):
        ue = jax.device_put(np.arange(start, start + chunk, dtype=np.int32), ue_sharding)
        pieces.append(jax.device_get(fn(key_r, ue, *args_r)))
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=0)[:n_ues], *pieces)

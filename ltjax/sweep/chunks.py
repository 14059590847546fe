"""Chunks of grid points: compute one, save it atomically, load it back.

A chunk is a list of grid-point indices. Its result file
``<work>/chunk-<first>-<last>-<tag>.npz`` holds:

  ``__hash__``     the sweep's config hash (a chunk of another config is ignored);
  ``__indices__``  int64 [n] the grid-point indices, in order;
  ``__scalars__``  JSON list of n dicts, the scalar metrics of each point;
  ``__digest__``   sha256 over everything above and every series array;
  ``s<j>/<name>``  the array metrics of the j-th point of the chunk.

It is written to a temp file, fsynced and renamed (``atomic_write_bytes``),
so a killed run leaves whole chunk files or none. A file that does not load,
whose zip CRCs or digest do not match, or whose hash is another config's, is
treated as missing and recomputed.

Point ``i`` is always computed with ``fold_in(key(seed), i)``, so which chunk
(or process, or job) computes it does not change its result.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ltjax.errors import NumericalError
from ltjax.io import atomic_write_bytes

PointResult = tuple[dict, dict]  # (scalars, series)


def split_metrics(metrics: Any) -> PointResult:
    """Point-function output -> (scalars for data.csv, arrays for series.npz)."""
    import jax

    if not isinstance(metrics, dict):
        metrics = {"value": metrics}
    # Per value: device_get of a dict would sort its keys, and the column order
    # of data.csv is the order the experiment returns its metrics in.
    metrics = {k: jax.device_get(v) for k, v in metrics.items()}
    scalars, series = {}, {}
    for k, v in metrics.items():
        a = np.asarray(v)
        if a.ndim == 0:
            scalars[k] = a.item()
        else:
            series[k] = a
    return scalars, series


def check_finite(exp_name: str, allow_nonfinite: Iterable[str], idx: int, point: dict,
                 scalars: dict, series: dict) -> None:
    """NumericalError naming experiment, grid point and metric on any NaN/inf."""
    allowed = set(allow_nonfinite)
    bad = [k for k, v in scalars.items()
           if k not in allowed and isinstance(v, float) and not math.isfinite(v)]
    bad += [k for k, a in series.items()
            if k not in allowed and np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a))]
    if bad:
        raise NumericalError(
            f"experiment {exp_name!r}, grid point {idx} {point}: non-finite metric(s) {', '.join(sorted(bad))}")


def compute_chunk(exp, seed: int, indices: list[int], points, *, base_dir=None,
                  relative=()) -> dict[int, PointResult]:
    """Runs ``exp.fn`` on the given grid points; checks finiteness at the chunk boundary.

    ``points[i]`` is the validated parameter dict of point i; the experiment receives its
    parameter object (``Experiment.make_params``, relative paths resolved against
    ``base_dir`` for the keys in ``relative``).
    """
    import jax

    root = jax.random.key(seed)
    out = {}
    for i in indices:
        p = exp.make_params(points[i], base_dir=base_dir, relative=relative)
        out[i] = split_metrics(exp.fn(jax.random.fold_in(root, i), p))
    for i in indices:
        check_finite(exp.name, exp.allow_nonfinite, i, points[i], *out[i])
    return out


def _digest(config_hash: str, indices: list[int], scalars_json: str, series: list[dict]) -> str:
    h = hashlib.sha256()
    h.update(config_hash.encode())
    h.update(np.asarray(indices, dtype=np.int64).tobytes())
    h.update(scalars_json.encode())
    for j, s in enumerate(series):
        for k in sorted(s):
            a = np.ascontiguousarray(s[k])
            h.update(f"{j}/{k}/{a.dtype.str}/{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def encode_chunk(config_hash: str, results: dict[int, PointResult]) -> bytes:
    """The npz bytes of a chunk file (see the module docstring)."""
    indices = sorted(results)
    scalars_json = json.dumps([results[i][0] for i in indices])
    series = [results[i][1] for i in indices]
    arrays = {
        "__hash__": np.array(config_hash),
        "__indices__": np.asarray(indices, dtype=np.int64),
        "__scalars__": np.array(scalars_json),
        "__digest__": np.array(_digest(config_hash, indices, scalars_json, series)),
    }
    for j, s in enumerate(series):
        arrays.update({f"s{j}/{k}": v for k, v in s.items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def decode_chunk(data: bytes | Path, config_hash: str) -> dict[int, PointResult] | None:
    """The chunk's results, or None if unreadable, corrupt or of another config."""
    try:
        src = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        with np.load(src, allow_pickle=False) as z:
            if str(z["__hash__"]) != config_hash:
                return None
            indices = [int(i) for i in z["__indices__"]]
            scalars_json = str(z["__scalars__"])
            scalars = json.loads(scalars_json)
            series = [{} for _ in indices]
            for name in z.files:
                if name.startswith("s") and "/" in name:
                    j, k = name[1:].split("/", 1)
                    series[int(j)][k] = z[name]
            if str(z["__digest__"]) != _digest(config_hash, indices, scalars_json, series):
                return None
        if len(scalars) != len(indices):
            return None
        return {i: (scalars[j], series[j]) for j, i in enumerate(indices)}
    except Exception:  # noqa: BLE001 - any unreadable chunk is simply recomputed
        return None


def chunk_path(work: Path, indices: list[int]) -> Path:
    tag = hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:8]
    return Path(work) / f"chunk-{indices[0]:05d}-{indices[-1]:05d}-{tag}.npz"


def save_chunk(work: Path, config_hash: str, results: dict[int, PointResult]) -> Path:
    """Writes the chunk file atomically (temp, fsync, rename); returns its path."""
    path = chunk_path(work, sorted(results))
    atomic_write_bytes(path, encode_chunk(config_hash, results))
    return path


def load_done(work: Path, config_hash: str, n_points: int) -> dict[int, PointResult]:
    """Every finished point found in ``work``'s valid chunk files."""
    done: dict[int, PointResult] = {}
    for f in sorted(Path(work).glob("chunk-*.npz")):
        if not f.is_file():  # refused before the run starts (ltjax.sweep.outdir); never opened
            continue
        got = decode_chunk(f, config_hash)
        if got is None:
            try:
                f.unlink(missing_ok=True)  # corrupt or stale: its points are recomputed
            except OSError:
                pass
            continue
        done.update({i: r for i, r in got.items() if 0 <= i < n_points})
    return done

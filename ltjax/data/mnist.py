"""MNIST loader for the standard IDX files (gzip-compressed or not). numpy only.

The directory is ``data_dir`` if given, else the environment variable
``LTJAX_DATA_DIR`` (set by ``ltjax run --data-dir``). Files looked for, first
match wins (``.gz`` or uncompressed):

- train: ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (official 60k),
  then ``train10k-images-idx3-ubyte`` / ``train10k-labels-idx1-ubyte`` (first 10k);
- test: ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``.

Missing, truncated, wrong-magic or mismatched files raise
:class:`ltjax.errors.InputError` naming the file. Only regular files are opened (a FIFO
never blocks), and no file is read past :data:`MAX_IDX_BYTES` of data, compressed or
not: the header's dimensions are checked against that cap before the data is read, so
neither a gzip bomb nor a header claiming 2^64 samples can exhaust memory.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ltjax.errors import InputError
from ltjax.io import check_input_file

ENV_VAR = "LTJAX_DATA_DIR"
MAGIC_IMAGES = 2051  # 0x00000803: unsigned byte, 3 dimensions
MAGIC_LABELS = 2049  # 0x00000801: unsigned byte, 1 dimension
# Standardisation of the reference code (torchvision Normalize((0.1307,), (0.3081,))).
MEAN, STD = 0.1307, 0.3081
# Largest IDX file read, header included [bytes], after decompression: the official
# training images are 47 MB; EMNIST-sized sets still fit.
MAX_IDX_BYTES = 512 * 2**20

_STEMS = {
    "train": (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              ("train10k-images-idx3-ubyte", "train10k-labels-idx1-ubyte")),
    "test": (("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),),
}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` if non-empty, else ``$LTJAX_DATA_DIR``; InputError if neither names a directory."""
    if data_dir in (None, ""):
        data_dir = os.environ.get(ENV_VAR, "")
        src = f"${ENV_VAR}"
        if not data_dir:
            raise InputError(f"data_dir: no MNIST directory given; pass --data-dir DIR, set "
                             f"{ENV_VAR}, or set data_dir in the sweep")
    else:
        src = "data_dir"
    p = Path(data_dir).expanduser()
    if not p.is_dir():
        raise InputError(f"{p}: {src}: not a directory; allowed: a directory holding the MNIST IDX files")
    return p


def _find(directory: Path, stem: str) -> Path | None:
    """The file of ``stem`` (``.gz`` first); any existing entry counts, so that a FIFO or a
    directory of that name is reported as what it is rather than as missing."""
    for name in (stem + ".gz", stem):
        if os.path.lexists(directory / name):
            return directory / name
    return None


def _read_exactly(f, n: int) -> bytes:
    """Up to ``n`` bytes of ``f`` (fewer only at the end of the stream)."""
    chunks, left = [], n
    while left > 0:
        b = f.read(min(left, 1 << 24))
        if not b:
            break
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def read_idx(path: str | os.PathLike, magic: int, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Reads one IDX file (``.gz`` or raw) of unsigned bytes with the expected ``magic`` number.

    At most ``max_bytes`` (header plus data, decompressed) are read; a header announcing
    more is refused before its data is read.
    """
    path = Path(path)
    check_input_file(path, str(path), max_bytes=max_bytes)  # regular file, readable, not oversized
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            head = _read_exactly(f, 4)
            if len(head) < 4:
                raise InputError(f"{path}: truncated: {len(head)} bytes, no IDX header")
            got = int.from_bytes(head, "big")
            if got != magic:
                raise InputError(f"{path}: wrong magic number {got:#010x}; allowed: {magic:#010x} "
                                 f"({'images' if magic == MAGIC_IMAGES else 'labels'} IDX file)")
            ndim = head[3]
            dims = _read_exactly(f, 4 * ndim)
            if len(dims) < 4 * ndim:
                raise InputError(f"{path}: truncated IDX header")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            n = math.prod(shape)  # exact: no int64 overflow
            header = 4 + 4 * ndim
            if header + n > max_bytes:
                raise InputError(f"{path}: header says {shape} = {n} bytes of data, more than the "
                                 f"{max_bytes}-byte limit of an IDX file")
            data = _read_exactly(f, n + 1)  # one more byte tells a padded file
    except InputError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; EOFError: truncated gzip
        raise InputError(f"{path}: unreadable or truncated gzip file ({type(e).__name__}: {e})") from None
    if len(data) != n:
        size = f"{len(data)}" if len(data) <= n else "more"
        raise InputError(f"{path}: truncated or padded: header says {shape} = {n} bytes of data, "
                         f"file has {size}")
    return np.frombuffer(data, np.uint8, count=n).reshape(shape)


def load_mnist(split: str, data_dir: str | os.PathLike | None = None,
               n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of ``split`` ("train" or "test").

    Args:
      split: "train" or "test".
      data_dir: directory; None or "" means ``$LTJAX_DATA_DIR``.
      n: keep the first ``n`` samples (InputError if fewer exist); None keeps all.
    Returns:
      (images uint8 [N, 28, 28], labels uint8 [N]).
    """
    if split not in _STEMS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = resolve_data_dir(data_dir)
    for img_stem, lab_stem in _STEMS[split]:
        img_path, lab_path = _find(d, img_stem), _find(d, lab_stem)
        if img_path is not None or lab_path is not None:
            break
    names = " or ".join(f"{a}[.gz] + {b}[.gz]" for a, b in _STEMS[split])
    if img_path is None or lab_path is None:
        missing = img_stem if img_path is None else lab_stem
        raise InputError(f"{d / missing}[.gz]: file not found; allowed: {names}")
    images = read_idx(img_path, MAGIC_IMAGES)
    labels = read_idx(lab_path, MAGIC_LABELS)
    if images.ndim != 3 or labels.ndim != 1:
        raise InputError(f"{img_path}: expected images [N, rows, cols] and labels [N]")
    if images.shape[0] != labels.shape[0]:
        raise InputError(f"{lab_path}: {labels.shape[0]} labels for {images.shape[0]} images in {img_path}")
    if labels.size and labels.max() > 9:
        raise InputError(f"{lab_path}: label {int(labels.max())} out of range; allowed: 0..9")
    if n is not None:
        if n > images.shape[0]:
            raise InputError(f"{img_path}: n_train: asked for {n} samples, file has {images.shape[0]}")
        images, labels = images[:n], labels[:n]
    return images, labels


def standardize(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, 784], (x/255 - 0.1307) / 0.3081 as the reference code."""
    x = images.reshape(images.shape[0], -1).astype(np.float32) / 255.0
    return (x - MEAN) / STD

"""One place for files: atomic writes, the config hash, versioned artefacts, run metadata.

Every file ltjax writes (result files, chunk files, models, datasets, caches, benchmark
JSON) goes through :func:`atomic_write_bytes`: a temporary file beside the target,
``fsync``, mode 0644, then ``os.replace``. A reader (or a resumed run) sees the old file or
the new one, never half of one.

Artefacts that pass between experiments (the offline FF BLER model, the ML baseline, the
beam models, BLER datasets) are a payload file plus a JSON *sidecar* beside it (same stem,
suffix ``.json``) holding ``format_version``, the ``config`` that made it and its
:func:`config_hash`. :func:`save_artifact` / :func:`load_artifact` write and read such pairs
for msgpack payloads (flax serialization, no pickle) and ``.npz`` payloads
(``allow_pickle=False``); every problem with a file is a one-line
:class:`~ltjax.errors.InputError` naming the file.

Paths that an experiment will write are checked before any compute starts
(:func:`check_output_path`), and files that it reads are opened only when they are regular
files (:func:`check_input_file`): a FIFO or a device never blocks a run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import stat
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

from ltjax.errors import InputError

FILE_MODE = 0o644
PACKAGES = ("jax", "jaxlib", "flax", "optax", "chex", "numpy", "matplotlib")
# Largest artefact payload ltjax reads back [bytes]: far above any model or dataset it
# writes (the 83k-sample BLER dataset is ~4 MB), far below what would exhaust memory.
MAX_ARTIFACT_BYTES = 2 * 2**30


# ---- atomic writes --------------------------------------------------------------------------


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = FILE_MODE) -> Path:
    """Writes ``data`` to a temp file beside ``path``, fsyncs, sets ``mode``, renames.

    A reader never sees a half-written file: it sees the old one or the new one. The
    parent directory is created if missing. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


def json_default(o):
    """JSON encoder fallback for numpy scalars/arrays, paths and tuples-as-keys' values."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ---- identity -------------------------------------------------------------------------------


def canonical_json(obj: Any) -> str:
    """Canonical JSON text of ``obj``: sorted keys, no spaces; tuples as lists."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default)


def config_hash(obj: Any, length: int | None = None) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``obj``: the identity of a run or artefact.

    ``length`` truncates the hex digest (e.g. 16 for directory names).
    """
    h = hashlib.sha256(canonical_json(obj).encode()).hexdigest()
    return h[:length] if length else h


# ---- paths checked before compute --------------------------------------------------------


def _special(path: Path) -> bool:
    try:
        m = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(m) or stat.S_ISDIR(m))


def check_output_path(path: str | Path, where: str, *, directory: bool = False) -> Path:
    """Checks that ltjax may create or replace ``path`` (a file, or a directory if ``directory``).

    Refused with a one-line InputError naming ``where`` (e.g. ``"sweeps/x.toml: params.model_out"``):
    an empty path or one with a NUL character; a directory where a file is wanted (and vice
    versa); a FIFO, device or socket; a path under /proc, /sys or /dev; a parent that is a file
    or is not writable. Nothing is created. Returns the path.
    """
    text = str(path)
    if not text.strip():
        raise InputError(f"{where}: empty path")
    if "\x00" in text:
        raise InputError(f"{where}: path contains a NUL character")
    p = Path(text)
    try:
        resolved = p.resolve(strict=False)
    except (OSError, RuntimeError) as e:  # symlink loops
        raise InputError(f"{where}: {text}: cannot resolve path ({e})") from None
    if any(str(resolved) == r or str(resolved).startswith(r + "/") for r in ("/proc", "/sys", "/dev")):
        raise InputError(f"{where}: {text}: not a place for results (system directory)")
    try:
        present = p.exists() or p.is_symlink()
    except OSError as e:  # e.g. a name longer than NAME_MAX
        raise InputError(f"{where}: {text}: cannot use the path ({e.strerror})") from None
    if present:
        if not p.exists():
            raise InputError(f"{where}: {text}: dangling or looping symbolic link")
        if _special(p):
            raise InputError(f"{where}: {text}: exists and is not a regular file or directory")
        if directory and not p.is_dir():
            raise InputError(f"{where}: {text}: exists and is a file; allowed: a directory")
        if not directory and p.is_dir():
            raise InputError(f"{where}: {text}: exists and is a directory; allowed: a file path")
        if not os.access(p if directory else p.parent, os.W_OK | os.X_OK):
            raise InputError(f"{where}: {text}: not writable")
        return p
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{where}: {text}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{where}: {text}: directory {parent} is not writable")
    return p


def check_input_file(path: str | Path, where: str, *, max_bytes: int = MAX_ARTIFACT_BYTES,
                     hint: str = "") -> Path:
    """Checks that ``path`` is a readable regular file of at most ``max_bytes``; returns it.

    A FIFO, device or directory is refused (opening a FIFO would block forever). ``hint``
    is appended to the "missing" message (e.g. the command that makes the file).
    """
    text = str(path)
    if "\x00" in text:
        raise InputError(f"{where}: path contains a NUL character")
    p = Path(text)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{where}: {text}: no such file{'; ' + hint if hint else ''}") from None
    except OSError as e:
        raise InputError(f"{where}: {text}: cannot read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{where}: {text}: is a directory; allowed: a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{where}: {text}: not a regular file")
    if st.st_size > max_bytes:
        raise InputError(f"{where}: {text}: {st.st_size} bytes, more than the {max_bytes}-byte limit")
    if not os.access(p, os.R_OK):
        raise InputError(f"{where}: {text}: not readable")
    return p


def read_bytes_checked(path: str | Path, where: str, *, max_bytes: int = MAX_ARTIFACT_BYTES,
                       hint: str = "") -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`check_input_file`)."""
    p = check_input_file(path, where, max_bytes=max_bytes, hint=hint)
    try:
        return p.read_bytes()
    except OSError as e:
        raise InputError(f"{where}: {p}: cannot read ({e.strerror})") from None


# ---- versioned artefacts ------------------------------------------------------------------


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar of an artefact payload: same stem, suffix ``.json``."""
    return Path(path).with_suffix(".json")


def check_artifact_path(path: str | Path, where: str) -> Path:
    """Like :func:`check_output_path` for a payload, and its sidecar must be another file."""
    p = check_output_path(path, where)
    if p.suffix == ".json" or sidecar_path(p) == p:
        raise InputError(f"{where}: {p}: the payload may not end in .json (its JSON sidecar "
                         "would overwrite it); use e.g. .msgpack or .npz")
    check_output_path(sidecar_path(p), where)
    return p


def save_artifact(path: str | Path, payload: Any, meta: Mapping[str, Any], *, version: int,
                  kind: str) -> Path:
    """Writes an artefact: ``payload`` to ``path`` and ``meta`` (+ version, kind, hash) to its sidecar.

    Args:
      path: payload file; ``.npz`` stores ``payload`` (a flat dict of arrays) with numpy,
        anything else stores it (a nested dict of arrays) as flax msgpack.
      payload: the arrays.
      meta: JSON-able metadata; must hold ``config`` (what made the artefact); its
        ``config_hash`` is added.
      version: format version written as ``format_version``.
      kind: what the artefact is (e.g. ``"ff_bler_model"``), checked on load.

    The payload is written first, the sidecar last, both atomically: a sidecar always
    describes a complete payload.
    """
    import numpy as np

    p = Path(path)
    if p.suffix == ".json":
        raise InputError(f"{p}: an artefact payload may not end in .json (its sidecar)")
    if p.suffix == ".npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in payload.items()})
        blob = buf.getvalue()
    else:
        from flax import serialization

        blob = serialization.msgpack_serialize(payload)
    full = {"format_version": int(version), "kind": kind, **dict(meta)}
    full["config_hash"] = config_hash(full.get("config", {}), 16)
    atomic_write_bytes(p, blob)
    atomic_write_json(sidecar_path(p), full)
    return p


def load_artifact(path: str | Path, *, version: int, kind: str | None = None,
                  hint: str = "") -> tuple[Any, dict]:
    """(payload, meta) of an artefact written by :func:`save_artifact`.

    Raises a one-line InputError naming the file for: a missing or non-regular file, a
    sidecar of another format version or kind, a sidecar whose ``config_hash`` does not
    match its ``config`` (edited by hand: the weights would no longer be what it claims), or
    an unreadable payload. ``hint`` tells how to remake the file.
    """
    import numpy as np

    p = Path(path)
    sc = sidecar_path(p)
    raw = read_bytes_checked(sc, f"{sc}", max_bytes=64 * 2**20, hint=hint)
    try:
        meta = json.loads(raw.decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{sc}: unreadable artefact sidecar ({type(e).__name__}: {e})") from None
    if meta.get("format_version") != version:
        raise InputError(f"{sc}: format_version {meta.get('format_version')!r}; allowed: {version}"
                         f"{' (' + hint + ')' if hint else ''}")
    if kind is not None and meta.get("kind", kind) != kind:
        raise InputError(f"{sc}: kind {meta.get('kind')!r}; allowed: {kind!r}")
    if "config_hash" in meta and "config" in meta:
        want = meta["config_hash"]
        if not isinstance(want, str) or not want:
            raise InputError(f"{sc}: config_hash {want!r} is not a hash; allowed: a hex string")
        if want not in (config_hash(meta["config"], len(want)), legacy_config_hash(meta["config"], len(want))):
            raise InputError(f"{sc}: config_hash {want} does not match the config stored beside it "
                             "(the file was edited or mixed with another model's)")
    blob = read_bytes_checked(p, f"{p}", hint=hint)
    try:
        if p.suffix == ".npz":
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                payload = {k: np.asarray(z[k]) for k in z.files}
        else:
            from flax import serialization

            payload = serialization.msgpack_restore(blob)
    except Exception as e:  # noqa: BLE001 - any decoding error of a corrupted payload
        raise InputError(f"{p}: corrupted artefact ({type(e).__name__}: {e})"
                         f"{'; ' + hint if hint else ''}") from None
    return payload, meta


def legacy_config_hash(obj: Any, length: int = 16) -> str:
    """The hash artefacts were stamped with before :func:`config_hash` (``json.dumps`` with
    default separators and ``default=str``); accepted on load so that existing artefacts
    stay readable."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


# ---- result tables ---------------------------------------------------------------------------


def format_csv(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """CSV text with a header; floats written with full (repr) precision."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c, "")) for c in columns])
    return buf.getvalue()


def _cell(v):
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return " ".join(str(e) for e in v)
    return v


# ---- run metadata -------------------------------------------------------------------------


def git_info(cwd: str | Path | None = None) -> dict[str, Any]:
    """The git SHA and dirty flag of the checkout ltjax runs from, if any."""
    cwd = str(cwd or Path(__file__).resolve().parents[1])
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        sha, dirty = None, None
    return {"git_sha": sha, "git_dirty": dirty if sha else None}


def package_versions() -> dict[str, str | None]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def environment() -> dict[str, Any]:
    """Everything needed to say where and with what a result was made."""
    import jax

    from ltjax import __version__

    return {
        "ltjax_version": __version__,
        **git_info(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
        "cpu_count": os.cpu_count(),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20

"""Where a sweep writes, what ltjax may replace there, and the lock that keeps runs apart.

A result directory ``<parent>/<name>`` and the names the runner uses beside it::

    <name>/          the result: meta.json (the marker), data.csv, series.npz, plots
    .<name>.work/    chunk files of an unfinished run (resume) and manifest.json
    .<name>.tmp/     the next result while it is assembled (meta.json is written first)
    .<name>.old/     the previous result while ``--force`` swaps it out
    .<name>.lock     the lock file: pid, host and command of the run holding it

**Output safety.** ltjax replaces or deletes only what it can prove it wrote. A result
directory is ltjax's when its ``meta.json`` is a JSON object written by ltjax: with
``"schema": RESULT_SCHEMA`` (results written since the marker was introduced), or with the
keys ``experiment``, ``config_hash`` and ``ltjax_version`` (older results). ``--force``
replaces such a directory or an empty one; it refuses, with a one-line
:class:`~ltjax.errors.InputError` and before any compute, a file, a symbolic link, a
directory without the marker, ``/``, the home directory, the current directory or any of
its parents, the directory of the sweep file or any of its parents, and the ltjax
source tree.

**The lock.** A run holds an advisory ``flock`` on ``.<name>.lock`` from before it writes
anything until its result is in place, and removes the file while still holding it. A
second run into the same directory exits 2 at once, naming the pid and host of the first.
The kernel releases a killed process's lock, so a lock file left behind by a killed run
is simply taken over. (``flock`` works across the processes of one machine and, on Linux,
across NFS clients; on other network filesystems two machines may not see each other's
locks.)

**Preflight.** :func:`check_path_params` checks every path parameter of the experiment
(``ltjax.params.field(kind="path", role=...)``) before any compute, so a run never fails
on a path after hours of work: inputs must be readable regular files (a FIFO never
blocks), input directories must exist, outputs must be creatable regular files whose JSON
sidecar is another file, and nothing the run writes may lie inside the result directory
that it replaces or be the sweep file or one of the run's inputs.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ltjax.errors import InputError
from ltjax.io import check_artifact_path, check_input_file, check_output_path, sidecar_path
from ltjax.params import resolve_path

RESULTS_ROOT = Path("results")
RESULT_SCHEMA = "ltjax-result/1"
MARKER = "meta.json"
LEGACY_MARKER_KEYS = ("experiment", "config_hash", "ltjax_version")
MAX_MARKER_BYTES = 64 * 2**20
SYSTEM_DIRS = ("/proc", "/sys", "/dev")
NAME_MAX = 255
SOURCE_TREE = Path(__file__).resolve().parents[2]  # the checkout ltjax is imported from


@dataclass(frozen=True)
class OutputPaths:
    """The result directory of a run and its sibling names (see the module docstring).

    Attributes:
      out: the result directory.
      where: how the user named it, for messages: ``"--out DIR"``, ``"<sweep>: out: DIR"``
        or ``"<sweep>: name: results/NAME"``.
    """

    out: Path
    where: str

    def sibling(self, suffix: str) -> Path:
        """``<parent>/.<name>.<suffix>``: one of ltjax's names beside the result."""
        return self.out.parent / f".{self.out.name}.{suffix}"

    work = property(lambda self: self.sibling("work"), doc="chunks of an unfinished run")
    tmp = property(lambda self: self.sibling("tmp"), doc="the new result while it is assembled")
    old = property(lambda self: self.sibling("old"), doc="the previous result while it is swapped out")
    lock = property(lambda self: self.sibling("lock"), doc="the lock file")


def output_paths(source: str, name: str, toml_out: str | None, out: str | Path | None = None) -> OutputPaths:
    """``out`` (``--out``) beats the sweep's ``out`` key, which beats ``results/<name>``.

    A path ending in ``.`` or ``..`` or holding ``..`` is resolved first, so that the
    sibling names are those of the directory it means.
    """
    if out is not None and str(out) != "":
        path, where = Path(out), f"--out {out}"
    elif toml_out:
        path, where = Path(toml_out), f"{source}: out: {toml_out}"
    else:
        path = RESULTS_ROOT / name
        where = f"{source}: name: {path}"
    if "\x00" in str(path):
        raise InputError(f"{where}: contains a NUL character")
    if path.name in ("", ".", "..") or ".." in path.parts:
        try:
            path = path.resolve()
        except (OSError, RuntimeError) as e:  # a symlink loop on the way
            raise InputError(f"{where}: cannot resolve the path ({e})") from None
    return OutputPaths(path, where)


# ---- what ltjax wrote ---------------------------------------------------------------------


def read_marker(directory: Path) -> dict | None:
    """The ``meta.json`` of an ltjax result directory, or None if ``directory`` is not one."""
    m = Path(directory) / MARKER
    try:
        st = os.lstat(m)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MARKER_BYTES:
            return None
        meta = json.loads(m.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    if meta.get("schema") == RESULT_SCHEMA or all(k in meta for k in LEGACY_MARKER_KEYS):
        return meta
    return None


def _entries(directory: Path) -> list[str] | None:
    """The names in ``directory``, or None if it cannot be listed (then it is not ltjax's)."""
    try:
        return os.listdir(directory)
    except OSError:
        return None


def _only_temp_files(directory: Path) -> bool:
    """Empty, or only the ``.<file>.<random>.tmp`` files an interrupted atomic write leaves."""
    names = _entries(directory)
    return names is not None and all(e.startswith(".") and e.endswith(".tmp") for e in names)


def is_result_dir(directory: Path) -> bool:
    """A directory ltjax may replace: an ltjax result (see :func:`read_marker`) or empty."""
    return read_marker(directory) is not None or _only_temp_files(directory)


def is_work_dir(directory: Path) -> bool:
    """An ltjax work directory: holds a manifest, or only chunk files, temp files and cluster logs."""
    if (Path(directory) / "manifest.json").is_file():
        return True
    names = _entries(directory)
    return names is not None and all(e.startswith("chunk-") or (e.startswith(".") and e.endswith(".tmp"))
                                     or e == "submitit" for e in names)


def _is_ancestor_or_self(a: Path, b: Path) -> bool:
    return a == b or a in b.parents


def protected_reason(resolved: Path, sweep_file: str | None) -> str | None:
    """Why ``resolved`` (an absolute, resolved path) may never be replaced, or None."""
    if resolved == Path(resolved.anchor):
        return "the root directory"
    guarded = [(Path.cwd, "the current directory or one of its parents"),
               (Path.home, "the home directory or one of its parents"),
               (lambda: Path(sweep_file or "/").parent, "the directory of the sweep file or one of its parents"),
               (lambda: SOURCE_TREE if (SOURCE_TREE / "pyproject.toml").is_file() else Path("/"),
                "the ltjax source tree or one of its parents")]
    for where, why in guarded:
        try:
            if _is_ancestor_or_self(resolved, where().resolve()):
                return why
        except (OSError, RuntimeError, KeyError):  # no cwd, no home, a symlink loop
            continue
    return None


# ---- checks before anything is written ---------------------------------------------------


def _refuse(where: str, problem: str) -> InputError:
    return InputError(f"{where}: {problem}")


def check_output(paths: OutputPaths, *, force: bool, sweep_file: str | None = None) -> None:
    """Checks that the run may create (or, with ``force``, replace) ``paths.out``. Writes nothing.

    Raises a one-line InputError naming ``paths.where`` (see the module docstring for
    what is refused).
    """
    out, where = paths.out, paths.where
    if len(out.name.encode("utf-8", "surrogateescape")) + len(".work") + 1 > NAME_MAX:
        raise _refuse(where, f"directory name longer than {NAME_MAX - 6} bytes")
    try:
        resolved = out.resolve()
    except (OSError, RuntimeError) as e:
        raise _refuse(where, f"cannot resolve the path ({e})") from None
    if any(str(resolved) == d or str(resolved).startswith(d + "/") for d in SYSTEM_DIRS):
        raise _refuse(where, "is under /proc, /sys or /dev; allowed: a directory for results")
    if out.is_symlink():
        raise _refuse(where, "is a symbolic link; allowed: a real directory (give the path it points to)")
    try:
        st = os.stat(out)
    except (FileNotFoundError, NotADirectoryError):  # the latter: a file on the way (checked below)
        st = None
    except OSError as e:
        raise _refuse(where, f"cannot use the path ({e.strerror})") from None
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(where, "exists and is not a directory; ltjax never replaces a file")
        why = protected_reason(resolved, sweep_file)
        if why:
            raise _refuse(where, f"is {why}; ltjax never replaces it; allowed: a new directory or an "
                                 "ltjax result directory")
        if not is_result_dir(out):
            raise _refuse(where, "exists and is not an ltjax result directory (no meta.json written by "
                                 "ltjax); ltjax replaces only its own results; choose another output directory")
        if not force:
            raise _refuse(where, "result directory exists; pass --force to overwrite it")
        if not os.access(out.parent, os.W_OK | os.X_OK):
            raise _refuse(where, f"directory {out.parent} is not writable")
    else:
        _check_creatable(out, where)
    _check_siblings(paths)


def _check_creatable(out: Path, where: str) -> None:
    """The nearest existing ancestor of ``out`` is a writable directory."""
    parent = out.absolute().parent
    while True:
        try:
            st = os.stat(parent)
            break
        except (FileNotFoundError, NotADirectoryError):
            parent = parent.parent
        except OSError as e:
            raise _refuse(where, f"cannot use {parent} ({e.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(where, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _refuse(where, f"directory {parent} is not writable")


def _check_siblings(paths: OutputPaths) -> None:
    """ltjax's own sibling names are free, or hold what ltjax left there (see the module docstring)."""
    where = paths.where
    manifest = paths.work / "manifest.json"
    if manifest.is_symlink() or (manifest.exists() and not manifest.is_file()):
        raise _refuse(where, f"{manifest} is not a regular file; remove it (it is re-made)")
    for path, kind in ((paths.work, "work"), (paths.tmp, "tmp"), (paths.old, "old"), (paths.lock, "lock")):
        if not (path.exists() or path.is_symlink()):
            continue
        if path.is_symlink():
            raise _refuse(where, f"{path} is a symbolic link in the way of ltjax's {kind} file; remove it")
        if kind == "lock":
            if not path.is_file():
                raise _refuse(where, f"{path} is not a regular file (ltjax's lock file); remove it")
            continue
        if not path.is_dir():
            raise _refuse(where, f"{path} is not a directory (ltjax's {kind} directory); remove it")
        owned = is_work_dir(path) if kind == "work" else is_result_dir(path)
        if not owned:
            raise _refuse(where, f"{path} holds files ltjax did not write; move them away and re-run")
    work = paths.work
    if work.is_dir():
        for e in _entries(work):
            chunk = work / e
            if e.startswith("chunk-") and not chunk.is_file():
                raise _refuse(where, f"{chunk} is not a regular file; remove it (its points are recomputed)")


def _where_param(cfg, key: str) -> str:
    return f"{cfg.source}: params.{key}" + ("" if key in cfg.given else " (default)")


def _real(path: str | Path) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.abspath(path)


def check_path_params(cfg, paths: OutputPaths | None = None) -> None:
    """Checks every path parameter of every grid point before any compute (module docstring).

    Roles (``ltjax.params.ROLES``): ``input`` a readable regular file; ``input_dir`` an
    existing directory; ``output`` an artefact file with a JSON sidecar
    (``ltjax.io.check_artifact_path``); ``dir`` a directory the run writes into. An empty
    input value means "not used" (e.g. ``$LTJAX_DATA_DIR`` instead), and an input left at
    its default that does not exist is left to the experiment (some are optional, such as
    a dataset to reuse; a required one fails with its own one-line message when opened):
    whatever a sweep file names must exist.
    """
    relative = set(cfg.path_keys())
    inputs: dict[str, str] = {}
    writes: list[tuple[str, str, str]] = []  # (where, shown path, real path)
    for key, p in cfg.experiment.params.items():
        if p.kind != "path":
            continue
        where = _where_param(cfg, key)
        values = cfg.axes[key] if key in cfg.axes else [cfg.fixed[key]]
        for raw in dict.fromkeys(values):
            value = resolve_path(str(raw), cfg.base_dir if key in relative else None)
            if p.role == "input":
                if value == "" or (key not in cfg.given and not os.path.lexists(value)):
                    continue  # not used, or an optional default the experiment may do without
                check_input_file(value, where, hint=p.doc)
                inputs[_real(value)] = where
                inputs.setdefault(_real(sidecar_path(value)), f"the sidecar of {where}")
            elif p.role == "input_dir":
                if value == "":
                    continue
                if not os.path.isdir(value):
                    raise _refuse(where, f"{value}: no such directory")
                if not os.access(value, os.R_OK | os.X_OK):
                    raise _refuse(where, f"{value}: directory is not readable")
            elif p.role == "output":
                path = check_artifact_path(value, where)
                writes += [(where, str(path), _real(path)),
                           (where, str(sidecar_path(path)), _real(sidecar_path(path)))]
            elif p.role == "dir":
                check_output_path(value, where, directory=True)
                writes.append((where, value, _real(value)))
    if cfg.source and os.path.isfile(cfg.source):
        inputs.setdefault(_real(cfg.source), f"{cfg.source} (the sweep file)")
    replaced = [_real(x) for x in (paths.out, paths.work, paths.tmp, paths.old)] if paths else []
    for where, shown, real in writes:
        if real in inputs:
            raise _refuse(where, f"{shown}: the run would overwrite {inputs[real]}; allowed: another path")
        for r in replaced:
            if real == r or real.startswith(r + os.sep):
                raise _refuse(where, f"{shown}: inside {paths.out}, which the run writes and replaces; "
                                     "allowed: a path outside the result directory")


# ---- directories the run creates -----------------------------------------------------------


def make_parents(path: Path) -> list[Path]:
    """``mkdir -p path.parent``; returns the directories it created, outermost first."""
    missing = []
    p = Path(path).absolute().parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            remove_empty(created)
            raise InputError(f"{path}: cannot create directory {d} ({e.strerror})") from None
        created.append(d)
    return created


def remove_empty(created: list[Path]) -> None:
    """Removes the directories of :func:`make_parents` again, innermost first, while empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            return


# ---- the lock -------------------------------------------------------------------------------


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_bytes()[:4096])
        return (f"pid {int(info['pid'])} on host {info['host']}, started {info['started_utc']}: "
                f"{str(info.get('command', ''))[:200]}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RunLock:
    """The advisory lock of one output directory (see the module docstring).

    ``acquire()`` raises InputError (exit 2) at once if another process holds it;
    ``release()`` removes the lock file and unlocks.
    """

    def __init__(self, path: Path, where: str):
        self.path, self.where = Path(path), where
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        import fcntl

        for _ in range(10):  # the holder may remove the file between our open and flock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            except OSError as e:
                raise _refuse(self.where, f"cannot create the lock file {self.path} ({e.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise _refuse(self.where, f"another ltjax run is writing this result directory "
                                          f"({_holder(self.path)}); wait for it or choose another "
                                          f"output directory") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "command": " ".join(sys.argv)}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            os.fchmod(fd, 0o644)
            self.fd = fd
            return self
        raise _refuse(self.where, f"could not take the lock {self.path}; re-run")

    def release(self) -> None:
        """Removes the lock file (still holding the lock) and unlocks. Idempotent."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)


def marker_fields(run_id: str) -> dict[str, Any]:
    """The keys that mark a new meta.json as ltjax's."""
    return {"schema": RESULT_SCHEMA, "run_id": run_id}

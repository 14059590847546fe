"""Files shipped inside the ltjax package, named by ``package:`` paths.

A path parameter of an experiment (``ltjax.params.field(kind="path", role="input")``) may
name a file installed with ltjax instead of a file on disk: ``package:<path under
ltjax/data/>``, e.g. :data:`FF_BLER_MODEL`. Such a name means the same file from any
working directory, in an editable checkout and in a wheel install alike (the files are
package data, ``pyproject.toml``), so a sweep file can use a model without its user
having made one first. ``ltjax.params.resolve_path`` turns the name into the installed
file's path; the sweep parser refuses a bad name (and a ``package:`` name for anything
the run writes: shipped files are read-only) with one line naming the file and key.

Shipped files:

``models/bler_ff_tdla30.msgpack`` (+ ``.json`` sidecar)
    The offline forward-forward BLER model of LightTune (Tables III-IV), as
    ``ltjax run sweeps/bler_offline.toml`` writes it to
    ``results/bler_offline_model/ff_model.msgpack``: 83,200 TDL-A30 samples at 0-12 dB and
    10 Hz, layers [13, 32, 32], 22,000 epochs; the sidecar records the config that made it
    (``tests/data/test_shipped_model.py`` checks it is what that sweep file makes today).

numpy-free and jax-free: the sweep parser imports this module.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path, PurePosixPath

from ltjax.errors import InputError

PREFIX = "package:"
# The offline FF BLER model shipped with ltjax (the quickstart's starting model).
FF_BLER_MODEL = "package:models/bler_ff_tdla30.msgpack"
# How to remake the shipped model (for messages and docs).
FF_BLER_MODEL_REMAKE = ("`ltjax run sweeps/bler_offline.toml` remakes it; copy results/bler_offline_model/"
                        "ff_model.msgpack and ff_model.json to ltjax/data/models/bler_ff_tdla30.msgpack and "
                        "bler_ff_tdla30.json")


def is_package_path(value) -> bool:
    """True for a string that starts with ``package:``."""
    return isinstance(value, str) and value.startswith(PREFIX)


def data_root() -> Path:
    """The installed ``ltjax/data`` directory (a real directory: ltjax is never imported from a zip)."""
    root = importlib.resources.files("ltjax.data")
    if not isinstance(root, Path):  # a zipimport install has no file path to hand to np.load / open
        raise InputError(f"{PREFIX} paths need ltjax installed as files, not in a zip archive ({root})")
    return root


def shipped_files() -> list[str]:
    """The ``package:`` names of every shipped data file (sidecars and Python modules excluded), sorted."""
    root = data_root()
    return sorted(PREFIX + p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc", ".json") and "__pycache__" not in p.parts)


def package_file(value: str) -> Path:
    """The installed file a ``package:<relative path>`` name refers to.

    Raises a one-line InputError naming ``value`` and the allowed names when it is not a
    ``package:`` name, is empty, leaves ``ltjax/data`` (absolute, ``..``) or names no
    shipped file.
    """
    if not is_package_path(value):
        raise InputError(f"{value!r}: not a {PREFIX} path; allowed: {PREFIX}<file shipped with ltjax>")
    rel = value[len(PREFIX):]
    parts = PurePosixPath(rel).parts
    if not rel.strip() or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
        raise InputError(f"{value}: expected {PREFIX} followed by a relative path inside ltjax/data; "
                         f"allowed: {', '.join(shipped_files()) or 'none shipped'}")
    path = data_root().joinpath(*parts)
    allowed = shipped_files()
    if not path.is_file():
        raise InputError(f"{value}: no such file shipped with ltjax; allowed: {', '.join(allowed) or 'none shipped'}")
    if PREFIX + PurePosixPath(*parts).as_posix() not in allowed:  # a sidecar or a module: not a payload
        raise InputError(f"{value}: not a shipped data file (a JSON sidecar or a module); allowed: "
                         f"{', '.join(allowed) or 'none shipped'}")
    return path


__all__ = ["FF_BLER_MODEL", "FF_BLER_MODEL_REMAKE", "PREFIX", "data_root", "is_package_path", "package_file",
           "shipped_files"]

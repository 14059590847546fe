"""Typed parameters: ``flax.struct`` dataclasses whose fields carry a schema.

An experiment (or any kernel) declares its parameters once, as a ``flax.struct`` dataclass
built with :func:`field`::

    @struct.dataclass
    class LinkCurveParams:
        snr_db: float = field(10.0, "average SNR per receive antenna and RE", unit="dB",
                              lo=-20.0, hi=50.0)                        # traced
        n_ue: int = field(32, "UEs per grid point", lo=1, hi=10**6)      # static (a shape)
        channel: str = field("AWGN", "channel scenario", choices=("AWGN", "TDL-A30"))

Each field has a kind (int, float, bool, str, int_list, float_list, path), a default, a
one-line doc, a unit, bounds or choices, and whether it is *traced* (a pytree leaf: what a
sweep varies without changing shapes, e.g. an SNR, a Doppler, a learning rate) or *static*
(``pytree_node=False``: what sets shapes or control flow, e.g. a UE count, a channel model,
a scheme). Floats are traced by default, everything else static. The same object goes to
the kernels as a pytree, so an axis over a traced field never recompiles.

:func:`schema` reads the class back as ``{name: Param}``; the sweep parser validates sweep
files against it (``ltjax.sweep.config``), ``ltjax show`` prints it, and :func:`build`
turns a validated dict into an instance (list values become tuples, relative ``path``
fields given in a sweep file resolve against that file's directory).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from flax import struct

from ltjax.data.shipped import is_package_path, package_file

# The value kinds a parameter may have. "*_list" kinds are one value that is a list (e.g.
# layer sizes); a list of such lists is then a grid axis. "path" is a string naming a file
# or directory; its ``role`` says whether it is read ("input") or written ("output", "dir").
KINDS = ("int", "float", "bool", "str", "int_list", "float_list", "path")
ROLES = ("input", "input_dir", "output", "dir")
_META = "ltjax"


@dataclasses.dataclass(frozen=True)
class Param:
    """Schema of one parameter.

    Attributes:
      kind: one of :data:`KINDS`.
      default: value used when a sweep file does not set the key (tuples for list kinds).
      doc: one line.
      unit: physical unit ("dB", "Hz", "s", ...), or "" if dimensionless.
      choices: allowed values, or None.
      lo, hi: inclusive numeric bounds (every element of a list kind), or None.
      lo_open: the lower bound is exclusive (e.g. a learning rate > 0).
      static: not a pytree leaf (sets shapes or control flow).
      role: for ``path`` kinds: "input" (a file that must exist), "input_dir" (a directory
        that must exist), "output" (a file the run writes),
        "dir" (a directory the run writes into).
    """

    kind: str
    default: Any
    doc: str = ""
    unit: str = ""
    choices: Sequence[Any] | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    static: bool = True
    role: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param kind {self.kind!r} not in {KINDS}")
        if self.kind == "path" and self.role not in ROLES:
            raise ValueError(f"a path parameter needs role in {ROLES}, got {self.role!r}")

    def describe_range(self) -> str:
        """The allowed values, e.g. ``one of 'a', 'b'`` or ``[0.0, 50.0]``."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind in ("str", "path", "bool"):
            return {"str": "a string", "path": "a path", "bool": "true or false"}[self.kind]
        lo = "-inf" if self.lo is None else repr(self.lo)
        hi = "inf" if self.hi is None else repr(self.hi)
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{']' if self.hi is not None else ')'}"


def _infer_kind(default) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)) and default:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return "int_list"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default):
            return "float_list"
    raise ValueError(f"cannot infer the kind of default {default!r}; pass kind=")


def field(default, doc: str, *, unit: str = "", kind: str | None = None, choices: Sequence[Any] | None = None,
          lo: float | None = None, hi: float | None = None, lo_open: bool = False,
          static: bool | None = None, role: str | None = None):
    """A ``flax.struct`` field with a :class:`Param` schema (see the module docstring).

    ``static`` defaults to False (traced) for floats and True for every other kind.
    List defaults are stored as tuples (hashable, so a static list can key a compilation).
    """
    kind = kind or _infer_kind(default)
    if kind.endswith("_list"):
        default = tuple(default)
    if static is None:
        static = kind != "float"
    spec = Param(kind=kind, default=default, doc=doc, unit=unit,
                 choices=tuple(choices) if choices is not None else None,
                 lo=lo, hi=hi, lo_open=lo_open, static=static, role=role)
    return struct.field(pytree_node=not static, default=default, metadata={_META: spec})


_ANNOTATION = {"int": int, "float": float, "bool": bool, "str": str, "path": str,
               "int_list": tuple[int, ...], "float_list": tuple[float, ...]}


def params_class(name: str, **fields):
    """A params class built at run time: ``params_class("Toy", x=field(1.0, "x"))``.

    Equivalent to writing the ``flax.struct`` dataclass by hand (for scripts and tests).
    """
    ns = {"__annotations__": {k: _ANNOTATION[f.metadata[_META].kind] for k, f in fields.items()},
          **fields}
    return struct.dataclass(type(name, (), ns))


def schema(cls) -> dict[str, Param]:
    """``{field name: Param}`` of a params class built with :func:`field`, in field order."""
    out = {}
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_META)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} was not declared with ltjax.params.field")
        out[f.name] = spec
    return out


def defaults(cls) -> dict[str, Any]:
    """``{name: default}`` of a params class."""
    return {k: p.default for k, p in schema(cls).items()}


def resolve_path(value: str, base_dir: str | Path | None) -> str:
    """``value`` joined to ``base_dir`` when relative (``~`` expanded); absolute paths unchanged.

    A ``package:<path>`` value names a file shipped inside ltjax (``ltjax.data.shipped``) and
    becomes that installed file's path, whatever ``base_dir``; a bad one raises a one-line
    InputError.
    """
    if is_package_path(value):
        return str(package_file(value))
    v = os.path.expanduser(value)
    if base_dir is None or not v or os.path.isabs(v):
        return v
    return os.path.normpath(os.path.join(str(base_dir), v))


def build(cls, values: Mapping[str, Any], *, base_dir: str | Path | None = None,
          relative: Sequence[str] = ()):
    """An instance of ``cls`` from a validated ``{name: value}`` dict (missing keys: defaults).

    List values become tuples. ``path`` fields named in ``relative`` (those written in a sweep
    file) resolve against ``base_dir``; other relative paths stay relative to the current
    directory.
    """
    sch = schema(cls)
    unknown = set(values) - set(sch)
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown parameter(s) {sorted(unknown)}")
    kw = {}
    for k, p in sch.items():
        v = values.get(k, p.default)
        if p.kind.endswith("_list"):
            v = tuple(v)
        elif p.kind == "path":
            v = resolve_path(str(v), base_dir if k in relative else None)
        elif p.kind == "float":
            v = float(v)
        kw[k] = v
    return cls(**kw)


def as_dict(obj) -> dict[str, Any]:
    """The fields of a params instance as a plain dict (tuples as lists: JSON-able)."""
    return {f.name: (list(v) if isinstance(v := getattr(obj, f.name), tuple) else v)
            for f in dataclasses.fields(obj)}


__all__ = ["KINDS", "Param", "ROLES", "as_dict", "build", "defaults", "field", "params_class", "resolve_path",
           "schema"]

"""Sweep files: load, validate and expand into grid points.

A sweep is a TOML file::

    experiment = "mnist_ff_loss"   # a registered experiment (ltjax list)
    seed = 0                       # int >= 0; every draw derives from it
    name = "mnist_ff_loss"         # optional; default: the file's stem
    out = "results/mnist_ff_loss"  # optional; default: results/<name>
    description = "..."            # optional, free text

    [params]
    loss = ["softplus", "quadratic"]  # a list value is a grid axis
    steps = 1000                      # a scalar is fixed

Parameters not given take the experiment's defaults; the schema is the
experiment's typed parameter class (``ltjax.params``). For list-kinded
parameters (``int_list``/``float_list``) a flat list is one value and a list
of lists is a grid axis. The grid is the Cartesian product of the axes, in
the order the keys appear in the schema.

Paths written in a sweep file (``out`` and every ``path`` parameter) are relative to the
directory of the sweep file, so a sweep runs the same from any working directory. The
defaults (``results/<name>`` and the defaults of path parameters) are relative to the
working directory.

Every problem raises :class:`ltjax.errors.InputError` with a one-line message
naming the file and the key, and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from ltjax.errors import InputError, input_error
from ltjax.params import Param, resolve_path
from ltjax.sweep.registry import Experiment, all_experiments, get_experiment

TOP_LEVEL_KEYS = ("experiment", "seed", "name", "out", "description", "params")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep.

    Attributes:
      source: the file it came from (for messages).
      experiment: the registered experiment.
      name: result name (``results/<name>``).
      seed: root seed.
      out: output directory, or None for ``results/<name>``.
      fixed: the fully-resolved scalar parameters (defaults filled in).
      axes: grid axes, name -> list of values, in schema order.
      description: free text.
      base_dir: directory that relative paths written in the file resolve against.
      given: parameter names the file sets (the others are defaults).
    """

    source: str
    experiment: Experiment
    name: str
    seed: int
    out: str | None
    fixed: dict[str, Any]
    axes: dict[str, list]
    description: str = ""
    base_dir: str | None = None
    given: tuple[str, ...] = ()

    def points(self) -> list[dict[str, Any]]:
        """All grid points as full parameter dicts, axes varying last-fastest."""
        names = list(self.axes)
        out = []
        for combo in itertools.product(*(self.axes[n] for n in names)):
            point = dict(self.fixed)
            point.update(zip(names, combo))
            out.append({k: point[k] for k in self.experiment.params})
        return out

    def path_keys(self) -> tuple[str, ...]:
        """The path parameters written in the file (resolved against ``base_dir``)."""
        return tuple(k for k in self.given if self.experiment.params[k].kind == "path")

    def params_for(self, point: dict[str, Any]):
        """The experiment's parameter object of one grid point (paths resolved)."""
        return self.experiment.make_params(point, base_dir=self.base_dir, relative=self.path_keys())

    def as_dict(self) -> dict[str, Any]:
        """The resolved config, as stored in meta.json."""
        return {
            "experiment": self.experiment.name,
            "name": self.name,
            "seed": self.seed,
            "description": self.description,
            "fixed": self.fixed,
            "axes": self.axes,
        }

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of what determines the results."""
        blob = json.dumps(
            {"experiment": self.experiment.name, "seed": self.seed,
             "fixed": self.fixed, "axes": self.axes},
            sort_keys=True, separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def _type_name(v) -> str:
    return type(v).__name__


def _check_scalar(src: str, key: str, p: Param, v: Any, kind: str) -> Any:
    """Validates one scalar of ``kind`` against ``p``; returns the clean value."""
    if kind == "bool":
        if not isinstance(v, bool):
            raise input_error(src, key, f"expected a boolean (true/false), got {v!r} ({_type_name(v)})")
        return v
    if kind in ("str", "path"):
        if not isinstance(v, str):
            raise input_error(src, key, f"expected a string, got {v!r} ({_type_name(v)})")
        if "\x00" in v:
            raise input_error(src, key, "contains a NUL character")
    elif kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise input_error(src, key, f"expected an integer, got {v!r} ({_type_name(v)})")
    elif kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise input_error(src, key, f"expected a number, got {v!r} ({_type_name(v)})")
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            raise input_error(src, key, f"must be finite, got {v!r}; allowed {p.describe_range()}")
    if p.choices is not None and v not in p.choices:
        raise input_error(src, key, f"{v!r} is not allowed; allowed: {p.describe_range()}")
    if kind in ("int", "float"):
        below = p.lo is not None and (v <= p.lo if p.lo_open else v < p.lo)
        above = p.hi is not None and v > p.hi
        if below or above:
            raise input_error(src, key, f"value {v!r} out of range; allowed {p.describe_range()}")
    return v


def _check_value(src: str, key: str, p: Param, v: Any) -> Any:
    """Validates one (possibly list-kinded) value."""
    if p.kind.endswith("_list"):
        elem = p.kind[: -len("_list")]
        if not isinstance(v, (list, tuple)) or (not v and not _empty_ok(p)):
            raise input_error(src, key, f"expected a non-empty list of {elem}s, got {v!r}")
        return [_check_scalar(src, key, p, e, elem) for e in v]
    return _check_scalar(src, key, p, v, p.kind)


def _empty_ok(p: Param) -> bool:
    """A list-kinded parameter whose default is ``[]`` accepts ``[]`` as its value."""
    return isinstance(p.default, (list, tuple)) and len(p.default) == 0


def _is_axis(p: Param, v: Any) -> bool:
    if p.kind.endswith("_list"):
        # ``[]`` is the empty value where the default is empty, else an empty grid.
        return isinstance(v, list) and ((not v and not _empty_ok(p)) or (bool(v) and isinstance(v[0], list)))
    return isinstance(v, list)


def parse_sweep(data: dict, source: str, base_dir: str | None = None) -> SweepConfig:
    """Validates a parsed TOML document. See the module docstring.

    ``base_dir``: where relative paths of the file resolve (default: the directory of
    ``source``).
    """
    for k in data:
        if k not in TOP_LEVEL_KEYS:
            raise input_error(source, k, f"unknown key; allowed keys: {', '.join(TOP_LEVEL_KEYS)}")
    if "experiment" not in data:
        raise input_error(source, "experiment", "missing; name a registered experiment (see 'ltjax list')")
    exp_name = data["experiment"]
    exp = get_experiment(exp_name) if isinstance(exp_name, str) else None
    if exp is None:
        allowed = ", ".join(all_experiments())
        raise input_error(source, "experiment", f"unknown experiment {exp_name!r}; allowed: {allowed}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2**32:
        raise input_error(source, "seed", f"expected an integer in [0, 2^32), got {seed!r}")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise input_error(source, "name", f"expected a plain directory name, got {name!r}")
    out = data.get("out")
    if out is not None and (not isinstance(out, str) or not out.strip() or "\x00" in out):
        raise input_error(source, "out", f"expected a path string, got {out!r}")
    base_dir = str(Path(source).resolve().parent) if base_dir is None else base_dir
    if out is not None:
        out = resolve_path(out, base_dir)
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise input_error(source, "description", f"expected a string, got {desc!r}")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise input_error(source, "params", "expected a [params] table")

    fixed, axes = {}, {}
    for k, v in params.items():
        key = f"params.{k}"
        if k not in exp.params:
            raise input_error(source, key, f"unknown parameter of {exp.name!r}; allowed: {', '.join(exp.params)}")
        p = exp.params[k]
        if _is_axis(p, v):
            if not v:
                raise input_error(source, key, "empty grid axis; give at least one value")
            axes[k] = [_check_value(source, key, p, e) for e in v]
        else:
            fixed[k] = _check_value(source, key, p, v)
    for k, p in exp.params.items():
        if k not in fixed and k not in axes:
            fixed[k] = p.default
    ordered_axes = {k: axes[k] for k in exp.params if k in axes}
    cfg = SweepConfig(source=source, experiment=exp, name=name, seed=seed, out=out,
                      fixed=fixed, axes=ordered_axes, description=desc, base_dir=base_dir,
                      given=tuple(k for k in exp.params if k in params))
    if exp.check is not None:
        for point in cfg.points():
            problem = exp.check(cfg.params_for(point))
            if problem:
                k, msg = problem
                raise input_error(source, f"params.{k}", msg)
    return cfg


def load_sweep(path: str | Path) -> SweepConfig:
    """Reads and validates a sweep TOML file."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError(f"{src}: no such sweep file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{src}: TOML syntax error: {e}") from None
    except UnicodeDecodeError:
        raise InputError(f"{src}: not a UTF-8 text file") from None
    return parse_sweep(data, src)

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
working directory. An input file may instead be named ``package:<path>``, a file shipped
inside ltjax (``ltjax.data.shipped``, e.g. ``package:models/bler_ff_tdla30.msgpack``), the
same from any directory and install.

The grid is counted before it is built: more than ``max_points`` points (default
:data:`DEFAULT_MAX_POINTS`, ``ltjax run --max-points``) is refused with the count.

Overrides (``ltjax run FILE --set params.snr_db=[0,5,10] --set seed=3``): each ``KEY=VALUE``
replaces one key of the file before validation; ``VALUE`` is read as a TOML value (a bare
word such as ``TDL-C200`` is taken as a string). They are validated like the file's own
keys, change the config hash like any edit, are recorded in meta.json, and a path given
with ``--set`` is relative to the current directory.

Every problem of a file is reported at once: :class:`SweepErrors` (an
:class:`ltjax.errors.InputError`) holds one one-line message per problem, each naming the
file (or ``--set``) and the key, what is allowed, and, for a misspelt key, parameter or
experiment, the closest valid name ("did you mean ..."); no other exception gets through
(deeply nested arrays, integers of thousands of digits, NUL characters, files that
are not UTF-8 or not regular files included).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Iterator, Sequence

from ltjax.data.shipped import PREFIX as PACKAGE_PREFIX, is_package_path, package_file
from ltjax.errors import InputError, input_error, one_line
from ltjax.io import check_input_file
from ltjax.params import Param, resolve_path
from ltjax.sweep.registry import Experiment, all_experiments, get_experiment

TOP_LEVEL_KEYS = ("experiment", "seed", "name", "out", "description", "params")
# Grid points a sweep may have unless raised (``ltjax run --max-points``): a grid is a list
# of dicts in memory and a row of data.csv each, so 1e9 points would exhaust memory.
DEFAULT_MAX_POINTS = 100_000
# Largest sweep file read [bytes]: sweep files are a few hundred bytes.
MAX_SWEEP_BYTES = 4 * 2**20
# Integer parameters are 64-bit once they reach numpy / JAX.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# A result name becomes a directory name and ``.<name>.work``; NAME_MAX is 255 bytes.
MAX_NAME_BYTES = 200
MAX_PATH_BYTES = 4000  # PATH_MAX is 4096


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
      given: parameter names the file (or an override) sets (the others are defaults).
      overrides: the ``--set KEY=VALUE`` texts applied on top of the file, in order.
      set_keys: parameter names set by an override (their paths are relative to the
        current directory, not to the sweep file).
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
    overrides: tuple[str, ...] = ()
    set_keys: tuple[str, ...] = ()

    @property
    def n_points(self) -> int:
        """The number of grid points (the product of the axis lengths), without building them."""
        return math.prod(len(v) for v in self.axes.values())

    def iter_points(self) -> Iterator[dict[str, Any]]:
        """The grid points one by one, as full parameter dicts, axes varying last-fastest."""
        names = list(self.axes)
        for combo in itertools.product(*(self.axes[n] for n in names)):
            point = dict(self.fixed)
            point.update(zip(names, combo))
            yield {k: point[k] for k in self.experiment.params}

    def points(self) -> list[dict[str, Any]]:
        """All grid points as full parameter dicts, axes varying last-fastest."""
        return list(self.iter_points())

    def path_keys(self) -> tuple[str, ...]:
        """The path parameters written in the file (resolved against ``base_dir``)."""
        return tuple(k for k in self.given
                     if self.experiment.params[k].kind == "path" and k not in self.set_keys)

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


def _show(v, limit: int = 60) -> str:
    """``repr(v)`` cut to ``limit`` characters, for messages (a value may be a huge list)."""
    try:
        text = repr(v)
    except (RecursionError, ValueError):  # nested too deep / an int too long to print
        text = f"<{_type_name(v)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int_text(v: int) -> str:
    """A short description of an integer that may have thousands of digits."""
    if v.bit_length() <= 128:
        return repr(v)
    try:
        digits = str(len(str(abs(v))))
    except ValueError:  # longer than sys.get_int_max_str_digits()
        digits = f"about {math.floor(math.log10(abs(v))) + 1}"
    return f"(an integer of {digits} digits)"


def _check_scalar(src: str, key: str, p: Param, v: Any, kind: str) -> Any:
    """Validates one scalar of ``kind`` against ``p``; returns the clean value."""
    if kind == "bool":
        if not isinstance(v, bool):
            raise input_error(src, key, f"expected a boolean (true/false), got {_show(v)} ({_type_name(v)})")
        return v
    if kind in ("str", "path"):
        if not isinstance(v, str):
            raise input_error(src, key, f"expected a string, got {_show(v)} ({_type_name(v)})")
        if "\x00" in v:
            raise input_error(src, key, "contains a NUL character")
        if kind == "path" and len(v.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
            raise input_error(src, key, f"path longer than {MAX_PATH_BYTES} bytes")
        if kind == "path" and is_package_path(v):
            if p.role != "input":  # shipped files are read-only, and a directory is never shipped
                raise input_error(src, key, f"{_show(v)}: a {PACKAGE_PREFIX} path names a file shipped with ltjax "
                                            "(read-only); allowed for input files only")
            try:
                package_file(v)
            except InputError as e:
                raise input_error(src, key, str(e)) from None
    elif kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise input_error(src, key, f"expected an integer, got {_show(v)} ({_type_name(v)})")
        if not INT_MIN <= v <= INT_MAX:
            raise input_error(src, key, f"value {_int_text(v)} out of range; allowed {p.describe_range()} "
                                        "(a 64-bit integer)")
    elif kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise input_error(src, key, f"expected a number, got {_show(v)} ({_type_name(v)})")
        if isinstance(v, int) and abs(v) > 2**1000:  # float() would overflow
            raise input_error(src, key, f"value {_int_text(v)} out of range; allowed {p.describe_range()}")
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            raise input_error(src, key, f"must be finite, got {v!r}; allowed {p.describe_range()}")
    if p.choices is not None and v not in p.choices:
        raise input_error(src, key, f"{_show(v)} is not allowed; allowed: {p.describe_range()}")
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
            raise input_error(src, key, f"expected a non-empty list of {elem}s, got {_show(v)}")
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


def _check_name(source: str, data: dict) -> str:
    given = "name" in data
    name = data["name"] if given else Path(source).stem
    ok = (isinstance(name, str) and name.strip() == name and name not in ("", ".", "..")
          and "/" not in name and not name.startswith(".") and name.isprintable()
          and len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES)
    if not ok:
        origin = "" if given else " (from the file name; set name = \"...\")"
        raise input_error(source, "name", f"expected a plain directory name{origin}: printable, no '/', "
                                          f"not starting with '.', at most {MAX_NAME_BYTES} bytes; "
                                          f"got {_show(name)}")
    return name


def _check_out(source: str, out: Any) -> str:
    if not isinstance(out, str) or not out.strip():
        raise input_error(source, "out", f"expected a path string, got {_show(out)}")
    if "\x00" in out:
        raise input_error(source, "out", "contains a NUL character")
    if not out.isprintable():
        raise input_error(source, "out", f"contains a control character: {_show(out)}")
    if len(out.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise input_error(source, "out", f"path longer than {MAX_PATH_BYTES} bytes")
    if is_package_path(out):
        raise input_error(source, "out", f"{_show(out)}: a {PACKAGE_PREFIX} path names a file shipped with ltjax "
                                         "(read-only); allowed: a directory to write")
    return out


class SweepErrors(InputError):
    """Every problem found in one sweep file (and its overrides): ``messages``, one line each.

    ``str(err)`` is the first message followed by a count of the others; the ``ltjax``
    command prints every message on its own line.
    """

    def __init__(self, messages: Sequence[str]):
        self.messages = [str(InputError(m)) for m in messages]
        more = len(self.messages) - 1
        super().__init__(self.messages[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


def did_you_mean(word: Any, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to ``word``, or ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Problems:
    """Collects the one-line messages of a file; ``where(key)`` names the file or ``--set``."""

    def __init__(self, source: str, set_keys: Sequence[str]):
        self.source, self.set_keys, self.messages = source, set(set_keys), []

    def where(self, key: str | None) -> str:
        return "--set" if key in self.set_keys else self.source

    def add(self, key: str | None, problem: str) -> None:
        self.messages.append(str(input_error(self.where(key), key, problem)))

    def check(self, fn, *args):
        """``fn(*args)``; an InputError it raises is recorded (returns None then)."""
        try:
            return fn(*args)
        except InputError as e:
            self.messages.append(str(e))
            return None

    def raise_if_any(self) -> None:
        if self.messages:
            raise SweepErrors(self.messages)


def parse_sweep(data: dict, source: str, base_dir: str | None = None, *,
                max_points: int = DEFAULT_MAX_POINTS, overrides: Sequence[str] = (),
                set_keys: Sequence[str] = ()) -> SweepConfig:
    """Validates a parsed TOML document. See the module docstring.

    ``base_dir``: where relative paths of the file resolve (default: the directory of
    ``source``). ``max_points``: the largest grid accepted. ``overrides`` (the ``--set``
    texts, recorded) and ``set_keys`` (the dotted keys they set, e.g. ``"seed"``,
    ``"params.snr_db"``) are already applied to ``data`` (see :func:`apply_overrides`).

    Raises :class:`SweepErrors` with every problem found, one line each.
    """
    if not isinstance(data, dict):
        raise input_error(source, None, "expected a TOML document (a table of keys)")
    problems = _Problems(source, set_keys)
    for k in data:
        if k not in TOP_LEVEL_KEYS:
            problems.add(k, f"unknown key; allowed keys: {', '.join(TOP_LEVEL_KEYS)}{did_you_mean(k, TOP_LEVEL_KEYS)}")
    exp = None
    if "experiment" not in data:
        problems.add("experiment", "missing; name a registered experiment (see 'ltjax list')")
    else:
        exp_name = data["experiment"]
        exp = get_experiment(exp_name) if isinstance(exp_name, str) else None
        if exp is None:
            names = list(all_experiments())
            problems.add("experiment", f"unknown experiment {_show(exp_name)}{did_you_mean(exp_name, names)}; "
                                       f"allowed: {', '.join(names)}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 or seed >= 2**32:
        shown = _int_text(seed) if isinstance(seed, int) and not isinstance(seed, bool) else _show(seed)
        problems.add("seed", f"expected an integer in [0, 2^32), got {shown}")
    name = problems.check(_check_name, problems.where("name"), data)
    out = data.get("out")
    if out is not None:
        out = problems.check(_check_out, problems.where("out"), out)
    if base_dir is None:
        try:
            base_dir = str(Path(source).resolve().parent)
        except (OSError, RuntimeError) as e:  # a symlink loop in the file's directory
            raise input_error(source, None, f"cannot resolve the sweep file's directory ({e})") from None
    if out is not None:
        out = resolve_path(out, None if "out" in problems.set_keys else base_dir)
    desc = data.get("description", "")
    if not isinstance(desc, str):
        problems.add("description", f"expected a string, got {_show(desc)}")
    params = data.get("params", {})
    if not isinstance(params, dict):
        problems.add("params", "expected a [params] table")
        params = {}
    if exp is None:
        problems.raise_if_any()
        raise AssertionError("unreachable: no experiment and no problem")

    fixed, axes = {}, {}
    for k, v in params.items():
        key = f"params.{k}"
        where = problems.where(key)
        if k not in exp.params:
            problems.add(key, f"unknown parameter of {exp.name!r}{did_you_mean(k, list(exp.params))}; "
                              f"allowed: {', '.join(exp.params)}")
            continue
        p = exp.params[k]
        if _is_axis(p, v):
            if not v:
                problems.add(key, "empty grid axis; give at least one value")
                continue
            axes[k] = [problems.check(_check_value, where, key, p, e) for e in v]
        else:
            fixed[k] = problems.check(_check_value, where, key, p, v)
    problems.raise_if_any()
    for k, p in exp.params.items():
        if k not in fixed and k not in axes:
            fixed[k] = p.default
    ordered_axes = {k: axes[k] for k in exp.params if k in axes}
    cfg = SweepConfig(source=source, experiment=exp, name=name, seed=seed, out=out,
                      fixed=fixed, axes=ordered_axes, description=desc, base_dir=base_dir,
                      given=tuple(k for k in exp.params if k in params), overrides=tuple(overrides),
                      set_keys=tuple(k.split(".", 1)[1] for k in set_keys if k.startswith("params.")))
    n = cfg.n_points
    if n > max_points:
        shape = " x ".join(f"{len(v)} {k}" for k, v in ordered_axes.items())
        raise input_error(source, "params", f"the grid has {n:,} points ({shape}), more than the limit of "
                                            f"{max_points:,}; split the sweep or raise the limit with "
                                            "--max-points N")
    if exp.check is not None:
        for point in cfg.iter_points():
            try:
                problem = exp.check(cfg.params_for(point))
            except InputError:
                raise
            except Exception as e:  # noqa: BLE001 - a user input must never give a traceback
                raise input_error(source, "params", f"experiment {exp.name!r} rejected the point {_show(point, 200)} "
                                                    f"({type(e).__name__}: {e})") from None
            if problem:
                k, msg = problem
                raise input_error(problems.where(f"params.{k}"), f"params.{k}", msg)
    return cfg


_BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.+-]*$")
_OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def parse_override(text: str) -> tuple[str, Any]:
    """``"params.snr_db=[0,5,10]"`` -> ``("params.snr_db", [0, 5, 10])``.

    The value is a TOML value; a bare word that is not one (``TDL-C200``, ``softplus``) is
    a string. Raises a one-line InputError naming ``--set`` for anything else.
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise InputError(f"--set {text}: expected KEY=VALUE, e.g. --set params.snr_db=[0,5,10] or --set seed=3")
    if not _OVERRIDE_KEY.match(key) or ("." in key and not key.startswith("params.")):
        raise InputError(f"--set {text}: {key!r} is not a key of a sweep file; allowed: "
                         f"{', '.join(k for k in TOP_LEVEL_KEYS if k != 'params')} or params.NAME")
    if key == "params":
        raise InputError(f"--set {text}: set one parameter at a time, e.g. --set params.snr_db=10")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError, ValueError, MemoryError) as e:
        if _BARE_WORD.match(value) and value not in ("true", "false", "inf", "nan"):
            return key, value
        raise InputError(f"--set {text}: the value is not a TOML value ({one_line(e)}); write strings in "
                         "quotes, lists as [a, b]") from None


def apply_overrides(data: dict, overrides: Sequence[str]) -> tuple[dict, tuple[str, ...]]:
    """The document with each ``--set KEY=VALUE`` applied in order; returns it and the keys set."""
    data = dict(data)
    keys = []
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("params."):
            params = data.get("params", {})
            params = dict(params) if isinstance(params, dict) else {}
            params[key.split(".", 1)[1]] = value
            data["params"] = params
        else:
            data[key] = value
        keys.append(key)
    return data, tuple(keys)


def load_sweep(path: str | Path, *, max_points: int = DEFAULT_MAX_POINTS,
               overrides: Sequence[str] = ()) -> SweepConfig:
    """Reads and validates a sweep TOML file (a regular UTF-8 file of at most ``MAX_SWEEP_BYTES``).

    ``overrides``: ``KEY=VALUE`` texts (``ltjax run --set``) applied before validation.
    """
    src = str(path)
    if "\x00" in src:
        raise InputError(f"{src}: sweep file name contains a NUL character")
    path = Path(path)
    try:
        missing = not path.exists() or path.is_dir()
    except OSError as e:  # e.g. a file name longer than NAME_MAX
        raise InputError(f"{src}: cannot open sweep file ({e.strerror})") from None
    if missing:
        raise InputError(f"{src}: no such sweep file")
    raw = check_input_file(path, src, max_bytes=MAX_SWEEP_BYTES)  # a FIFO or device never blocks
    try:
        text = raw.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{src}: not a UTF-8 text file") from None
    except OSError as e:
        raise InputError(f"{src}: cannot read ({e.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{src}: TOML syntax error: {e}") from None
    except RecursionError:
        raise InputError(f"{src}: TOML arrays or tables nested too deeply") from None
    except ValueError as e:  # an integer of more than sys.get_int_max_str_digits() digits
        if "digits" in str(e):
            raise InputError(f"{src}: TOML integer too long to read (more than 4300 digits)") from None
        raise InputError(f"{src}: TOML value not readable: {e}") from None
    except MemoryError:
        raise InputError(f"{src}: TOML document too large to read") from None
    data, set_keys = apply_overrides(data, overrides)
    return parse_sweep(data, src, max_points=max_points, overrides=overrides, set_keys=set_keys)

"""Reading results back: ``ltjax.results.load(path)``.

A result directory (``ltjax run``) holds ``data.csv`` (one row per grid point: the point
index, the parameters, then the scalar metrics), ``series.npz`` (per-point arrays under
``"p<point:05d>/<metric>"``) and ``meta.json`` (config, seed, git SHA, versions, devices).
:func:`load` reads all three with typed columns::

    r = ltjax.results.load("results/link_bler_curves")
    r.table            # pandas.DataFrame if pandas is installed, else {column: numpy array}
    r.meta["seed"]     # the run's metadata
    r.series(3)        # {metric: array} of grid point 3
    r.params, r.metrics  # column names of the parameters and of the scalar metrics

Column types: parameter columns take the type of the validated value recorded in
``meta.json`` (int -> int64, float -> float64, bool -> bool, str -> str, lists -> tuples); metric columns are int64 when every value is an integer
literal, float64 when every value parses as a number (``nan``/``inf`` included), and str
otherwise. Nothing here imports jax.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ltjax.errors import InputError

_INT_RE = re.compile(r"^[+-]?\d+$")


@dataclasses.dataclass
class Results:
    """One result directory, read back.

    Attributes:
      path: the directory.
      table: the grid as a ``pandas.DataFrame`` (when pandas is installed and ``as_frame``
        allows it) or a dict ``{column: numpy array [P]}`` (P grid points).
      meta: the parsed ``meta.json``.
      params: names of the parameter columns (after ``point``).
      metrics: names of the scalar metric columns.
    """

    path: Path
    table: Any
    meta: dict
    params: tuple[str, ...]
    metrics: tuple[str, ...]
    _series: dict | None = dataclasses.field(default=None, repr=False)

    @property
    def n_points(self) -> int:
        return int(len(self.column("point")))

    def column(self, name: str) -> np.ndarray:
        """One column as a numpy array, whatever the table type."""
        col = self.table[name]
        return col.to_numpy() if hasattr(col, "to_numpy") else col

    def series(self, point: int | None = None) -> dict[str, np.ndarray]:
        """Per-point arrays: ``{metric: array}`` of grid point ``point``, or all of them
        keyed ``"p<point:05d>/<metric>"`` when ``point`` is None."""
        if self._series is None:
            p = self.path / "series.npz"
            self._series = {}
            if p.exists():
                with np.load(p, allow_pickle=False) as z:
                    self._series = {k: z[k] for k in z.files}
        if point is None:
            return dict(self._series)
        prefix = f"p{int(point):05d}/"
        return {k[len(prefix):]: v for k, v in self._series.items() if k.startswith(prefix)}


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _metric_column(values: list[str]) -> np.ndarray:
    if values and all(_INT_RE.match(v) for v in values):
        return np.array([int(v) for v in values], np.int64)
    nums = [_parse_number(v) for v in values]
    if all(n is not None for n in nums):
        return np.array(nums, np.float64)
    return np.array(values, dtype=object)


def _param_column(values: list[str], kind: str) -> np.ndarray:
    if kind == "int":
        return np.array([int(v) for v in values], np.int64)
    if kind == "float":
        return np.array([float(v) for v in values], np.float64)
    if kind == "bool":
        return np.array([v == "True" for v in values], bool)
    if kind in ("int_list", "float_list"):
        conv = int if kind == "int_list" else float
        out = np.empty(len(values), dtype=object)
        out[:] = [tuple(conv(e) for e in v.split()) for v in values]
        return out
    return np.array(values, dtype=object)


def _param_kinds(meta: dict, names: list[str]) -> dict[str, str]:
    """Kinds of the parameter columns from the values recorded in meta.json's config (the
    sweep parser stores validated values: floats as floats, ints as ints), so that reading
    results needs neither jax nor the experiment's code."""
    cfg = meta.get("config", {}) if isinstance(meta.get("config"), dict) else {}
    recorded = dict(cfg.get("fixed", {}))
    recorded.update({k: (v[0] if v else None) for k, v in cfg.get("axes", {}).items()})
    kinds: dict[str, str] = {}
    for n in names:
        v = recorded.get(n)
        if isinstance(v, bool):
            kinds[n] = "bool"
        elif isinstance(v, int):
            kinds[n] = "int"
        elif isinstance(v, float):
            kinds[n] = "float"
        elif isinstance(v, list):
            kinds[n] = "float_list" if any(isinstance(e, float) for e in v) else "int_list"
        else:
            kinds[n] = "str"
    return kinds


def load(path: str | Path, *, as_frame: bool | None = None) -> Results:
    """Reads a result directory (see the module docstring).

    Args:
      path: a directory written by ``ltjax run``.
      as_frame: True: a pandas DataFrame (error if pandas is missing); False: a dict of
        numpy arrays; None (default): a DataFrame when pandas is installed.

    Raises:
      InputError: one line naming the directory or file when it is not a readable result.
    """
    d = Path(path)
    if not d.is_dir():
        raise InputError(f"{d}: not a result directory")
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{d}: no meta.json (not a result directory written by ltjax run)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{d / 'meta.json'}: unreadable ({type(e).__name__}: {e})") from None
    try:
        with open(d / "data.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise InputError(f"{d / 'data.csv'}: unreadable ({e.strerror or e})") from None
    if not rows or rows[0][:1] != ["point"]:
        raise InputError(f"{d / 'data.csv'}: not an ltjax result table (no 'point' column)")
    header, body = rows[0], rows[1:]
    if any(len(r) != len(header) for r in body):
        raise InputError(f"{d / 'data.csv'}: rows of unequal length")
    cfg = meta.get("config", {}) if isinstance(meta.get("config"), dict) else {}
    declared = list(cfg.get("fixed", {})) + list(cfg.get("axes", {}))
    params = [c for c in header[1:] if c in declared]
    metrics = [c for c in header[1:] if c not in declared]
    kinds = _param_kinds(meta, params)
    cols: dict[str, np.ndarray] = {"point": np.array([int(r[0]) for r in body], np.int64)}
    for j, name in enumerate(header[1:], start=1):
        values = [r[j] for r in body]
        cols[name] = _param_column(values, kinds[name]) if name in params else _metric_column(values)
    table: Any = cols
    if as_frame is not False:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise InputError("ltjax.results.load(as_frame=True) needs pandas: "
                                 "pip install 'ltjax[dataframe]'") from None
        else:
            table = pd.DataFrame(cols)
    return Results(path=d, table=table, meta=meta, params=tuple(params), metrics=tuple(metrics))


__all__ = ["Results", "load"]

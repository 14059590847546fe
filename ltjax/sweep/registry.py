"""Experiment registry: name -> (typed parameter schema, point function, plots).

An experiment is a pure function of one grid point::

    fn(key: jax.Array, point: dict[str, Any]) -> Mapping[str, scalar | array]

``key`` is ``fold_in(key(seed), point_index)``. Scalar metrics become columns
of ``data.csv``; non-scalar arrays (curves, per-UE traces) are stored in
``series.npz`` under ``"p{index:04d}/{metric}"``. Plot functions take the
result directory (a ``pathlib.Path``), read ``data.csv`` / ``series.npz`` and
write PNGs there; they must not import jax.

Later issues add experiments by calling :func:`register_experiment` in a
module listed in ``ltjax.experiments``; the runner never changes for them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

# The value kinds a parameter may have. "*_list" kinds are one value that is a
# list (e.g. layer sizes); a list of such lists is then a grid axis.
KINDS = ("int", "float", "bool", "str", "int_list", "float_list")


@dataclasses.dataclass(frozen=True)
class Param:
    """Typed schema of one experiment parameter.

    Attributes:
      kind: one of ``KINDS``.
      default: value used when the sweep file does not set the key.
      doc: one line, with units.
      choices: allowed values (for ``str``/``int``), or None.
      lo, hi: inclusive numeric bounds (applied to every element of a list
        kind), or None for unbounded.
      lo_open: if True the lower bound is exclusive (e.g. a learning rate > 0).
    """

    kind: str
    default: Any
    doc: str = ""
    choices: Sequence[Any] | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param kind {self.kind!r} not in {KINDS}")

    def describe_range(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "-inf" if self.lo is None else repr(self.lo)
        hi = "inf" if self.hi is None else repr(self.hi)
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{']' if self.hi is not None else ')'}"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment. See the module docstring for the contract.

    Attributes:
      name: registry key, used as ``experiment = "..."`` in sweep files.
      description: one line for ``ltjax list``.
      params: parameter schema.
      fn: the point function.
      plots: functions ``plot(result_dir) -> list[Path]``.
      check: optional cross-parameter check ``check(point) -> (key, problem)``
        or None, e.g. ``("snr_max_db", "must be > snr_min_db")``.
      allow_nonfinite: metric names that may legitimately be NaN (e.g. a BLER
        with no transmissions); all other metrics are checked finite.
    """

    name: str
    description: str
    params: Mapping[str, Param]
    fn: Callable[..., Mapping[str, Any]]
    plots: tuple[Callable, ...] = ()
    check: Callable[[dict], tuple[str, str] | None] | None = None
    allow_nonfinite: tuple[str, ...] = ()

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}


_REGISTRY: dict[str, Experiment] = {}


def register_experiment(
    name: str,
    description: str,
    params: Mapping[str, Param],
    plots: Sequence[Callable] = (),
    check: Callable | None = None,
    allow_nonfinite: Sequence[str] = (),
):
    """Decorator registering ``fn(key, point) -> metrics`` as an experiment."""

    def wrap(fn):
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"experiment {name!r} registered twice")
        _REGISTRY[name] = Experiment(
            name=name,
            description=description,
            params=dict(params),
            fn=fn,
            plots=tuple(plots),
            check=check,
            allow_nonfinite=tuple(allow_nonfinite),
        )
        return fn

    return wrap


def get_experiment(name: str) -> Experiment | None:
    from ltjax import experiments

    experiments.load_all()
    return _REGISTRY.get(name)


def all_experiments() -> dict[str, Experiment]:
    from ltjax import experiments

    experiments.load_all()
    return dict(sorted(_REGISTRY.items()))


def _is_finite_number(x) -> bool:
    return not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))

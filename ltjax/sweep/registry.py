"""Experiment registry: name -> (typed parameter class, point function, plots).

An experiment is a pure function of one grid point::

    fn(key: jax.Array, p: Params) -> Mapping[str, scalar | array]

``Params`` is the experiment's ``flax.struct`` parameter class (built with
:func:`ltjax.params.field`; its schema validates sweep files), ``key`` is
``fold_in(key(seed), point_index)``. Scalar metrics become columns of ``data.csv``;
non-scalar arrays (curves, per-UE traces) are stored in ``series.npz`` under
``"p{index:05d}/{metric}"``. Plot functions take the result directory (a
``pathlib.Path``), read ``data.csv`` / ``series.npz`` and write PNGs there; they must not
import jax and must not write anything but plots.

Where experiments come from: the ``ltjax.experiments`` entry-point group. ltjax's own
experiments are the package ``ltjax.experiments`` (declared in pyproject.toml); a user
package registers its own the same way, or ``ltjax run --import MODULE`` imports a module
that calls :func:`register_experiment`. The runner never changes for them, and this module
imports no experiment itself.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
from importlib import metadata
from typing import Any, Callable, Mapping, Sequence

from ltjax.params import Param, build, schema

ENTRY_POINT_GROUP = "ltjax.experiments"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment. See the module docstring for the contract.

    Attributes:
      name: registry key, used as ``experiment = "..."`` in sweep files.
      description: one line for ``ltjax list``.
      params_cls: the ``flax.struct`` parameter class.
      fn: the point function ``fn(key, p: params_cls) -> metrics``.
      plots: functions ``plot(result_dir) -> list[Path]``.
      check: optional cross-parameter check ``check(p) -> (key, problem) | None``,
        e.g. ``("snr_max_db", "must be > snr_min_db")``.
      allow_nonfinite: metric names that may legitimately be NaN (e.g. a BLER with no
        transmissions); all other metrics are checked finite.
      module: the module that registered it (for messages).
    """

    name: str
    description: str
    params_cls: type
    fn: Callable[..., Mapping[str, Any]]
    plots: tuple[Callable, ...] = ()
    check: Callable[[Any], tuple[str, str] | None] | None = None
    allow_nonfinite: tuple[str, ...] = ()
    module: str = ""

    @property
    def params(self) -> dict[str, Param]:
        """``{name: Param}``: the schema of the parameter class."""
        return schema(self.params_cls)

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def make_params(self, point: Mapping[str, Any], base_dir=None, relative: Sequence[str] = ()):
        """The parameter object of a validated point dict (see :func:`ltjax.params.build`)."""
        return build(self.params_cls, point, base_dir=base_dir, relative=relative)


_REGISTRY: dict[str, Experiment] = {}
_plugins_loaded = False


def register_experiment(
    name: str,
    description: str,
    params: type,
    plots: Sequence[Callable] = (),
    check: Callable | None = None,
    allow_nonfinite: Sequence[str] = (),
):
    """Decorator registering ``fn(key, p) -> metrics`` as an experiment with parameter class ``params``."""
    schema(params)  # fails at import time if a field was not declared with ltjax.params.field

    def wrap(fn):
        if name in _REGISTRY and _REGISTRY[name].fn is not fn and \
                _REGISTRY[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"experiment {name!r} registered twice")
        _REGISTRY[name] = Experiment(name=name, description=description, params_cls=params, fn=fn,
                                     plots=tuple(plots), check=check,
                                     allow_nonfinite=tuple(allow_nonfinite),
                                     module=getattr(fn, "__module__", ""))
        return fn

    return wrap


def load_plugins() -> None:
    """Imports every module of the ``ltjax.experiments`` entry-point group, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def import_module(name: str) -> None:
    """Imports a user module that registers experiments (``ltjax run --import NAME``).

    ``name`` is a module name on ``sys.path`` (``mypackage.experiments``) or the path of a
    Python file (``examples/user_experiment.py``), imported under its file stem.
    """
    if name.endswith(".py") or os.sep in name:
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise ImportError(f"no such Python file {path}")
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in sys.modules and getattr(sys.modules[stem], "__file__", None) == path:
            return
        spec = importlib.util.spec_from_file_location(stem, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[stem] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(stem, None)
            raise
        return
    importlib.import_module(name)


def get_experiment(name: str) -> Experiment | None:
    load_plugins()
    return _REGISTRY.get(name)


def all_experiments() -> dict[str, Experiment]:
    load_plugins()
    return dict(sorted(_REGISTRY.items()))

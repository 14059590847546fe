"""Sweep runner: TOML sweep files -> grid points -> result directories.

Public API:
  Param, register_experiment, get_experiment, all_experiments: the registry.
  load_sweep, parse_sweep, SweepConfig: sweep files.
  run_sweep: the runner.
  map_ues: run a per-UE kernel over U UEs, sharded over the local devices.

The names are imported on first use (PEP 562), so that the ``ltjax`` command can install
its signal handlers (``ltjax.sweep.interrupts``, which needs no JAX) before JAX is
imported: a SIGTERM during start-up then ends the run like one at any later phase.
"""

import importlib

_HOME = {
    "Experiment": "ltjax.sweep.registry", "Param": "ltjax.sweep.registry",
    "all_experiments": "ltjax.sweep.registry", "get_experiment": "ltjax.sweep.registry",
    "register_experiment": "ltjax.sweep.registry",
    "SweepConfig": "ltjax.sweep.config", "load_sweep": "ltjax.sweep.config", "parse_sweep": "ltjax.sweep.config",
    "map_ues": "ltjax.batching",
    "run_sweep": "ltjax.sweep.runner",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ltjax.sweep' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOME))

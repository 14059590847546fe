"""Sweep runner: TOML sweep files -> grid points -> result directories.

Public API:
  Param, register_experiment, get_experiment, all_experiments: the registry.
  load_sweep, parse_sweep, SweepConfig: sweep files.
  run_sweep: the runner.
  map_ues: run a per-UE kernel over U UEs, sharded over the local devices.
"""

from ltjax.sweep.registry import Experiment, Param, all_experiments, get_experiment, register_experiment
from ltjax.sweep.config import SweepConfig, load_sweep, parse_sweep
from ltjax.batching import map_ues
from ltjax.sweep.runner import run_sweep

__all__ = ["Experiment", "Param", "SweepConfig", "all_experiments", "get_experiment", "load_sweep", "map_ues",
           "parse_sweep", "register_experiment", "run_sweep"]

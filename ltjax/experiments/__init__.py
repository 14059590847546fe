"""Registered experiments. Each module calls ``register_experiment`` on import.

To add an experiment: write ``ltjax/experiments/<name>.py`` and add its module
name to ``MODULES``. The sweep runner needs no change.
"""

import importlib

MODULES: tuple[str, ...] = (
    "ltjax.experiments.demo",
    "ltjax.experiments.mnist_ff_loss",
    "ltjax.experiments.beam_train",
    "ltjax.experiments.lcm_adaptation",
    "ltjax.experiments.link_bler_curves",
    "ltjax.experiments.bler_offline",
    "ltjax.experiments.lighttune_bler_error",
    "ltjax.experiments.ml_baseline_offline",
    "ltjax.experiments.cqi_throughput",
)

_loaded = False


def load_all() -> None:
    """Imports every experiment module once (they register themselves)."""
    global _loaded
    if _loaded:
        return
    for m in MODULES:
        importlib.import_module(m)
    _loaded = True

"""Registered experiments. Each module calls ``register_experiment`` on import.

To add an experiment: write ``ltjax/experiments/<name>.py`` and add its module
name to ``MODULES``. The sweep runner needs no change.
"""

import importlib

MODULES: tuple[str, ...] = (
    "ltjax.experiments.demo",
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

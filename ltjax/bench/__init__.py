"""Benchmarks run by ``ltjax bench NAME``; each writes ``results/bench/<name>.json``.

To add one: write ``ltjax/bench/<module>.py`` with a function decorated by
``@register_bench("name", "one-line description")`` taking ``(args)`` (an
argparse namespace with ``quick`` and ``out_dir``) and add the module to
``MODULES``. Speed and memory targets live here, never in timed tests.

``ltjax bench NAME --out-dir DIR`` checks DIR before the benchmark runs
(``ltjax.bench.common.check_out_dir``), so an unusable directory is a one-line
error (exit 2) at once rather than after minutes of timing.
"""

from __future__ import annotations

import importlib
from typing import Callable

MODULES: tuple[str, ...] = (
    "ltjax.bench.channel",
    "ltjax.bench.lighttune_step",
    "ltjax.bench.mnist",
    "ltjax.bench.scaling",
    "ltjax.bench.link_period",
    "ltjax.bench.beam",
    "ltjax.bench.fig5",
    "ltjax.bench.ldpc",
)

_BENCHES: dict[str, tuple[str, Callable]] = {}
_loaded = False


def register_bench(name: str, description: str):
    def wrap(fn):
        _BENCHES[name] = (description, fn)
        return fn

    return wrap


def all_benches() -> dict[str, tuple[str, Callable]]:
    global _loaded
    if not _loaded:
        for m in MODULES:
            importlib.import_module(m)
        _loaded = True
    return dict(sorted(_BENCHES.items()))

__all__ = ["MODULES", "all_benches", "register_bench"]

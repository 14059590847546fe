"""``ltjax plot DIR [DIR ...]``: overlay runs that share axes (numpy + matplotlib only).

Each run is a result directory (``ltjax.results.load``). The plot draws metric ``y``
against parameter ``x``, one line per run and per value of the ``by`` columns (e.g. one
line per MCS), so that two runs of the same experiment (two seeds, two engine options, a
re-run after a change) can be compared on one figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ltjax.errors import InputError
from ltjax.plotting.common import plt, save


def _common_columns(runs) -> set[str]:
    cols = None
    for r in runs:
        names = {"point", *r.params, *r.metrics}
        cols = names if cols is None else cols & names
    return cols or set()


def overlay(dirs: Sequence[str | Path], x: str, y: str, by: Sequence[str] = (), out: str | Path = "overlay.png",
            logy: bool = False, labels: Sequence[str] | None = None) -> Path:
    """Plots ``y`` against ``x`` for every run in ``dirs`` (one line per run and ``by`` group).

    Args:
      dirs: result directories.
      x: a column shared by all runs (usually a swept parameter).
      y: a numeric metric column shared by all runs.
      by: further shared columns; each distinct combination is its own line.
      out: the PNG to write.
      logy: log-scale y axis (BLER curves).
      labels: one legend label per run (default: the directory names).

    Raises:
      InputError: one line naming the run and column when a column is missing or not numeric.
    """
    from ltjax.results import load

    if not dirs:
        raise InputError("ltjax plot: give at least one result directory")
    runs = [load(d, as_frame=False) for d in dirs]
    shared = _common_columns(runs)
    for name, what in ((x, "x"), (y, "y"), *((b, "by") for b in by)):
        if name not in shared:
            missing = next(str(r.path) for r in runs if name not in {"point", *r.params, *r.metrics})
            allowed = ", ".join(sorted(shared - {"point"}))
            raise InputError(f"ltjax plot: --{what} {name}: no such column in {missing}; shared columns: {allowed}")
    labels = list(labels) if labels is not None else [Path(d).name for d in dirs]
    if len(labels) != len(runs):
        raise InputError(f"ltjax plot: {len(labels)} labels for {len(runs)} runs")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ["-", "--", ":", "-."]  # one line style per run, one colour per group
    all_groups = sorted({g for r in runs for g in (zip(*(r.column(b) for b in by)) if by else [()])}, key=str)
    colour = {g: f"C{j % 10}" for j, g in enumerate(all_groups)}
    for i, (run, label) in enumerate(zip(runs, labels)):
        xs, ys = run.column(x), run.column(y)
        if ys.dtype == object:
            raise InputError(f"ltjax plot: --y {y}: not a numeric column in {run.path}")
        keys = list(zip(*(run.column(b) for b in by))) if by else [()] * len(xs)
        for g in sorted(set(keys), key=str):
            sel = np.array([k == g for k in keys])
            order = np.argsort(xs[sel], kind="stable")
            tag = ", ".join(f"{b}={v}" for b, v in zip(by, g))
            ax.plot(xs[sel][order], ys[sel][order], styles[i % len(styles)], color=colour[g], marker="o", ms=3,
                    label=f"{label}{' ' + tag if tag else ''}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out)


def _swept(run) -> list[str]:
    """The swept parameters of a run (``meta.json`` config axes), in schema order."""
    cfg = run.meta.get("config", {}) if isinstance(run.meta.get("config"), dict) else {}
    axes = cfg.get("axes", {}) if isinstance(cfg.get("axes"), dict) else {}
    return [k for k in run.params if k in axes]


def _numeric(run, name: str) -> bool:
    return run.column(name).dtype != object


def overlay_cli(dirs: Sequence[str | Path], x: str | None = None, y: str | None = None,
                by: Sequence[str] | None = None, out: str | Path = "overlay.png", logy: bool = False,
                labels: Sequence[str] | None = None) -> Path:
    """:func:`overlay` with the axes chosen when not given (``ltjax plot``).

    ``x``: the numeric swept parameter shared by all runs with the most distinct values;
    ``y``: the first numeric metric shared by all runs; ``by``: the other swept
    parameters shared by all runs. Raises InputError (one line) when a directory is not a
    result or nothing can be chosen.
    """
    from ltjax.results import load

    if not dirs:
        raise InputError("ltjax plot: give at least one result directory")
    runs = [load(d, as_frame=False) for d in dirs]
    shared = _common_columns(runs)
    swept = [k for k in _swept(runs[0]) if k in shared and all(k in _swept(r) for r in runs)]
    if x is None:
        numeric = [k for k in swept if all(_numeric(r, k) for r in runs)]
        if not numeric:
            raise InputError(f"ltjax plot: no numeric swept parameter shared by all runs; give --x (shared "
                             f"columns: {', '.join(sorted(shared - {'point'}))})")
        x = max(numeric, key=lambda k: len(set(runs[0].column(k).tolist())))
    if y is None:
        metrics = [m for m in runs[0].metrics if m in shared and all(_numeric(r, m) for r in runs)]
        if not metrics:
            raise InputError("ltjax plot: no numeric metric shared by all runs; give --y")
        y = metrics[0]
    if by is None:
        by = [k for k in swept if k != x]
    return overlay(dirs, x=x, y=y, by=tuple(by), out=out, logy=logy, labels=labels)


__all__ = ["overlay", "overlay_cli"]

"""Plot for ``cqi_tune_map``: a heat map of CQI-Tune's gain over OLLA next to the genie and
hindsight bounds, one row per cell, and ``map.csv``, the table behind it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, save

# (column label, metric) of the heat map: overall and early-window gains [%] over OLLA.
COLUMNS = (("CQI-Tune\nuniform", "gain_tune_uniform_pct"), ("CQI-Tune\nhard", "gain_tune_hard_pct"),
           ("genie", "gain_genie_pct"), ("hindsight", "gain_hindsight_pct"),
           ("CQI-Tune unif.\nperiods 0-9", "gain_tune_uniform_early_pct"),
           ("genie\nperiods 0-9", "gain_genie_early_pct"))
# Columns of map.csv besides the cell.
TABLE = ("gain_tune_uniform_pct", "gain_tune_uniform_ci_pct", "gain_tune_hard_pct", "gain_tune_hard_ci_pct",
         "gain_genie_pct", "gain_genie_ci_pct", "gain_hindsight_pct", "gain_hindsight_ci_pct",
         "gain_tune_uniform_early_pct", "gain_genie_early_pct", "gain_tune_uniform_steady_pct",
         "gain_genie_steady_pct", "backoff_tune_uniform", "backoff_genie", "p_label_ge_tau_olla",
         "ft_rate_tune_uniform", "ft_error_tune_uniform", "tau_recall_tune_uniform",
         "tau_precision_tune_uniform", "thr_olla", "bler_first_olla")


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def plot_map(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    cells = [r["cell"] for r in rows]
    vals = np.array([[_f(r.get(m)) for _, m in COLUMNS] for r in rows])  # [cells, columns] %
    cis = np.array([[_f(r.get(m.replace("_pct", "_ci_pct"))) for _, m in COLUMNS] for r in rows])
    lim = max(5.0, float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 5.0)
    fig, ax = plt.subplots(figsize=(9.5, 0.32 * len(cells) + 1.6))
    im = ax.imshow(vals, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            v, c = vals[i, j], cis[i, j]
            if math.isfinite(v):
                txt = f"{v:+.1f}" + (f"±{c:.1f}" if math.isfinite(c) else "")
                ax.text(j, i, txt, ha="center", va="center", fontsize=6,
                        color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_xticks(range(len(COLUMNS)), [c for c, _ in COLUMNS], fontsize=7)
    ax.set_yticks(range(len(cells)), cells, fontsize=7)
    r0 = rows[0]
    ax.set_title(f"throughput gain over table OLLA [%], paired 95% CI; {int(_f(r0['n_ue']))} UEs x "
                 f"{int(_f(r0['n_periods']))} periods, tau = {_f(r0['tau']):g}", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    paths = [save(fig, Path(result_dir) / "map.png")]
    with open(Path(result_dir) / "map.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("cell",) + TABLE)
        for r in rows:
            w.writerow([r["cell"]] + [f"{_f(r.get(k)):.4g}" for k in TABLE])
    paths.append(Path(result_dir) / "map.csv")
    return paths


__all__ = ["plot_map"]

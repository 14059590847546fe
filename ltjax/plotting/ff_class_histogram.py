"""Plot for ``ff_class_histogram``: predicted vs true BLER-class fractions, one panel per grid point.

No jax here: reads data.csv only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, save

N_CLASSES = 11


def plot_class_histogram(result_dir: Path) -> list[Path]:
    """class_histogram.png: per grid point, the fraction of samples predicted / labelled in each
    BLER class 0, 0.1, ..., 1.0 as side-by-side bars."""
    result_dir = Path(result_dir)
    rows = read_csv(result_dir)
    if not rows or "pred_frac_c0" not in rows[0]:
        return []
    n = len(rows)
    cols = min(n, 3)
    nrows = -(-n // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.4 * nrows), squeeze=False)
    x = np.arange(N_CLASSES) / 10
    for ax, r in zip(axes.ravel(), rows):
        pred = [r[f"pred_frac_c{k}"] for k in range(N_CLASSES)]
        true = [r[f"true_frac_c{k}"] for k in range(N_CLASSES)]
        ax.bar(x - 0.02, true, width=0.04, color="0.6", label="true class")
        ax.bar(x + 0.02, pred, width=0.04, color="C3", label="predicted class")
        ax.set_title(f"{r['channel']}, {r['doppler_hz']:g} Hz, {r['snr_min_db']:g}-{r['snr_max_db']:g} dB\n"
                     f"{r['feature_scaling']} scaling: acc {r['acc']:.2f}, |P_hat - P| {r['mae']:.3f}", fontsize=9)
        ax.set_xlabel("BLER class")
        ax.set_ylabel("fraction of UE-periods")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return [save(fig, result_dir / "class_histogram.png")]

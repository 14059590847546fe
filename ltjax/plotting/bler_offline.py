"""Plots/artifacts for ``bler_offline``: the training curve (CSV + PNG) and the model/dataset copy.

No jax here: reads data.csv / series.npz and copies files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

CURVE = ("epoch", "loss_layer1", "loss_layer2", "train_acc", "val_acc", "train_mae", "val_mae", "wall_s")


def plot_training_curve(result_dir: Path) -> list[Path]:
    """training_curve.csv and training_curve.png (loss per layer, accuracy, mean |P_hat - P| vs epoch)."""
    result_dir = Path(result_dir)
    s = read_series(result_dir)
    c = {k: s.get(f"p00000/curve_{k}") for k in CURVE}
    if c["epoch"] is None:
        return []
    with open(result_dir / "training_curve.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CURVE)
        for i in range(len(c["epoch"])):
            w.writerow([int(c["epoch"][i])] + [f"{float(c[k][i]):.6g}" for k in CURVE[1:]])
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    lpe = s.get("p00000/curve_loss_per_epoch")
    if lpe is not None:
        for l in range(lpe.shape[1]):
            ax[0].plot(np.arange(1, len(lpe) + 1), lpe[:, l], lw=0.8, label=f"layer {l + 1}")
        # the first epochs' loss is ~100x the rest: symlog keeps both visible
        ax[0].set_yscale("symlog", linthresh=1.0)
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("eq. 6 loss (before the update, symlog)")
    ax[0].legend()
    ax[1].plot(c["epoch"], c["train_acc"], "o-", ms=3, label="train")
    ax[1].plot(c["epoch"], c["val_acc"], "s-", ms=3, label="validation")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("class accuracy (eq. 5 vs quantised P)")
    ax[1].legend()
    ax[2].plot(c["epoch"], c["train_mae"], "o-", ms=3, label="train")
    ax[2].plot(c["epoch"], c["val_mae"], "s-", ms=3, label="validation")
    rows = read_csv(result_dir)
    if rows and "val_mae_const_median_class" in rows[0]:
        ax[2].axhline(rows[0]["val_mae_const_median_class"], color="k", ls=":", lw=0.8,
                      label="constant median class (val)")
    ax[2].set_xlabel("epoch")
    ax[2].set_ylabel("mean |P_hat - P|")
    ax[2].legend()
    for a in ax:
        a.grid(alpha=0.3)
    fig.suptitle("LightTune offline FF BLER model [13, 32, 32], T = 9, Adam 0.03, closed-form gradients")
    return [result_dir / "training_curve.csv", save(fig, result_dir / "training_curve.png")]

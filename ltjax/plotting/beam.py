"""Plots of ``beam_train``: average loss / Top-1 curves over epochs (paper Figs. 4-5) and the accuracy table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.io import atomic_write_text
from ltjax.plotting.common import plt, read_csv, read_series, save


def plot_beam_train(result_dir: Path) -> list[Path]:
    """Writes fig4_loss.png, fig5_top1.png, accuracy_table.png and curves.csv (mean over the 54 models)."""
    d = Path(result_dir)
    s = read_series(d)
    pre = "p00000/"
    curves = {k[len(pre) + 6:]: s[k] for k in s if k.startswith(pre + "curve_")}
    out = []
    epochs = np.arange(1, curves["train_loss"].shape[-1] + 1)
    mean = {k: v.reshape(-1, v.shape[-1]).mean(0) for k, v in curves.items()}
    lines = ["epoch,train_loss,val_loss,train_top1,val_top1\n"]
    lines += [f"{e},{mean['train_loss'][i]:.5f},{mean['val_loss'][i]:.5f},"
              f"{mean['train_acc'][i]:.5f},{mean['val_acc'][i]:.5f}\n" for i, e in enumerate(epochs)]
    out.append(atomic_write_text(d / "curves.csv", "".join(lines)))
    for fname, key, label in (("fig4_loss.png", "loss", "cross-entropy loss"), ("fig5_top1.png", "acc", "Top-1 accuracy")):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(epochs, mean[f"train_{key}"], "b-", label="training (mean of 54)")
        ax.plot(epochs, mean[f"val_{key}"], "r--", label="validation (mean of 54)")
        for mid, ls in zip(range(curves[f"val_{key}"].shape[1]), (":", "-.", (0, (1, 3)))):
            ax.plot(epochs, curves[f"val_{key}"][:, mid].reshape(-1, len(epochs)).mean(0), color="gray",
                    ls=ls, lw=1, label=f"validation, model ID {mid}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        out.append(save(fig, d / fname))
    t = s[pre + "top1_table"]
    fig, ax = plt.subplots(figsize=(5, 6))
    im = ax.imshow(t, aspect="auto", vmin=0, vmax=1, cmap="viridis")
    ax.set_xlabel("evaluation region (dataset ID)")
    ax.set_ylabel("model m = (Set B ID * 3 + model ID) * 6 + dataset ID")
    fig.colorbar(im, ax=ax, label="Top-1 accuracy")
    out.append(save(fig, d / "accuracy_table.png"))
    return out


def plot_beam_capacity(result_dir: Path) -> list[Path]:
    """Writes capacity.png: evaluation Top-1 against the hidden width per model ID, with the ceiling."""
    d = Path(result_dir)
    s = read_series(d)
    out = []
    for r in read_csv(d):
        pre = f"p{int(r['point']):05d}/"
        top1, widths, ceiling = s[pre + "top1"], s[pre + "widths_trained"], s[pre + "ceiling_top1"]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for mid, marker in zip(range(top1.shape[1]), ("o", "s", "^")):
            ax.plot(widths, 100 * top1[:, mid].mean(-1), marker=marker, label=f"model ID {mid} ({mid + 3} hidden layers)")
        ax.axhline(100 * ceiling.mean(), color="k", ls="--", label="ceiling (larger model, more data)")
        ax.axhline(100 * ceiling.mean() - 2, color="gray", ls=":", lw=1, label="ceiling - 2 points")
        if pre + "control_top1" in s:
            ax.axhline(100 * s[pre + "control_top1"].mean(), color="m", ls="-.",
                       label=f"ceiling recipe at width {int(r['control_width'])} (data control)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths)
        ax.set_xticklabels([str(int(w)) for w in widths])
        ax.minorticks_off()
        ax.set_xlabel("hidden width")
        ax.set_ylabel("evaluation Top-1 [%]")
        ax.set_title(f"{r['geometry']}, {r['measurement']}: mean over the trained regions", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        out.append(save(fig, d / f"capacity_p{int(r['point'])}.png"))
    return out

"""Plots for ``mnist_ff_loss``: test accuracy by loss beside the paper's Table II, and loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

PAPER = {"softplus": 93.15, "quadratic": 93.74}  # Table II, test accuracy [%]


def plot_mnist_ff_loss(result_dir: Path) -> list[Path]:
    result_dir = Path(result_dir)
    rows = read_csv(result_dir)
    losses = [l for l in ("softplus", "quadratic") if any(r["loss"] == l for r in rows)]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    xs = np.arange(len(losses))
    for i, l in enumerate(losses):
        acc = 100 * np.array([r["test_accuracy"] for r in rows if r["loss"] == l])
        ax.bar(i - 0.2, acc.mean(), 0.4, yerr=acc.std(ddof=1) if acc.size > 1 else 0.0, capsize=4,
               color="C0", label="ltjax (mean ± std)" if i == 0 else None)
        ax.plot(np.full(acc.size, i - 0.2), acc, "k.", ms=4)
        ax.bar(i + 0.2, PAPER[l], 0.4, color="C1", label="paper Table II" if i == 0 else None)
    ax.set_xticks(xs, losses)
    ax.set_ylim(80, 100)
    ax.set_ylabel("test accuracy [%]")
    ax.legend(loc="lower right")
    ax.grid(True, axis="y", alpha=0.3)
    paths = [save(fig, result_dir / "accuracy.png")]

    series = read_series(result_dir)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for r in rows:
        for j, ax in enumerate(axes):
            c = series.get(f"p{int(r['point']):05d}/loss_curve_l{j + 1}")
            if c is not None:
                ax.plot(c, color="C0" if r["loss"] == "softplus" else "C3", lw=0.8,
                        label=r["loss"] if r.get("replicate", 0) == 0 else None)
    for j, ax in enumerate(axes):
        ax.set_title(f"layer {j + 1}")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (eq. 4 / eq. 6)")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.legend()
        ax.grid(True, alpha=0.3)
    paths.append(save(fig, result_dir / "loss_curves.png"))
    return paths

"""Plots for ``mnist_ff_loss``: test accuracy by loss beside the paper's Table II, and loss curves."""

from __future__ import annotations

import re
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
    n_layers = max(len(_layers(rows)), 1)
    fig, axes = plt.subplots(1, n_layers, figsize=(4 * n_layers, 3.2), squeeze=False)
    axes = axes[0]
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


def _layers(rows) -> list[int]:
    """The layer numbers l with a ``final_loss_l<l>`` column (one per trained layer)."""
    found = {int(m.group(1)) for r in rows[:1] for k in r if (m := re.fullmatch(r"final_loss_l(\d+)", k))}
    return sorted(found)


def _mean_std(a: np.ndarray) -> str:
    if a.size == 0:
        return "not run"
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if a.size > 1 else f"{a.mean():.2f} (1 seed)"


def write_readme(result_dir: Path) -> list[Path]:
    """Writes ``README.md``: test accuracy mean ± std per loss beside the paper's Table II, and every run."""
    result_dir = Path(result_dir)
    rows = sorted(read_csv(result_dir), key=lambda r: r["point"])
    lines = [
        "# MNIST loss check (LightTune Sec. V-A, Tables I-II)", "",
        "Command: `ltjax run sweeps/mnist_ff_loss.toml` (2 shared CPU cores here; about 12-35 min per run).",
        "Table I settings: [784, 500, 500] ReLU, Adam(0.9, 0.999, 1e-8), lr 0.03, T = 2, 1000 full-batch",
        "steps per layer, layer after layer, one-hot label overlaid on the first 10 pixels. Data: the first",
        "10,000 official MNIST training images, the official 10,000 test images. The loss acts on the",
        "per-sample mean goodness as in the reference code (`goodness = \"mean\"`, see",
        "docs/forward_forward.md); negatives uniform over Y \\ {y+}, drawn once. Accuracy in %,",
        "mean ± sample std over seeds (`replicate`). Paper: Table II (its reference script trains on 50k images).",
        "",
        "| loss | seeds | test acc., eq. 5 | test acc., sum over layers | train acc. | paper Table II |",
        "|---|---|---|---|---|---|",
    ]
    for loss in ("softplus", "quadratic"):
        sel = [r for r in rows if r["loss"] == loss]

        def col(k, sel=sel):
            return 100 * np.array([r[k] for r in sel], dtype=float)

        lines.append(f"| {loss} | {len(sel)} | {_mean_std(col('test_accuracy'))} | "
                     f"{_mean_std(col('test_accuracy_sum'))} | {_mean_std(col('train_accuracy'))} | "
                     f"{PAPER[loss]:.2f} |")
    layers = _layers(rows)
    lines += ["", "| point | replicate | loss | test (eq. 5) | test (sum) | train | "
              + "".join(f"final loss L{l} | " for l in layers) + "train time [s] |",
              "|---|---|---|---|---|---|" + "---|" * len(layers) + "---|"]
    for r in rows:
        lines.append(f"| {int(r['point'])} | {int(r['replicate'])} | {r['loss']} | {100 * r['test_accuracy']:.2f} | "
                     f"{100 * r['test_accuracy_sum']:.2f} | {100 * r['train_accuracy']:.2f} | "
                     + "".join(f"{r[f'final_loss_l{l}']:.4f} | " for l in layers) + f"{r['train_s']:.0f} |")
    lines += ["", "Plots: `accuracy.png` (ours vs paper), `loss_curves.png` (per-step loss of each layer).", ""]
    path = result_dir / "README.md"
    path.write_text("\n".join(lines))
    return [path]

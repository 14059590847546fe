"""Plot for ``ml_baseline_offline``: the training curve (BCE per epoch)."""

from pathlib import Path

from ltjax.plotting.common import plt, read_csv, read_series, save


def plot_training(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    series = read_series(result_dir)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, r in enumerate(rows):
        curve = series.get(f"p{i:05d}/loss_curve")
        if curve is not None:
            ax.plot(range(1, len(curve) + 1), curve, label=f"{int(r['n_samples'])} samples")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training BCE")
    ax.set_title("Offline ML baseline [16] (12x64x64x1)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return [save(fig, Path(result_dir) / "training_curve.png")]

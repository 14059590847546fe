"""The MNIST result report (plots + README) for any number of FF layers, e.g. ``sizes = [784, 4]``."""

import numpy as np
import pytest

from ltjax.io import format_csv
from ltjax.plotting.mnist_ff_loss import plot_mnist_ff_loss, write_readme


def _result_dir(tmp_path, n_layers):
    """A result directory as the runner writes it for two grid points (softplus, quadratic)."""
    rows, series = [], {}
    for point, loss in enumerate(("softplus", "quadratic")):
        row = {"point": point, "replicate": 0, "loss": loss, "test_accuracy": 0.9 + 0.01 * point,
               "train_accuracy": 0.95, "test_accuracy_sum": 0.91, "train_accuracy_sum": 0.96}
        for l in range(1, n_layers + 1):
            row[f"final_loss_l{l}"] = 0.5 / l
            series[f"p{point:05d}/loss_curve_l{l}"] = np.linspace(2.0, 0.5 / l, 5)
        row["train_s"], row["wall_s"] = 12.0, 20.0
        rows.append(row)
    (tmp_path / "data.csv").write_text(format_csv(rows, list(rows[0])))
    np.savez(tmp_path / "series.npz", **series)
    return tmp_path


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_report_has_one_loss_column_per_layer(tmp_path, n_layers):
    d = _result_dir(tmp_path, n_layers)
    paths = plot_mnist_ff_loss(d) + write_readme(d)
    assert all(p.exists() for p in paths)
    lines = (d / "README.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| point |"))
    assert [f"final loss L{l}" in header for l in range(1, 5)] == [l <= n_layers for l in range(1, 5)]
    row = next(line for line in lines if line.startswith("| 1 | 0 | quadratic |"))
    assert row.count("|") == header.count("|")  # every row has every column
    assert f"| {0.5 / n_layers:.4f} |" in row

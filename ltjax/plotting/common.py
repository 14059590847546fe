"""Shared helpers for plotting result directories (numpy + matplotlib only)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_csv(result_dir: str | Path) -> list[dict]:
    """Rows of ``data.csv`` with numbers parsed as float where possible."""
    with open(Path(result_dir) / "data.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        out.append({k: _num(v) for k, v in r.items()})
    return out


def _num(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def read_series(result_dir: str | Path) -> dict[str, np.ndarray]:
    p = Path(result_dir) / "series.npz"
    if not p.exists():
        return {}
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in rows])

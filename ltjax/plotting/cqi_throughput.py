"""Plots for ``cqi_throughput`` (Fig. 5): throughput vs SNR (the schemes and, when run, the
genie / hindsight back-off bounds, 95 % CI over UEs) and the paired gain over OLLA; also writes ``gains.csv`` with the SNR-averaged gains next to the
paper's (Sec. V-B)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ltjax.plotting.common import column, plt, read_csv, save

SCHEMES = ("olla", "ml", "tune_uniform", "tune_hard", "genie", "hindsight")
LABELS = {"olla": "Table-based OLLA", "ml": "Offline ML [16]", "tune_uniform": "CQI-Tune (uniform)",
          "tune_hard": "CQI-Tune (hard)", "genie": "genie back-off (BLER >= tau known)",
          "hindsight": "hindsight best of {CQI, CQI-1}"}
STYLE = {"olla": "k-o", "ml": "C3--s", "tune_uniform": "C0-^", "tune_hard": "C2-v", "genie": "C7:d",
         "hindsight": "C5:x"}


def _x_axis(rows) -> tuple[str, str]:
    """(column, label) of the x axis: the SNR, or tau_BLER when only tau varies (a tau sweep)."""
    if len({r["snr_db"] for r in rows}) == 1 and len({r["tau"] for r in rows}) > 1:
        return "tau", "CQI-Tune threshold tau_BLER"
    return "snr_db", "SNR [dB]"


def _rows(result_dir):
    rows = read_csv(result_dir)
    return sorted(rows, key=lambda r: float(r[_x_axis(rows)[0]]))


def _title(rows):
    r = rows[0]
    return f"{r['channel']} (Doppler {r['doppler_hz']:g} Hz), {int(r['n_ue'])} UEs x {int(r['n_periods'])} periods"


def average_gains(rows) -> list[dict]:
    """Per CQI-Tune / ML scheme: the mean over SNR of the per-point gains and the gain of the
    SNR-averaged throughput, with the paper's number."""
    out = []
    olla = column(rows, "thr_olla")
    for s in SCHEMES[1:]:
        if f"gain_{s}_pct" not in rows[0]:
            continue
        g = column(rows, f"gain_{s}_pct").astype(float)
        ci = column(rows, f"gain_{s}_ci_pct").astype(float)
        paper = rows[0].get(f"paper_gain_{s}_pct", float("nan"))
        out.append({"scheme": s, "mean_gain_over_snr_pct": float(np.mean(g)),
                    "ci_of_mean_pct": float(np.sqrt(np.sum(ci ** 2)) / len(ci)),
                    "gain_of_mean_thr_pct": float(100 * (np.mean(column(rows, f"thr_{s}")) / np.mean(olla) - 1)),
                    "paper_gain_pct": paper if isinstance(paper, float) else float("nan")})
    return out


def plot_throughput(result_dir: Path) -> list[Path]:
    rows = _rows(result_dir)
    xkey, xlabel = _x_axis(rows)
    snr = column(rows, xkey)
    gains = {g["scheme"]: g for g in average_gains(rows)}
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for s in SCHEMES:
        if f"thr_{s}" not in rows[0]:
            continue
        lab = LABELS[s]
        if s in gains:
            g = gains[s]
            lab += f": {g['mean_gain_over_snr_pct']:+.1f}%"
            if not math.isnan(g["paper_gain_pct"]):
                lab += f" (paper {g['paper_gain_pct']:+.1f}%)"
        ax.errorbar(snr, column(rows, f"thr_{s}"), yerr=column(rows, f"thr_{s}_ci"), fmt=STYLE[s],
                    capsize=3, ms=4, label=lab)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("throughput [Mbit/s]")
    ax.set_title(_title(rows), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, title="mean gain over OLLA", title_fontsize=7)
    paths = [save(fig, Path(result_dir) / "throughput.png")]
    with open(Path(result_dir) / "gains.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["scheme", "mean_gain_over_snr_pct", "ci_of_mean_pct",
                                          "gain_of_mean_thr_pct", "paper_gain_pct"])
        w.writeheader()
        for g in gains.values():
            w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in g.items()})
    paths.append(Path(result_dir) / "gains.csv")
    return paths


def plot_gain(result_dir: Path) -> list[Path]:
    rows = _rows(result_dir)
    xkey, xlabel = _x_axis(rows)
    snr = column(rows, xkey)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for s in SCHEMES[1:]:
        if f"gain_{s}_pct" not in rows[0]:
            continue
        ax.errorbar(snr, column(rows, f"gain_{s}_pct"), yerr=column(rows, f"gain_{s}_ci_pct"), fmt=STYLE[s],
                    capsize=3, ms=4, label=LABELS[s])
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("throughput gain over OLLA [%]")
    ax.set_title(_title(rows) + " (paired 95% CI)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return [save(fig, Path(result_dir) / "gain.png")]

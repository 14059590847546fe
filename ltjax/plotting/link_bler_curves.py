"""Plots for ``link_bler_curves``: BLER vs SNR per MCS and throughput vs SNR, one panel per channel."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, save


def _channel(row) -> str:
    """Panel title: the channel name, plus the delay spread when it was given apart (TDL-C 300 ns)."""
    ds = row.get("delay_spread_ns") or 0.0
    return f"{row['channel']} {ds:g} ns" if ds else str(row["channel"])


def _panels(rows, metric, ylabel, logy):
    channels = sorted({_channel(r) for r in rows}, key=lambda c: (c != "AWGN", c))
    fig, axes = plt.subplots(1, len(channels), figsize=(4.2 * len(channels), 3.6), squeeze=False)
    for ax, ch in zip(axes[0], channels):
        sub = [r for r in rows if _channel(r) == ch]
        for mcs in sorted({int(r["mcs"]) for r in sub}):
            pts = sorted((r["snr_db"], r[metric]) for r in sub if int(r["mcs"]) == mcs)
            x, y = np.array(pts).T
            if logy:
                y = np.maximum(y, 1e-4)
            ax.plot(x, y, "o-", ms=3, label=f"MCS {mcs}")
        if logy:
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 1.05)
            ax.axhline(0.1, color="k", lw=0.6, ls=":")
        ax.set_title(ch)
        ax.set_xlabel("SNR per Rx antenna [dB]")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    return fig


def plot_bler(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, "bler", "BLER (eq. 11, floored at 1e-4)", True),
                 Path(result_dir) / "bler_vs_snr.png")]


def plot_bler_first_tx(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, "bler_first_tx", "first-transmission BLER (floored at 1e-4)", True),
                 Path(result_dir) / "bler_first_tx_vs_snr.png")]


def plot_throughput(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, "throughput_mbps", "throughput [Mbit/s]", False),
                 Path(result_dir) / "throughput_vs_snr.png")]

"""Plots for ``link_bler_curves``: BLER vs SNR per MCS and throughput vs SNR, one panel per channel.

The flat references are drawn into every fading panel with the MCS's colour, so a fading
curve is read against the physically right baseline: AWGN-EQ (the same average array gain
as a unit-gain TDL channel; dashed) and AWGN-SISO (SINR = SNR; dotted). Panels are ordered
AWGN-SISO, AWGN-EQ, AWGN, then the TDL channels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, save

REFERENCES = {"AWGN-EQ": "--", "AWGN-SISO": ":"}  # drawn into the fading panels
_ORDER = ("AWGN-SISO", "AWGN-EQ", "AWGN")


def _channel(row) -> str:
    """Panel title: the channel name, plus the delay spread when it was given apart (TDL-C 300 ns)."""
    ds = row.get("delay_spread_ns") or 0.0
    return f"{row['channel']} {ds:g} ns" if ds else str(row["channel"])


def _curve(rows, mcs, metric, logy):
    pts = sorted((r["snr_db"], r[metric]) for r in rows if int(r["mcs"]) == mcs)
    x, y = np.array(pts).T
    return x, (np.maximum(y, 1e-4) if logy else y)


def _panels(rows, metric, ylabel, logy):
    channels = sorted({_channel(r) for r in rows},
                      key=lambda c: (_ORDER.index(c) if c in _ORDER else len(_ORDER), c))
    refs = {c: [r for r in rows if _channel(r) == c] for c in REFERENCES if c in channels}
    fig, axes = plt.subplots(1, len(channels), figsize=(4.2 * len(channels), 3.6), squeeze=False)
    for ax, ch in zip(axes[0], channels):
        sub = [r for r in rows if _channel(r) == ch]
        for i, mcs in enumerate(sorted({int(r["mcs"]) for r in sub})):
            color = f"C{i}"
            ax.plot(*_curve(sub, mcs, metric, logy), "o-", ms=3, color=color, label=f"MCS {mcs}")
            if ch.startswith("AWGN"):
                continue
            for ref, style in REFERENCES.items():
                ref_rows = [r for r in refs.get(ref, []) if int(r["mcs"]) == mcs]
                if ref_rows:
                    ax.plot(*_curve(ref_rows, mcs, metric, logy), style, lw=0.9, color=color,
                            label=ref if i == 0 else None)
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


def _all_tx(rows) -> str:
    """The all-transmission column (``bler`` in result files made before ``bler_all_tx`` existed)."""
    return "bler_all_tx" if rows and "bler_all_tx" in rows[0] else "bler"


def plot_bler(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, _all_tx(rows), "BLER, all transmissions (floored at 1e-4)", True),
                 Path(result_dir) / "bler_vs_snr.png")]


def plot_bler_first_tx(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, "bler_first_tx", "first-transmission BLER (floored at 1e-4)", True),
                 Path(result_dir) / "bler_first_tx_vs_snr.png")]


def plot_throughput(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    return [save(_panels(rows, "throughput_mbps", "throughput [Mbit/s]", False),
                 Path(result_dir) / "throughput_vs_snr.png")]

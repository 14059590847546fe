"""Plots for ``olla_offsets``: the converged OLLA offset vs SNR (95 % CI over UEs), one panel per
channel with a line per UE CQI table kind, and the mean offset over the periods."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

KIND_STYLE = {"awgn_mmib": "C0-o", "awgn_snr": "C1-s", "exact": "k-^"}


def _label(r) -> str:
    fd = r.get("doppler_hz_used", r["doppler_hz"])  # the Doppler run (doppler_hz = -1: the profile's)
    return f"{r['channel']} {fd:g} Hz"


def _groups(rows):
    panels = sorted({_label(r) for r in rows})
    kinds = sorted({str(r["cqi_table"]) for r in rows})
    return panels, kinds


def plot_offsets(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    panels, kinds = _groups(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        for kind in kinds:
            sub = sorted((r for r in rows if _label(r) == panel and r["cqi_table"] == kind), key=lambda r: r["snr_db"])
            if sub:
                ax.errorbar([r["snr_db"] for r in sub], [r["offset_db"] for r in sub],
                            yerr=[r["offset_ci_db"] for r in sub], fmt=KIND_STYLE.get(kind, "-o"), ms=4, capsize=3,
                            label=kind)
        ax.axhline(0.0, color="k", lw=0.6, ls=":")
        ax.set_title(panel)
        ax.set_xlabel("SNR [dB]")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("converged OLLA offset [dB]\n(< 0: the table is optimistic)")
    axes[0][-1].legend(fontsize=7, title="UE CQI table", title_fontsize=7)
    return [save(fig, Path(result_dir) / "olla_offsets.png")]


def plot_offsets_over_time(result_dir: Path) -> list[Path]:
    rows = read_csv(result_dir)
    series = read_series(result_dir)
    if not series:
        return []
    panels, kinds = _groups(rows)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        for r in rows:
            if _label(r) != panel:
                continue
            y = series.get(f"p{int(r['point']):05d}/offset_t")
            if y is None:
                continue
            style = KIND_STYLE.get(str(r["cqi_table"]), "-").replace("o", "").replace("s", "").replace("^", "")
            ax.plot(np.arange(1, len(y) + 1), y, style, lw=0.8, alpha=0.4 + 0.02 * r["snr_db"],
                    label=f"{r['cqi_table']} {r['snr_db']:g} dB")
        ax.set_title(panel)
        ax.set_xlabel("period")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("mean OLLA offset [dB]")
    axes[0][-1].legend(fontsize=6, ncol=1)
    return [save(fig, Path(result_dir) / "olla_offsets_over_time.png")]

"""Plots for ``ldpc_fading_validation``: decoded TBLER (95 % Wilson bars) against the SNR (one panel
per channel and Doppler), and against each TB's MIESM and EESM effective SINR per MCS, pooled over
channels and SNRs in 1 dB bins of at least 20 TBs (an effective-SINR mapping that works puts every
channel on one curve; a triangle is the 95 % upper bound of a bin without errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

Z_95 = 1.959963984540054
BIN_DB = 1.0  # effective-SINR bin width of the pooled plot
MIN_PER_BIN = 20  # TBs a bin needs to be drawn


def _wilson(k, n):
    p = k / n
    den = 1 + Z_95**2 / n
    c = (p + Z_95**2 / (2 * n)) / den
    h = Z_95 * np.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / den
    return np.clip(c - h, 0, 1), np.clip(c + h, 0, 1)


def _panel_key(r):
    return (str(r["channel"]), float(r["doppler_hz"]))


def _bars(ax, x, k, n, **kw):
    lo, hi = _wilson(k, n)
    p = k / n
    # The Wilson bounds contain p; clipping keeps float round-off (at k = 0 or n) from a negative bar.
    ax.errorbar(x, np.maximum(p, 1e-3), yerr=[np.maximum(p - lo, 0.0), np.maximum(hi - p, 0.0)], fmt="o", ms=3,
                capsize=2, **kw)


def plot_tbler(result_dir: Path) -> list[Path]:
    """tbler_vs_snr.png (decoded, per channel and Doppler) and tbler_vs_eff_sinr.png (per MCS)."""
    rows = read_csv(result_dir)
    series = read_series(result_dir)
    keys = sorted({_panel_key(r) for r in rows}, key=lambda k: (k[0] != "AWGN", k))
    cols = min(len(keys), 3)
    nrow = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(nrow, cols, figsize=(4.4 * cols, 3.6 * nrow), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for i, r in enumerate(sorted((r for r in rows if _panel_key(r) == key), key=lambda r: r["mcs"])):
            pre = f"p{int(r['point']):05d}/"
            _bars(ax, series[pre + "snr_db"], series[pre + "n_errors"], series[pre + "n_tb"], color=f"C{i}",
                  label=f"MCS {int(r['mcs'])}")
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1.05)
        ax.set_title(f"{key[0]}, {key[1]:g} Hz: decoded TBLER", fontsize=9)
        ax.set_xlabel("SNR per Rx antenna [dB]")
        ax.set_ylabel("TBLER")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    out = [save(fig, Path(result_dir) / "tbler_vs_snr.png")]

    mcs_values = sorted({int(r["mcs"]) for r in rows})
    fig, axes = plt.subplots(2, len(mcs_values), figsize=(4.0 * len(mcs_values), 6.4), squeeze=False)
    channels = sorted({str(r["channel"]) for r in rows})
    for col, mcs in enumerate(mcs_values):
        for row_i, variant in enumerate(("miesm_re", "eesm_re")):
            ax = axes[row_i, col]
            for i, ch in enumerate(channels):
                eff, err = [], []
                for r in rows:
                    if int(r["mcs"]) == mcs and str(r["channel"]) == ch:
                        pre = f"p{int(r['point']):05d}/"
                        eff.append(series[pre + f"eff_{variant}_db"].ravel())
                        err.append(series[pre + "error"].ravel())
                if not eff:
                    continue
                eff, err = np.concatenate(eff), np.concatenate(err)
                bins = np.floor(eff / BIN_DB).astype(int)
                ub = np.unique(bins)
                k = np.array([err[bins == b].sum() for b in ub], float)
                n = np.array([(bins == b).sum() for b in ub], float)
                keep, x = n >= MIN_PER_BIN, (ub + 0.5) * BIN_DB + 0.1 * i
                hit = keep & (k > 0)
                _bars(ax, x[hit], k[hit], n[hit], color=f"C{i}", label=ch)
                # Bins without an error: their 95 % upper bound, as an upper limit.
                none = keep & (k == 0)
                ax.plot(x[none], _wilson(k[none], n[none])[1], "v", ms=4, color=f"C{i}")
            ax.set_yscale("log")
            ax.set_ylim(1e-3, 1.05)
            ax.set_title(f"MCS {mcs}: decoded TBLER vs {variant.split('_')[0].upper()} (per RE)", fontsize=9)
            ax.set_xlabel(f"effective SINR [dB], {BIN_DB:g} dB bins")
            ax.set_ylabel("TBLER")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
    out.append(save(fig, Path(result_dir) / "tbler_vs_eff_sinr.png"))
    return out

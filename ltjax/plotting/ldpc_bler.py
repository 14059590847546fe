"""Plots for ``ldpc_bler``: BLER vs SNR with 95 % Wilson bars (one panel per code-block size), and
the 10 % BLER SNR per MCS of the decoder, the normal approximation and the PHY abstraction's
hand-chosen margin model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

QM_COLOURS = {2: "tab:blue", 4: "tab:orange", 6: "tab:green"}
QM_NAMES = {2: "QPSK", 4: "16QAM", 6: "64QAM"}



def _bars(mid, lo, hi):
    """Error-bar lengths below and above ``mid`` for an interval [lo, hi]; a round-off overshoot
    of ``mid`` past an end (e.g. a Wilson bound at 0 or n errors, or a bisected crossing) is 0."""
    return [np.maximum(mid - lo, 0.0), np.maximum(hi - mid, 0.0)]

def _sizes(rows) -> list[int]:
    return sorted({int(r["k_prime"]) for r in rows})


def plot_curves(result_dir: Path) -> list[Path]:
    """bler_vs_snr.png: every MCS's curve, one panel per requested K', colour by modulation."""
    rows = read_csv(result_dir)
    series = read_series(result_dir)
    sizes = _sizes(rows)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes), 3.8), squeeze=False)
    for ax, kp in zip(axes[0], sizes):
        seen = set()
        for r in rows:
            if int(r["k_prime"]) != kp:
                continue
            pre = f"p{int(r['point']):05d}/"
            if pre + "snr_db" not in series:
                continue
            s, b = series[pre + "snr_db"], series[pre + "bler"]
            lo, hi = series[pre + "ci_low"], series[pre + "ci_high"]
            keep = b > 0
            qm = int(r["qm"])
            label = QM_NAMES[qm] if qm not in seen else None
            seen.add(qm)
            ax.errorbar(s[keep], b[keep], yerr=_bars(b[keep], lo[keep], hi[keep]), fmt="o-", ms=2.5,
                        lw=0.8, elinewidth=0.6, capsize=1.5, color=QM_COLOURS.get(qm, "k"), label=label)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1.05)
        ax.axhline(0.1, color="k", lw=0.6, ls=":")
        ks = sorted({int(r["k_prime_used"]) for r in rows if int(r["k_prime"]) == kp})
        ax.set_title("K' = " + " / ".join(str(k) for k in ks) + " bits")
        ax.set_xlabel("Es/N0 [dB]")
        ax.set_ylabel("code-block BLER (95 % Wilson bars)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return [save(fig, Path(result_dir) / "bler_vs_snr.png")]


def plot_snr10(result_dir: Path) -> list[Path]:
    """snr10_vs_mcs.png: 10 % BLER SNR per MCS (decoder with its 95 % range, bound, margin model)."""
    rows = read_csv(result_dir)
    sizes = _sizes(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, kp in enumerate(sizes):
        sub = sorted((r for r in rows if int(r["k_prime"]) == kp), key=lambda r: r["mcs"])
        mcs = np.array([r["mcs"] for r in sub])
        snr = np.array([r["snr10_db"] for r in sub])
        lo = np.array([r["snr10_lo_db"] for r in sub])
        hi = np.array([r["snr10_hi_db"] for r in sub])
        colour = f"C{i}"
        axes[0].errorbar(mcs, snr, yerr=_bars(snr, lo, hi), fmt="o-", ms=3, lw=1, capsize=2, color=colour,
                         label=f"decoder, K' = {kp}")
        axes[0].plot(mcs, [r["snr10_margin_db"] for r in sub], "--", lw=1, color=colour,
                     label=f"margin model, K' = {kp}")
        axes[1].plot(mcs, snr - np.array([r["snr10_bound_db"] for r in sub]), "o-", ms=3, color=colour,
                     label=f"decoder - bound, K' = {kp}")
        axes[1].plot(mcs, np.array([r["snr10_margin_db"] for r in sub]) - snr, "x--", ms=4, color=colour,
                     label=f"margin model - decoder, K' = {kp}")
    axes[0].set_ylabel("SNR at 10 % BLER [dB]")
    axes[1].set_ylabel("difference [dB]")
    axes[1].axhline(0.0, color="k", lw=0.6)
    for ax in axes:
        ax.set_xlabel("MCS (table 1)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_title("10 % BLER SNR: decoder (95 % range) and margin model")
    axes[1].set_title("gap to the normal approximation; margin model error")
    return [save(fig, Path(result_dir) / "snr10_vs_mcs.png")]

"""Plots for ``lighttune_bler_error`` (LightTune Fig. 4): error vs SNR per variant, error/trigger rate over time.

The reduction "averaged over SNR" is 1 - mean_SNR(err_v) / mean_SNR(err_none) (the paper's
"average BLER prediction error over all SNRs is reduced by ..."); it is written, with the
paper's numbers, to reduction_summary.csv and into the plot titles. Where the run has an
achievable floor, its curve is drawn too and the summary gives each variant's reduction as a
fraction of the floor's (both averaged over SNR the same way). No jax here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

VARIANTS = ("none", "standard_uniform", "standard_hard", "one_step_uniform", "one_step_hard")
LABELS = {"none": "no fine-tuning", "standard_uniform": "Adam standard, uniform",
          "standard_hard": "Adam standard, hard", "one_step_uniform": "Adam one-step, uniform",
          "one_step_hard": "Adam one-step, hard"}
PAPER = {"TDL-A30": 0.435, "TDL-B50": 0.36}


def _color(variant: str) -> str:
    # One colour per variant whichever subset ran, so plots of different runs read alike.
    return f"C{VARIANTS.index(variant)}"


def _groups(rows):
    keys = sorted({(r["channel"], float(r["doppler_hz"])) for r in rows})
    return [(ch, fd, sorted((r for r in rows if r["channel"] == ch and float(r["doppler_hz"]) == fd),
                            key=lambda r: r["snr_db"])) for ch, fd in keys]


def present(sub) -> list[str]:
    """The variants with a number in every row of ``sub``, in ``VARIANTS`` order: a run with
    ``variants`` set to one fine-tuning variant has columns for it and "none" only."""
    return [v for v in VARIANTS if all(isinstance(r.get(f"err_{v}"), float) for r in sub)]


def headline(names) -> str:
    """The variant a title quotes: the paper's one-step/uniform when it ran, else the first that did."""
    tuned = [v for v in names if v != "none"]
    return "one_step_uniform" if "one_step_uniform" in tuned else (tuned[0] if tuned else "none")


def reductions(sub) -> dict[str, float]:
    """1 - mean_SNR(err_v) / mean_SNR(err_none) for each variant present in ``sub``."""
    return {v: _reduction(sub, f"err_{v}") for v in present(sub)}


def _reduction(sub, column: str) -> float:
    """1 - mean_SNR(column) / mean_SNR(err_none)."""
    e0 = np.mean([r["err_none"] for r in sub])
    return float(1.0 - np.mean([r[column] for r in sub]) / e0) if e0 > 0 else 0.0


def achievable(sub) -> float | None:
    """1 - mean_SNR(err_floor) / mean_SNR(err_none), the achievable floor's reduction; None without a floor."""
    if not all(isinstance(r.get("err_floor"), float) for r in sub):
        return None
    return _reduction(sub, "err_floor")


def plot_error_vs_snr(result_dir: Path) -> list[Path]:
    result_dir = Path(result_dir)
    rows = read_csv(result_dir)
    groups = _groups(rows)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
    summary = []
    for ax, (ch, fd, sub) in zip(axes[0], groups):
        snr = np.array([r["snr_db"] for r in sub])
        red = reductions(sub)
        for v in red:
            y = np.array([r[f"err_{v}"] for r in sub])
            se = np.array([r[f"err_se_{v}"] for r in sub])
            ax.errorbar(snr, y, yerr=2 * se, marker="o" if v == "none" else ".", ms=4, capsize=2, color=_color(v),
                        label=f"{LABELS[v]} (error {-100 * red[v]:+.1f}%)" if v != "none" else LABELS[v])
            summary.append({"channel": ch, "doppler_hz": fd, "variant": v,
                            "mean_err_over_snr": float(np.mean(y)), "reduction_vs_none": red[v],
                            "paper_reduction": PAPER.get(ch, float("nan")) if v == "one_step_uniform" else "",
                            "n_ue": int(sub[0]["n_ue"]), "n_periods": int(sub[0]["n_periods"])})
        floor = achievable(sub)
        if floor is not None:
            y = np.array([r["err_floor"] for r in sub])
            se = np.array([r["err_se_floor"] for r in sub])
            ax.errorbar(snr, y, yerr=2 * se, ls="--", marker="s", ms=3, capsize=2, color="k",
                        label=f"achievable floor: backprop [16], {int(sub[0]['floor_samples'])} in-scenario samples "
                              f"(error {-100 * floor:+.1f}%)")
            for row in summary[-len(red):]:
                v = row["variant"]
                row["floor_reduction"] = floor
                row["fraction_of_achievable"] = red[v] / floor if v != "none" and floor > 0 else ""
        head = headline(red)
        paper = PAPER.get(ch) if head == "one_step_uniform" else None  # the paper quotes one-step/uniform only
        ax.set_title(f"{ch}, {fd:g} Hz: {LABELS[head]} reduction {100 * red[head]:.1f}%"
                     + (f" (paper {100 * paper:.1f}%)" if paper else ""), fontsize=9)
        ax.set_xlabel("SNR [dB]")
        ax.set_ylabel("mean BLER prediction error |P_hat - P| (+-2 SE)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    with open(result_dir / "reduction_summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in summary for k in row)), restval="")
        w.writeheader()
        w.writerows(summary)
    return [save(fig, result_dir / "fig4_error_vs_snr.png"), result_dir / "reduction_summary.csv"]


def plot_error_over_time(result_dir: Path) -> list[Path]:
    """Error and trigger rate vs period index after the shift (t = 0), averaged over the SNR points."""
    result_dir = Path(result_dir)
    rows = read_csv(result_dir)
    s = read_series(result_dir)
    out = []
    for ch, fd, sub in _groups(rows):
        errs = np.stack([s[f"p{int(r['point']):05d}/err_t"] for r in sub])  # [P, V, T], V = present(sub)
        trig = np.stack([s[f"p{int(r['point']):05d}/trigger_t"] for r in sub])
        fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
        t = np.arange(errs.shape[-1])
        for j, v in enumerate(present(sub)):
            ax[0].plot(t, errs[:, j].mean(0), lw=1, color=_color(v), label=LABELS[v])
            if v != "none":
                ax[1].plot(t, trig[:, j].mean(0), lw=1, color=_color(v), label=LABELS[v])
        ax[0].set_ylabel("mean |P_hat - P| (over UEs and SNRs)")
        ax[1].set_ylabel("fine-tuning trigger rate")
        for a in ax:
            a.set_xlabel("CSI-RS period after deployment (80 ms each)")
            a.grid(alpha=0.3)
            a.legend(fontsize=7)
        fig.suptitle(f"{ch}, {fd:g} Hz: after the shift from the training scenario (t = 0)")
        out.append(save(fig, result_dir / f"over_time_{ch}_{fd:g}Hz.png"))
    return out

"""Plots of the beyond-the-paper LCM experiments: the global model, realistic monitoring, latency and speed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save
from ltjax.plotting.lcm import reading_tag, topk_percentile_figure

MONITOR_NAMES = ("genie (true e_RSRP every step)", "full Set A sweep per T_LCM", "Top-K sweep every step")


def plot_lcm_global(result_dir: Path) -> list[Path]:
    """global_model_U*.png: Top-K/1 accuracy of the 10th/50th/90th percentile users, four strategies."""
    d = Path(result_dir)
    rows, s = read_csv(d), read_series(d)
    out = []
    names = ("non-LCM", "only dataset ID", "proposed", "global model")
    colors = ("k", "b", "r", "g")
    for r in rows:
        acc = s[f"p{int(r['point']):05d}/acc_by_strategy"]  # [4, U, K]
        ks = np.arange(1, acc.shape[-1] + 1)
        pct = np.stack([np.percentile(acc[k], (10, 50, 90), axis=0) for k in range(4)])  # [4, 3, K]
        fig = topk_percentile_figure(ks, pct, [(c, "o") for c in colors], names,
                                     f"U={int(r['n_ue'])}: {r['geometry']}, {r['measurement']}, pool {r['pool']}",
                                     marker_size=3, legend_fontsize=7)
        out.append(save(fig, d / f"global_model_U{int(r['n_ue'])}{reading_tag(rows, r)}.png"))
    return out


def plot_lcm_monitoring(result_dir: Path) -> list[Path]:
    """monitoring_*.png: false-alarm rate, detection delay and mean e_RSRP against gamma per monitor."""
    d = Path(result_dir)
    rows, s = read_csv(d), read_series(d)
    out = []
    for r in rows:
        pre = f"p{int(r['point']):05d}/"
        g = s[pre + "gammas"]
        fig, axs = plt.subplots(1, 3, figsize=(11, 3.2))
        for i, name in enumerate(MONITOR_NAMES):
            lab = f"{name}: {s[pre + 'overhead_beams_per_s'][i]:.0f} extra beams/s"
            axs[0].plot(g, 100 * s[pre + "false_alarm_rate"][i], marker="o", label=lab)
            axs[1].plot(g, s[pre + "delay_s"][i], marker="o")
            axs[2].plot(g, s[pre + "e_rsrp"][i], marker="o")
        axs[2].axhline(r["e_rsrp_non_lcm"], color="k", ls=":", label="non-LCM")
        for ax, yl in zip(axs, ("false alarms [% of non-degraded windows]", "detection delay [s]",
                                "mean e_RSRP, proposed [dB]")):
            ax.set_xlabel("gamma_RSRP [dB]")
            ax.set_ylabel(yl)
            ax.grid(True, alpha=0.3)
        axs[0].legend(fontsize=6)
        axs[2].legend(fontsize=7)
        fig.suptitle(f"U={int(r['n_ue'])}, T_LCM={r['t_lcm_s']:g} s: {r['geometry']}, {r['measurement']}, "
                     f"pool {r['pool']}", fontsize=9)
        out.append(save(fig, d / f"monitoring_U{int(r['n_ue'])}{reading_tag(rows, r)}.png"))
    return out


def plot_lcm_latency(result_dir: Path) -> list[Path]:
    """latency.png: mean e_RSRP and 10th-percentile Top-1 of the proposed LCM against the message latency,
    one curve per UE speed."""
    d = Path(result_dir)
    rows, s = read_csv(d), read_series(d)
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
    for r in sorted(rows, key=lambda r: r["speed_kmh"]):
        pre = f"p{int(r['point']):05d}/"
        lat = s[pre + "latencies_ms"]
        lab = f"{r['speed_kmh']:g} km/h ({r['crossings_per_ue_100s']:.1f} crossings/100 s)"
        line = axs[0].plot(lat, s[pre + "e_rsrp_proposed_vs_latency"], marker="o", label=lab)[0]
        axs[0].axhline(r["e_rsrp_non_lcm"], color=line.get_color(), ls=":", lw=1)
        axs[1].plot(lat, 100 * s[pre + "top1_p10_proposed_vs_latency"], marker="o", color=line.get_color())
        axs[1].axhline(100 * r["top1_p10_non_lcm"], color=line.get_color(), ls=":", lw=1)
    for ax, yl in zip(axs, ("mean e_RSRP, proposed [dB]", "Top-1 of the 10th-pct user, proposed [%]")):
        ax.set_xscale("log")
        ax.set_xlabel("latency per message [ms]")
        ax.set_ylabel(yl)
        ax.grid(True, alpha=0.3)
    axs[0].legend(fontsize=7, title="dotted: non-LCM", title_fontsize=7)
    r = rows[0]
    fig.suptitle(f"U={int(r['n_ue'])}, T_LCM={r['t_lcm_s']:g} s, gamma={r['gamma_db']:g} dB: {r['geometry']}, "
                 f"{r['measurement']}, pool {r['pool']}", fontsize=9)
    return [save(fig, d / "latency.png")]

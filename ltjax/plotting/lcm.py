"""Plots of ``lcm_adaptation``: Fig. 6 (e_RSRP vs time), Fig. 7 (vs gamma), Fig. 8 (vs T_LCM), Fig. 9 (Top-K)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

NAMES = ("non-LCM", "only dataset ID", "proposed")
STRATS = ("non_lcm", "only_dataset_id", "proposed")
STYLE = (("k", "s"), ("b", "^"), ("r", "o"))


def _finish(ax, xlabel: str, ylabel: str, title: str, **grid) -> None:
    """Axis labels, a small title, a light grid and the strategies' legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3, **grid)
    ax.legend(fontsize=8)


def plot_lcm(result_dir: Path) -> list[Path]:
    d = Path(result_dir)
    rows = read_csv(d)
    s = read_series(d)
    out = []
    for r in rows:
        i = int(r["point"])
        tag = f"U{int(r['n_ue'])}_T{r['t_lcm_s']:g}"
        if abs(r["t_lcm_s"] - 1.0) < 1e-9:
            tr = s[f"p{i:05d}/e_trace"]
            t = np.arange(tr.shape[1])
            fig, ax = plt.subplots(figsize=(6, 3.5))
            for k in range(3):
                sm = np.convolve(tr[k], np.ones(50) / 50, mode="valid")  # 1-s moving mean for readability
                ax.plot(t[49:], sm, color=STYLE[k][0], label=NAMES[k])
            _finish(ax, "inference time step (20 ms)", "e_RSRP [dB] (UE mean, 1 s moving mean)",
                    f"Fig. 6: U={int(r['n_ue'])}, T_LCM=1 s, gamma={r['gamma_db']:g} dB")
            out.append(save(fig, d / f"fig6_{tag}.png"))
            pct = s[f"p{i:05d}/topk_pct"]  # [3 strategies, 3 percentiles, K]
            ks = np.arange(1, pct.shape[-1] + 1)
            fig, axs = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
            for j, pc in enumerate((10, 50, 90)):
                for k in range(3):
                    axs[j].plot(ks, pct[k, j], color=STYLE[k][0], marker=STYLE[k][1], label=NAMES[k])
                axs[j].set_title(f"{pc}th percentile user", fontsize=9)
                axs[j].set_xlabel("K")
                axs[j].grid(True, alpha=0.3)
            axs[0].set_ylabel("Top-K/1 accuracy")
            axs[0].legend(fontsize=8)
            fig.suptitle(f"Fig. 9: U={int(r['n_ue'])}", fontsize=9)
            out.append(save(fig, d / f"fig9_{tag}.png"))
            g = s[f"p{i:05d}/gammas"]
            if len(g) > 1:
                e = s[f"p{i:05d}/e_vs_gamma"]
                o = np.argsort(g)
                fig, ax = plt.subplots(figsize=(5, 3.5))
                for k in range(3):
                    ax.plot(g[o], e[k][o], color=STYLE[k][0], marker=STYLE[k][1], label=NAMES[k])
                _finish(ax, "gamma_RSRP [dB]", "mean e_RSRP [dB]", f"Fig. 7: U={int(r['n_ue'])}, T_LCM=1 s")
                out.append(save(fig, d / f"fig7_U{int(r['n_ue'])}.png"))
    t_vals = sorted({r["t_lcm_s"] for r in rows})
    if len(t_vals) > 1:
        for n in sorted({int(r["n_ue"]) for r in rows}):
            sub = sorted((r for r in rows if int(r["n_ue"]) == n), key=lambda r: r["t_lcm_s"])
            fig, ax = plt.subplots(figsize=(5, 3.5))
            for k in range(3):
                ax.plot([r["t_lcm_s"] for r in sub], [r[f"e_rsrp_{STRATS[k]}"] for r in sub], color=STYLE[k][0],
                        marker=STYLE[k][1], label=NAMES[k])
            ax.set_xscale("log")
            ax.set_xticks(t_vals)
            ax.set_xticklabels([f"{v:g}" for v in t_vals])
            ax.minorticks_off()
            _finish(ax, "T_LCM [s]", "mean e_RSRP [dB]", f"Fig. 8: U={n}, gamma={sub[0]['gamma_db']:g} dB",
                    which="both")
            out.append(save(fig, d / f"fig8_U{n}.png"))
    return out

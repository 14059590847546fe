"""Plots of the LCM experiments: Fig. 6 (e_RSRP vs time), Fig. 7 (vs gamma), Fig. 8 (vs T_LCM), Fig. 9 (Top-K),
the paper's claims over independent draws of UEs, and the proposed-minus-only-dataset-ID gap against the
spread of the candidate models' own-region Top-1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

NAMES = ("non-LCM", "only dataset ID", "proposed")
STRATS = ("non_lcm", "only_dataset_id", "proposed")
STYLE = (("k", "s"), ("b", "^"), ("r", "o"))
READINGS = ("geometry", "measurement", "pool", "initial_model", "only_dataset", "trigger", "speed_kmh")
CLAIM_TEXT = {"p10_proposed": ("proposed Top-1, 10th-pct user", 0.70),
              "gap_only_dataset": ("proposed - only dataset ID (10th pct)", 0.20),
              "gap_non_lcm": ("proposed - non-LCM (10th pct)", 0.50),
              "e_non_lcm": ("non-LCM mean e_RSRP [dB]", 4.0)}


def _finish(ax, xlabel: str, ylabel: str, title: str, **grid) -> None:
    """Axis labels, a small title, a light grid and the strategies' legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3, **grid)
    ax.legend(fontsize=8)


def topk_percentile_figure(ks, curves, styles, names, title: str, marker_size=None, legend_fontsize: int = 8):
    """Fig. 9's layout: Top-K/1 accuracy against K of the 10th/50th/90th percentile users, one panel each.

    curves [lines, 3 percentiles, K]; styles: (colour, marker) per line. Returns the figure.
    """
    fig, axs = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
    for j, pc in enumerate((10, 50, 90)):
        for k, (color, marker) in enumerate(styles):
            axs[j].plot(ks, curves[k][j], color=color, marker=marker, ms=marker_size, label=names[k])
        axs[j].set_title(f"{pc}th percentile user", fontsize=9)
        axs[j].set_xlabel("K")
        axs[j].grid(True, alpha=0.3)
    axs[0].set_ylabel("Top-K/1 accuracy")
    axs[0].legend(fontsize=legend_fontsize)
    fig.suptitle(title, fontsize=9)
    return fig


def reading_tag(rows: list[dict], r: dict) -> str:
    """The readings that vary across ``rows``, as a file-name suffix ("" when none varies)."""
    varying = [k for k in READINGS if k in r and len({str(x[k]) for x in rows}) > 1]
    return "".join(f"_{r[k]}" if not isinstance(r[k], float) else f"_{r[k]:g}{k[-3:]}" for k in varying)


def _reading_title(r: dict) -> str:
    return ", ".join(str(r[k]) for k in READINGS[:6] if k in r)


def plot_lcm(result_dir: Path) -> list[Path]:
    d = Path(result_dir)
    rows = read_csv(d)
    s = read_series(d)
    out = []
    for r in rows:
        i = int(r["point"])
        n_ue = int(r["n_ue"])
        tag = f"U{n_ue}_T{r['t_lcm_s']:g}{reading_tag(rows, r)}"
        pre = f"p{i:05d}/"
        if abs(r["t_lcm_s"] - 1.0) < 1e-9:
            tr = s[pre + "e_trace"]  # [3, n_windows]: UE-mean e_RSRP of each LCM window
            t = (np.arange(tr.shape[1]) + 1) * r["t_lcm_s"]
            fig, ax = plt.subplots(figsize=(6, 3.5))
            for k in range(3):
                ax.plot(t, tr[k], color=STYLE[k][0], label=NAMES[k])
            _finish(ax, "time [s]", "e_RSRP [dB] (UE mean, 1 s windows)",
                    f"Fig. 6: U={n_ue}, gamma={r['gamma_db']:g} dB; {_reading_title(r)}")
            out.append(save(fig, d / f"fig6_{tag}.png"))
            pct = s[pre + "topk_pct"]  # [3 strategies, 3 percentiles, K]
            ks = np.arange(1, pct.shape[-1] + 1)
            fig = topk_percentile_figure(ks, pct, STYLE, NAMES, f"Fig. 9: U={n_ue}; {_reading_title(r)}")
            out.append(save(fig, d / f"fig9_{tag}.png"))
            g = s[pre + "gammas"]
            if len(g) > 1:
                e = s[pre + "e_vs_gamma"]
                o = np.argsort(g)
                fig, ax = plt.subplots(figsize=(5, 3.5))
                for k in range(3):
                    ax.plot(g[o], e[k][o], color=STYLE[k][0], marker=STYLE[k][1], label=NAMES[k])
                _finish(ax, "gamma_RSRP [dB]", "mean e_RSRP [dB]", f"Fig. 7: U={n_ue}, T_LCM=1 s")
                out.append(save(fig, d / f"fig7_U{n_ue}{reading_tag(rows, r)}.png"))
        if int(r.get("n_seeds", 1)) > 1:
            out.append(_plot_claims(d, r, s[pre + "claim_values"], tag))
    out += _plot_fig8(d, rows)
    out += _plot_gap_vs_spread(d, rows)
    return out


def _plot_fig8(d: Path, rows: list[dict]) -> list[Path]:
    """Fig. 8 for every (U, readings) group with more than one T_LCM."""
    out = []
    groups: dict = {}
    for r in rows:
        groups.setdefault((int(r["n_ue"]), reading_tag(rows, r)), []).append(r)
    for (n, tag), sub in groups.items():
        t_vals = sorted({r["t_lcm_s"] for r in sub})
        if len(t_vals) < 2:
            continue
        sub = sorted(sub, key=lambda r: r["t_lcm_s"])
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
        out.append(save(fig, d / f"fig8_U{n}{tag}.png"))
    return out


def _plot_claims(d: Path, r: dict, values: np.ndarray, tag: str) -> Path:
    """Histograms over the draws of each claim's value, with the paper's threshold."""
    fig, axs = plt.subplots(1, 4, figsize=(12, 3))
    for ax, v, (name, (text, thr)) in zip(axs, values, CLAIM_TEXT.items()):
        ax.hist(v, bins=30, color="gray")
        ax.axvline(thr, color="r", ls="--", label="paper's claim")
        ax.axvline(np.median(v), color="k", label="median")
        ax.set_title(f"{text}\nP(holds) = {r[f'claim_{name}_prob']:.2f}", fontsize=8)
        ax.grid(True, alpha=0.3)
    axs[0].set_ylabel(f"draws of U={int(r['n_ue'])} UEs")
    axs[0].legend(fontsize=7)
    fig.suptitle(f"{int(r['n_seeds'])} draws; {_reading_title(r)}", fontsize=9)
    return save(fig, d / f"claims_{tag}.png")


def _plot_gap_vs_spread(d: Path, rows: list[dict]) -> list[Path]:
    """Proposed - only dataset ID (10th-percentile Top-1) against the mean spread of own-region Top-1 among
    the candidates, one point per row, when the rows' pools differ. Colour: pool; marker: geometry; filled:
    AWGN + 1 dB reports, hollow: ideal L1-RSRP."""
    if len({round(r.get("own_region_top1_spread", 0.0), 6) for r in rows}) < 2:
        return []
    colors = {"spread": "b", "localised": "g", "mixed": "r"}
    markers = {"sector": "o", "hexagon": "s"}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in rows:
        x = 100 * r["own_region_top1_spread"]
        y = 100 * (r["top1_p10_proposed"] - r["top1_p10_only_dataset_id"])
        c = colors.get(r.get("pool"), "k")
        ax.plot(x, y, markers.get(r.get("geometry"), "^"), color=c, ms=7,
                mfc=c if r.get("measurement") != "ideal" else "none",
                label=f"{r.get('pool', '')}, {r.get('geometry', '')}, {r.get('measurement', '')}")
    ax.axhline(20, color="gray", ls=":", label="paper: +20 points")
    ax.set_xlabel("spread of own-region Top-1 among a region's models [points]")
    ax.set_ylabel("proposed - only dataset ID\n10th-pct Top-1 [points]")
    ax.set_title(f"U={int(rows[0]['n_ue'])}, gamma={rows[0]['gamma_db']:g} dB, T_LCM={rows[0]['t_lcm_s']:g} s",
                 fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return [save(fig, d / "gap_vs_spread.png")]

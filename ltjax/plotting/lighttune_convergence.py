"""Plot for ``lighttune_convergence`` (Theorem 1 measured): per grid point, Pr(|y_hat - y+| >= delta)
and mean |P_hat - P| against the period, one line per optimiser, with the label-noise floors.

The band around each event-rate curve is the 95 % Wilson interval of a binomial proportion
over the grid point's ``n_ue`` independent UEs (one Bernoulli event per UE and period). The
grey band is the floor bracket [floor_event_lo, floor_event_hi] from replays with the channel
redrawn given the features (a lower bound for any predictor of the features), the dotted line
the known-channel floor's upper estimate, the dashed line the held-out rate of an MLP fitted offline on the
run's own data (reachable from the features: an upper bound on their floor). No jax here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, read_series, save

VARIANTS = ("frozen", "sgd", "standard", "one_step")  # ltjax.experiments.lighttune_convergence.VARIANTS
LABELS = {"frozen": "offline model, frozen", "sgd": "SGD (Theorem 1)", "standard": "Adam standard (eq. 8)",
          "one_step": "Adam one-step (eq. 9)"}
Z95 = 1.959964


def wilson_interval(p, n: int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval (lo, hi) of binomial proportions ``p`` (any shape) from ``n`` trials."""
    p = np.asarray(p, np.float64)
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / den
    return centre - half, centre + half


def _title(r) -> str:
    return f"{r['channel']}, {r['doppler_hz']:g} Hz, {r['snr_db']:g} dB"


def plot_convergence(result_dir: Path) -> list[Path]:
    result_dir = Path(result_dir)
    rows = sorted(read_csv(result_dir), key=lambda r: (r["channel"], r["doppler_hz"], r["snr_db"]))
    s = read_series(result_dir)
    fig, axes = plt.subplots(2, len(rows), figsize=(4.6 * len(rows), 7.0), squeeze=False, sharex="col")
    for col, r in enumerate(rows):
        key = f"p{int(r['point']):05d}"
        ev, err = s[f"{key}/p_event_t"], s[f"{key}/err_t"]  # [V, T]
        t = np.arange(ev.shape[-1])
        top, bottom = axes[0, col], axes[1, col]
        top.axhspan(r["floor_event_lo"], r["floor_event_hi"], color="0.8", zorder=0,
                    label="floor, channel redrawn given the features")
        top.axhline(r["floor_event_known_hi"], color="k", ls=":", lw=1, label="floor, channel known")
        top.axhline(r["fit_event"], color="k", ls="--", lw=1, label="MLP fitted offline on the run (held-out UEs)")
        bottom.axhspan(r["floor_err_lo"], r["floor_err_hi"], color="0.8", zorder=0, label="floor (class-valued)")
        bottom.axhline(r["fit_err"], color="k", ls="--", lw=1, label="MLP fitted offline on the run (held-out UEs)")
        for j, v in enumerate(VARIANTS):
            lo, hi = wilson_interval(ev[j], int(r["n_ue"]))
            top.fill_between(t, lo, hi, color=f"C{j}", alpha=0.15, lw=0)
            top.plot(t, ev[j], color=f"C{j}", lw=1, label=f"{LABELS[v]}: tail {r[f'p_event_tail_{v}']:.3f}")
            bottom.plot(t, err[j], color=f"C{j}", lw=1, label=LABELS[v])
        top.set_title(_title(r), fontsize=9)
        top.set_ylabel(f"Pr(|y_hat - y+| >= {r['delta']:g}) over {int(r['n_ue'])} UEs (95 % CI)")
        bottom.set_ylabel("mean |P_hat - P|")
        bottom.set_xlabel("CSI-RS period t (80 ms) after deployment")
        # Room above the curves for the legend: rates and errors stay well below these tops.
        top.set_ylim(0.0, 1.0)
        bottom.set_ylim(0.0, max(0.5, 1.5 * float(np.max(err))))
        for a in (top, bottom):
            a.grid(alpha=0.3)
            a.legend(fontsize=6, loc="upper right", ncol=2)
    fig.suptitle("Theorem 1 measured: stationary channel, uniform negatives")
    return [save(fig, result_dir / "convergence.png")]

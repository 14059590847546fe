"""Plot for ``ff_memory`` (Remark 3 measured): XLA's temporary and total allocation per UE of one
LightTune (FF, eq. 7) update and one backpropagation update against the network's sizes, beside
the analytic activation counts (the paper's sum_l M_l / max_l M_l and the live-set count).

One column per (optimiser, donated or not), top row temporaries, bottom row the total
(argument + output - alias + temp); solid lines vmapped over the largest UE count of the run,
dashed the smallest (1: the per-UE kernel). No jax here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ltjax.plotting.common import plt, read_csv, save

METHODS = (("ff", "LightTune (eq. 7, local)"), ("bp", "backprop (jax.grad)"))


def _sizes(r) -> str:
    return "[" + ",".join(str(r["sizes"]).split()) + "]"  # data.csv holds a list as "13 32 32"


def plot_ff_memory(result_dir: Path) -> list[Path]:
    result_dir = Path(result_dir)
    rows = read_csv(result_dir)
    sizes = list(dict.fromkeys(_sizes(r) for r in rows))  # in run order
    panels = list(dict.fromkeys((str(r["variant"]), str(r["donate"])) for r in rows))
    ues = sorted({int(r["n_ue"]) for r in rows})
    x = np.arange(len(sizes))
    fig, axes = plt.subplots(2, len(panels), figsize=(4.4 * len(panels), 7.0), squeeze=False, sharex=True)
    for col, (variant, donate) in enumerate(panels):
        sub = [r for r in rows if (str(r["variant"]), str(r["donate"])) == (variant, donate)]
        for row, what in enumerate(("temp", "peak")):
            ax = axes[row, col]
            for n_ue in (ues[-1], ues[0]) if len(ues) > 1 else ues:
                pts = {_sizes(r): r for r in sub if int(r["n_ue"]) == n_ue}
                xs = [i for i, s in enumerate(sizes) if s in pts]
                ls = "-" if n_ue == ues[-1] else "--"
                for j, (m, name) in enumerate(METHODS):
                    ax.plot(xs, [pts[sizes[i]][f"{what}_per_ue_{m}"] for i in xs], ls, marker="o", ms=4,
                            color=f"C{j}", label=f"{name}, U={n_ue}")
            if what == "temp":  # activation counts (the same for every U: per UE)
                pts = {_sizes(r): r for r in sub}
                xs = [i for i, s in enumerate(sizes) if s in pts]
                for col_name, style, name in (("act_bytes_ff", "k:", "live set, local"),
                                              ("act_bytes_bp", "k-.", "live set, backprop"),
                                              ("paper_bytes_ff", "0.6", "Remark 3: max_l M_l"),
                                              ("paper_bytes_bp", "0.3", "Remark 3: sum_l M_l")):
                    y = [pts[sizes[i]][col_name] / pts[sizes[i]]["n_ue"] for i in xs]
                    if style.startswith("k"):
                        ax.plot(xs, y, style, lw=1, label=f"{name} (activations)")
                    else:
                        ax.plot(xs, y, color=style, marker="x", ls="none", ms=7, label=f"{name} (activations)")
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_ylabel(f"{what} bytes per UE")
            ax.legend(fontsize=6)
        axes[0, col].set_title(f"{variant}, states {'donated' if donate == 'True' else 'not donated'}", fontsize=9)
        axes[1, col].set_xticks(x)
        axes[1, col].set_xticklabels(sizes, fontsize=6, rotation=20, ha="right")
        axes[1, col].set_xlabel("sizes [D, M_1, ..., M_L]")
    fig.suptitle("One update of one UE's FF model: XLA buffer assignment vs activation counts", fontsize=10)
    return [save(fig, result_dir / "ff_memory.png")]

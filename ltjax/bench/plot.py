"""The PNG beside each benchmark's JSON: ltjax against its peer, and the roofline fractions.

Reads only the payload (the JSON's content); never imports jax. Left panel: per case, the
median rate of every implementation with its spread (min to max of the alternating calls) as
an error bar, log scale. Right panel: per kernel, the fraction of the machine's GEMM rate
(FLOPs) and of its streaming bandwidth (bytes) the kernel reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_bench(payload: dict[str, Any], path: str | Path) -> Path:
    """Draws the two panels of ``payload`` into ``path`` (PNG) and returns the path."""
    import numpy as np

    from ltjax.plotting.common import plt, save

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    comps = payload.get("comparisons", [])
    names = sorted({n for c in comps for n in c["order"]}, key=lambda n: (not n.startswith("ltjax"), n))
    width = 0.8 / max(len(names), 1)
    colours = {n: plt.cm.tab10(i) for i, n in enumerate(names)}
    for i, c in enumerate(comps):
        for j, n in enumerate(names):
            r = c["results"].get(n)
            if r is None or "rate_median" not in r:
                continue
            med = r["rate_median"]
            err = [[med - r["rate_min"]], [r["rate_max"] - med]]
            a.bar(i + (j - (len(names) - 1) / 2) * width, med, width, yerr=err, capsize=3, color=colours[n],
                  label=n)
    a.set_xticks(range(len(comps)), [_wrap(c["case"]) for c in comps], fontsize=7)
    a.set_yscale("log")
    a.set_ylabel(comps[0]["unit"] if comps else "rate")
    handles, labels = a.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    a.legend(uniq.values(), uniq.keys(), fontsize=7)
    peer = payload.get("peer", {})
    a.set_title(f"{payload['benchmark']}: median [min, max]; peer: {_short(peer.get('status'))}", fontsize=8)

    kernels = payload.get("roofline", {}).get("kernels", [])
    x = np.arange(len(kernels))
    b.bar(x - 0.2, [k["flop_fraction"] for k in kernels], 0.4, label="FLOPs / GEMM rate")
    b.bar(x + 0.2, [k["byte_fraction"] for k in kernels], 0.4, label="bytes / bandwidth")
    b.set_xticks(x, [_wrap(k["kernel"]) for k in kernels], fontsize=7)
    b.set_ylabel("fraction of the machine's ceiling")
    b.set_ylim(0, max([1.0] + [k["flop_fraction"] for k in kernels] + [k["byte_fraction"] for k in kernels]))
    b.legend(fontsize=7)
    ceil = payload.get("roofline", {}).get("machine", {})
    load = payload.get("load_average", {})
    b.set_title(f"roofline: GEMM {ceil.get('gemm_gflops', float('nan')):.0f} GFLOP/s, "
                f"{ceil.get('bandwidth_gb_per_s', float('nan')):.1f} GB/s; load "
                f"{(load.get('start') or [float('nan')])[0]:.1f}-{(load.get('end') or [float('nan')])[0]:.1f}",
                fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def _wrap(text: str, width: int = 22) -> str:
    words, lines, line = str(text).split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join(lines + [line])


def _short(text, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 3] + "..."

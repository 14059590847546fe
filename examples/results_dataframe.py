"""Reading results into a pandas DataFrame (or a dict of numpy arrays without pandas).

    python examples/results_dataframe.py results/link_curves_quickstart

``ltjax.results.load`` needs neither jax nor the experiment's code: it reads data.csv with
typed columns (parameters take the type recorded in meta.json), meta.json and series.npz.
Install pandas with ``pip install -e ".[dataframe]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ltjax

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", nargs="?", default=str(ROOT / "results" / "link_curves_quickstart"))
    args = ap.parse_args(argv)
    r = ltjax.load_results(args.result)
    print(f"{r.path}: experiment {r.meta['experiment']}, seed {r.meta['seed']}, {r.n_points} points")
    print(f"parameters: {', '.join(r.params)}")
    print(f"metrics: {', '.join(r.metrics)}")
    if hasattr(r.table, "groupby"):  # pandas is installed
        swept = list(r.meta["config"]["axes"])
        rows = max(swept, key=lambda k: r.table[k].nunique())  # e.g. SNR down the side
        metric = r.metrics[0]
        print(f"{metric}:")
        print(r.table.pivot_table(index=rows, columns=[k for k in swept if k != rows], values=metric).round(4))
    else:
        print("(pandas not installed: r.table is a dict of numpy arrays)")
        for name in ("point", *r.metrics[:2]):
            print(f"{name}: {r.column(name)}")
    return r


if __name__ == "__main__":
    main()

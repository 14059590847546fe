"""A sweep from Python: load a sweep file, override some keys, run it, read the results.

    python examples/sweep_from_python.py --out runs/link_curves_small
    python examples/sweep_from_python.py --sweep my_sweep.toml --set seed=3 --out runs/mine

This is what ``ltjax run FILE --set ...`` does, as library calls: ``load_sweep`` validates
the file and the overrides (every problem at once), ``run_sweep`` computes the grid
(resumable: interrupt it and run it again), ``ltjax.results.load`` reads it back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ltjax

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default=str(ROOT / "sweeps" / "link_curves_quickstart.toml"))
    ap.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE",
                    help="override a key of the sweep file (default: the link-curves quickstart in AWGN only)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "link_curves_small"))
    args = ap.parse_args(argv)
    overrides = args.overrides
    if overrides is None:
        overrides = ["params.snr_db=[0.0, 10.0, 20.0]", "params.channel=AWGN", "params.mcs=[4, 16]"]
    cfg = ltjax.load_sweep(args.sweep, overrides=overrides)
    print(f"{cfg.experiment.name}: {cfg.n_points} points, axes {list(cfg.axes)}")
    out = ltjax.run_sweep(cfg, out=args.out, force=True, progress=False)
    results = ltjax.load_results(out)
    metric = results.metrics[0]
    for i in range(results.n_points):
        point = ", ".join(f"{k}={results.column(k)[i]}" for k in cfg.axes)
        print(f"{point}: {metric} {results.column(metric)[i]:.4g}")
    return results


if __name__ == "__main__":
    main()

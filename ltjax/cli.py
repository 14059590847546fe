"""The ``ltjax`` command: run sweeps, list experiments, run benchmarks.

Exit codes: 0 success; 2 bad input (config, data files, flags) with a one-line
``ltjax: error: ...`` message and no traceback; 3 a non-finite metric.
"""

from __future__ import annotations

import argparse
import os
import sys

from ltjax import __version__
from ltjax.errors import InputError, NumericalError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other input error
        raise InputError(f"command line: {message}")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ltjax", description="Vectorized Monte-Carlo simulation of AI-native 5G/6G links.")
    p.add_argument("--version", action="version", version=f"ltjax {__version__}")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    r = sub.add_parser("run", help="run a sweep file (TOML)")
    r.add_argument("sweep", help="path to a sweep TOML file, e.g. sweeps/quickstart.toml")
    r.add_argument("--out", help="result directory (default: the sweep's 'out' or results/<name>)")
    r.add_argument("--force", action="store_true", help="overwrite an existing result directory")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sub.add_parser("list", help="list the registered experiments and benchmarks")
    b = sub.add_parser("bench", help="run a benchmark; writes results/bench/<name>.json")
    b.add_argument("name", help="benchmark name (see 'ltjax list')")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    b.add_argument("--out-dir", default=None, help="where to write the JSON (default results/bench)")
    return p


def _cmd_list() -> int:
    from ltjax.bench import all_benches
    from ltjax.sweep import all_experiments

    print("experiments (ltjax run SWEEP.toml):")
    for name, exp in all_experiments().items():
        print(f"  {name:24s} {exp.description}")
    print("benchmarks (ltjax bench NAME):")
    for name, (desc, _) in all_benches().items():
        print(f"  {name:24s} {desc}")
    return 0


def _cmd_run(args) -> int:
    from ltjax.sweep import load_sweep, run_sweep

    cfg = load_sweep(args.sweep)
    if args.out is not None:
        parent = os.path.dirname(os.path.abspath(args.out))
        while parent and not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.access(parent, os.W_OK):
            raise InputError(f"--out {args.out}: directory is not writable")
    out = run_sweep(cfg, out=args.out, force=args.force, progress=not args.no_progress)
    print(f"wrote {out}")
    return 0


def _cmd_bench(args) -> int:
    from ltjax.bench import all_benches

    benches = all_benches()
    if args.name not in benches:
        raise InputError(f"bench NAME: unknown benchmark {args.name!r}; allowed: {', '.join(benches) or 'none'}")
    benches[args.name][1](args)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _build_parser().parse_args(argv)
        if args.cmd == "run":
            return _cmd_run(args)
        if args.cmd == "list":
            return _cmd_list()
        if args.cmd == "bench":
            return _cmd_bench(args)
        _build_parser().print_help()
        return 2
    except InputError as e:
        print(f"ltjax: error: {e}", file=sys.stderr)
        return 2
    except NumericalError as e:
        print(f"ltjax: error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("ltjax: interrupted; finished grid points are kept, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``ltjax`` command: run sweeps, list experiments, run benchmarks.

Exit codes (``ltjax.errors``): 0 success; 2 bad input (config, data files, flags, output
paths, an output directory another run is writing) with a one-line ``ltjax: error: ...``
message and no traceback; 3 a non-finite metric; 4 a chunk job failed on a cluster
executor (one line naming its logs); 130 interrupted by SIGINT (Ctrl-C) and 143 by
SIGTERM (what SLURM sends), within a second or two at any phase, finished chunks kept
(re-run to resume; ``ltjax.sweep.interrupts``).
"""

from __future__ import annotations

import argparse
import os
import sys

from ltjax import __version__
from ltjax.errors import (EXIT_EXECUTION, EXIT_INPUT, EXIT_NUMERICAL, EXIT_SIGINT, ExecutionError, InputError,
                          NumericalError, one_line)
from ltjax.sweep.interrupts import handle_signals  # no JAX: the handlers are up before JAX loads

EXECUTORS = ("inline", "submitit-local", "submitit-slurm", "ray")  # == ltjax.sweep.executors.EXECUTORS


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


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
    r.add_argument("--data-dir", help="directory of input data sets (e.g. MNIST); sets LTJAX_DATA_DIR")
    r.add_argument("--chunk-points", type=_positive_int, default=None,
                   help="grid points per chunk: per resumable file and per cluster job (default: 1, or "
                        "enough that at most 1000 chunk files are written)")
    r.add_argument("--max-points", type=_positive_int, default=None,
                   help="largest grid accepted (default 100000)")
    r.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import a Python module that registers experiments (repeatable)")
    r.add_argument("--ue-chunk", type=_positive_int, default=None,
                   help="UEs per device batch chunk in map_ues (default: all UEs of a point at once)")
    r.add_argument("--points-over-devices", action="store_true",
                   help="run grid points concurrently, one per local device (inline executor)")
    r.add_argument("--executor", choices=EXECUTORS, default="inline",
                   help="where chunks run: in this process, a submitit job array (local/SLURM), or Ray")
    r.add_argument("--slurm-partition", help="submitit-slurm: partition")
    r.add_argument("--timeout-min", type=_positive_int, default=None, help="submitit: time limit per job [min]")
    r.add_argument("--gpus-per-task", type=int, default=None, help="submitit-slurm / ray: GPUs per chunk job")
    r.add_argument("--distributed", action="store_true",
                   help="multi-process run via jax.distributed (SLURM auto-detected, or the flags below)")
    r.add_argument("--coordinator", help="--distributed: HOST:PORT of process 0 (or $LTJAX_COORDINATOR)")
    r.add_argument("--num-processes", type=_positive_int, default=None,
                   help="--distributed: number of processes (or $LTJAX_NUM_PROCESSES)")
    r.add_argument("--process-id", type=_nonneg_int, default=None,
                   help="--distributed: this process's id, 0-based (or $LTJAX_PROCESS_ID)")
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


def _check_run_flags(args) -> None:
    """Flag combinations that cannot work; one InputError naming the flags."""
    dist_flags = [f for f, v in (("--coordinator", args.coordinator), ("--num-processes", args.num_processes),
                                 ("--process-id", args.process_id)) if v is not None]
    if dist_flags and not args.distributed:
        raise InputError(f"command line: {', '.join(dist_flags)} need --distributed")
    if args.distributed and args.executor != "inline":
        raise InputError(f"command line: --distributed conflicts with --executor {args.executor}; "
                         "allowed: one of them")
    if args.points_over_devices and (args.executor != "inline"):
        raise InputError(f"command line: --points-over-devices conflicts with --executor {args.executor}; "
                         "allowed: --executor inline")
    slurm_flags = [f for f, v in (("--slurm-partition", args.slurm_partition),) if v is not None]
    if slurm_flags and args.executor != "submitit-slurm":
        raise InputError(f"command line: {', '.join(slurm_flags)} needs --executor submitit-slurm")
    if args.gpus_per_task is not None and args.gpus_per_task < 0:
        raise InputError(f"--gpus-per-task {args.gpus_per_task}: must be >= 0")
    if args.data_dir is not None:
        if not args.data_dir or not os.path.isdir(args.data_dir):
            raise InputError(f"--data-dir {args.data_dir}: no such directory")
        if not os.access(args.data_dir, os.R_OK | os.X_OK):
            raise InputError(f"--data-dir {args.data_dir}: directory is not readable")
    if args.out is not None and not args.out.strip():
        raise InputError("--out: empty path")
    # Everything else about --out (and the sweep's out / name) is checked by the runner,
    # before any compute (ltjax.sweep.outdir).


def _cmd_run(args) -> int:
    from ltjax.sweep import load_sweep, run_sweep
    from ltjax.sweep.config import DEFAULT_MAX_POINTS

    _check_run_flags(args)
    started, rank = False, 0
    if args.distributed:
        from ltjax.sweep import distributed

        spec = distributed.resolve_spec(args.coordinator, args.num_processes, args.process_id)
        if not os.path.isfile(args.sweep):  # fail before waiting for the other processes
            raise InputError(f"{args.sweep}: no such sweep file")
        # Before load_sweep: importing experiment modules must not touch the
        # XLA backend first (jax.distributed.initialize has to come before it).
        distributed.initialize(spec)
        started = True
    try:
        _import_modules(args.imports)
        cfg = load_sweep(args.sweep, max_points=args.max_points or DEFAULT_MAX_POINTS)
    except BaseException:
        if started:
            distributed.shutdown()
        raise
    if args.data_dir is not None:
        os.environ["LTJAX_DATA_DIR"] = os.path.abspath(args.data_dir)
    options = {}
    if args.slurm_partition:
        options["slurm_partition"] = args.slurm_partition
    if args.timeout_min:
        options["timeout_min"] = args.timeout_min
    if args.gpus_per_task is not None:
        options["gpus_per_task" if args.executor == "ray" else "gpus_per_node"] = args.gpus_per_task
    try:
        out = run_sweep(cfg, out=args.out, force=args.force, progress=not args.no_progress,
                        chunk_points=args.chunk_points, ue_chunk=args.ue_chunk, executor=args.executor,
                        executor_options=options,
                        data_dir=os.environ.get("LTJAX_DATA_DIR") if args.data_dir else None,
                        command=args.command_line, points_over_devices=args.points_over_devices)
        if started:
            import jax

            rank = jax.process_index()
    finally:
        if started:
            from ltjax.sweep import distributed

            distributed.shutdown()
    if rank == 0:
        print(f"wrote {out}")
    return 0


def _import_modules(names: list[str]) -> None:
    """``--import MODULE``: modules that register experiments; one line if one fails."""
    from ltjax.sweep.registry import import_module

    for name in names:
        try:
            import_module(name)
        except ImportError as e:
            raise InputError(f"--import {name}: cannot import it ({e})") from None
        except Exception as e:  # noqa: BLE001 - the user's module failed while importing
            raise InputError(f"--import {name}: the module raised {type(e).__name__}: {e}") from None


def _cmd_bench(args) -> int:
    from ltjax.bench import all_benches
    from ltjax.bench.common import check_out_dir

    benches = all_benches()
    if args.name not in benches:
        raise InputError(f"bench NAME: unknown benchmark {args.name!r}; allowed: {', '.join(benches) or 'none'}")
    check_out_dir(args.out_dir)  # before the benchmark runs, not after
    benches[args.name][1](args)
    return 0


def _register_experiments() -> None:
    """ltjax's own experiments, then any installed package's (``ltjax.experiments`` entry points)."""
    import ltjax.experiments  # noqa: F401  (registers on import)
    from ltjax.sweep.registry import load_plugins

    load_plugins()


# What an interrupted command keeps (printed after "ltjax: interrupted (SIGINT); ").
KEPT = {"run": "finished grid points are kept; re-run the same command to resume",
        "bench": "no benchmark file was written"}


def _print_error(message: str) -> None:
    """``ltjax: error: <message>`` as one line that any terminal encoding can print."""
    line = f"ltjax: error: {one_line(message)}\n"
    enc = getattr(sys.stderr, "encoding", None) or "utf-8"
    sys.stderr.write(line.encode(enc, "backslashreplace").decode(enc, "replace"))
    sys.stderr.flush()


def _dispatch(args) -> int:
    if args.cmd == "run":
        if not args.distributed:  # under --distributed, jax.distributed must start first
            _register_experiments()
        return _cmd_run(args)
    if args.cmd == "list":
        _register_experiments()
        return _cmd_list()
    if args.cmd == "bench":
        return _cmd_bench(args)
    _build_parser().print_help()
    return EXIT_INPUT


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = _build_parser().parse_args(argv)
        args.command_line = " ".join(["ltjax", *argv])
        with handle_signals(KEPT.get(args.cmd, "nothing was written")):
            return _dispatch(args)
    except InputError as e:
        _print_error(str(e))
        return EXIT_INPUT
    except NumericalError as e:
        _print_error(str(e))
        return EXIT_NUMERICAL
    except ExecutionError as e:
        _print_error(str(e))
        return EXIT_EXECUTION
    except KeyboardInterrupt:  # only where the signal handlers could not be installed
        _print_error("interrupted; finished grid points are kept, re-run to resume")
        return EXIT_SIGINT


if __name__ == "__main__":
    sys.exit(main())

"""The ``ltjax`` command: list and show experiments, run sweeps, plot results, run benchmarks.

    ltjax list                                  experiments and benchmarks
    ltjax show EXPERIMENT                       every parameter: kind, default, unit, range, doc
    ltjax show --sweep FILE [--set K=V ...]     the resolved grid of a sweep file and its size
    ltjax run FILE [--set K=V ...] [-v|-q]      run a sweep (resumes an interrupted run)
    ltjax plot DIR [DIR ...] [--x X --y Y]      overlay runs that share axes
    ltjax bench NAME                            a benchmark

``ltjax run`` keeps JAX's persistent compilation cache in ``$XDG_CACHE_HOME/ltjax/jax``
(default ``~/.cache/ltjax/jax``), so a second run of the same kernels skips most of the
compilation; ``--no-compile-cache`` or ``LTJAX_NO_COMPILE_CACHE=1`` turns it off.

Exit codes (``ltjax.errors``): 0 success; 2 bad input (config, data files, flags, output
paths, an output directory another run is writing) with a one-line ``ltjax: error: ...``
message and no traceback; 3 a non-finite metric; 4 a chunk job failed on a cluster
executor (one line naming its logs); 130 interrupted by SIGINT (Ctrl-C) and 143 by
SIGTERM (what SLURM sends), within a second or two at any phase, finished chunks kept
(re-run to resume; ``ltjax.sweep.interrupts``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ltjax import __version__
from ltjax.log import setup as setup_logging
from ltjax.errors import (EXIT_EXECUTION, EXIT_INPUT, EXIT_NUMERICAL, EXIT_SIGINT, ExecutionError, InputError,
                          NumericalError, one_line)
from ltjax.sweep.interrupts import handle_signals  # no JAX: the handlers are up before JAX loads

EXECUTORS = ("inline", "submitit-local", "submitit-slurm", "ray")  # == ltjax.sweep.executors.EXECUTORS
NO_COMPILE_CACHE_ENV = "LTJAX_NO_COMPILE_CACHE"
# Kernels that compile faster than this are not written to the persistent cache.
COMPILE_CACHE_MIN_SECONDS = 0.5
log = logging.getLogger("ltjax.cli")


def _int_at_least(lo: int, what: str):
    """An argparse type: an integer >= ``lo``, refused with one line naming ``what`` it must be."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonneg_int = _int_at_least(0, "an integer >= 0")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other input error
        raise InputError(f"command line: {message}")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ltjax", description="Vectorized Monte-Carlo simulation of AI-native 5G/6G links.")
    p.add_argument("--version", action="version", version=f"ltjax {__version__}")
    verbosity = _Parser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="count", default=0,
                           help="log a summary and per-point timings (-vv: debug messages)")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bar")
    overrides = _Parser(add_help=False)
    overrides.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                           help="override a key of the sweep file, e.g. --set params.snr_db=[0,5,10] "
                                "--set seed=3 (VALUE is TOML; repeatable)")
    imports = _Parser(add_help=False)
    imports.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                         help="import a Python module (a name, or the path of a .py file) that registers "
                              "experiments (repeatable)")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)
    r = sub.add_parser("run", help="run a sweep file (TOML)", parents=[verbosity, overrides, imports])
    r.add_argument("sweep", help="path to a sweep TOML file, e.g. sweeps/quickstart.toml")
    r.add_argument("--no-compile-cache", action="store_true",
                   help=f"do not use JAX's persistent compilation cache (also: {NO_COMPILE_CACHE_ENV}=1)")
    r.add_argument("--out", help="result directory (default: the sweep's 'out' or results/<name>)")
    r.add_argument("--force", action="store_true", help="overwrite an existing result directory")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument("--data-dir", help="directory of input data sets (e.g. MNIST); sets LTJAX_DATA_DIR")
    r.add_argument("--chunk-points", type=_positive_int, default=None,
                   help="grid points per chunk: per resumable file and per cluster job (default: 1, or "
                        "enough that at most 1000 chunk files are written)")
    r.add_argument("--max-points", type=_positive_int, default=None,
                   help="largest grid accepted (default 100000)")
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
    sub.add_parser("list", help="list the registered experiments and benchmarks", parents=[imports])
    s = sub.add_parser("show", help="an experiment's parameters, or the resolved grid of a sweep file",
                       parents=[overrides, imports])
    s.add_argument("experiment", nargs="?", help="a registered experiment (see 'ltjax list')")
    s.add_argument("--sweep", help="a sweep TOML file: print its resolved grid and size")
    s.add_argument("--max-points", type=_positive_int, default=None, help="largest grid accepted (default 100000)")
    pl = sub.add_parser("plot", help="overlay result directories that share axes", parents=[verbosity])
    pl.add_argument("dirs", nargs="+", metavar="DIR", help="result directories written by 'ltjax run'")
    pl.add_argument("--x", help="x-axis column (default: the swept parameter with the most values)")
    pl.add_argument("--y", help="y-axis metric (default: the first metric shared by all runs)")
    pl.add_argument("--by", action="append", default=None, metavar="COLUMN",
                    help="one line per value of this column (repeatable; default: the other swept parameters)")
    pl.add_argument("--logy", action="store_true", help="logarithmic y axis (BLER curves)")
    pl.add_argument("--label", action="append", default=None, help="legend label of each run, in order")
    pl.add_argument("--out", default="overlay.png", help="the PNG to write (default overlay.png)")
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
    print("'ltjax show EXPERIMENT' lists an experiment's parameters.")
    return 0


def _experiment_or_error(name: str):
    from ltjax.sweep import all_experiments, get_experiment
    from ltjax.sweep.config import did_you_mean

    exp = get_experiment(name)
    if exp is None:
        names = list(all_experiments())
        raise InputError(f"show: unknown experiment {name!r}{did_you_mean(name, names)}; allowed: {', '.join(names)}")
    return exp


def format_params(exp) -> str:
    """The parameter table of ``ltjax show EXPERIMENT`` (from the typed parameter class)."""
    rows = [("name", "kind", "default", "unit", "allowed", "sweep", "doc")]
    for name, p in exp.params.items():
        default = p.default if not isinstance(p.default, tuple) else list(p.default)
        role = f" ({p.role})" if p.role else ""
        rows.append((name, p.kind + role, repr(default), p.unit, p.describe_range(),
                     "static" if p.static else "traced", p.doc))
    widths = [min(max(len(r[j]) for r in rows), 28) for j in range(6)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:6], widths)) + "  " + r[6] for r in rows]
    head = [f"{exp.name}: {exp.description}",
            f"parameters ({exp.params_cls.__name__}, {exp.module}); a sweep file sets them under [params];",
            "traced parameters vary without recompiling, static ones set shapes or control flow:", ""]
    return "\n".join(head + [ln.rstrip() for ln in lines])


def format_sweep(cfg, out_dir) -> str:
    """The resolved grid of ``ltjax show --sweep FILE``."""
    shape = " x ".join(f"{len(v)} {k}" for k, v in cfg.axes.items()) or "no axes"
    lines = [f"sweep {cfg.source}: experiment {cfg.experiment.name}, seed {cfg.seed}",
             f"output: {out_dir}",
             f"grid: {shape} = {cfg.n_points:,} point{'s' * (cfg.n_points != 1)}"]
    if cfg.overrides:
        lines.append("overrides: " + " ".join(f"--set {o}" for o in cfg.overrides))
    lines.append("axes:")
    lines += [f"  {k} = {v}" for k, v in cfg.axes.items()] or ["  (none)"]
    lines.append("fixed:")
    for k, v in cfg.fixed.items():
        default = "" if k in cfg.given else "   (default)"
        lines.append(f"  {k} = {list(v) if isinstance(v, tuple) else v!r}{default}")
    return "\n".join(lines)


def _cmd_show(args) -> int:
    if (args.experiment is None) == (args.sweep is None):
        raise InputError("show: give an EXPERIMENT or --sweep FILE (one of them)")
    if args.overrides and args.sweep is None:
        raise InputError("show: --set needs --sweep FILE")
    _import_modules(args.imports)
    if args.experiment is not None:
        print(format_params(_experiment_or_error(args.experiment)))
        return 0
    from ltjax.sweep import load_sweep
    from ltjax.sweep.config import DEFAULT_MAX_POINTS
    from ltjax.sweep.runner import output_dir

    cfg = load_sweep(args.sweep, max_points=args.max_points or DEFAULT_MAX_POINTS, overrides=args.overrides)
    print(format_sweep(cfg, output_dir(cfg)))
    return 0


def _cmd_plot(args) -> int:
    from ltjax.plotting.overlay import overlay_cli

    out = overlay_cli(args.dirs, x=args.x, y=args.y, by=args.by, out=args.out, logy=args.logy, labels=args.label)
    print(f"wrote {out}")
    return 0


def compile_cache_dir() -> Path:
    """Where ``ltjax run`` keeps JAX's persistent compilation cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ltjax" / "jax"


def _enable_compile_cache(disabled: bool) -> None:
    """Turns JAX's persistent compilation cache on (unless opted out); never fails a run."""
    if disabled or os.environ.get(NO_COMPILE_CACHE_ENV, "") not in ("", "0"):
        log.debug("persistent compilation cache off")
        return
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # the user's own choice wins
        return
    path = compile_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("compilation cache off: cannot create %s (%s)", path, e.strerror)
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # the user's own setting wins
        jax.config.update("jax_persistent_cache_min_compile_time_secs", COMPILE_CACHE_MIN_SECONDS)
    if "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES" not in os.environ:
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # cache small kernels too
    log.debug("persistent compilation cache in %s", path)


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
        cfg = load_sweep(args.sweep, max_points=args.max_points or DEFAULT_MAX_POINTS, overrides=args.overrides)
    except BaseException:
        if started:
            distributed.shutdown()
        raise
    if args.data_dir is not None:
        os.environ["LTJAX_DATA_DIR"] = os.path.abspath(args.data_dir)
    _enable_compile_cache(args.no_compile_cache)
    options = {}
    if args.slurm_partition:
        options["slurm_partition"] = args.slurm_partition
    if args.timeout_min:
        options["timeout_min"] = args.timeout_min
    if args.gpus_per_task is not None:
        options["gpus_per_task" if args.executor == "ray" else "gpus_per_node"] = args.gpus_per_task
    try:
        out = run_sweep(cfg, out=args.out, force=args.force, progress=not (args.no_progress or args.quiet),
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
        "plot": "no plot was written",
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
        _import_modules(args.imports)
        return _cmd_list()
    if args.cmd == "show":
        _register_experiments()
        return _cmd_show(args)
    if args.cmd == "plot":
        return _cmd_plot(args)
    if args.cmd == "bench":
        return _cmd_bench(args)
    _build_parser().print_help()
    return EXIT_INPUT


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = _build_parser().parse_args(argv)
        args.command_line = " ".join(["ltjax", *argv])
        setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", False))
        with handle_signals(KEPT.get(args.cmd, "nothing was written")):
            return _dispatch(args)
    except InputError as e:
        for message in getattr(e, "messages", None) or [str(e)]:  # every problem of a sweep file
            _print_error(message)
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

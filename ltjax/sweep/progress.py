"""Progress of a sweep on stderr, with compilation as its own phase.

JAX compiles a kernel the first time it sees its shapes and static parameters, which can
take longer than running it. :class:`CompileClock` adds up the compile time JAX reports
(``jax.monitoring`` duration events: tracing, lowering to MLIR and the XLA backend
compile); :class:`Progress` shows it apart and estimates the time left from the run time
alone: ``eta = (elapsed - compile) / computed * remaining``. The phase reads
``compiling`` until the first chunk of grid points of this run is done (the first point
pays the compilation), then ``running``.

On a terminal the bar is drawn with ``rich`` (installed with flax); otherwise (a file, a
pipe, CI) one plain line is written per update.
"""

from __future__ import annotations

import sys
import threading
import time

# jax.monitoring events whose durations are compilation (jax._src.dispatch).
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                  "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")


class CompileClock:
    """Seconds spent compiling in this process since the clock was installed (thread-safe)."""

    _lock = threading.Lock()
    _total = 0.0
    _by_event: dict[str, float] = {}
    _installed = False

    @classmethod
    def install(cls) -> None:
        """Registers the ``jax.monitoring`` listener once per process (imports jax)."""
        with cls._lock:
            if cls._installed:
                return
            cls._installed = True
        import jax.monitoring

        def listen(event: str, duration_s: float, **_kw) -> None:
            if event in COMPILE_EVENTS:
                with cls._lock:
                    cls._total += float(duration_s)
                    cls._by_event[event] = cls._by_event.get(event, 0.0) + float(duration_s)

        jax.monitoring.register_event_duration_secs_listener(listen)

    @classmethod
    def seconds(cls) -> float:
        with cls._lock:
            return cls._total

    @classmethod
    def breakdown(cls) -> dict[str, float]:
        """Seconds per phase so far: ``{"trace": ..., "lower": ..., "xla": ...}`` (XLA includes
        loading an executable from the persistent cache)."""
        names = dict(zip(COMPILE_EVENTS, ("trace", "lower", "xla")))
        with cls._lock:
            return {names[e]: cls._by_event.get(e, 0.0) for e in COMPILE_EVENTS}


def fmt_time(s: float) -> str:
    """``mm:ss`` or ``h:mm:ss``."""
    s = int(max(s, 0))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class Progress:
    """``with Progress(total, "label") as bar: bar.update(resumed, "resumed"); ... bar.update(k)``.

    The first :meth:`update` may report points resumed from an earlier run (``note=
    "resumed"``): they count as done but not as computed, so they do not shorten the ETA.
    """

    def __init__(self, total: int, label: str = "", enabled: bool = True, stream=None):
        self.total, self.label, self.enabled = max(int(total), 1), label, enabled
        self.stream = stream or sys.stderr
        self.n = 0  # points done, resumed included
        self.computed = 0  # points computed by this run
        self.t0 = time.perf_counter()
        self.compile0 = CompileClock.seconds()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._rich = None

    # ---- numbers ------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def compile_s(self) -> float:
        """Compile time of this run so far [s]."""
        return CompileClock.seconds() - self.compile0

    @property
    def phase(self) -> str:
        return "compiling" if self.computed == 0 and self.n < self.total else "running"

    def eta(self) -> float | None:
        """Seconds left, from the time per computed point with compilation left out."""
        if self.computed == 0:
            return None
        per_point = max(self.elapsed - self.compile_s, 0.0) / self.computed
        return per_point * (self.total - self.n)

    def status(self) -> str:
        eta = self.eta()
        return (f"{self.phase} elapsed {fmt_time(self.elapsed)} compile {fmt_time(self.compile_s)} "
                f"eta {fmt_time(eta) if eta is not None else '--:--'}")

    # ---- drawing ------------------------------------------------------------------------
    def __enter__(self):
        if self.enabled and self.tty:
            self._start_rich()
        return self

    def update(self, k: int = 1, note: str = "") -> None:
        self.n += k
        if note != "resumed":
            self.computed += k
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich[0].update(self._rich[1], completed=self.n, note=note)
        elif self.n and not self.tty:
            frac = self.n / self.total
            width = 28
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            self.stream.write(f"{self.label} [{bar}] {self.n}/{self.total} {frac:4.0%} {self.status()} {note}".rstrip()
                              + "\n")
            self.stream.flush()

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        outer = self

        class StatusColumn(ProgressColumn):  # phase, elapsed, compile and ETA, redrawn live
            def render(self, task):
                return Text(outer.status())

        bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), StatusColumn(),
                           TextColumn("{task.fields[note]}"), console=Console(file=self.stream),
                           transient=False, refresh_per_second=4)
        bar.start()
        task = bar.add_task(self.label, total=self.total, completed=self.n, note="")
        self._rich = (bar, task)

    def __exit__(self, *exc):
        if self._rich is not None:
            self._rich[0].stop()
            self._rich = None

"""A dependency-free progress bar on stderr (one line per update when not a TTY)."""

from __future__ import annotations

import sys
import time


def _fmt(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class Progress:
    """``with Progress(total, "label") as bar: ... bar.update()``."""

    def __init__(self, total: int, label: str = "", enabled: bool = True, stream=None):
        self.total, self.label, self.enabled = max(int(total), 1), label, enabled
        self.stream = stream or sys.stderr
        self.n, self.t0 = 0, time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self):
        self._draw()
        return self

    def update(self, k: int = 1, note: str = "") -> None:
        self.n += k
        self._draw(note)

    def _draw(self, note: str = "") -> None:
        if not self.enabled:
            return
        el = time.perf_counter() - self.t0
        frac = self.n / self.total
        eta = el / frac - el if self.n else 0.0
        width = 28
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        line = f"{self.label} [{bar}] {self.n}/{self.total} {frac:4.0%} elapsed {_fmt(el)} eta {_fmt(eta)} {note}"
        if self.tty:
            self.stream.write("\r" + line[:200].ljust(100))
        elif self.n:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __exit__(self, *exc):
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

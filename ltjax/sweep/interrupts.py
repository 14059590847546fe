"""Ctrl-C and SIGTERM for the ``ltjax`` command: exit 130 / 143 at once, at any phase.

Why not ``KeyboardInterrupt``: Python runs a signal handler in the main thread only
between bytecodes, so during an XLA compilation (one long C++ call) nothing happens until
the call returns; unwinding through JAX while its compile threads still run can crash the
interpreter as it shuts down; and an exception raised inside a garbage-collection callback
is swallowed. None of that applies here:

1. Python's C-level handler writes the signal number to a pipe the moment the signal
   arrives (``signal.set_wakeup_fd``); the Python-level handler does nothing.
2. A watcher thread blocked on that pipe prints ``ltjax: interrupted (SIGINT); <what is
   kept>``, flushes, runs the registered cleanups (releasing the output lock) and calls
   ``os._exit(128 + signum)``. No interpreter shutdown, no unwinding through JAX.

That is safe because everything ltjax keeps is already on disk: chunk files are written
atomically and fsynced. The one exception is the final swap of a result directory (two
renames and the removal of the work directory): it runs inside :func:`deferred`, and a
signal that arrives meanwhile exits as soon as the section ends. A second signal exits at
once, deferred section or not.

Only the ``ltjax`` command installs this (:func:`handle_signals`); library callers of
``run_sweep`` keep Python's default ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP = 0  # byte that tells the watcher to return (no signal has number 0)


class _State:
    """What the watcher and the deferred sections share (guarded by ``lock``)."""

    def __init__(self, message: str):
        self.message = message
        self.lock = threading.Lock()
        self.depth = 0  # open deferred sections
        self.pending: int | None = None  # a signal waiting for the deferred section to end
        self.count = 0  # signals received
        self.cleanups: list[Callable[[], None]] = []


_state: _State | None = None


def _describe(signum: int) -> str:
    name = signal.Signals(signum).name
    return f"interrupted ({name})" if signum == signal.SIGINT else f"terminated ({name})"


def _exit(state: _State, signum: int) -> None:
    """Prints the message, runs the cleanups and ends the process with 128 + signum."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    lead = "\n" if _isatty(2) else ""  # end a progress bar's line first
    with contextlib.suppress(OSError):
        os.write(2, f"{lead}ltjax: {_describe(signum)}; {state.message}\n".encode("utf-8", "replace"))
    for fn in list(state.cleanups):
        with contextlib.suppress(Exception):
            fn()
    os._exit(128 + signum)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _watch(state: _State, read_fd: int) -> None:
    """The watcher thread: one byte per signal, written by Python's C-level handler."""
    try:
        while True:
            data = os.read(read_fd, 64)
            if not data:
                return
            for signum in data:
                if signum == _STOP:
                    return
                with state.lock:
                    state.count += 1
                    if state.depth > 0 and state.count == 1:
                        state.pending = signum  # the deferred section exits when it ends
                        continue
                _exit(state, signum)
    finally:
        os.close(read_fd)


def _do_nothing(signum, frame) -> None:
    """Python-level handler: the watcher thread acts (see the module docstring)."""


@contextlib.contextmanager
def handle_signals(message: str) -> Iterator[None]:
    """While open, SIGINT / SIGTERM end the process as described in the module docstring.

    ``message`` says what is kept, e.g. ``"finished grid points are kept; re-run to
    resume"``. Does nothing outside the main thread (signals can only be set up there).
    """
    global _state
    if threading.current_thread() is not threading.main_thread() or _state is not None:
        yield
        return
    state = _State(message)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # set_wakeup_fd requires it
    old_handlers = {s: signal.getsignal(s) for s in SIGNALS}
    watcher = threading.Thread(target=_watch, args=(state, read_fd), name="ltjax-signals", daemon=True)
    watcher.start()
    _state = state
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for s in SIGNALS:
        signal.signal(s, _do_nothing)
    try:
        yield
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(old_fd)
        _state = None
        with contextlib.suppress(OSError):
            os.write(write_fd, bytes([_STOP]))
        watcher.join(timeout=5)
        os.close(write_fd)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A section that a first SIGINT/SIGTERM does not cut short (it exits when the section ends)."""
    state = _state
    if state is None:
        yield
        return
    with state.lock:
        state.depth += 1
    try:
        yield
    finally:
        with state.lock:
            state.depth -= 1
            pending = state.pending if state.depth == 0 else None
        if pending is not None:
            _exit(state, pending)


def add_cleanup(fn: Callable[[], None]) -> None:
    """Runs ``fn`` (quick, must not raise) before an interrupted process exits."""
    if _state is not None:
        _state.cleanups.append(fn)


def remove_cleanup(fn: Callable[[], None]) -> None:
    if _state is not None and fn in _state.cleanups:
        _state.cleanups.remove(fn)

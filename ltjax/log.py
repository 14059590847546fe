"""Logging for the ``ltjax`` command: stdlib :mod:`logging` under the ``"ltjax"`` logger.

Library modules log through ``logging.getLogger(__name__)`` (``ltjax.sweep.runner`` ...) and
never configure handlers; the command line does, once per invocation (:func:`setup`):

* default: warnings and errors only, so the output of a run is the progress bar and the
  ``wrote DIR`` line;
* ``-v``: a summary of each run (grid size, points resumed, compile time, wall time) and
  the time of every chunk of grid points with its parameters;
* ``-vv``: debug messages (the compilation cache directory, ...);
* ``-q``: errors only, and no progress bar.

Lines go to stderr as ``ltjax: <level>: <message>``, one per record, so logs stay
line-based when stderr is a file or a pipe.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "ltjax"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (tests capture it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # logging.StreamHandler.__init__ assigns it
        pass


class _Formatter(logging.Formatter):
    def format(self, record):
        record = logging.makeLogRecord(record.__dict__)
        record.levelname = record.levelname.lower()
        return super().format(record)


def level_for(verbose: int = 0, quiet: bool = False) -> int:
    """The logging level of ``-v`` (count) and ``-q``."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def setup(verbose: int = 0, quiet: bool = False) -> logging.Logger:
    """Configures the ``ltjax`` logger for the command line (replacing an earlier setup)."""
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        if isinstance(h, _StderrHandler):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter("ltjax: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level_for(verbose, quiet))
    logger.propagate = False
    return logger


__all__ = ["LOGGER_NAME", "level_for", "setup"]

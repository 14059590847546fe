"""User-facing errors and the exit codes of the ``ltjax`` command.

Every problem with user input (sweep configs, data files, CLI flags, saved
models, output paths) is raised as :class:`InputError`. The CLI prints it as one
line, ``ltjax: error: <message>``, and exits with status 2, without a traceback.
Messages name the file, the key or flag, and what is allowed.
"""

# Exit codes of ``ltjax`` (README, docs/sweeps.md).
EXIT_OK = 0
EXIT_INPUT = 2  # bad input: one line, nothing written
EXIT_NUMERICAL = 3  # a metric came out NaN/inf
EXIT_EXECUTION = 4  # a cluster chunk job failed
EXIT_SIGINT = 130  # 128 + SIGINT: interrupted (Ctrl-C); finished chunks are kept
EXIT_SIGTERM = 143  # 128 + SIGTERM: terminated (e.g. by SLURM); finished chunks are kept


def one_line(message) -> str:
    """``message`` as one printable line: whitespace runs become one space, and other
    unprintable characters (NUL, escape sequences, lone surrogates of undecodable file
    names) are shown as Python escapes, so a hostile key or path cannot break the line."""
    text = " ".join(str(message).split())
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class InputError(Exception):
    """Bad user input. ``str(err)`` is the complete one-line message."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def input_error(source, key, problem: str) -> InputError:
    """Builds ``"<source>: <key>: <problem>"`` (``key`` may be None)."""
    where = f"{source}: {key}" if key else f"{source}"
    return InputError(f"{where}: {problem}")


class NumericalError(Exception):
    """A metric came out NaN/inf. The message names experiment, point and metric."""


class ExecutionError(RuntimeError):
    """A chunk job failed outside this process (submitit/SLURM, Ray) or its result is missing.

    The CLI prints it as one line and exits with status 4; the job's logs are
    named in the message. Finished chunks are kept, so a re-run resumes.
    """

"""User-facing input errors.

Every problem with user input (sweep configs, data files, CLI flags, saved
models) is raised as :class:`InputError`. The CLI prints it as one line,
``ltjax: error: <message>``, and exits with status 2, without a traceback.
Messages name the file, the key or flag, and what is allowed.
"""


class InputError(Exception):
    """Bad user input. ``str(err)`` is the complete one-line message."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


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

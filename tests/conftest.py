"""Test-session setup shared by every test folder.

Parallel runs (pytest-xdist, ``-n 2 --dist loadgroup`` in ``pyproject.toml``): the tests of one
file run on one worker, so a module-scoped fixture (a trained model, a compiled simulation)
is built once, except in the files listed in ``SPLIT_FILES``, whose tests are independent
end-to-end runs that are spread over the workers one by one.
"""

from __future__ import annotations

import os

import pytest

# Each worker is one JAX process; on a GPU, let two of them share the device's memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# Files whose tests build nothing shared: distribute them test by test.
SPLIT_FILES = ("test_validation_covers_runs.py", "test_bad_input.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Groups every test with the others of its file (xdist ``loadgroup``), except ``SPLIT_FILES``."""
    for item in items:
        if item.path.name not in SPLIT_FILES and not any(True for _ in item.iter_markers("xdist_group")):
            rel = os.path.relpath(item.path, config.rootpath).replace(os.sep, "/")
            item.add_marker(pytest.mark.xdist_group(rel))

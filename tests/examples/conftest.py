"""The CLI tests keep JAX's persistent compilation cache off (no files under the user's
cache directory); ``test_compile_cache.py`` turns it on in a temporary directory."""

import pytest


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("LTJAX_NO_COMPILE_CACHE", "1")

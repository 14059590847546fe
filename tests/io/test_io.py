"""``ltjax.io``: the atomic writer, the config hash, path checks before compute, versioned artefacts."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from ltjax import io
from ltjax.errors import InputError


def test_atomic_write_is_0644_whatever_the_umask_and_leaves_no_temp(tmp_path):
    old = os.umask(0o077)
    try:
        p = io.atomic_write_bytes(tmp_path / "sub" / "a.bin", b"new")
    finally:
        os.umask(old)
    assert p.read_bytes() == b"new" and stat.S_IMODE(p.stat().st_mode) == 0o644
    with pytest.raises(TypeError):
        io.atomic_write_bytes(p, "not bytes")  # the write fails half-way
    assert p.read_bytes() == b"new"  # the old file is untouched ...
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.bin"]  # ... and no temp file is left


def test_config_hash_is_canonical():
    assert io.config_hash({"a": 1, "b": [1, 2]}) == io.config_hash({"b": (1, 2), "a": 1})
    assert io.config_hash({"a": 1}, 16) == io.config_hash({"a": 1})[:16]
    assert io.config_hash({"a": 1}) != io.config_hash({"a": 2})


def _no_block(fn, *args, **kw):
    """Runs ``fn`` in a thread; fails (instead of hanging the suite) if it blocks."""
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), f"{fn.__name__} blocked"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_check_input_file(tmp_path):
    f = tmp_path / "m.msgpack"
    f.write_bytes(b"12345")
    assert io.check_input_file(f, "w") == f
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=f"^w: {fifo}: not a regular file$"):
        _no_block(io.check_input_file, fifo, "w")
    with pytest.raises(InputError, match=f"^w: {fifo}: not a regular file$"):
        _no_block(io.read_bytes_checked, fifo, "w")
    with pytest.raises(InputError, match="is a directory"):
        io.check_input_file(tmp_path, "w")
    with pytest.raises(InputError, match="no such file; run make_it"):
        io.check_input_file(tmp_path / "none", "w", hint="run make_it")
    with pytest.raises(InputError, match="5 bytes, more than the 4-byte limit"):
        io.read_bytes_checked(f, "w", max_bytes=4)
    with pytest.raises(InputError, match="NUL"):
        io.check_input_file("a\x00b", "w")


@pytest.mark.parametrize("case", ["empty", "nul", "dir_for_file", "file_for_dir", "fifo", "proc", "below_file",
                                  "dangling", "name_too_long"])
def test_check_output_path_refuses(tmp_path, case):
    (tmp_path / "f").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "nowhere", tmp_path / "dl")
    path, directory, needle = {
        "empty": ("", False, "empty path"),
        "nul": ("a\x00b", False, "NUL"),
        "dir_for_file": (tmp_path, False, "is a directory"),
        "file_for_dir": (tmp_path / "f", True, "is a file"),
        "fifo": (tmp_path / "fifo", False, "not a regular file"),
        "proc": ("/proc/self/x", False, "system directory"),
        "below_file": (tmp_path / "f" / "x", False, "is not a directory"),
        "dangling": (tmp_path / "dl", False, "dangling"),
        "name_too_long": (tmp_path / ("n" * 300), False, "cannot use the path"),
    }[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError, match=needle) as e:
        io.check_output_path(path, "sweep.toml: params.model_out", directory=directory)
    assert str(e.value).startswith("sweep.toml: params.model_out: ") and "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created


def test_check_artifact_path_keeps_payload_and_sidecar_apart(tmp_path):
    assert io.check_artifact_path(tmp_path / "m.msgpack", "w") == tmp_path / "m.msgpack"
    with pytest.raises(InputError, match="may not end in .json"):
        io.check_artifact_path(tmp_path / "m.json", "w")
    (tmp_path / "n.json").mkdir()
    with pytest.raises(InputError, match="n.json: exists and is a directory"):
        io.check_artifact_path(tmp_path / "n.msgpack", "w")


@pytest.mark.parametrize("suffix", [".npz", ".msgpack"])
def test_artifact_roundtrip_and_refusals(tmp_path, suffix):
    p = tmp_path / f"model{suffix}"
    payload = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3), "b": np.zeros(3, np.float32)}
    io.save_artifact(p, payload, {"config": {"sizes": [2, 3]}}, version=2, kind="toy_model")
    got, meta = io.load_artifact(p, version=2, kind="toy_model")
    assert np.array_equal(got["w"], payload["w"]) and meta["config"] == {"sizes": [2, 3]}
    for f in (p, io.sidecar_path(p)):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
    with pytest.raises(InputError, match="format_version 2; allowed: 3"):
        io.load_artifact(p, version=3)
    with pytest.raises(InputError, match="kind 'toy_model'; allowed: 'other'"):
        io.load_artifact(p, version=2, kind="other")
    sc = io.sidecar_path(p)
    # A sidecar that claims another config than the one the weights were made with.
    edited = json.loads(sc.read_text())
    edited["config"]["sizes"] = [2, 4]
    sc.write_text(json.dumps(edited))
    with pytest.raises(InputError, match=f"^{sc}: config_hash .* does not match the config"):
        io.load_artifact(p, version=2)
    edited["config_hash"] = 12345
    sc.write_text(json.dumps(edited))
    with pytest.raises(InputError, match="is not a hash"):
        io.load_artifact(p, version=2)
    sc.write_text("[1, 2]")
    with pytest.raises(InputError, match="unreadable artefact sidecar"):
        io.load_artifact(p, version=2)


def test_corrupted_payload_and_fifo_sidecar(tmp_path):
    p = tmp_path / "m.msgpack"
    io.save_artifact(p, {"w": np.ones(2)}, {"config": {}}, version=1, kind="k")
    p.write_bytes(b"\xc1\xc1 not msgpack")
    with pytest.raises(InputError, match="corrupted artefact"):
        io.load_artifact(p, version=1, hint="retrain it")
    q = tmp_path / "q.msgpack"
    q.write_bytes(b"x")
    os.mkfifo(io.sidecar_path(q))
    with pytest.raises(InputError, match="not a regular file"):
        _no_block(io.load_artifact, q, version=1)


def test_legacy_config_hash_still_loads(tmp_path):
    p = tmp_path / "m.npz"
    io.save_artifact(p, {"w": np.ones(2)}, {"config": {"a": 1.5}}, version=1, kind="k")
    sc = io.sidecar_path(p)
    meta = json.loads(sc.read_text())
    meta["config_hash"] = io.legacy_config_hash(meta["config"], 16)
    sc.write_text(json.dumps(meta))
    assert io.load_artifact(p, version=1)[1]["config"] == {"a": 1.5}

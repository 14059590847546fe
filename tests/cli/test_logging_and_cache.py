"""Logging (-v / -q), the progress bar's compile phase and ETA, and the persistent compilation cache."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from ltjax import cli
from ltjax.sweep import progress

OK = 'experiment = "awgn_ber"\nseed = 0\n[params]\nsnr_db = [0.0, 2.0]\nn_symbols = 100\n'


def test_eta_leaves_compilation_out(monkeypatch):
    clock = {"t": 100.0, "compile": 0.0}
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock["t"])
    monkeypatch.setattr(progress.CompileClock, "seconds", classmethod(lambda cls: clock["compile"]))
    out = io.StringIO()  # not a TTY: one plain line per update
    bar = progress.Progress(10, "sweep", stream=out)
    with bar:
        bar.update(2, "resumed")  # resumed points are done but say nothing about the speed
        assert bar.phase == "compiling" and bar.eta() is None
        clock["t"], clock["compile"] = 130.0, 28.0  # first point: 28 s compiling + 2 s running
        bar.update(1)
        assert bar.phase == "running"
        assert bar.eta() == pytest.approx(2.0 * 7)  # 7 points left at 2 s each
        clock["t"] = 134.0
        bar.update(2)
        assert bar.eta() == pytest.approx((34.0 - 28.0) / 3 * 5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(ln.startswith("sweep [") for ln in lines)
    assert "2/10" in lines[0] and "compiling" in lines[0] and "resumed" in lines[0]
    assert "3/10" in lines[1] and "running" in lines[1] and "compile 00:28" in lines[1] and "eta 00:14" in lines[1]


def test_compile_cache_settings(monkeypatch, tmp_path):
    import jax

    calls = {}
    monkeypatch.setattr(jax.config, "update", lambda k, v: calls.__setitem__(k, v))
    for var in ("LTJAX_NO_COMPILE_CACHE", "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cli._enable_compile_cache(False)
    assert calls["jax_compilation_cache_dir"] == str(tmp_path / "xdg" / "ltjax" / "jax")
    assert (tmp_path / "xdg" / "ltjax" / "jax").is_dir()
    assert calls["jax_persistent_cache_min_compile_time_secs"] == cli.COMPILE_CACHE_MIN_SECONDS
    calls.clear()
    cli._enable_compile_cache(True)  # --no-compile-cache
    monkeypatch.setenv("LTJAX_NO_COMPILE_CACHE", "1")
    cli._enable_compile_cache(False)
    monkeypatch.delenv("LTJAX_NO_COMPILE_CACHE")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))  # the user's own choice
    cli._enable_compile_cache(False)
    assert calls == {}
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli.compile_cache_dir() == tmp_path / "home" / ".cache" / "ltjax" / "jax"


def test_verbose_run_logs_point_timings_and_fills_the_cache(tmp_path):
    """One real run: -v logs a line per point with its time and compile time; the cache fills."""
    f = tmp_path / "s.toml"
    f.write_text(OK)
    env = dict(os.environ, JAX_PLATFORMS="cpu", XDG_CACHE_HOME=str(tmp_path / "xdg"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env.pop("LTJAX_NO_COMPILE_CACHE", None)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    r = subprocess.run([sys.executable, "-m", "ltjax", "run", str(f), "--out", str(tmp_path / "res"), "-v"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    info = [ln for ln in r.stderr.splitlines() if ln.startswith("ltjax: info: ")]
    assert any("point 0 (snr_db=0.0): " in ln and " s (compile " in ln for ln in info), info
    assert any("point 1 (snr_db=2.0): " in ln for ln in info), info
    assert any("2 grid points in " in ln and "compiling" in ln for ln in info), info
    assert any(p.is_file() for p in (tmp_path / "xdg" / "ltjax" / "jax").iterdir())
    meta = json.loads((tmp_path / "res" / "meta.json").read_text())
    assert 0.0 < meta["compile_s"] <= meta["wall_s"]
    assert sum(meta["compile_phases_s"].values()) == pytest.approx(meta["compile_s"])


def test_quiet_run_prints_only_the_result(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(OK)
    assert cli.main(["run", str(f), "--out", str(tmp_path / "res"), "-q"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out.strip() == f"wrote {tmp_path / 'res'}"

"""Resume after SIGKILL (issue #6 section 3): kill a running sweep mid-way,
re-run the same command, and get a data.csv byte-identical to an
uninterrupted run; the result directory never exists half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# ~0.3-0.5 s per point on a 2-core machine (4 UEs x 500k QPSK symbols).
SWEEP = """experiment = "awgn_ber"
seed = 9
[params]
snr_db = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
n_symbols = 500000
n_ues = 4
"""
N_POINTS = 8


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_NUM"))}
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _cmd(sweep: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ltjax", "run", str(sweep), "--out", str(out), "--no-progress"]


def test_sigkill_then_resume_gives_identical_csv(tmp_path):
    sweep = tmp_path / "kill.toml"
    sweep.write_text(SWEEP)
    out = tmp_path / "res"
    work = tmp_path / ".res.work"
    proc = subprocess.Popen(_cmd(sweep, out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        # Kill once at least 2 chunks are on disk, well before the last one.
        while len(list(work.glob("chunk-*.npz"))) < 2:
            assert proc.poll() is None, "sweep finished or died before it could be killed"
            assert time.monotonic() < deadline, "no chunk written in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    n_done = len(list(work.glob("chunk-*.npz")))
    assert 2 <= n_done < N_POINTS
    assert not out.exists()  # no half-written result directory

    r = subprocess.run(_cmd(sweep, out), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["points_resumed"] >= n_done
    assert not work.exists()

    from ltjax.sweep import load_sweep, run_sweep

    ref = run_sweep(load_sweep(sweep), out=tmp_path / "ref", progress=False)  # uninterrupted, in-process
    assert json.loads((ref / "meta.json").read_text())["points_resumed"] == 0
    assert (out / "data.csv").read_bytes() == (ref / "data.csv").read_bytes()
    assert (out / "data.csv").read_text().count("\n") == N_POINTS + 1

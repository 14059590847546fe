"""Resume after SIGKILL: a run killed right after its third chunk file is saved (the
runner's ``LTJAX_TEST_SIGNAL`` test hook, so the kill lands at the same place every time),
re-run with the same command, gives a data.csv byte-identical to an uninterrupted run;
the result directory never exists half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

SWEEP = """experiment = "awgn_ber"
seed = 9
[params]
snr_db = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
n_symbols = 20000
n_ues = 4
"""
N_POINTS = 8
KILLED_AFTER = 3


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_NUM", "LTJAX_"))}
    env.update(JAX_PLATFORMS="cpu", **extra)
    return env


def _cmd(sweep: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ltjax", "run", str(sweep), "--out", str(out), "--no-progress"]


def test_sigkill_then_resume_gives_identical_csv(tmp_path):
    sweep = tmp_path / "kill.toml"
    sweep.write_text(SWEEP)
    out = tmp_path / "res"
    work = tmp_path / ".res.work"
    r = subprocess.run(_cmd(sweep, out), env=_env(LTJAX_TEST_SIGNAL=f"chunk{KILLED_AFTER}:KILL"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    assert len(list(work.glob("chunk-*.npz"))) == KILLED_AFTER
    assert not out.exists()  # no half-written result directory

    r = subprocess.run(_cmd(sweep, out), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["points_resumed"] == KILLED_AFTER
    assert not work.exists() and not (tmp_path / ".res.lock").exists()  # the killed run's lock was taken over

    from ltjax.sweep import load_sweep, run_sweep

    ref = run_sweep(load_sweep(sweep), out=tmp_path / "ref", progress=False)  # uninterrupted, in-process
    assert json.loads((ref / "meta.json").read_text())["points_resumed"] == 0
    assert (out / "data.csv").read_bytes() == (ref / "data.csv").read_bytes()
    assert (out / "data.csv").read_text().count("\n") == N_POINTS + 1

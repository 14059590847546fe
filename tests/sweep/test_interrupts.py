"""Interrupts and concurrent runs of ``ltjax run``, each in a real subprocess.

* SIGINT / SIGTERM during an XLA compilation, during a long XLA computation, between two
  chunks, while the result is written, and inside the final swap: exit 130 / 143 within
  2 s with one line on stderr and no crash, every finished chunk kept, and a resumed
  ``data.csv`` byte-identical to an uninterrupted run.
* A second signal exits at once; a signal raised inside a garbage-collection callback is
  not swallowed.
* Two runs into one directory: the second exits 2 at once naming the first, which
  finishes normally; a lock file left by a killed run is taken over.

Phases that cannot be hit by timing alone use the runner's test hook
(``LTJAX_TEST_SIGNAL=<phase>:<SIG>``, ``ltjax.sweep.runner._test_hook``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ltjax.sweep import load_sweep, run_sweep

PLUGIN = '''
import os, time
import jax, jax.numpy as jnp
from flax import struct
from ltjax.params import field
from ltjax.sweep.registry import register_experiment


def _mark(what):
    with open(os.environ["LTJAX_TEST_MARK"], "a") as f:
        f.write(what + "\\n")


@struct.dataclass
class SlowCompileParams:
    x: float = field(1.0, "input")
    n_ops: int = field(4000, "unrolled operations: sets the compile time", lo=1, hi=10**6)


@register_experiment("test_slow_compile", "a point whose XLA compilation takes seconds", params=SlowCompileParams)
def slow_compile(key, p):
    def f(v):
        for i in range(p.n_ops):
            v = jnp.sin(v) * 1.0001 + (i % 7)
        return v
    lowered = jax.jit(f).lower(jnp.float32(p.x))
    _mark("compile")
    return {"y": lowered.compile()(jnp.float32(p.x))}


@struct.dataclass
class LongComputeParams:
    x: float = field(1.0, "input")


@register_experiment("test_long_compute", "a point whose XLA computation runs for minutes", params=LongComputeParams)
def long_compute(key, p):
    step = lambda i, a: jnp.sin(a) * 0.999 + p.x
    compiled = jax.jit(lambda v: jax.lax.fori_loop(0, 10**9, step, v)).lower(jnp.zeros(4096)).compile()
    _mark("compute")
    return {"y": compiled(jnp.zeros(4096)).sum()}


@struct.dataclass
class GateParams:
    x: float = field(1.0, "input")


@register_experiment("test_gate", "a point that waits until a file exists", params=GateParams)
def gate(key, p):
    _mark("waiting")
    while not os.path.exists(os.environ["LTJAX_TEST_GATE"]):
        time.sleep(0.05)
    return {"y": p.x}
'''

AWGN = """experiment = "awgn_ber"
seed = 3
[params]
snr_db = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
n_symbols = 2000
n_ues = 2
"""
N_POINTS = 6
MESSAGE = "finished grid points are kept; re-run the same command to resume"


@pytest.fixture
def env(tmp_path) -> dict:
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "ltjax_test_plugin.py").write_text(PLUGIN)
    e = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_NUM", "LTJAX_"))}
    e.update(JAX_PLATFORMS="cpu", LTJAX_TEST_MARK=str(tmp_path / "mark"), LTJAX_TEST_GATE=str(tmp_path / "gate"),
             PYTHONPATH=os.pathsep.join([str(plugin_dir), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return e


def _ltjax(sweep: Path, out: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "ltjax", "run", str(sweep), "--out", str(out), "--no-progress",
            "--import", "ltjax_test_plugin", *flags]


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text()):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"{text!r} never reached"
        time.sleep(0.05)


def _signal_at_mark(tmp_path, env, body: str, mark: str, sig: signal.Signals) -> tuple[int, str, float]:
    """Starts a run, waits for ``mark``, sends ``sig``; returns (exit code, stderr, seconds to exit)."""
    sweep = tmp_path / "s.toml"
    sweep.write_text(body)
    proc = subprocess.Popen(_ltjax(sweep, tmp_path / "res"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "mark", mark, proc)
        time.sleep(0.5)  # well inside the compilation / computation
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err, time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()


def _one_line(err: str, sig: signal.Signals) -> None:
    what = "interrupted (SIGINT)" if sig == signal.SIGINT else "terminated (SIGTERM)"
    assert err.strip().splitlines() == [f"ltjax: {what}; {MESSAGE}"], err[-2000:]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_xla_compilation(tmp_path, env, sig):
    rc, err, took = _signal_at_mark(tmp_path, env, 'experiment = "test_slow_compile"\n', "compile", sig)
    assert rc == 128 + sig, err[-2000:]  # not -11: no crash while the compile threads run
    assert took < 2.0
    _one_line(err, sig)
    assert not (tmp_path / "res").exists() and not (tmp_path / ".res.lock").exists()


def test_sigterm_during_xla_computation(tmp_path, env):
    rc, err, took = _signal_at_mark(tmp_path, env, 'experiment = "test_long_compute"\n', "compute", signal.SIGTERM)
    assert rc == 143 and took < 2.0, err[-2000:]
    _one_line(err, signal.SIGTERM)


@pytest.fixture
def reference(tmp_path) -> bytes:
    """data.csv of the uninterrupted run (in-process)."""
    sweep = tmp_path / "awgn.toml"
    sweep.write_text(AWGN)
    ref = run_sweep(load_sweep(sweep), out=tmp_path / "ref", progress=False)
    return (ref / "data.csv").read_bytes()


def _resume(tmp_path, env, *flags) -> dict:
    r = subprocess.run(_ltjax(tmp_path / "awgn.toml", tmp_path / "res", *flags), env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".res", "res"))) == ["res"]
    return json.loads((tmp_path / "res" / "meta.json").read_text())


@pytest.mark.parametrize("sig,after", [(signal.SIGINT, 2), (signal.SIGTERM, 4)], ids=["SIGINT", "SIGTERM"])
def test_signal_between_chunks_then_resume(tmp_path, env, reference, sig, after):
    env[("LTJAX_TEST_SIGNAL")] = f"chunk{after}:{sig.name[3:]}"
    r = subprocess.run(_ltjax(tmp_path / "awgn.toml", tmp_path / "res"), env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 128 + sig, r.stderr[-2000:]
    _one_line(r.stderr, sig)
    assert len(list((tmp_path / ".res.work").glob("chunk-*.npz"))) == after  # every finished chunk kept
    assert not (tmp_path / "res").exists()
    del env["LTJAX_TEST_SIGNAL"]
    meta = _resume(tmp_path, env)
    assert meta["points_resumed"] == after
    assert (tmp_path / "res" / "data.csv").read_bytes() == reference


def test_sigterm_while_writing_the_result_then_resume(tmp_path, env, reference):
    env["LTJAX_TEST_SIGNAL"] = "write:TERM"
    r = subprocess.run(_ltjax(tmp_path / "awgn.toml", tmp_path / "res"), env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 143, r.stderr[-2000:]
    _one_line(r.stderr, signal.SIGTERM)
    assert not (tmp_path / "res").exists()  # never half a result
    assert len(list((tmp_path / ".res.work").glob("chunk-*.npz"))) == N_POINTS
    del env["LTJAX_TEST_SIGNAL"]
    meta = _resume(tmp_path, env)  # the leftover .res.tmp is recognised and replaced
    assert meta["points_resumed"] == N_POINTS
    assert (tmp_path / "res" / "data.csv").read_bytes() == reference


def test_signal_inside_the_final_swap_waits_for_it(tmp_path, env, reference):
    """The swap of --force completes (no .old, no missing result), then the run exits 130."""
    _resume(tmp_path, env)  # a first, complete result
    first_id = json.loads((tmp_path / "res" / "meta.json").read_text())["run_id"]
    env["LTJAX_TEST_SIGNAL"] = "rename:INT"
    r = subprocess.run(_ltjax(tmp_path / "awgn.toml", tmp_path / "res", "--force"), env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 130, r.stderr[-2000:]
    _one_line(r.stderr, signal.SIGINT)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".res", "res"))) == ["res"]
    assert json.loads((tmp_path / "res" / "meta.json").read_text())["run_id"] != first_id
    assert (tmp_path / "res" / "data.csv").read_bytes() == reference


SECTION = '''
import gc, os, signal, sys, time
from ltjax.sweep import interrupts

with interrupts.handle_signals("kept"):
    if sys.argv[1] == "gc":
        def cb(phase, info):
            if phase == "start":
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)
        gc.callbacks.append(cb)
        gc.collect()
        time.sleep(5)
        print("survived", flush=True)
    with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        print("section goes on", flush=True)
        if sys.argv[1] == "twice":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        print("section done", flush=True)
    time.sleep(5)
    print("after the section", flush=True)
'''


@pytest.mark.parametrize("mode", ["once", "twice", "gc"])
def test_deferred_section_second_signal_and_gc_callback(mode):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", SECTION, mode], capture_output=True, text=True, timeout=60)
    assert r.returncode == 130, r.stderr[-2000:]
    assert r.stderr.strip().splitlines() == ["ltjax: interrupted (SIGINT); kept"]
    lines = r.stdout.split()
    if mode == "once":  # the first signal waits for the section to end, then exits at once
        assert r.stdout.splitlines() == ["section goes on", "section done"]
    elif mode == "twice":  # the second signal does not wait
        assert r.stdout.splitlines() == ["section goes on"] and time.monotonic() - t0 < 5
    else:  # raised inside a GC callback, where an exception would be swallowed
        assert lines == [] and time.monotonic() - t0 < 5


def test_two_runs_into_one_directory(tmp_path, env):
    sweep = tmp_path / "g.toml"
    sweep.write_text('experiment = "test_gate"\n[params]\nx = [1.0, 2.0]\n')
    first = subprocess.Popen(_ltjax(sweep, tmp_path / "res"), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(tmp_path / "mark", "waiting", first)  # the first run holds the lock and computes
        lock_holder = json.loads((tmp_path / ".res.lock").read_text())
        assert lock_holder["pid"] == first.pid
        t0 = time.monotonic()
        second = subprocess.run(_ltjax(sweep, tmp_path / "res", "--force"), env=env, capture_output=True,
                                text=True, timeout=120)
        took = time.monotonic() - t0
        (tmp_path / "gate").write_text("go")
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, second.stderr[-2000:]
    line, = second.stderr.strip().splitlines()
    assert line.startswith(f"ltjax: error: --out {tmp_path / 'res'}: another ltjax run is writing this result")
    assert f"pid {first.pid} on host " in line
    assert took < 60  # at once: no compute, just start-up
    assert first.returncode == 0, err[-2000:]
    assert (tmp_path / "res" / "data.csv").read_text().splitlines()[1:] == ["0,1.0,1.0", "1,2.0,2.0"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".res", "res"))) == ["res"]


def test_lock_file_of_a_killed_run_is_taken_over(tmp_path):
    sweep = tmp_path / "awgn.toml"
    sweep.write_text(AWGN)
    (tmp_path / ".res.lock").write_text(json.dumps({"pid": 999999, "host": "gone", "started_utc": "x"}))
    out = run_sweep(load_sweep(sweep), out=tmp_path / "res", progress=False)
    assert (out / "data.csv").is_file() and not (tmp_path / ".res.lock").exists()

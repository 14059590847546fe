"""Scale-out (issue #6 sections 1-2), each in fresh subprocesses:

* map_ues and a whole awgn_ber sweep give bit-identical results on 1, 4 and 8
  CPU devices (``JAX_NUM_CPU_DEVICES``) and for several UE chunk sizes, with
  the UEs sharded over the devices or the grid points spread over them;
* ``ltjax run --distributed`` with 2 processes on 127.0.0.1 (gloo) writes the
  same data.csv as one process, and only process 0 writes;
* the submitit chunk executor (its local cluster) gives the same data.csv.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = """experiment = "awgn_ber"
seed = 5
[params]
snr_db = [0.0, 2.0, 4.0]
n_symbols = 3000
n_ues = 6
"""

# Prints sha256 digests of map_ues outputs (integer and float kernels, several
# chunk sizes) and of a whole sweep's data.csv, under the process's device count.
PROBE = r"""
import hashlib, json, sys
import jax, jax.numpy as jnp, numpy as np
from ltjax.sweep import load_sweep, run_sweep
from ltjax.batching import map_ues
from ltjax.experiments.demo import _qpsk_errors

def floaty(key, x, *, n):
    z = jax.random.normal(key, (n,))
    return {"s": jnp.sum(jnp.exp(z * x)), "v": z[:3] * x, "m": jnp.max(z)}

h = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
key = jax.random.fold_in(jax.random.key(0), 3)
out = {"devices": jax.device_count()}
# micro_batch=2 so that the chunk sizes really differ (C is a multiple of D * micro_batch).
for c in (None, 1, 5):
    e = map_ues(_qpsk_errors, key, 13, jnp.float32(2.0), static={"n_symbols": 500}, chunk_size=c, micro_batch=2)
    f = map_ues(floaty, key, 13, jnp.float32(0.3), static={"n": 777}, chunk_size=c, micro_batch=2)
    out[f"chunk{c}"] = [h(e), h(f["s"]), h(f["v"]), h(f["m"]), list(e.shape), list(f["v"].shape)]
res = run_sweep(load_sweep(sys.argv[1]), out=sys.argv[2], progress=False, ue_chunk=4)
out["csv"] = h(np.frombuffer((res / "data.csv").read_bytes(), np.uint8))
# Grid points spread over the devices (one thread per device) give the same bytes.
res = run_sweep(load_sweep(sys.argv[1]), out=sys.argv[2] + "-pod", progress=False, points_over_devices=True)
out["csv_points_over_devices"] = h(np.frombuffer((res / "data.csv").read_bytes(), np.uint8))
print("PROBE" + json.dumps(out))
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_", "JAX_NUM"))}
    env.update(JAX_PLATFORMS="cpu", **extra)
    return env


@pytest.fixture
def sweep(tmp_path) -> Path:
    f = tmp_path / "so.toml"
    f.write_text(SWEEP)
    return f


def test_bit_identical_on_1_4_8_devices(sweep, tmp_path):
    got = {}
    procs = {n: subprocess.Popen([sys.executable, "-c", PROBE, str(sweep), str(tmp_path / f"r{n}")],
                                 env=_env(JAX_NUM_CPU_DEVICES=str(n)), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for n in (1, 4, 8)}
    for n, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        line = next(x for x in stdout.splitlines() if x.startswith("PROBE"))
        got[n] = json.loads(line[len("PROBE"):])
        assert got[n].pop("devices") == n
    assert got[1]["chunkNone"][4:] == [[13], [13, 3]]  # padding removed
    # Within one device count, every chunk size agrees ...
    for n in got:
        assert len({json.dumps(v) for k, v in got[n].items() if k.startswith("chunk")}) == 1, got[n]
    # ... and across device counts everything (incl. the sweep's data.csv) agrees.
    assert got[1] == got[4] == got[8]
    assert got[1]["csv"] == got[1]["csv_points_over_devices"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one(sweep, tmp_path):
    from ltjax.sweep import load_sweep, run_sweep

    single = run_sweep(load_sweep(sweep), out=tmp_path / "single", progress=False)  # one process, in-process
    dist_out = tmp_path / "dist"
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "ltjax", "run", str(sweep), "--out", str(dist_out),
                               "--no-progress", "--distributed", "--coordinator", f"127.0.0.1:{port}",
                               "--num-processes", "2", "--process-id", str(i)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (0, 1)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=300))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (o, e) in zip(procs, outs):
        assert p.returncode == 0, e[-2000:]
    assert "wrote" in outs[0][0] and "wrote" not in outs[1][0]  # process 0 alone writes
    assert (dist_out / "data.csv").read_bytes() == (single / "data.csv").read_bytes()
    meta = json.loads((dist_out / "meta.json").read_text())
    assert meta["execution"]["process_count"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist", "single", "so.toml"]


def test_submitit_local_executor_matches_inline(sweep, tmp_path):
    pytest.importorskip("submitit")
    from ltjax.sweep import load_sweep, run_sweep

    cfg = load_sweep(sweep)
    ref = run_sweep(cfg, out=tmp_path / "inline", progress=False)
    got = run_sweep(cfg, out=tmp_path / "sub", progress=False, chunk_points=2, executor="submitit-local",
                    executor_options={"timeout_min": 5})
    assert (got / "data.csv").read_bytes() == (ref / "data.csv").read_bytes()
    assert json.loads((got / "meta.json").read_text())["execution"]["executor"] == "submitit-local"
    assert not (tmp_path / ".sub.work").exists()


def test_submitit_job_input_error_is_one_line_exit_2(tmp_path, capsys):
    """A worker's InputError (missing MNIST files) comes back to the driver as a one-line exit 2."""
    pytest.importorskip("submitit")
    from ltjax.cli import main

    empty = tmp_path / "nodata"
    empty.mkdir()
    f = tmp_path / "m.toml"
    f.write_text('experiment = "mnist_ff_loss"\n[params]\nsteps_per_layer = 1\nn_train = 10\nsizes = [784, 4]\n')
    rc = main(["run", str(f), "--data-dir", str(empty), "--executor", "submitit-local",
               "--out", str(tmp_path / "o" / "res"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("ltjax: error: ") and "images-idx3-ubyte[.gz]: file not found" in err[0]
    assert not (tmp_path / "o" / "res").exists()

"""Bad-input suite (issue #2 section 2, issue #6 section 4).

Every malformed input must give exit code 2, exactly one stderr line
``ltjax: error: ...`` naming the file and the key or flag, no traceback, and
leave no result (nor temp / work) directory behind. Most cases run
in-process through ``ltjax.cli.main``; a few run the real console command in
a subprocess to prove the same end to end.
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ltjax.cli import main

OK = 'experiment = "awgn_ber"\nseed = 0\n[params]\nsnr_db = [0.0, 2.0]\nn_symbols = 100\n'

# (case id, sweep file content (str or bytes), substrings the one-line message must contain)
CONFIG_CASES = [
    ("unknown_top_key", 'experiment = "awgn_ber"\nsed = 1\n', ["sweep.toml: sed: unknown key", "allowed keys"]),
    ("unknown_param", 'experiment = "awgn_ber"\n[params]\nsnr = 1.0\n', ["params.snr", "allowed: snr_db"]),
    ("str_for_float", 'experiment = "awgn_ber"\n[params]\nsnr_db = "high"\n', ["params.snr_db", "expected a number"]),
    ("float_for_int", 'experiment = "awgn_ber"\n[params]\nn_symbols = 1.5\n', ["params.n_symbols", "integer"]),
    ("bool_for_int", 'experiment = "awgn_ber"\n[params]\nn_ues = true\n', ["params.n_ues", "integer"]),
    ("table_for_float", 'experiment = "awgn_ber"\n[params.snr_db]\nx = 1\n', ["params.snr_db", "expected a number"]),
    ("seed_str", 'experiment = "awgn_ber"\nseed = "zero"\n', ["seed", "integer"]),
    ("seed_negative", 'experiment = "awgn_ber"\nseed = -1\n', ["seed", "[0, 2^32)"]),
    ("nan", 'experiment = "awgn_ber"\n[params]\nsnr_db = nan\n', ["params.snr_db", "finite"]),
    ("inf", 'experiment = "awgn_ber"\n[params]\nsnr_db = inf\n', ["params.snr_db", "finite"]),
    ("neg_inf_in_grid", 'experiment = "awgn_ber"\n[params]\nsnr_db = [0.0, -inf]\n', ["params.snr_db", "finite"]),
    ("negative_size", 'experiment = "awgn_ber"\n[params]\nn_symbols = -5\n', ["params.n_symbols", "out of range", "[1,"]),
    ("zero_ues", 'experiment = "awgn_ber"\n[params]\nn_ues = 0\n', ["params.n_ues", "out of range"]),
    ("huge_size", 'experiment = "awgn_ber"\n[params]\nn_symbols = 1000000000000\n', ["params.n_symbols", "out of range"]),
    ("empty_grid", 'experiment = "awgn_ber"\n[params]\nsnr_db = []\n', ["params.snr_db", "empty grid"]),
    ("snr_out_of_range", 'experiment = "awgn_ber"\n[params]\nsnr_db = [0.0, 100.0]\n', ["params.snr_db", "out of range", "30.0"]),
    ("mixed_grid", 'experiment = "awgn_ber"\n[params]\nsnr_db = [0.0, "a"]\n', ["params.snr_db", "expected a number"]),
    ("unknown_experiment", 'experiment = "awgn_bler"\n', ["experiment", "unknown experiment 'awgn_bler'", "allowed: awgn_ber"]),
    ("missing_experiment", 'seed = 1\n', ["experiment: missing", "ltjax list"]),
    ("experiment_not_str", 'experiment = 3\n', ["experiment", "unknown experiment 3"]),
    ("params_not_table", 'experiment = "awgn_ber"\nparams = 3\n', ["params", "[params] table"]),
    ("name_escapes", 'experiment = "awgn_ber"\nname = "../evil"\n', ["name", "plain directory name"]),
    ("out_empty", 'experiment = "awgn_ber"\nout = ""\n', ["out", "path string"]),
    ("description_not_str", 'experiment = "awgn_ber"\ndescription = 5\n', ["description", "string"]),
    ("toml_unclosed", 'experiment = "awgn_ber"\n[params]\nsnr_db = [0.0, 1.0\n', ["sweep.toml: TOML syntax error", "Unclosed array"]),
    ("toml_duplicate_key", 'experiment = "awgn_ber"\nseed = 1\nseed = 2\n', ["sweep.toml: TOML syntax error"]),
    ("toml_bad_number", 'experiment = "awgn_ber"\nseed = 01\n', ["sweep.toml: TOML syntax error"]),
    ("toml_bare_word", 'experiment = awgn_ber\n', ["sweep.toml: TOML syntax error"]),
    ("not_utf8", b'experiment = "awgn_ber"\n# \xff\xfe\n', ["sweep.toml: not a UTF-8 text file"]),
]


def _assert_one_line_error(rc: int, err: str, needles: list[str], code: int = 2) -> None:
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ltjax: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def _no_results(parent: Path) -> None:
    """Nothing at all was created in the output's parent directory."""
    assert not parent.exists() or list(parent.iterdir()) == [], list(parent.iterdir())


def _run(capsys, args: list[str]) -> tuple[int, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.err


@pytest.mark.parametrize("case,content,needles", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(tmp_path, capsys, case, content, needles):
    f = tmp_path / "sweep.toml"
    (f.write_bytes if isinstance(content, bytes) else f.write_text)(content)
    outp = tmp_path / "out"
    rc, err = _run(capsys, ["run", str(f), "--out", str(outp / "res"), "--no-progress"])
    _assert_one_line_error(rc, err, needles)
    _no_results(outp)


def test_missing_and_directory_sweep_file(tmp_path, capsys):
    rc, err = _run(capsys, ["run", str(tmp_path / "nope.toml")])
    _assert_one_line_error(rc, err, ["nope.toml: no such sweep file"])
    rc, err = _run(capsys, ["run", str(tmp_path)])
    _assert_one_line_error(rc, err, [f"{tmp_path}: no such sweep file"])


@pytest.fixture
def ok_sweep(tmp_path) -> Path:
    f = tmp_path / "ok.toml"
    f.write_text(OK)
    return f


FLAG_CASES = [
    ("coordinator_without_distributed", ["--coordinator", "127.0.0.1:1234"], ["--coordinator", "need --distributed"]),
    ("distributed_vs_executor", ["--distributed", "--executor", "submitit-local"], ["--distributed conflicts with --executor"]),
    ("chunk_points_zero", ["--chunk-points", "0"], ["--chunk-points", "positive integer"]),
    ("ue_chunk_not_int", ["--ue-chunk", "abc"], ["--ue-chunk", "positive integer"]),
    ("slurm_partition_without_slurm", ["--slurm-partition", "gpu"], ["--slurm-partition", "submitit-slurm"]),
    ("executor_unknown", ["--executor", "dask"], ["--executor", "invalid choice"]),
    ("unknown_flag", ["--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    ("coordinator_no_port", ["--distributed", "--coordinator", "localhost", "--num-processes", "2",
                             "--process-id", "0"], ["--coordinator 'localhost'", "HOST:PORT"]),
    ("process_id_too_big", ["--distributed", "--coordinator", "127.0.0.1:1234", "--num-processes", "2",
                            "--process-id", "2"], ["--process-id 2", "0..1"]),
    ("distributed_incomplete", ["--distributed", "--coordinator", "127.0.0.1:1234"],
     ["--distributed", "--num-processes", "--process-id"]),
    ("gpus_negative", ["--gpus-per-task", "-1"], ["--gpus-per-task -1"]),
    ("points_over_devices_vs_executor", ["--points-over-devices", "--executor", "ray"],
     ["--points-over-devices conflicts with --executor ray"]),
]


@pytest.mark.parametrize("case,flags,needles", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flags(tmp_path, capsys, ok_sweep, case, flags, needles):
    outp = tmp_path / "out"
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(outp / "res"), "--no-progress", *flags])
    _assert_one_line_error(rc, err, needles)
    _no_results(outp)


def test_distributed_without_slurm_or_flags(tmp_path, capsys, ok_sweep, monkeypatch):
    for k in ("SLURM_JOB_ID", "LTJAX_COORDINATOR", "LTJAX_NUM_PROCESSES", "LTJAX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(tmp_path / "o" / "res"), "--distributed"])
    _assert_one_line_error(rc, err, ["--distributed", "SLURM"])
    _no_results(tmp_path / "o")


def test_bad_env_for_distributed(tmp_path, capsys, ok_sweep, monkeypatch):
    monkeypatch.setenv("LTJAX_NUM_PROCESSES", "two")
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(tmp_path / "o" / "res"), "--distributed"])
    _assert_one_line_error(rc, err, ["$LTJAX_NUM_PROCESSES", "'two'"])


def test_out_under_a_file_and_out_is_a_file(tmp_path, capsys, ok_sweep):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(blocker / "res")])
    _assert_one_line_error(rc, err, [f"--out {blocker / 'res'}", "not writable"])
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(blocker)])
    _assert_one_line_error(rc, err, [f"--out {blocker}", "not a directory"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "ok.toml"]


def test_out_in_unwritable_directory(tmp_path, capsys, ok_sweep):
    """A directory nobody can create entries in: /proc for root (who ignores mode bits), else mode 555."""
    if os.geteuid() == 0:
        if not Path("/proc/self").exists():
            pytest.skip("needs /proc when run as root")
        target = Path("/proc/ltjax-no-such-dir/res")
        rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(target)])
        _assert_one_line_error(rc, err, [f"--out {target}", "cannot create output directory"])
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(ro / "res")])
        _assert_one_line_error(rc, err, ["--out", "not writable"])
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_data_dir_missing(tmp_path, capsys, ok_sweep):
    rc, err = _run(capsys, ["run", str(ok_sweep), "--data-dir", str(tmp_path / "nodata"),
                            "--out", str(tmp_path / "o" / "res")])
    _assert_one_line_error(rc, err, [f"--data-dir {tmp_path / 'nodata'}", "no such directory"])
    _no_results(tmp_path / "o")


def test_existing_result_without_force(tmp_path, capsys, ok_sweep):
    res = tmp_path / "o" / "res"
    res.mkdir(parents=True)
    (res / "data.csv").write_text("old\n")
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(res), "--no-progress"])
    _assert_one_line_error(rc, err, [str(res), "pass --force"])
    assert (res / "data.csv").read_text() == "old\n"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["res"]


def test_changed_config_since_unfinished_run(tmp_path, capsys, ok_sweep):
    work = tmp_path / "o" / ".res.work"
    work.mkdir(parents=True)
    (work / "manifest.json").write_text('{"config_hash": "0123456789abcdef"}')
    (work / "chunk-00000-00000-deadbeef.npz").write_bytes(b"old chunk")
    rc, err = _run(capsys, ["run", str(ok_sweep), "--out", str(tmp_path / "o" / "res"), "--no-progress"])
    _assert_one_line_error(rc, err, ["ok.toml: config changed", "pass --force"])
    assert not (tmp_path / "o" / "res").exists() and (work / "chunk-00000-00000-deadbeef.npz").exists()


def test_unknown_benchmark_and_no_command(capsys):
    rc, err = _run(capsys, ["bench", "no-such-bench"])
    _assert_one_line_error(rc, err, ["bench NAME", "unknown benchmark 'no-such-bench'"])
    rc, err = _run(capsys, ["frob"])
    _assert_one_line_error(rc, err, ["command line", "invalid choice: 'frob'"])


# --- MNIST data files (through the mnist_ff_loss experiment and the real loader) ---

def _idx(magic: int, arr: np.ndarray) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


def _write_mnist(d: Path, n: int = 12, **override: bytes) -> None:
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": _idx(2051, rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte.gz": _idx(2049, (np.arange(n) % 10).astype(np.uint8)),
        "t10k-images-idx3-ubyte.gz": _idx(2051, rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte.gz": _idx(2049, (np.arange(n) % 10).astype(np.uint8)),
    }
    d.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        if name in override:
            if override[name] is not None:
                (d / name).write_bytes(override[name])
        else:
            (d / name).write_bytes(gzip.compress(raw))


MNIST_SWEEP = ('experiment = "mnist_ff_loss"\nseed = 0\n[params]\nsteps_per_layer = 1\nn_train = 10\n'
               'sizes = [784, 4]\n')
_TRUNC = gzip.compress(_idx(2051, np.zeros((12, 28, 28), np.uint8)))
MNIST_CASES = [
    ("images_missing", {"train-images-idx3-ubyte.gz": None}, ["train-images-idx3-ubyte[.gz]: file not found"]),
    ("gzip_truncated", {"train-images-idx3-ubyte.gz": _TRUNC[: len(_TRUNC) // 2]},
     ["train-images-idx3-ubyte.gz", "truncated"]),
    ("wrong_magic", {"t10k-labels-idx1-ubyte.gz": gzip.compress(_idx(2051, np.zeros(12, np.uint8)))},
     ["t10k-labels-idx1-ubyte.gz", "wrong magic"]),
    ("idx_data_truncated", {"train-labels-idx1-ubyte.gz": gzip.compress(_idx(2049, np.zeros(12, np.uint8))[:-3])},
     ["train-labels-idx1-ubyte.gz", "truncated"]),
    ("not_gzip", {"train-images-idx3-ubyte.gz": b"this is not gzip"}, ["train-images-idx3-ubyte.gz"]),
]


@pytest.mark.parametrize("case,override,needles", MNIST_CASES, ids=[c[0] for c in MNIST_CASES])
def test_bad_mnist_files(tmp_path, capsys, case, override, needles):
    pytest.importorskip("ltjax.experiments.mnist_ff_loss")  # registers it even before it is in MODULES
    data = tmp_path / "mnist"
    _write_mnist(data, **override)
    f = tmp_path / "m.toml"
    f.write_text(MNIST_SWEEP)
    outp = tmp_path / "out"
    rc, err = _run(capsys, ["run", str(f), "--data-dir", str(data), "--out", str(outp / "res"), "--no-progress"])
    _assert_one_line_error(rc, err, needles)
    _no_results(outp)  # the failed point leaves neither a result nor a work directory


def test_mnist_config_threshold_and_loss_name(tmp_path, capsys):
    pytest.importorskip("ltjax.experiments.mnist_ff_loss")
    f = tmp_path / "m.toml"
    for body, needles in (
            ('experiment = "mnist_ff_loss"\n[params]\nthreshold = -1.0\n', ["params.threshold", "out of range"]),
            ('experiment = "mnist_ff_loss"\n[params]\nloss = ["softplus", "hinge"]\n',
             ["params.loss", "'hinge' is not allowed", "'quadratic'"]),
            ('experiment = "mnist_ff_loss"\n[params]\nsizes = [[784, 10], [100, 10]]\n', ["params.sizes", "784"]),
            ('experiment = "mnist_ff_loss"\n[params]\nlr = 0.0\n', ["params.lr", "out of range", "(0.0"]),
    ):
        f.write_text(body)
        rc, err = _run(capsys, ["run", str(f), "--out", str(tmp_path / "o" / "res")])
        _assert_one_line_error(rc, err, needles)
        _no_results(tmp_path / "o")


# --- end to end, real process: no traceback, exit 2, one line, nothing written ---

SUBPROCESS_CASES = [
    ("toml", 'experiment = "awgn_ber"\n[params\n', [], ["TOML syntax error"]),
    ("unknown_experiment", 'experiment = "nope"\n', [], ["unknown experiment 'nope'"]),
    ("bad_flag", OK, ["--chunk-points", "-3"], ["--chunk-points"]),
]


@pytest.mark.parametrize("case,content,flags,needles", SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_subprocess_one_line_exit_2(tmp_path, case, content, flags, needles):
    f = tmp_path / "s.toml"
    f.write_text(content)
    outp = tmp_path / "out"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-m", "ltjax", "run", str(f), "--out", str(outp / "res"), *flags],
                       capture_output=True, text=True, env=env, timeout=120)
    _assert_one_line_error(r.returncode, r.stderr, needles)
    assert r.stdout == ""
    _no_results(outp)


# --- the link, beam and LCM experiments (channel names, ranges, cross-field checks, saved models) ---

LINK_LCM_CASES = [
    ("unknown_channel", 'experiment = "link_bler_curves"\n[params]\nchannel = ["AWGN", "TDL-Z300"]\n',
     ["params.channel", "'TDL-Z300' is not allowed", "'AWGN'"]),
    ("snr_above_range", 'experiment = "link_bler_curves"\n[params]\nsnr_db = [0.0, 60.0]\n',
     ["params.snr_db", "out of range", "50.0"]),
    ("mcs_out_of_table", 'experiment = "link_bler_curves"\n[params]\nmcs = 29\n', ["params.mcs", "out of range"]),
    ("rank_not_allowed", 'experiment = "link_bler_curves"\n[params]\nrank = 3\n', ["params.rank", "one of 1, 2"]),
    ("correlation_unknown", 'experiment = "link_bler_curves"\n[params]\ncorrelation = "extreme"\n',
     ["params.correlation", "'extreme' is not allowed"]),
    ("negative_ues", 'experiment = "link_bler_curves"\n[params]\nn_ue = -4\n', ["params.n_ue", "out of range"]),
    ("lcm_threshold_out_of_range", 'experiment = "lcm_adaptation"\n[params]\ngamma_db = 70.0\n',
     ["params.gamma_db", "out of range", "60.0"]),
    ("lcm_threshold_list_negative", 'experiment = "lcm_adaptation"\n[params]\ngamma_sweep_db = [1.0, -2.0]\n',
     ["params.gamma_sweep_db", "out of range"]),
    ("lcm_cross_field", 'experiment = "lcm_adaptation"\n[params]\nt_lcm_s = 1.0\nn_steps = 75\n',
     ["params.n_steps", "multiple"]),
    ("beam_width_zero", 'experiment = "beam_train"\n[params]\nwidth = 0\n', ["params.width", "out of range"]),
]


@pytest.mark.parametrize("case,content,needles", LINK_LCM_CASES, ids=[c[0] for c in LINK_LCM_CASES])
def test_bad_link_beam_lcm_config(tmp_path, capsys, case, content, needles):
    f = tmp_path / "sweep.toml"
    f.write_text(content)
    outp = tmp_path / "out"
    rc, err = _run(capsys, ["run", str(f), "--out", str(outp / "res"), "--no-progress"])
    _assert_one_line_error(rc, err, needles)
    _no_results(outp)


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_corrupted_saved_beam_model(tmp_path, capsys, damage):
    """A cached model directory whose model file is corrupt or missing: one line naming the file."""
    from ltjax.beam.config import BeamConfig, ChannelParams
    from ltjax.beam.model import TrainConfig, identity

    tc = TrainConfig(width=8, epochs=1, n_per_region=100, n_eval=10)
    d = tmp_path / "cache" / identity(BeamConfig(), ChannelParams(), tc, 0)
    d.mkdir(parents=True)
    (d / "config.json").write_text('{"identity": "x"}')
    if damage == "garbage":
        (d / "models_id0.msgpack").write_bytes(b"\x93\xff not msgpack \x00" * 10)
    f = tmp_path / "b.toml"
    f.write_text(f'experiment = "beam_train"\n[params]\nwidth = 8\nepochs = 1\nn_per_region = 100\n'
                 f'n_eval = 10\ncache_dir = "{tmp_path / "cache"}"\n')
    outp = tmp_path / "out"
    rc, err = _run(capsys, ["run", str(f), "--out", str(outp / "res"), "--no-progress"])
    want = "corrupted or incompatible model file" if damage == "garbage" else "model file missing"
    _assert_one_line_error(rc, err, [str(d / "models_id0.msgpack"), want])
    _no_results(outp)

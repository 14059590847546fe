"""The ``ltjax`` command: --version, list, run (stdout, exit 0), --data-dir."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ltjax import __version__
from ltjax.cli import main
from ltjax.params import field, params_class
from ltjax.sweep import register_experiment, registry

ENV_EXP = "test_cli_env"


def test_version_and_list(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"ltjax {__version__}"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "experiments (ltjax run SWEEP.toml):" in out and "awgn_ber" in out and "benchmarks" in out
    assert "scaling" in out


def test_no_command_prints_help_exit_2(capsys):
    assert main([]) == 2
    assert "usage: ltjax" in capsys.readouterr().out


@pytest.fixture
def env_experiment():
    def fn(key, p):
        d = os.environ.get("LTJAX_DATA_DIR", "")
        return {"files": float(len(os.listdir(d))) if d else -1.0}

    register_experiment(ENV_EXP, "echoes LTJAX_DATA_DIR", params_class("EnvParams", x=field(0.0, "unused")))(fn)
    yield
    registry._REGISTRY.pop(ENV_EXP, None)


def test_run_with_data_dir_sets_env(tmp_path, capsys, monkeypatch, env_experiment):
    monkeypatch.delenv("LTJAX_DATA_DIR", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        (data / f"f{i}").write_text("x")
    f = tmp_path / "s.toml"
    f.write_text(f'experiment = "{ENV_EXP}"\n')
    try:
        assert main(["run", str(f), "--data-dir", str(data), "--out", str(tmp_path / "res"), "--no-progress"]) == 0
        assert os.environ["LTJAX_DATA_DIR"] == str(data.resolve())
    finally:
        os.environ.pop("LTJAX_DATA_DIR", None)
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'res'}"
    assert (tmp_path / "res" / "data.csv").read_text().splitlines()[1] == "0,0.0,3.0"


def test_console_module_runs_a_sweep(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('experiment = "awgn_ber"\nseed = 1\nout = "rel_out"\n[params]\nsnr_db = [0.0, 4.0]\nn_symbols = 500\n')
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-m", "ltjax", "run", str(f)], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = tmp_path / "rel_out"  # the sweep's own ``out`` key, relative to the sweep file
    assert r.stdout.strip() == f"wrote {res}"
    assert sorted(p.name for p in res.iterdir()) == ["ber.png", "data.csv", "meta.json"]
    assert "2/2" in r.stderr  # the progress bar went to stderr
    import json

    assert json.loads((res / "meta.json").read_text())["command"] == f"ltjax run {f}"

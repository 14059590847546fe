"""Every script in examples/ runs, at tiny sizes, in this process (no new interpreter per script)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AWGN = 'experiment = "awgn_ber"\nseed = 0\n[params]\nsnr_db = [0.0, 4.0]\nn_symbols = 200\n'


def _run(script: str, *argv: str) -> dict:
    old = sys.argv
    sys.argv = [str(EXAMPLES / script), *argv]
    try:
        return runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    finally:
        sys.argv = old


def test_every_example_has_a_test():
    tested = {"tb_bler_curve.py", "sweep_from_python.py", "results_dataframe.py", "user_experiment.py",
              "user_channel.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_tb_bler_curve(capsys):
    _run("tb_bler_curve.py", "--mcs", "4", "--n-rb", "24")
    out = capsys.readouterr().out
    assert out.startswith("MCS  4: TBS ") and "10 % BLER at" in out


def test_sweep_from_python(tmp_path, capsys):
    f = tmp_path / "awgn.toml"
    f.write_text(AWGN)
    _run("sweep_from_python.py", "--sweep", str(f), "--set", "seed=3", "--out", str(tmp_path / "res"))
    out = capsys.readouterr().out
    assert "awgn_ber: 2 points" in out and "snr_db=4.0: ber " in out
    assert (tmp_path / "res" / "data.csv").is_file()


def test_results_dataframe(capsys):
    _run("results_dataframe.py", str(ROOT / "results" / "link_curves_quickstart"))
    out = capsys.readouterr().out
    assert "experiment link_bler_curves" in out and "metrics: bler" in out


def test_user_experiment_registered_with_import(tmp_path, capsys):
    """``ltjax show/run --import examples/user_experiment.py``: a user's experiment, no ltjax edit."""
    from ltjax.cli import main

    module = str(EXAMPLES / "user_experiment.py")
    assert main(["show", "faded_tb_bler", "--import", module]) == 0
    assert "delay_spread_ns" in capsys.readouterr().out
    assert main(["run", str(EXAMPLES / "user_experiment.toml"), "--import", module, "--out", str(tmp_path / "r"),
                 "--no-progress", "--set", "params.n_ue=4", "--set", "params.snr_db=[-10.0, 30.0]",
                 "--set", "params.mcs=4", "--set", "params.n_rb=6"]) == 0
    rows = (tmp_path / "r" / "data.csv").read_text().splitlines()
    assert rows[0] == "point,snr_db,delay_spread_ns,mcs,n_rb,n_ue,bler"
    assert [float(r.split(",")[-1]) for r in rows[1:]] == pytest.approx([1.0, 0.0], abs=0.01)


def test_user_channel(capsys):
    _run("user_channel.py", "--n-ue", "2", "--n-periods", "1")
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("  ")[0] for ln in lines] == ["TDL-A30", "Rician K=6 dB (user channel)"]
    for ln in lines:
        bler = float(ln.split("first-tx BLER ")[1].split(",")[0])
        assert 0.0 <= bler <= 1.0 and "Mbit/s" in ln

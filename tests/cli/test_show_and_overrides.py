"""A new user's path through the command line: list experiments, see one's parameters, see a
sweep's grid, run it with ``--set`` overrides, see every problem of a file at once."""

from __future__ import annotations

import json

from ltjax.cli import main

OK = 'experiment = "awgn_ber"\nseed = 0\n[params]\nsnr_db = [0.0, 2.0]\nn_symbols = 100\n'


def test_list_points_to_show(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "link_bler_curves" in out and "ltjax show EXPERIMENT" in out


def test_show_experiment_lists_every_parameter_from_the_schema(capsys):
    from ltjax.sweep import get_experiment

    assert main(["show", "awgn_ber"]) == 0
    out = capsys.readouterr().out
    exp = get_experiment("awgn_ber")
    lines = out.splitlines()
    assert lines[0].startswith("awgn_ber: ")
    for name, p in exp.params.items():
        row = next(ln for ln in lines if ln.split()[:1] == [name])
        for part in (p.kind, repr(p.default), p.describe_range(), p.doc, "traced" if not p.static else "static"):
            assert part in row, (part, row)
        if p.unit:
            assert p.unit in row


def test_show_sweep_prints_the_resolved_grid(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(OK)
    assert main(["show", "--sweep", str(f), "--set", "params.n_ues=[4, 8, 16]"]) == 0
    out = capsys.readouterr().out
    assert "grid: 2 snr_db x 3 n_symbols" not in out
    assert "grid: 2 snr_db x 3 n_ues = 6 points" in out
    assert "n_symbols = 100" in out and "(default)" not in out.split("n_symbols = 100")[1].splitlines()[0]
    assert "output: results/s\n" in out  # the default output: results/<file stem> of the working directory
    assert "overrides: --set params.n_ues=[4, 8, 16]" in out


def test_run_with_overrides_records_them_and_changes_the_hash(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(OK)
    assert main(["run", str(f), "--out", str(tmp_path / "plain"), "--no-progress"]) == 0
    assert main(["run", str(f), "--out", str(tmp_path / "over"), "--no-progress",
                 "--set", "params.snr_db=[0, 5, 10]", "--set", "seed=3"]) == 0
    plain = json.loads((tmp_path / "plain" / "meta.json").read_text())
    over = json.loads((tmp_path / "over" / "meta.json").read_text())
    assert plain["overrides"] == []
    assert over["overrides"] == ["params.snr_db=[0, 5, 10]", "seed=3"]
    assert over["seed"] == 3 and over["config"]["axes"]["snr_db"] == [0.0, 5.0, 10.0]
    assert over["config_hash"] != plain["config_hash"]
    assert "--set seed=3" in over["command"]
    rows = (tmp_path / "over" / "data.csv").read_text().splitlines()
    assert len(rows) == 4


def test_a_bare_word_override_is_a_string():
    from ltjax.sweep.config import parse_override

    assert parse_override("params.channel=TDL-C200") == ("params.channel", "TDL-C200")
    assert parse_override('params.channel="AWGN"') == ("params.channel", "AWGN")
    assert parse_override("params.snr_db=[0,5]") == ("params.snr_db", [0, 5])
    assert parse_override("seed = 3") == ("seed", 3)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('experiment = "awgn_ber"\nsed = 1\n[params]\nsnr = 1.0\nn_symbols = "x"\nsnr_db = [0.0, 100.0]\n')
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["run", str(f), "--out", str(tmp_path / "res"), "--no-progress",
                 "--set", "params.n_ues=0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5, lines
    assert all(ln.startswith("ltjax: error: ") for ln in lines)
    expected = [f"{f}: sed: unknown key", "did you mean 'seed'?",
                f"{f}: params.snr: unknown parameter", "did you mean 'snr_db'?",
                f"{f}: params.n_symbols: expected an integer",
                f"{f}: params.snr_db: value 100.0 out of range",
                "--set: params.n_ues: value 0 out of range"]
    text = "\n".join(lines)
    for needle in expected:
        assert needle in text, needle
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written

"""Bad-input suite: every malformed or hostile input to ``ltjax run`` / ``ltjax bench``.

The promise checked for every case: exit code 2, exactly one stderr line
``ltjax: error: ...`` naming the file and the key or flag, no traceback, and nothing
written or changed anywhere (the whole temporary directory is compared before and after:
no result, no temp or work directory, no lock file, no empty parent directory, the
user's files intact). Most cases run in-process through ``ltjax.cli.main``; a few run the
real console command in a subprocess to prove the same end to end.
"""

from __future__ import annotations

import gzip
import os
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from ltjax.cli import main
from ltjax.params import field, params_class
from ltjax.sweep import register_experiment, registry
from ltjax.sweep.outdir import SOURCE_TREE

OK = 'experiment = "awgn_ber"\nseed = 0\n[params]\nsnr_db = [0.0, 2.0]\nn_symbols = 100\n'

# (case id, sweep file content (str or bytes), substrings the one-line message must contain)
CONFIG_CASES = [
    ("unknown_top_key", 'experiment = "awgn_ber"\nsed = 1\n', ["sweep.toml: sed: unknown key", "allowed keys"]),
    ("unknown_param", 'experiment = "awgn_ber"\n[params]\nsnr = 1.0\n', ["params.snr", "allowed: snr_db",
                                                                         "did you mean 'snr_db'?"]),
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
    ("unknown_experiment", 'experiment = "awgn_bler"\n', ["experiment", "unknown experiment 'awgn_bler'", "allowed: awgn_ber",
                                                         "did you mean 'awgn_ber'?"]),
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
    # The parser never lets an exception through.
    ("nested_5000_deep", 'experiment = "awgn_ber"\n[params]\nsnr_db = ' + "[" * 5000 + "]" * 5000 + "\n",
     ["sweep.toml: TOML arrays or tables nested too deeply"]),
    ("nested_200_deep", 'experiment = "awgn_ber"\n[params]\nsnr_db = ' + "[" * 200 + "1.0" + "]" * 200 + "\n",
     ["params.snr_db", "expected a number", "..."]),
    ("int_4400_digits", 'experiment = "awgn_ber"\nseed = ' + "7" * 4400 + "\n",
     ["sweep.toml: TOML integer too long to read"]),
    ("int_400_digits_for_float", 'experiment = "awgn_ber"\n[params]\nsnr_db = ' + "9" * 400 + "\n",
     ["params.snr_db", "of 400 digits", "out of range", "[-20.0, 30.0]"]),
    ("int_beyond_int64", 'experiment = "awgn_ber"\n[params]\nn_ues = ' + str(2**70) + "\n",
     ["params.n_ues", "out of range", "64-bit"]),
    ("seed_huge", 'experiment = "awgn_ber"\nseed = ' + "9" * 300 + "\n", ["seed", "of 300 digits", "[0, 2^32)"]),
    ("nul_in_name", 'experiment = "awgn_ber"\nname = "a\\u0000b"\n', ["sweep.toml: name", "a\\x00b"]),
    ("nul_in_out", 'experiment = "awgn_ber"\nout = "res\\u0000x"\n', ["sweep.toml: out", "NUL"]),
    ("control_char_in_out", 'experiment = "awgn_ber"\nout = "res\\u001b[2J"\n', ["sweep.toml: out", "control character"]),
    ("newline_in_name", 'experiment = "awgn_ber"\nname = "a\\nb"\n', ["sweep.toml: name", "plain directory name"]),
    ("name_dotdot", 'experiment = "awgn_ber"\nname = ".."\n', ["sweep.toml: name", "plain directory name"]),
    ("name_too_long", 'experiment = "awgn_ber"\nname = "' + "n" * 201 + '"\n', ["sweep.toml: name", "200 bytes"]),
    ("name_odd_unicode_too_long", 'experiment = "awgn_ber"\nname = "' + "\u00e9" * 120 + '"\n',
     ["sweep.toml: name", "200 bytes"]),
    ("nul_in_unknown_key", 'experiment = "awgn_ber"\n"k\\u0000y" = 1\n', ["sweep.toml: k\\x00y: unknown key"]),
    ("surrogate_escape", 'experiment = "awgn_ber"\nname = "\\udc80"\n', ["sweep.toml: TOML syntax error"]),
    ("huge_string_in_list", 'experiment = "awgn_ber"\n[params]\nsnr_db = ["' + "x" * 100_000 + '"]\n',
     ["params.snr_db", "expected a number", "..."]),
    ("grid_too_large", 'experiment = "awgn_ber"\n[params]\nsnr_db = [' + ", ".join(["1.0"] * 1000) + "]\n"
     "n_symbols = [" + ", ".join(map(str, range(1, 1001))) + "]\nn_ues = [" + ", ".join(map(str, range(1, 1001))) + "]\n",
     ["sweep.toml: params: the grid has 1,000,000,000 points", "1000 snr_db x 1000 n_symbols x 1000 n_ues",
      "limit of 100,000", "--max-points"]),
    ("params_is_array_of_tables", 'experiment = "awgn_ber"\n[[params]]\nx = 1\n', ["sweep.toml: params", "[params] table"]),
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


def _tree(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with its type, size, mode and mtime (symlinks not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath, n)
            st = os.lstat(p)
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mode, st.st_mtime_ns)
    return out


def _run(capsys, args: list[str]) -> tuple[int, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.err


def _run_untouched(capsys, root: Path, args: list[str], needles: list[str]) -> None:
    """Runs ``args``; checks the one-line exit-2 promise and that nothing under ``root`` changed."""
    before = _tree(root)
    rc, err = _run(capsys, args)
    _assert_one_line_error(rc, err, needles)
    assert _tree(root) == before


@pytest.mark.parametrize("case,content,needles", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(tmp_path, capsys, case, content, needles):
    f = tmp_path / "sweep.toml"
    (f.write_bytes if isinstance(content, bytes) else f.write_text)(content)
    outp = tmp_path / "out"
    _run_untouched(capsys, tmp_path, ["run", str(f), "--out", str(outp / "res"), "--no-progress"], needles)


def test_missing_and_directory_sweep_file(tmp_path, capsys):
    _run_untouched(capsys, tmp_path, ["run", str(tmp_path / "nope.toml")], ["nope.toml: no such sweep file"])
    _run_untouched(capsys, tmp_path, ["run", str(tmp_path)], [f"{tmp_path}: no such sweep file"])
    long_name = str(tmp_path / ("n" * 300 + ".toml"))
    _run_untouched(capsys, tmp_path, ["run", long_name], ["cannot open sweep file", "too long"])


def test_sweep_file_fifo_too_big_and_unreadable(tmp_path, capsys):
    """A FIFO is never opened (it would block forever); a huge file is not read."""
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    _run_untouched(capsys, tmp_path, ["run", str(fifo)], [f"{fifo}: ", "not a regular file"])
    big = tmp_path / "big.toml"
    big.write_text('experiment = "awgn_ber"\n' + "#" * (5 * 2**20) + "\n")
    _run_untouched(capsys, tmp_path, ["run", str(big)], [f"{big}: ", "bytes, more than the"])


def test_grid_limit_can_be_raised(tmp_path, capsys):
    """The refusal says how to raise the limit, and raising it works."""
    f = tmp_path / "g.toml"
    f.write_text('experiment = "awgn_ber"\n[params]\nsnr_db = [0.0, 1.0, 2.0]\nn_symbols = [10, 20]\n')
    _run_untouched(capsys, tmp_path, ["run", str(f), "--max-points", "5", "--out", str(tmp_path / "r")],
                   ["g.toml: params: the grid has 6 points", "limit of 5", "--max-points"])
    assert main(["run", str(f), "--max-points", "6", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert (tmp_path / "r" / "data.csv").read_text().count("\n") == 7


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
    ("max_points_zero", ["--max-points", "0"], ["--max-points", "positive integer"]),
    ("max_points_not_int", ["--max-points", "1e5"], ["--max-points", "positive integer"]),
    ("import_missing_module", ["--import", "ltjax_no_such_module_xyz"], ["--import ltjax_no_such_module_xyz",
                                                                          "cannot import"]),
    ("data_dir_is_file", ["--data-dir", "{sweep}"], ["--data-dir", "no such directory"]),
    ("import_missing_submodule", ["--import", "json.tool_no_such"], ["--import json.tool_no_such", "cannot import"]),
    ("set_without_equals", ["--set", "snr_db"], ["--set snr_db", "expected KEY=VALUE"]),
    ("set_empty_key", ["--set", "=3"], ["--set =3", "expected KEY=VALUE"]),
    ("set_unknown_top_key", ["--set", "sed=3"], ["--set: sed: unknown key", "did you mean 'seed'?"]),
    ("set_nested_key", ["--set", "foo.bar=3"], ["--set foo.bar=3", "not a key of a sweep file"]),
    ("set_whole_params", ["--set", "params=3"], ["--set params=3", "one parameter at a time"]),
    ("set_unknown_param", ["--set", "params.snr=1.0"], ["--set: params.snr: unknown parameter",
                                                        "did you mean 'snr_db'?"]),
    ("set_bad_type", ["--set", "params.snr_db=high"], ["--set: params.snr_db", "expected a number"]),
    ("set_out_of_range", ["--set", "params.n_symbols=[0, 10]"], ["--set: params.n_symbols", "out of range"]),
    ("set_bad_toml", ["--set", "params.snr_db=[0, 1"], ["--set params.snr_db=[0, 1", "not a TOML value"]),
    ("set_bad_seed", ["--set", "seed=-1"], ["--set: seed", "[0, 2^32)"]),
    ("set_unknown_experiment", ["--set", "experiment=awgn_bre"], ["--set: experiment", "did you mean 'awgn_ber'?"]),
    ("no_compile_cache_takes_no_value", ["--no-compile-cache=1"], ["--no-compile-cache"]),
    ("verbose_takes_no_value", ["--verbose=2"], ["--verbose"]),
]


@pytest.mark.parametrize("case,flags,needles", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_bad_flags(tmp_path, capsys, ok_sweep, case, flags, needles):
    outp = tmp_path / "out"
    flags = [f.replace("{sweep}", str(ok_sweep)) for f in flags]
    _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--out", str(outp / "res"), "--no-progress", *flags],
                   needles)


def test_empty_out_flag(tmp_path, capsys, ok_sweep):
    _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--out", ""], ["--out: empty path"])


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


def _user_dir(d: Path) -> None:
    d.mkdir(parents=True)
    (d / "thesis.tex").write_text("two years of work\n")


def _fake_result(d: Path) -> None:
    """A directory ltjax recognises as its own result (as written before the schema key existed)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "meta.json").write_text('{"experiment": "awgn_ber", "config_hash": "x", "ltjax_version": "0.1.0"}')


def _symlink(target: str, link: str):
    return lambda t: os.symlink(target.format(t=t), link.format(t=t))


def _toml(extra: str):
    """Rewrites the sweep file with top-level keys ``extra`` before [params]."""
    return lambda t: (t / "ok.toml").write_text(extra + "\n" + OK)


def _mk(rel: str, kind: str = "file"):
    def make(t: Path):
        p = t / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir":
            p.mkdir()
        else:
            p.write_text("x")
    return make


def _all(*fns):
    return lambda t: [fn(t) for fn in fns]


# (case, setup(tmp), extra command-line args ({t} is the temp directory), cwd below tmp or None,
#  substrings of the message). The sweep file is {t}/ok.toml.
OUTPUT_CASES = [
    ("force_on_user_directory", lambda t: _user_dir(t / "d"), ["--out", "{t}/d", "--force"], None,
     ["--out {t}/d", "not an ltjax result directory", "choose another"]),
    ("user_directory_without_force", lambda t: _user_dir(t / "d"), ["--out", "{t}/d"], None,
     ["--out {t}/d", "not an ltjax result directory"]),
    ("existing_result_without_force", lambda t: _fake_result(t / "res"), ["--out", "{t}/res"], None,
     ["--out {t}/res", "result directory exists; pass --force"]),
    ("force_on_file", _mk("f"), ["--out", "{t}/f", "--force"], None, ["--out {t}/f", "not a directory"]),
    ("toml_out_names_a_file", _all(_mk("f"), _toml('out = "f"')), ["--force"], None,
     ["ok.toml: out: {t}/f", "not a directory"]),
    ("toml_out_names_a_user_directory", _all(lambda t: _user_dir(t / "home"), _toml('out = "home"')), ["--force"],
     None, ["ok.toml: out: {t}/home", "not an ltjax result directory"]),
    ("force_on_root", None, ["--out", "/", "--force"], None, ["--out /: is the root directory"]),
    ("force_on_current_directory", _fake_result, ["--out", ".", "--force"], ".",
     ["--out .: is the current directory"]),
    ("force_on_parent_of_current_directory", _all(_fake_result, _mk("a/b", "dir")), ["--out", "../..", "--force"],
     "a/b", ["--out ../..: is the current directory or one of its parents"]),
    ("toml_out_is_the_sweep_files_directory", _all(_fake_result, _toml('out = "."')), ["--force"], None,
     ["ok.toml: out: {t}", "the directory of the sweep file"]),
    ("force_on_source_tree", None, ["--out", str(SOURCE_TREE), "--force"], None,
     [f"--out {SOURCE_TREE}", "ltjax never replaces it"]),
    ("symlink_loop", _symlink("{t}/loop", "{t}/loop"), ["--out", "{t}/loop", "--force"], None,
     ["--out {t}/loop", "cannot resolve"]),
    ("dangling_symlink", _symlink("{t}/nowhere", "{t}/dl"), ["--out", "{t}/dl"], None,
     ["--out {t}/dl", "symbolic link"]),
    ("symlink_to_a_result", _all(lambda t: _fake_result(t / "real"), _symlink("{t}/real", "{t}/link")),
     ["--out", "{t}/link", "--force"], None, ["--out {t}/link", "symbolic link"]),
    ("out_below_a_file", _mk("file.txt"), ["--out", "{t}/file.txt/res"], None,
     ["--out {t}/file.txt/res", "{t}/file.txt is not a directory"]),
    ("out_in_proc", None, ["--out", "/proc/ltjax-no-such-dir/res"], None, ["--out /proc/", "/proc, /sys or /dev"]),
    ("out_is_dev_null", None, ["--out", "/dev/null", "--force"], None, ["--out /dev/null", "/proc, /sys or /dev"]),
    ("dir_name_too_long", None, ["--out", "{t}/" + "n" * 251], None, ["--out {t}/nnn", "longer than"]),
    ("stale_tmp_is_a_file", _mk(".res.tmp"), ["--out", "{t}/res"], None,
     ["--out {t}/res", ".res.tmp is not a directory", "remove it"]),
    ("work_is_a_file", _mk(".res.work"), ["--out", "{t}/res"], None, [".res.work is not a directory"]),
    ("manifest_is_a_directory", _mk(".res.work/manifest.json", "dir"), ["--out", "{t}/res"], None,
     [".res.work/manifest.json is not a regular file"]),
    ("chunk_path_is_a_directory", _all(_mk(".res.work/manifest.json"), _mk(".res.work/chunk-00000-00000-0.npz", "dir")),
     ["--out", "{t}/res"], None, ["chunk-00000-00000-0.npz is not a regular file"]),
    ("old_holds_user_files", _mk(".res.old/notes.txt"), ["--out", "{t}/res"], None,
     [".res.old holds files ltjax did not write"]),
    ("work_holds_user_files", _mk(".res.work/notes.txt"), ["--out", "{t}/res"], None,
     [".res.work holds files ltjax did not write"]),
    ("lock_is_a_directory", _mk(".res.lock", "dir"), ["--out", "{t}/res"], None,
     [".res.lock is not a regular file"]),
    ("toml_name_blames_name", _all(_mk("results"), _toml('name = "mine"')), [], ".",
     ["ok.toml: name: results/mine", "is not a directory"]),
    ("force_on_home_directory", None, ["--out", "~", "--force"], None, ["is the home directory"]),
]


@pytest.mark.parametrize("case,setup,args,cwd,needles", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_bad_output_path(tmp_path, capsys, monkeypatch, case, setup, args, cwd, needles):
    """Refused before any compute; the user's directory or file, and everything else, untouched."""
    t = tmp_path.resolve()
    (t / "ok.toml").write_text(OK)
    if setup is not None:
        setup(t)
    if cwd is not None:
        monkeypatch.chdir(t / cwd)
    args = [os.path.expanduser(a.format(t=t)) for a in args]
    _run_untouched(capsys, t, ["run", str(t / "ok.toml"), "--no-progress", *args], [n.format(t=t) for n in needles])
    if case == "force_on_user_directory":
        assert (t / "d" / "thesis.tex").read_text() == "two years of work\n"


def test_out_in_unwritable_directory(tmp_path, capsys, ok_sweep):
    """A directory nobody can create entries in: /proc for root (who ignores mode bits), else mode 555."""
    if os.geteuid() == 0:
        if not Path("/proc/self").exists():
            pytest.skip("needs /proc when run as root")
        target = Path("/proc/self/ltjax-no-such-dir/res")
        _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--out", str(target)], [f"--out {target}", "/proc"])
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--out", str(ro / "res")], ["--out", "not writable"])
    finally:
        ro.chmod(0o755)


def test_output_locked_by_another_run(tmp_path, capsys, ok_sweep):
    """While another process holds the output's lock, a run exits 2 at once naming it."""
    import fcntl
    import json

    lock = tmp_path / ".res.lock"
    lock.write_text(json.dumps({"pid": 4242, "host": "node7", "started_utc": "2030-01-01T00:00:00+00:00",
                                "command": "ltjax run other.toml"}))
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--out", str(tmp_path / "res")],
                       [f"--out {tmp_path / 'res'}", "another ltjax run is writing this result directory",
                        "pid 4242 on host node7", "ltjax run other.toml"])
    finally:
        os.close(fd)


def test_import_module_that_raises(tmp_path, capsys, ok_sweep, monkeypatch):
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('plugin broke')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--import", "broken_plugin_mod"],
                   ["--import broken_plugin_mod", "RuntimeError: plugin broke"])


# --- path parameters: checked before any compute, for every role --------------------------------

PATHS_EXP = "test_bad_input_paths"


def _paths_fn(key, p):
    raise AssertionError("a refused path must stop the run before any point is computed")


@pytest.fixture
def paths_experiment(tmp_path):
    """A throw-away experiment with one path parameter of each role."""
    cls = params_class("BadInputPathParams",
                       model_in=field("in.msgpack", "model to read (make it with x.toml)", kind="path", role="input"),
                       data_dir=field("", "data directory", kind="path", role="input_dir"),
                       model_out=field("out.msgpack", "model to write", kind="path", role="output"),
                       cache=field("cache", "cache directory", kind="path", role="dir"))
    register_experiment(PATHS_EXP, "paths", cls)(_paths_fn)
    (tmp_path / "in.msgpack").write_bytes(b"model")
    (tmp_path / "in.json").write_text("{}")
    yield
    registry._REGISTRY.pop(PATHS_EXP, None)


# (case, setup(tmp), [params] lines, substrings of the message)
PATH_PARAM_CASES = [
    ("input_missing", None, 'model_in = "nope.msgpack"',
     ["p.toml: params.model_in: {t}/nope.msgpack: no such file", "make it with x.toml"]),
    ("input_is_fifo", lambda t: os.mkfifo(t / "fifo.msgpack"), 'model_in = "fifo.msgpack"',
     ["params.model_in", "not a regular file"]),
    ("input_is_directory", _mk("d.msgpack", "dir"), 'model_in = "d.msgpack"', ["params.model_in", "is a directory"]),
    ("input_dev_zero", None, 'model_in = "/dev/zero"', ["params.model_in", "not a regular file"]),
    ("input_nul", None, 'model_in = "a\\u0000b"', ["params.model_in", "NUL"]),
    ("input_dir_missing", None, 'data_dir = "nodata"', ["params.data_dir: {t}/nodata: no such directory"]),
    ("input_dir_is_file", None, 'data_dir = "in.msgpack"', ["params.data_dir", "no such directory"]),
    ("output_is_directory", _mk("m.msgpack", "dir"), 'model_out = "m.msgpack"',
     ["params.model_out", "is a directory"]),
    ("output_ends_in_json", None, 'model_out = "model.json"', ["params.model_out", "may not end in .json"]),
    ("output_sidecar_is_directory", _mk("m.json", "dir"), 'model_out = "m.msgpack"',
     ["params.model_out", "m.json: exists and is a directory"]),
    ("output_in_proc", None, 'model_out = "/proc/self/m.msgpack"', ["params.model_out", "system directory"]),
    ("output_below_a_file", _mk("f"), 'model_out = "f/m.msgpack"', ["params.model_out", "is not a directory"]),
    ("output_is_fifo", lambda t: os.mkfifo(t / "fifo.msgpack"), 'model_out = "fifo.msgpack"',
     ["params.model_out", "not a regular file"]),
    ("output_overwrites_sweep_file", None, 'model_out = "p.toml"', ["params.model_out", "the sweep file"]),
    ("output_overwrites_input", None, 'model_out = "in.msgpack"', ["params.model_out", "would overwrite",
                                                                     "params.model_in"]),
    ("output_sidecar_overwrites_input", None, 'model_out = "in.npz"', ["params.model_out", "in.json", "would overwrite"]),
    ("output_inside_result_dir", None, 'model_out = "res/m.msgpack"',
     ["params.model_out", "inside {t}/res", "outside the result directory"]),
    ("output_in_a_grid_axis", None, 'model_out = ["a.msgpack", "b.json"]', ["params.model_out", ".json"]),
    ("dir_is_file", _mk("c"), 'cache = "c"', ["params.cache", "exists and is a file"]),
    ("dir_in_sys", None, 'cache = "/sys/ltjax"', ["params.cache", "system directory"]),
    ("dir_is_result_dir", None, 'cache = "res"', ["params.cache", "inside {t}/res"]),
    ("dir_is_work_dir", None, 'cache = ".res.work"', ["params.cache", "inside {t}/res"]),
    ("default_output_named", _mk("out.msgpack", "dir"), "", ["p.toml: params.model_out (default)", "is a directory"]),
]


@pytest.mark.parametrize("case,setup,lines,needles", PATH_PARAM_CASES, ids=[c[0] for c in PATH_PARAM_CASES])
def test_bad_path_parameter(tmp_path, capsys, monkeypatch, paths_experiment, case, setup, lines, needles):
    t = tmp_path.resolve()
    monkeypatch.chdir(t)  # the defaults are relative to the working directory
    if setup is not None:
        setup(t)
    f = t / "p.toml"
    f.write_text(f'experiment = "{PATHS_EXP}"\n[params]\n{lines}\n')
    _run_untouched(capsys, t, ["run", str(f), "--out", str(t / "res"), "--no-progress"],
                   [n.format(t=t) for n in needles])


# The same checks on ltjax's own experiments (the cases a careless user hit).
REAL_PATH_CASES = [
    ("ml_baseline_model_out_dir", _mk("m", "dir"), "ml_baseline_offline", 'model_out = "m"',
     ["params.model_out", "exists and is a directory"]),
    ("ml_baseline_model_out_json", None, "ml_baseline_offline", 'model_out = "m.json"',
     ["params.model_out", "may not end in .json"]),
    ("beam_cache_dir_is_file", _mk("c"), "beam_train", 'cache_dir = "c"', ["params.cache_dir", "exists and is a file"]),
    ("lcm_cache_dir_in_proc", None, "lcm_adaptation", 'cache_dir = "/proc/x"', ["params.cache_dir", "system"]),
    ("lighttune_model_fifo", lambda t: os.mkfifo(t / "ff.msgpack"), "lighttune_bler_error", 'model_path = "ff.msgpack"',
     ["params.model_path", "not a regular file"]),
    ("cqi_ml_model_missing", None, "cqi_throughput", 'ml_model = "none.msgpack"',
     ["params.ml_model", "no such file", "ml_baseline_offline.toml"]),
    ("mnist_data_dir_missing", None, "mnist_ff_loss", 'data_dir = "nodata"', ["params.data_dir", "no such directory"]),
]


@pytest.mark.parametrize("case,setup,exp,lines,needles", REAL_PATH_CASES, ids=[c[0] for c in REAL_PATH_CASES])
def test_bad_path_parameter_of_real_experiments(tmp_path, capsys, case, setup, exp, lines, needles):
    t = tmp_path.resolve()
    if setup is not None:
        setup(t)
    f = t / "p.toml"
    f.write_text(f'experiment = "{exp}"\n[params]\n{lines}\n')
    _run_untouched(capsys, t, ["run", str(f), "--out", str(t / "res"), "--no-progress"], needles)


BENCH_CASES = [
    ("out_dir_in_proc", None, ["--out-dir", "/proc/ltjax-x"], ["--out-dir: /proc/ltjax-x", "system directory"]),
    ("out_dir_is_file", _mk("f"), ["--out-dir", "{t}/f"], ["--out-dir: {t}/f", "exists and is a file"]),
    ("out_dir_below_file", _mk("f"), ["--out-dir", "{t}/f/b"], ["--out-dir: {t}/f/b", "is not a directory"]),
]


@pytest.mark.parametrize("case,setup,args,needles", BENCH_CASES, ids=[c[0] for c in BENCH_CASES])
def test_bad_bench_out_dir(tmp_path, capsys, case, setup, args, needles):
    """Checked before the benchmark runs (it would otherwise fail only after the whole benchmark)."""
    t = tmp_path.resolve()
    if setup is not None:
        setup(t)
    _run_untouched(capsys, t, ["bench", "channel", "--quick", *[a.format(t=t) for a in args]],
                   [n.format(t=t) for n in needles])


def test_data_dir_missing(tmp_path, capsys, ok_sweep):
    rc, err = _run(capsys, ["run", str(ok_sweep), "--data-dir", str(tmp_path / "nodata"),
                            "--out", str(tmp_path / "o" / "res")])
    _assert_one_line_error(rc, err, [f"--data-dir {tmp_path / 'nodata'}", "no such directory"])
    _no_results(tmp_path / "o")


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
            if callable(override[name]):
                override[name](d / name)
            elif override[name] is not None:
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
    ("header_claims_2e9_images", {"train-images-idx3-ubyte.gz": gzip.compress(struct.pack(">IIII", 2051, 2**31, 28, 28))},
     ["train-images-idx3-ubyte.gz", "header says (2147483648, 28, 28)", "limit"]),
    ("header_dims_overflow_int64", {"train-images-idx3-ubyte.gz": gzip.compress(
        struct.pack(">IIII", 2051, 2**32 - 1, 2**32 - 1, 2**32 - 1))}, ["train-images-idx3-ubyte.gz", "limit"]),
    ("gzip_bomb_behind_valid_data", {"train-labels-idx1-ubyte.gz": gzip.compress(
        _idx(2049, (np.arange(12) % 10).astype(np.uint8)) + bytes(64 * 2**20), compresslevel=1)},
     ["train-labels-idx1-ubyte.gz", "padded"]),
    ("images_file_is_fifo", {"train-images-idx3-ubyte.gz": os.mkfifo}, ["train-images-idx3-ubyte.gz",
                                                                       "not a regular file"]),
    ("images_file_is_directory", {"train-images-idx3-ubyte.gz": os.mkdir}, ["train-images-idx3-ubyte.gz",
                                                                           "is a directory"]),
    ("label_out_of_range", {"train-labels-idx1-ubyte.gz": gzip.compress(_idx(2049, np.full(12, 200, np.uint8)))},
     ["train-labels-idx1-ubyte.gz", "label 200 out of range"]),
]


@pytest.mark.parametrize("case,override,needles", MNIST_CASES, ids=[c[0] for c in MNIST_CASES])
def test_bad_mnist_files(tmp_path, capsys, case, override, needles):
    pytest.importorskip("ltjax.experiments.mnist_ff_loss")  # registers it even before it is in MODULES
    data = tmp_path / "mnist"
    _write_mnist(data, **override)
    f = tmp_path / "m.toml"
    f.write_text(MNIST_SWEEP)
    # The point fails after the run set up its (nested) output: all of it is removed again.
    out = tmp_path / "out" / "a" / "b" / "res"
    _run_untouched(capsys, tmp_path, ["run", str(f), "--data-dir", str(data), "--out", str(out), "--no-progress"],
                   needles)


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
     ["params.channel", "unknown channel 'TDL-Z300'", "allowed: AWGN", "TDL-C200"]),
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


# --- model files given to an experiment: refused with one line before they are used ---

FF_MODEL = SOURCE_TREE / "results" / "bler_offline_model" / "ff_model.msgpack"


def _damaged_ff_model(t: Path, damage: str) -> Path:
    """A copy of the committed offline FF model with one defect."""
    import json

    from ltjax import io
    from ltjax.lighttune.model import MODEL_KIND

    dst = t / "ff.msgpack"
    meta = json.loads(io.sidecar_path(FF_MODEL).read_text())
    payload, meta = io.load_artifact(FF_MODEL, version=meta["format_version"])
    if damage == "std_1e-45":  # degenerate standardisation: every input blown up to ~1e45
        payload["feat_std"] = np.full_like(payload["feat_std"], 1e-45)
    io.save_artifact(dst, payload, meta, version=meta["format_version"], kind=MODEL_KIND)
    if damage == "sidecar_claims_other_config":  # the weights are not what the sidecar says
        meta = json.loads(io.sidecar_path(dst).read_text())
        meta["config"]["epochs"] = 1
        io.sidecar_path(dst).write_text(json.dumps(meta))
    if damage == "truncated_payload":
        dst.write_bytes(dst.read_bytes()[:100])
    return dst


@pytest.mark.parametrize("damage,needles", [
    ("std_1e-45", ["ff.msgpack", "degenerate feature standardisation"]),
    ("sidecar_claims_other_config", ["ff.json: config_hash", "does not match the config"]),
    ("truncated_payload", ["ff.msgpack", "corrupted"]),
])
def test_damaged_model_file(tmp_path, capsys, damage, needles):
    if not FF_MODEL.is_file():
        pytest.skip(f"committed model {FF_MODEL} not found")
    t = tmp_path.resolve()
    model = _damaged_ff_model(t, damage)
    f = t / "m.toml"
    f.write_text(f'experiment = "lighttune_bler_error"\n[params]\nn_ue = 1\nn_periods = 1\nmodel_path = "{model}"\n')
    _run_untouched(capsys, t, ["run", str(f), "--out", str(t / "out" / "res"), "--no-progress"], needles)


SHOW_AND_PLOT_CASES = [
    ("show_unknown_experiment", ["show", "awgn_bre"], ["show: unknown experiment 'awgn_bre'", "did you mean 'awgn_ber'?"]),
    ("show_nothing", ["show"], ["show: give an EXPERIMENT or --sweep FILE"]),
    ("show_both", ["show", "awgn_ber", "--sweep", "{t}/ok.toml"], ["show: give an EXPERIMENT or --sweep FILE"]),
    ("show_set_without_sweep", ["show", "awgn_ber", "--set", "seed=1"], ["show: --set needs --sweep FILE"]),
    ("show_sweep_missing", ["show", "--sweep", "{t}/nope.toml"], ["nope.toml: no such sweep file"]),
    ("show_sweep_bad_set", ["show", "--sweep", "{t}/ok.toml", "--set", "params.snr=1"], ["did you mean 'snr_db'?"]),
    ("show_bad_import", ["show", "awgn_ber", "--import", "ltjax_no_such_module_xyz"], ["--import ltjax_no_such_module_xyz"]),
    ("plot_not_a_result", ["plot", "{t}/notres"], ["{t}/notres: no meta.json"]),
    ("plot_missing_dir", ["plot", "{t}/nowhere"], ["{t}/nowhere: not a result directory"]),
    ("plot_no_dirs", ["plot"], ["the following arguments are required: DIR"]),
    ("list_bad_import", ["list", "--import", "ltjax_no_such_module_xyz"], ["--import ltjax_no_such_module_xyz"]),
]


@pytest.mark.parametrize("case,args,needles", SHOW_AND_PLOT_CASES, ids=[c[0] for c in SHOW_AND_PLOT_CASES])
def test_bad_show_and_plot(tmp_path, capsys, case, args, needles):
    t = tmp_path.resolve()
    (t / "ok.toml").write_text(OK)
    (t / "notres").mkdir()
    (t / "notres" / "data.csv").write_text("a,b\n1,2\n")
    _run_untouched(capsys, t, [a.format(t=t) for a in args], [n.format(t=t) for n in needles])


def test_plot_of_a_result_without_a_shared_column(tmp_path, capsys):
    """Runs of two experiments share no metric: one line naming the column."""
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(OK)
    b.write_text(OK)
    for f in (a, b):
        assert main(["run", str(f), "--out", str(tmp_path / f.stem), "--no-progress"]) == 0
    capsys.readouterr()
    _run_untouched(capsys, tmp_path, ["plot", str(tmp_path / "a"), str(tmp_path / "b"), "--y", "no_such_metric",
                                      "--out", str(tmp_path / "o.png")],
                   ["--y no_such_metric: no such column", "shared columns"])


def test_import_of_a_module_that_raises(tmp_path, capsys, monkeypatch, ok_sweep):
    (tmp_path / "ltjax_user_broken.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _run_untouched(capsys, tmp_path, ["run", str(ok_sweep), "--import", "ltjax_user_broken", "--out",
                                      str(tmp_path / "res")],
                   ["--import ltjax_user_broken", "RuntimeError: half-written module"])

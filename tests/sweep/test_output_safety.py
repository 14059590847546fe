"""Output safety of the runner (``ltjax.sweep.outdir``), through the ``run_sweep`` API.

``force`` replaces only what ltjax wrote; the marker (meta.json) of new and of already
committed results; the lock; result file modes; chunk-count and grid-size limits.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest

from ltjax.errors import InputError
from ltjax.params import field, params_class
from ltjax.sweep import load_sweep, register_experiment, registry, run_sweep
from ltjax.sweep import outdir, runner
from ltjax.sweep.config import SweepConfig

TOY = "test_output_safety_toy"
ROOT = Path(__file__).resolve().parents[2]


def _toy(key, p):
    import jax

    return {"u": jax.random.uniform(key, ()), "curve": jax.random.uniform(key, (3,)) * p.x}


@pytest.fixture(autouse=True)
def toy():
    register_experiment(TOY, "toy", params_class("SafetyToyParams", x=field(1.0, "x", lo=0.0, hi=10.0)))(_toy)
    yield
    registry._REGISTRY.pop(TOY, None)


def _cfg(tmp_path: Path, axis: str = "[1.0, 2.0]"):
    f = tmp_path / "s.toml"
    f.write_text(f'experiment = "{TOY}"\n[params]\nx = {axis}\n')
    return load_sweep(f)


def test_force_refuses_a_directory_holding_a_users_file_and_leaves_it_intact(tmp_path):
    cfg = _cfg(tmp_path)
    d = tmp_path / "thesis"
    d.mkdir()
    (d / "thesis.tex").write_text("two years of work\n")
    with pytest.raises(InputError, match=r"thesis: exists and is not an ltjax result directory"):
        run_sweep(cfg, out=d, force=True, progress=False)
    assert sorted(p.name for p in d.iterdir()) == ["thesis.tex"]
    assert (d / "thesis.tex").read_text() == "two years of work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "thesis"]  # no lock, work or tmp left


def test_force_replaces_ltjax_results_old_and_new_and_empty_directories(tmp_path):
    cfg = _cfg(tmp_path)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "meta.json").write_text(json.dumps({"experiment": "x", "config_hash": "h", "ltjax_version": "0.1.0"}))
    (legacy / "data.csv").write_text("old\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (legacy, empty):
        run_sweep(cfg, out=out, force=True, progress=False)
        assert (out / "data.csv").read_text().startswith("point,x,u")
    meta = json.loads((legacy / "meta.json").read_text())
    assert meta["schema"] == outdir.RESULT_SCHEMA and len(meta["run_id"]) == 32
    first = meta["run_id"]
    run_sweep(cfg, out=legacy, force=True, progress=False)  # a new result is ltjax's own, too
    assert json.loads((legacy / "meta.json").read_text())["run_id"] != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "legacy", "s.toml"]


def test_committed_results_count_as_ltjax_results():
    """Result directories written before the schema key existed are still ltjax's own."""
    dirs = [d for d in (ROOT / "results").iterdir() if (d / "meta.json").is_file()]
    if not dirs:
        pytest.skip("no committed results in this checkout")
    for d in dirs:
        assert outdir.read_marker(d) is not None, d
    assert outdir.read_marker(ROOT / "results" / "bench") is None  # benchmark JSON files are not a result


def test_protected_directories():
    for path in (Path("/"), Path.cwd(), Path.cwd().parent, Path.home()):
        assert outdir.protected_reason(path.resolve(), None), path
    sweeps = (ROOT / "sweeps").resolve()
    assert "sweep file" in outdir.protected_reason(sweeps, str(sweeps / "awgn_ber.toml"))
    assert "source tree" in outdir.protected_reason(ROOT.resolve(), None) or Path.cwd().resolve() == ROOT.resolve()
    assert outdir.protected_reason(ROOT / "results" / "x", str(ROOT / "sweeps" / "x.toml")) is None


def _plot(result_dir):
    (result_dir / "plot.png").write_bytes(b"png")  # with the process umask, as matplotlib does


def test_result_files_are_0644_whatever_the_umask_and_meta_is_the_marker(tmp_path):
    exp = registry._REGISTRY[TOY]
    registry._REGISTRY[TOY] = registry.Experiment(**{**exp.__dict__, "plots": (_plot,)})
    old = os.umask(0o077)
    try:
        out = run_sweep(_cfg(tmp_path), out=tmp_path / "res", progress=False)
    finally:
        os.umask(old)
    assert sorted(f.name for f in out.iterdir()) == ["data.csv", "meta.json", "plot.png", "series.npz"]
    for f in out.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    assert outdir.read_marker(out)["config_hash"] == _cfg(tmp_path).config_hash()


def test_lock_is_exclusive_names_its_holder_and_is_removed(tmp_path):
    path = tmp_path / ".res.lock"
    first = outdir.RunLock(path, "--out res").acquire()
    try:
        with pytest.raises(InputError, match=rf"--out res: another ltjax run .*pid {os.getpid()} on host "):
            outdir.RunLock(path, "--out res").acquire()
        with pytest.raises(InputError, match="another ltjax run"):
            run_sweep(_cfg(tmp_path), out=tmp_path / "res", progress=False)
        assert not (tmp_path / "res").exists() and not (tmp_path / ".res.work").exists()
    finally:
        first.release()
    assert not path.exists()
    outdir.RunLock(path, "--out res").acquire().release()  # free again


def test_default_chunks_bound_the_number_of_chunk_files(tmp_path, monkeypatch):
    assert runner.default_chunk_points(1) == 1 and runner.default_chunk_points(1000) == 1
    assert runner.default_chunk_points(1001) == 2 and runner.default_chunk_points(100_000) == 100
    monkeypatch.setattr(runner, "MAX_CHUNK_FILES", 3)
    written = []
    real = runner.atomic_write_bytes
    monkeypatch.setattr(runner, "atomic_write_bytes", lambda p, b: written.append(Path(p).name) or real(p, b))
    cfg = _cfg(tmp_path, "[0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]")
    out = run_sweep(cfg, out=tmp_path / "res", progress=False)
    assert len([w for w in written if w.startswith("chunk-")]) == 3  # 7 points in chunks of ceil(7/3) = 3
    ref = run_sweep(cfg, out=tmp_path / "ref", progress=False, chunk_points=1)
    assert (out / "data.csv").read_bytes() == (ref / "data.csv").read_bytes()
    assert json.loads((out / "meta.json").read_text())["execution"]["chunk_points"] == 3


def test_grid_is_counted_without_being_built():
    exp = registry._REGISTRY[TOY]
    cfg = SweepConfig(source="s", experiment=exp, name="n", seed=0, out=None, fixed={},
                      axes={"x": list(range(1000)), "y": list(range(1000)), "z": list(range(1000))})
    assert cfg.n_points == 10**9 == math.prod([1000] * 3)


def test_parents_created_for_a_failed_run_are_removed(tmp_path):
    """Bad input found while a point runs: the run's nested output parents go again."""
    def bad(key, p):
        raise InputError("data.bin: truncated")

    register_experiment("test_output_safety_bad", "bad", params_class("BadP", x=field(1.0, "x")))(bad)
    try:
        f = tmp_path / "b.toml"
        f.write_text('experiment = "test_output_safety_bad"\n')
        with pytest.raises(InputError, match="data.bin: truncated"):
            run_sweep(load_sweep(f), out=tmp_path / "a" / "b" / "res", progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["b.toml"]
    finally:
        registry._REGISTRY.pop("test_output_safety_bad", None)


@pytest.mark.parametrize("sweep", sorted(p.name for p in (ROOT / "sweeps").glob("*.toml")))
def test_committed_sweeps_pass_the_preflight(sweep, monkeypatch):
    """The reproduction commands of the README (run from the checkout, --force) are not refused."""
    monkeypatch.chdir(ROOT)
    cfg = load_sweep(Path("sweeps") / sweep)
    paths = runner.output_paths(cfg)
    outdir.check_output(paths, force=True, sweep_file=cfg.source)
    outdir.check_path_params(cfg, paths)


def test_out_with_dotdot_means_the_directory_it_names(tmp_path, monkeypatch):
    """``x/sub/..`` (x/sub not existing) is x: the result goes there, with no stray siblings."""
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(tmp_path)
    out = run_sweep(cfg, out="x/sub/..", progress=False)
    assert out == (tmp_path / "x").resolve() and (out / "data.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "x"]
    with pytest.raises(InputError, match=r"--out \.: is the current directory"):
        run_sweep(cfg, out=".", force=True, progress=False)

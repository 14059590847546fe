"""Sweep runner (issue #2 section 2, issue #6 sections 3 and 5), in-process.

Covers: TOML loading and validation, grid expansion, the result layout
(data.csv / series.npz / meta.json / PNG), atomic assembly, --force, chunk
files (resume, corrupt chunk, changed config), and the numerical guard.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ltjax.errors import InputError, NumericalError
from ltjax.params import field, params_class
from ltjax.sweep import load_sweep, parse_sweep, register_experiment, run_sweep
from ltjax.sweep import chunks as ck
from ltjax.sweep import registry
from ltjax.sweep.runner import work_dir

TOY = "test_sweep_toy"
NAN = "test_sweep_nan"


def _toy(key, p):
    """Cheap and deterministic: a uniform draw, a curve and the parameters echoed."""
    import jax

    u = jax.random.uniform(key, (3,))
    return {"u0": u[0], "scaled": p.x * 2.0, "count": p.n + 1, "curve": u * p.x}


def _nan(key, p):
    return {"ok": 1.0, "bad": math.nan if p.x > 0.5 else 0.0, "maybe": math.nan}


@pytest.fixture(autouse=True)
def toy_experiments():
    """Registers two throw-away experiments and removes them afterwards."""
    register_experiment(TOY, "toy", params_class("ToyParams", x=field(1.0, "x", lo=0.0, hi=10.0), n=field(2, "n", lo=1)))(_toy)
    register_experiment(NAN, "nan", params_class("NanParams", x=field(0.0, "x")), allow_nonfinite=("maybe",))(_nan)
    yield
    registry._REGISTRY.pop(TOY, None)
    registry._REGISTRY.pop(NAN, None)


def _cfg(tmp_path: Path, body: str, name: str = "s.toml"):
    f = tmp_path / name
    f.write_text(body)
    return load_sweep(f)


def test_grid_expansion_order_and_defaults(tmp_path):
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\nseed = 4\n[params]\nn = [1, 2]\nx = [0.5, 1.5, 2.5]\n')
    pts = cfg.points()
    assert len(pts) == 6
    # Axes in schema order (x before n), the last axis varying fastest.
    assert [(p["x"], p["n"]) for p in pts] == [(0.5, 1), (0.5, 2), (1.5, 1), (1.5, 2), (2.5, 1), (2.5, 2)]
    cfg2 = _cfg(tmp_path, f'experiment = "{TOY}"\n', "d.toml")
    assert cfg2.points() == [{"x": 1.0, "n": 2}] and cfg2.seed == 0 and cfg2.name == "d"


def test_config_hash_ignores_cosmetics_not_values(tmp_path):
    a = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.0]\n', "a.toml")
    b = _cfg(tmp_path, f'# comment\nexperiment = "{TOY}"\ndescription = "other"\n[params]\nx = [1.0, 2.0]\nn = 2\n', "b.toml")
    c = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.5]\n', "c.toml")
    d = _cfg(tmp_path, f'experiment = "{TOY}"\nseed = 1\n[params]\nx = [1.0, 2.0]\n', "d.toml")
    assert a.config_hash() == b.config_hash()
    assert len({a.config_hash(), c.config_hash(), d.config_hash()}) == 3


def test_result_layout(tmp_path):
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\nseed = 7\n[params]\nx = [0.5, 1.5]\nn = 3\n')
    out = run_sweep(cfg, out=tmp_path / "res", progress=False)
    assert out == tmp_path / "res"
    lines = (out / "data.csv").read_text().splitlines()
    assert lines[0] == "point,x,n,u0,scaled,count"
    assert len(lines) == 3 and lines[1].startswith("0,0.5,3,") and lines[2].startswith("1,1.5,3,")
    with np.load(out / "series.npz") as z:
        assert sorted(z.files) == ["p00000/curve", "p00001/curve"]
        assert z["p00001/curve"].shape == (3,)
    meta = json.loads((out / "meta.json").read_text())
    for k in ("config", "config_hash", "seed", "git_sha", "git_dirty", "packages", "devices",
              "start_utc", "end_utc", "wall_s"):
        assert k in meta, k
    for p in ("jax", "jaxlib", "flax", "optax", "numpy"):
        assert meta["packages"][p], p
    assert meta["config_hash"] == cfg.config_hash() and meta["seed"] == 7
    # Nothing but the result is left beside it: no .tmp / .work directories.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "s.toml"]


def test_existing_result_needs_force(tmp_path):
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = 1.0\n')
    out = run_sweep(cfg, out=tmp_path / "res", progress=False)
    before = (out / "data.csv").read_bytes()
    (out / "marker").write_text("old")
    with pytest.raises(InputError, match="exists; pass --force"):
        run_sweep(cfg, out=out, progress=False)
    assert (out / "marker").exists()  # untouched
    run_sweep(cfg, out=out, force=True, progress=False)
    assert not (out / "marker").exists() and (out / "data.csv").read_bytes() == before


def test_progress_bar_counts_points(tmp_path, capsys):
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.0, 3.0]\n')
    run_sweep(cfg, out=tmp_path / "res", progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "100%" in err


def test_plot_failure_leaves_no_partial_result(tmp_path):
    def bad_plot(d):
        raise RuntimeError("plot broke")

    exp = registry._REGISTRY[TOY]
    registry._REGISTRY[TOY] = registry.Experiment(**{**exp.__dict__, "plots": (bad_plot,)})
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.0]\n')
    with pytest.raises(RuntimeError, match="plot broke"):
        run_sweep(cfg, out=tmp_path / "res", progress=False)
    assert not (tmp_path / "res").exists() and not (tmp_path / ".res.tmp").exists()
    # The computed points stay resumable.
    assert len(list(work_dir(tmp_path / "res").glob("chunk-*.npz"))) == 2


def test_numerical_guard_names_experiment_point_metric(tmp_path):
    cfg = _cfg(tmp_path, f'experiment = "{NAN}"\n[params]\nx = [0.0, 1.0]\n')
    with pytest.raises(NumericalError) as e:
        run_sweep(cfg, out=tmp_path / "res", progress=False)
    msg = str(e.value)
    assert f"'{NAN}'" in msg and "grid point 1" in msg and "'x': 1.0" in msg and "bad" in msg
    assert "maybe" not in msg  # allow_nonfinite is honoured
    assert not (tmp_path / "res").exists()
    # Point 0 was fine and its chunk is kept; point 1's is not saved.
    assert len(list(work_dir(tmp_path / "res").glob("chunk-*.npz"))) == 1


def test_numerical_guard_on_arrays_and_cli_exit_3(tmp_path, capsys):
    from ltjax.cli import main

    f = tmp_path / "n.toml"
    f.write_text(f'experiment = "{NAN}"\n[params]\nx = 2.0\n')
    assert main(["run", str(f), "--out", str(tmp_path / "res"), "--no-progress"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ltjax: error: experiment") and "bad" in err[0]
    with pytest.raises(NumericalError, match="curve"):
        ck.check_finite("e", (), 0, {}, {}, {"curve": np.array([0.0, np.inf])})
    ck.check_finite("e", (), 0, {}, {"n": 3}, {"i": np.array([1, 2])})  # ints are always finite


def test_chunk_roundtrip_and_corruption(tmp_path):
    res = {3: ({"a": 0.1, "b": 2}, {"c": np.arange(4.0)}), 5: ({"a": 1e-300, "b": -1}, {})}
    blob = ck.encode_chunk("h1", res)
    back = ck.decode_chunk(blob, "h1")
    assert back[3][0] == {"a": 0.1, "b": 2} and np.array_equal(back[3][1]["c"], np.arange(4.0))
    assert back[5] == ({"a": 1e-300, "b": -1}, {})
    assert ck.decode_chunk(blob, "other-hash") is None
    assert ck.decode_chunk(blob[: len(blob) // 2], "h1") is None  # truncated
    flipped = bytearray(blob)
    flipped[len(blob) // 3] ^= 0xFF
    assert ck.decode_chunk(bytes(flipped), "h1") is None  # bit flip: CRC or digest catches it
    assert ck.decode_chunk(b"", "h1") is None


def test_resume_skips_done_and_recomputes_corrupt_chunks(tmp_path):
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\nseed = 2\n[params]\nx = [1.0, 2.0, 3.0, 4.0]\n')
    ref = run_sweep(cfg, out=tmp_path / "ref", progress=False)
    # Fake an interrupted run: chunks of points 0..2 exist, point 1's is corrupt, plus a stray temp file.
    work = work_dir(tmp_path / "res")
    work.mkdir()
    pts = cfg.points()
    for i in (0, 1, 2):
        ck.save_chunk(work, cfg.config_hash(), ck.compute_chunk(cfg.experiment, cfg.seed, [i], pts))
    bad = ck.chunk_path(work, [1])
    bad.write_bytes(bad.read_bytes()[:100])
    (work / ".chunk-x.npz.123.tmp").write_bytes(b"partial")
    out = run_sweep(cfg, out=tmp_path / "res", progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["points_resumed"] == 2  # points 0 and 2; 1 recomputed, 3 computed
    assert (out / "data.csv").read_bytes() == (ref / "data.csv").read_bytes()
    assert not work.exists()


def test_chunks_of_other_code_are_refused_unless_force(tmp_path):
    """An unfinished run made by another ltjax commit is not mixed into this one."""
    from ltjax.sweep.runner import code_identity

    a = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.0]\n', "s.toml")
    work = work_dir(tmp_path / "res")
    work.mkdir()
    here = code_identity()
    other = dict(here, git_sha="0" * 40) if here["git_sha"] else dict(here, ltjax_version="0.0.0")
    (work / "manifest.json").write_text(json.dumps({"config_hash": a.config_hash(), "code": other}))
    ck.save_chunk(work, a.config_hash(), ck.compute_chunk(a.experiment, a.seed, [0], a.points()))
    with pytest.raises(InputError, match=r"s\.toml: the unfinished run in .* was computed by other code .* "
                                         r"pass --force to discard it"):
        run_sweep(a, out=tmp_path / "res", progress=False)
    assert len(list(work.glob("chunk-*.npz"))) == 1  # kept when refused
    out = run_sweep(a, out=tmp_path / "res", force=True, progress=False)
    assert json.loads((out / "meta.json").read_text())["points_resumed"] == 0
    # the same code resumes: the manifest now names this code
    work.mkdir()
    (work / "manifest.json").write_text(json.dumps({"config_hash": a.config_hash(), "code": here}))
    ck.save_chunk(work, a.config_hash(), ck.compute_chunk(a.experiment, a.seed, [0], a.points()))
    out = run_sweep(a, out=tmp_path / "res", force=True, progress=False)  # force replaces the finished result
    assert json.loads((out / "meta.json").read_text())["points_resumed"] == 1


def test_changed_config_refused_unless_force(tmp_path):
    a = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 2.0]\n', "s.toml")
    work = work_dir(tmp_path / "res")
    work.mkdir()
    (work / "manifest.json").write_text(json.dumps({"config_hash": a.config_hash()}))
    ck.save_chunk(work, a.config_hash(), ck.compute_chunk(a.experiment, a.seed, [0], a.points()))
    b = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0, 3.0]\n', "s.toml")
    with pytest.raises(InputError, match=r"s\.toml: config changed .* pass --force"):
        run_sweep(b, out=tmp_path / "res", progress=False)
    assert len(list(work.glob("chunk-*.npz"))) == 1  # the old work is kept when refused
    out = run_sweep(b, out=tmp_path / "res", force=True, progress=False)
    assert json.loads((out / "meta.json").read_text())["points_resumed"] == 0


def test_parse_sweep_from_dict_and_check_hook(tmp_path):
    exp = registry._REGISTRY[TOY]
    registry._REGISTRY[TOY] = registry.Experiment(
        **{**exp.__dict__, "check": lambda p: ("n", "must be < 10 * x") if p.n >= 10 * p.x else None})
    cfg = parse_sweep({"experiment": TOY, "params": {"x": [1.0, 2.0], "n": 5}}, "dict-src")
    assert len(cfg.points()) == 2 and cfg.source == "dict-src"
    with pytest.raises(InputError, match=r"^dict-src: params\.n: must be < 10 \* x$"):
        parse_sweep({"experiment": TOY, "params": {"x": [1.0, 2.0], "n": 15}}, "dict-src")


def test_list_kinded_params_value_vs_axis(tmp_path):
    lst = "test_sweep_lists"
    register_experiment(lst, "lists", params_class("ListParams", sizes=field([4, 2], "sizes", lo=1),
                                                    extra=field([], "may be empty", kind="float_list", lo=0.0)))(_toy)
    try:
        cfg = parse_sweep({"experiment": lst, "params": {"sizes": [8, 4, 2]}}, "l")
        assert cfg.axes == {} and cfg.fixed["sizes"] == [8, 4, 2] and list(cfg.fixed["extra"]) == []
        cfg = parse_sweep({"experiment": lst, "params": {"sizes": [[8, 2], [4]], "extra": []}}, "l")
        assert cfg.axes == {"sizes": [[8, 2], [4]]} and list(cfg.fixed["extra"]) == []
        cfg = parse_sweep({"experiment": lst, "params": {"extra": [[], [1.0]]}}, "l")
        assert cfg.axes == {"extra": [[], [1.0]]}
        with pytest.raises(InputError, match="params.sizes: empty grid axis"):
            parse_sweep({"experiment": lst, "params": {"sizes": []}}, "l")
        with pytest.raises(InputError, match=r"params.sizes: value 0 out of range"):
            parse_sweep({"experiment": lst, "params": {"sizes": [[4], [0]]}}, "l")
    finally:
        registry._REGISTRY.pop(lst, None)


def test_every_registered_experiment_has_valid_defaults():
    """Each schema default passes its own type/range/choices check, and ``check`` accepts the defaults."""
    from ltjax.sweep.config import _check_value
    from ltjax.sweep.registry import all_experiments

    for name, exp in all_experiments().items():
        if name.startswith("test_"):
            continue
        for k, p in exp.params.items():
            _check_value(f"<{name} defaults>", f"params.{k}", p, p.default)
        cfg = parse_sweep({"experiment": name}, f"<{name}>")
        assert len(cfg.points()) == 1 and exp.description and "\n" not in exp.description


def test_meta_records_the_checkout_as_the_run_started(tmp_path, monkeypatch):
    """git_sha / git_dirty describe the code before the run: a file the run itself writes into the
    tree (an experiment's declared model output) does not make the result look made from edits."""
    import ltjax.sweep.runner as runner

    states = iter([{"git_sha": "a" * 40, "git_dirty": False}, {"git_sha": "a" * 40, "git_dirty": True}])
    monkeypatch.setattr(runner, "git_info", lambda *a, **k: next(states))
    monkeypatch.setattr(runner, "environment", lambda: {"git_sha": "a" * 40, "git_dirty": True})
    monkeypatch.setattr(runner, "code_identity", lambda: {"ltjax_version": "x", "git_sha": None})
    cfg = _cfg(tmp_path, f'experiment = "{TOY}"\n[params]\nx = [1.0]\n')
    out = run_sweep(cfg, out=tmp_path / "res", progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["git_dirty"] is False and meta["git_sha"] == "a" * 40

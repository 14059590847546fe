"""The offline FF BLER model shipped inside ltjax (``package:models/bler_ff_tdla30.msgpack``).

It loads through its ``package:`` name and from an installed wheel; bad ``package:`` names
get one line each; and its sidecar records the config that ``sweeps/bler_offline.toml``, as
parsed today, would make it from, so editing that sweep (or the defaults it takes) without
remaking the shipped model fails here.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib.resources
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import ltjax.experiments  # noqa: F401  (registers the experiments the sweep files name)
from ltjax.data.shipped import FF_BLER_MODEL, FF_BLER_MODEL_REMAKE, package_file, shipped_files
from ltjax.errors import InputError
from ltjax.io import config_hash
from ltjax.params import resolve_path
from ltjax.sweep import load_sweep, parse_sweep

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "ltjax" / "data" / "models" / "bler_ff_tdla30.msgpack"


def test_package_name_is_the_installed_file_and_loads():
    from ltjax.lighttune.model import load_model

    path = package_file(FF_BLER_MODEL)
    assert path == importlib.resources.files("ltjax.data") / "models" / "bler_ff_tdla30.msgpack"
    assert resolve_path(FF_BLER_MODEL, "/elsewhere") == str(path)  # no sweep-file directory applies
    model, meta = load_model(path)
    assert meta["sizes"] == [13, 32, 32] and meta["config"]["experiment"] == "bler_offline"
    assert len(model.params) == 2
    assert FF_BLER_MODEL in shipped_files() and not any(f.endswith(".json") for f in shipped_files())


@pytest.mark.parametrize("value, problem", [
    ("package:", "expected package: followed by a relative path"),
    ("package:../pyproject.toml", "expected package: followed by a relative path"),
    ("package:/etc/hostname", "expected package: followed by a relative path"),
    ("package:models/none.msgpack", "no such file shipped with ltjax"),
    ("package:models/bler_ff_tdla30.json", "not a shipped data file"),
    ("package:mnist.py", "not a shipped data file"),
    ("models/bler_ff_tdla30.msgpack", "not a package: path"),
])
def test_bad_package_names_are_one_line(value, problem):
    with pytest.raises(InputError, match=problem) as e:
        package_file(value)
    assert "\n" not in str(e.value)
    if value.startswith("package:"):
        assert str(e.value).endswith(f"allowed: {FF_BLER_MODEL}")


def test_sweep_files_refuse_bad_package_names_naming_file_and_key(tmp_path):
    src = str(tmp_path / "s.toml")

    def errors(data):
        with pytest.raises(InputError) as e:
            parse_sweep(data, src)
        return e.value.messages

    [msg] = errors({"experiment": "lighttune_bler_error", "params": {"model_path": "package:models/x.msgpack"}})
    assert msg.startswith(f"{src}: params.model_path: package:models/x.msgpack: no such file shipped")
    [msg] = errors({"experiment": "bler_offline", "params": {"model_dir": "package:models"}})
    assert "params.model_dir" in msg and "allowed for input files only" in msg  # shipped files are read-only
    [msg] = errors({"experiment": "lighttune_bler_error", "out": "package:models"})
    assert f"{src}: out: " in msg and "read-only" in msg


def test_pyproject_package_data_includes_the_shipped_files():
    """A non-editable install carries only what package-data names."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ltjax"]
    for f in (SHIPPED, SHIPPED.with_suffix(".json")):
        rel = f.relative_to(ROOT / "ltjax").as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), (rel, globs)


@pytest.mark.slow
def test_shipped_model_loads_from_an_installed_wheel(tmp_path):
    """Build a wheel from the package sources, unpack it as an install would, and load the model
    by its package: name in a fresh interpreter that imports ltjax from there, not the checkout."""
    setuptools = pytest.importorskip("setuptools")  # the build backend, used without build isolation
    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (70, 1):  # bdist_wheel moved in then
        pytest.importorskip("wheel")
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    shutil.copytree(ROOT / "ltjax", src / "ltjax", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, cwd=tmp_path)
    [wheel] = glob.glob(str(tmp_path / "dist" / "ltjax-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installs by unpacking
    code = ("import json, ltjax; from ltjax.data.shipped import FF_BLER_MODEL, package_file; "
            "from ltjax.lighttune.model import load_model; p = package_file(FF_BLER_MODEL); m, meta = load_model(p); "
            "print(json.dumps([ltjax.__file__, str(p), meta['config_hash']]))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "JAX_PLATFORMS": "cpu"})
    module, path, chash = json.loads(out.stdout.strip().splitlines()[-1])
    assert module.startswith(str(site)) and path.startswith(str(site / "ltjax" / "data" / "models"))
    assert chash == json.loads(SHIPPED.with_suffix(".json").read_text())["config_hash"]


# ---- the shipped model is what sweeps/bler_offline.toml makes -------------------------------


def _without_paths(config: dict, path_keys) -> dict:
    """``config`` minus the path parameters: where the dataset and model were written and where
    a dataset was reused from differ between checkouts (a sweep resolves them to absolute
    paths) and leave the weights alone."""
    params = {k: v for k, v in config.get("params", {}).items() if k not in path_keys}
    return {**config, "params": params}


@pytest.mark.parametrize("sidecar, sweep, remake", [
    (SHIPPED.with_suffix(".json"), "bler_offline.toml", FF_BLER_MODEL_REMAKE),
    (ROOT / "results/bler_offline_model_physical/ff_model.json", "bler_offline_physical.toml",
     "`ltjax run sweeps/bler_offline_physical.toml` remakes it"),
    (ROOT / "results/bler_offline_model_margin/ff_model.json", "bler_offline_margin.toml",
     "`ltjax run sweeps/bler_offline_margin.toml` remakes it"),
], ids=["shipped", "physical", "margin"])
def test_model_is_what_its_bler_offline_sweep_makes_today(sidecar, sweep, remake):
    """A model sidecar's recorded config against the one its sweep file, as parsed today, would
    record: the shipped model (sweeps/bler_offline.toml), the committed physical-scaling model
    (sweeps/bler_offline_physical.toml) and the model of the margin BLER abstraction
    (sweeps/bler_offline_margin.toml).

    ``bler_offline`` records ``config`` = {experiment, params, dataset_config_hash, key_data,
    model_format, sizes} (``_model_config``) beside its ``config_hash``; the sweep's own config
    hash is not known to the experiment, so the test builds that config from the sweep file
    with the experiment's own functions (point 0's key is ``fold_in(key(seed), 0)``, as the
    runner makes it) and compares the two hashes, the path parameters left out of both.
    """
    import jax

    from ltjax.experiments import bler_offline as bo

    recorded = json.loads(sidecar.read_text())["config"]  # matches its config_hash: load_model checks
    cfg = load_sweep(ROOT / "sweeps" / sweep)
    assert cfg.n_points == 1
    p = cfg.params_for(cfg.points()[0])
    key = jax.random.fold_in(jax.random.key(cfg.seed), 0)
    today = bo._model_config(p, bo._dataset_config(p, key))
    paths = {k for k, q in cfg.experiment.params.items() if q.kind == "path"}
    got, want = _without_paths(recorded, paths), _without_paths(today, paths)
    keys = sorted(set(got["params"]) | set(want["params"]))
    diffs = [f"{k} {got['params'].get(k, '<absent>')!r} -> {want['params'].get(k, '<absent>')!r}" for k in keys
             if got["params"].get(k, "<absent>") != want["params"].get(k, "<absent>")]
    diffs += [f"{k} {got.get(k)!r} -> {want.get(k)!r}" for k in sorted(set(got) | set(want))
              if k != "params" and got.get(k) != want.get(k)]
    assert config_hash(got, 16) == config_hash(want, 16), (
        f"{sidecar.relative_to(ROOT)} was made by another sweeps/{sweep} (config hash without "
        f"paths {config_hash(got, 16)}, today's file gives {config_hash(want, 16)}; recorded -> today: "
        f"{'; '.join(diffs[:8])}{' ...' if len(diffs) > 8 else ''}): {remake}")

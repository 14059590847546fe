"""ltjax.results.load and the run overlay plot, on a tiny awgn_ber sweep."""

import subprocess
import sys

import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.plotting.overlay import overlay
from ltjax.results import load


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for seed in (1, 2):
        f = root / f"s{seed}.toml"
        f.write_text(f'experiment = "awgn_ber"\nseed = {seed}\n[params]\n'
                     'snr_db = [0.0, 4.0]\nn_symbols = [200, 400]\n')
        out = root / f"run{seed}"
        r = subprocess.run([sys.executable, "-m", "ltjax", "run", str(f), "--out", str(out), "--no-progress"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        dirs.append(out)
    return dirs


def test_load_types_columns(two_runs):
    r = load(two_runs[0], as_frame=False)
    assert r.params == ("snr_db", "n_symbols", "n_ues") and r.metrics == ("ber", "ber_theory", "bits")
    assert r.column("point").dtype == np.int64 and r.column("n_symbols").dtype == np.int64
    assert r.column("snr_db").dtype == np.float64 and r.column("bits").dtype == np.int64
    assert r.column("ber").dtype == np.float64 and r.n_points == 4
    assert r.meta["seed"] == 1 and r.meta["experiment"] == "awgn_ber"
    np.testing.assert_array_equal(r.column("bits"), 2 * r.column("n_symbols") * r.column("n_ues"))


def test_load_dataframe_when_pandas(two_runs):
    pd = pytest.importorskip("pandas")
    r = load(two_runs[0])
    assert isinstance(r.table, pd.DataFrame) and str(r.table["n_symbols"].dtype) == "int64"


def test_load_refuses_non_results(tmp_path):
    with pytest.raises(InputError, match="not a result directory"):
        load(tmp_path / "missing")
    with pytest.raises(InputError, match="no meta.json"):
        load(tmp_path)


def test_overlay_two_runs(two_runs, tmp_path):
    png = overlay(two_runs, "snr_db", "ber", by=["n_symbols"], out=tmp_path / "o.png", logy=True)
    assert png.stat().st_size > 1000
    with pytest.raises(InputError, match=r"--y nope: no such column"):
        overlay(two_runs, "snr_db", "nope", out=tmp_path / "x.png")


def test_ltjax_plot_overlays_two_runs(two_runs, tmp_path, capsys):
    """``ltjax plot DIR DIR``: the axes are chosen from what the runs share (x: a swept parameter)."""
    from ltjax.cli import main

    out = tmp_path / "both.png"
    assert main(["plot", *map(str, two_runs), "--y", "ber", "--logy", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert out.stat().st_size > 1000 and oct(out.stat().st_mode & 0o777) == "0o644"
    from ltjax.plotting.overlay import overlay_cli
    import ltjax.plotting.overlay as ov

    seen = {}
    real = ov.overlay
    try:
        ov.overlay = lambda dirs, **kw: seen.update(kw) or real(dirs, **kw)
        overlay_cli(two_runs, out=tmp_path / "auto.png")
    finally:
        ov.overlay = real
    assert seen["x"] in ("snr_db", "n_symbols") and seen["y"] == "ber"
    assert set(seen["by"]) == {"snr_db", "n_symbols"} - {seen["x"]}


def test_import_ltjax_and_reading_results_load_no_jax():
    """``import ltjax``, ``ltjax.load_results`` and the plotting package work without loading jax."""
    code = ("import sys, ltjax, ltjax.plotting.overlay; assert callable(ltjax.load_results); "
            "assert 'ltjax.results' in sys.modules; assert 'jax' not in sys.modules, 'jax was imported'; "
            "assert {'tb_bler', 'freq_response', 'run_sweep', 'phy', 'channels'} <= set(dir(ltjax))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]

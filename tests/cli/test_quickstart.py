"""The README's first command at a tiny size: the quickstart sweep as written, with only its
sizes overridden, runs from the shipped model to a result directory with both predictors'
errors and the plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import ltjax.experiments  # noqa: F401  (registers the experiments)
from ltjax.data.shipped import FF_BLER_MODEL, package_file
from ltjax.plotting.common import read_csv
from ltjax.sweep import load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_quickstart_runs_from_the_shipped_model(tmp_path):
    cfg = load_sweep(ROOT / "sweeps/quickstart.toml",
                     overrides=["params.n_ue=3", "params.n_periods=2", "params.snr_db=[10.0, 20.0]"])
    assert cfg.fixed["model_path"] == FF_BLER_MODEL
    out = run_sweep(cfg, out=tmp_path / "qs", progress=False)
    rows = read_csv(out)
    assert [r["snr_db"] for r in rows] == [10.0, 20.0]
    for r in rows:  # no fine-tuning and the one variant the quickstart names, nothing else
        assert {k for k in r if k.startswith("err_") and not k.startswith("err_se_")} == {
            "err_none", "err_one_step_uniform"}
        assert 0.0 <= r["err_none"] <= 1.0 and 0.0 <= r["err_one_step_uniform"] <= 1.0
        assert r["trigger_none"] == 0.0 and r["reduction_none"] == 0.0
    shipped = json.loads(package_file(FF_BLER_MODEL).with_suffix(".json").read_text())
    with open(out / "data.csv", newline="") as f:  # the hash as text: a hex string may read as a float
        hashes = {r["model_config_hash"] for r in csv.DictReader(f)}
    assert hashes == {shipped["config_hash"]}  # the run used the shipped model
    for f in ("fig4_error_vs_snr.png", "over_time_TDL-B50_30Hz.png", "reduction_summary.csv", "meta.json"):
        assert (out / f).is_file(), f
    summary = (out / "reduction_summary.csv").read_text().splitlines()
    assert len(summary) == 3 and summary[2].split(",")[2] == "one_step_uniform"

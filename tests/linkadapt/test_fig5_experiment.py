"""Tiny end-to-end runs of ``ml_baseline_offline`` and ``cqi_throughput`` (Fig. 5) through the runner;
the schemes as policies (common random numbers, frozen ML weights)."""

import csv
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ltjax.experiments  # noqa: F401  (registers the experiments)
from ltjax.batching import map_ues
from ltjax.errors import InputError
from ltjax.lighttune.dataset import save_dataset
from ltjax.lighttune.model import init_model, save_model
from ltjax.link import link_params_for_scenario
from ltjax.linkadapt import ml_baseline, olla, scan
from ltjax.sweep import run_sweep
from ltjax.sweep.config import parse_sweep


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    feats = (rng.normal(size=(512, 12)) * 3 + 8).astype(np.float32)
    feats[:, 9] = rng.integers(0, 16, 512)
    bler = np.clip(rng.random(512), 0, 1).astype(np.float32)
    ds = save_dataset(d / "dataset.npz", {"features": feats, "bler": bler, "snr_db": feats[:, 0]}, {"test": 1})
    ml_path = d / "ml.msgpack"
    cfg = parse_sweep({"experiment": "ml_baseline_offline", "params": {
        "dataset": str(ds), "model_out": str(ml_path), "epochs": 3, "batch_size": 64}}, "ml.toml")
    out = run_sweep(cfg, out=d / "ml_out", progress=False)
    ff_path = d / "ff.msgpack"
    save_model(ff_path, init_model(jax.random.key(0), feats.mean(0), feats.std(0)), {"test": 1})
    return {"ml": ml_path, "ff": ff_path, "ml_out": out, "dataset": ds}


def test_ml_baseline_offline_run(models):
    out = models["ml_out"]
    rows = list(csv.DictReader(open(out / "data.csv")))
    assert len(rows) == 1 and float(rows[0]["n_samples"]) == 512
    assert math.isfinite(float(rows[0]["final_loss"]))
    assert (out / "training_curve.png").exists() and (out / "meta.json").exists()
    model, meta = ml_baseline.load_model(models["ml"])
    assert meta["config"]["epochs"] == 3


def test_missing_dataset_and_models_are_input_errors(tmp_path, models):
    cfg = parse_sweep({"experiment": "ml_baseline_offline", "params": {"dataset": str(tmp_path / "no.npz"),
                                                                       "model_out": str(tmp_path / "m.msgpack")}},
                      "x.toml")
    with pytest.raises(InputError, match="no.npz.*bler_offline"):
        run_sweep(cfg, out=tmp_path / "o", progress=False)
    # a .json model path would be overwritten by its own sidecar: refused before training
    cfg = parse_sweep({"experiment": "ml_baseline_offline", "params": {
        "dataset": str(models["dataset"]), "model_out": str(tmp_path / "ml.json"), "epochs": 1}}, "z.toml")
    with pytest.raises(InputError, match="ml.json: the payload may not end in .json") as e:
        run_sweep(cfg, out=tmp_path / "o3", progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "ml.json").exists()
    cfg = parse_sweep({"experiment": "cqi_throughput", "params": {
        "ff_model": str(tmp_path / "ff.msgpack"), "ml_model": str(models["ml"])}}, "y.toml")
    with pytest.raises(InputError, match="ff.msgpack.*bler_offline"):
        run_sweep(cfg, out=tmp_path / "o2", progress=False)


def test_cqi_throughput_end_to_end(tmp_path, models):
    params = {"channel": "TDL-C200", "doppler_hz": 50.0, "snr_db": [10.0, 25.0], "n_ue": 3, "n_periods": 3,
              "ff_model": str(models["ff"]), "ml_model": str(models["ml"])}
    cfg = parse_sweep({"experiment": "cqi_throughput", "params": params}, "fig5.toml")
    out = run_sweep(cfg, out=tmp_path / "fig5", progress=False)
    rows = list(csv.DictReader(open(out / "data.csv")))
    assert len(rows) == 2
    for r in rows:
        for s in scan.ALL_SCHEMES:
            assert float(r[f"thr_{s}"]) > 0.0 and 0.0 <= float(r[f"bler_{s}"]) <= 1.0
        assert float(r["paper_gain_tune_uniform_pct"]) == 9.5 and float(r["paper_gain_tune_hard_pct"]) == 7.2
        assert math.isfinite(float(r["gain_tune_uniform_pct"]))
    for f in ("throughput.png", "gain.png", "gains.csv", "series.npz"):
        assert (out / f).exists(), f
    with np.load(out / "series.npz") as z:
        assert z["p00000/thr_ue"].shape == (3, 6) and z["p00000/thr_t"].shape == (3, 6)


def test_common_random_numbers_and_frozen_ml_weights(models):
    """Same key -> identical per-scheme results; with a shared CQI the schemes see the same
    channel (same reports at t = 0); the ML weights are the same before and after the run."""
    from ltjax.experiments.cqi_throughput import load_models, run_point

    ff, ml = load_models(str(models["ff"]), str(models["ml"]))
    w0 = jax.tree.map(np.array, ml.variables)
    # (all schemes, at the sizes of test_cqi_throughput_end_to_end: the program it compiles)
    o = run_point(jax.random.key(3), "TDL-C200", 10.0, 50.0, 3, 3, ff, ml, scan.ALL_SCHEMES)
    o2 = run_point(jax.random.key(3), "TDL-C200", 10.0, 50.0, 3, 3, ff, ml, scan.ALL_SCHEMES)
    jax.tree.map(np.testing.assert_array_equal, o, o2)
    jax.tree.map(np.testing.assert_array_equal, w0, jax.tree.map(np.array, ml.variables))
    # OLLA and both CQI-Tune schemes start from the same table CQI (offset 0, same t = 0 report)
    c0 = o["cqi"][:, 0, :]
    np.testing.assert_array_equal(c0[:, 0], np.maximum(c0[:, 2], c0[:, 0]))
    assert np.all(c0[:, 0] - c0[:, 2] <= 1) and np.all(c0[:, 0] - c0[:, 3] <= 1)


def test_a_scheme_alone_equals_its_column_in_the_joint_run(models):
    """Common random numbers: every scheme of a UE sees the same period keys, so OLLA run alone
    gives exactly its column of the joint run (the other policies and the bounds' counterfactual
    lanes do not perturb it)."""
    from ltjax.experiments.cqi_throughput import load_models

    ff, ml = load_models(str(models["ff"]), str(models["ml"]))
    # the joint run at the sizes of test_cqi_throughput_end_to_end (the program it compiles)
    params = link_params_for_scenario("TDL-C200", 15.0, 50.0)
    thr = jnp.asarray(olla.thresholds_for(params.cfg))
    joint = map_ues(scan.run_schemes, jax.random.key(5), 3, params,
                    scan.make_policies(scan.ALL_SCHEMES, thresholds=thr, ff_model=ff, ml_model=ml),
                    static={"n_periods": 3})
    alone = map_ues(scan.run_schemes, jax.random.key(5), 3, params,
                    scan.make_policies(("olla",), thresholds=thr), static={"n_periods": 3})
    for k in ("throughput_mbps", "n_ack", "n_nack", "cqi", "offset"):
        np.testing.assert_array_equal(alone[k][..., 0], joint[k][..., scan.ALL_SCHEMES.index("olla")])
    with pytest.raises(ValueError, match="unknown scheme"):
        scan.make_policies(("olla", "oracle"), thresholds=thr)

"""Fig. 4 experiment: the 5 variants see identical link sequences; tiny end-to-end runs of bler_offline and
lighttune_bler_error; a missing model is a one-line InputError; bad output paths are refused before compute."""

import jax
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.experiments.lighttune_bler_error import VARIANT_NAMES, run_point, variant_names
from ltjax.lighttune.model import load_model
from ltjax.link import follow_cqi, link_params_for_scenario, run_ue
from ltjax.sweep.config import parse_sweep
from ltjax.sweep.runner import run_sweep


def _sweep(tmp_path, name, experiment, params):
    return parse_sweep({"experiment": experiment, "seed": 0, "name": name, "params": params},
                       str(tmp_path / f"{name}.toml"))


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("off")
    cfg = _sweep(tmp, "off", "bler_offline", {
        "n_samples": 8, "n_val": 8, "periods_per_ue": 2, "epochs": 6, "eval_every": 3,
        "model_dir": str(tmp / "model")})
    out = run_sweep(cfg, out=tmp / "off", progress=False)
    return tmp, out


def test_bler_offline_end_to_end(offline):
    tmp, out = offline
    for f in ("data.csv", "meta.json", "training_curve.csv", "training_curve.png"):
        assert (out / f).exists(), f
    for f in ("ff_model.msgpack", "ff_model.json", "dataset.npz", "dataset.json"):  # artefacts: in model_dir only
        assert (tmp / "model" / f).exists() and not (out / f).exists(), f
    model, meta = load_model(tmp / "model" / "ff_model.msgpack")
    assert meta["config"]["params"]["epochs"] == 6
    assert len((out / "training_curve.csv").read_text().splitlines()) == 3  # header + 2 chunks
    # a second run with the same dataset config and a fresh cache reuses the first run's dataset
    # through its reuse_dataset input (as bler_offline reuses the committed one)
    cfg = _sweep(tmp, "off2", "bler_offline", {
        "n_samples": 8, "n_val": 8, "periods_per_ue": 2, "epochs": 2, "eval_every": 2,
        "model_dir": str(tmp / "model2"), "reuse_dataset": str(tmp / "model" / "dataset.npz")})
    out2 = run_sweep(cfg, out=tmp / "off2", progress=False)
    row = (out2 / "data.csv").read_text().splitlines()
    assert row[1].split(",")[row[0].split(",").index("dataset_reused")] == "1"
    # ... and does not when the dataset config differs (another Doppler)
    cfg = _sweep(tmp, "off3", "bler_offline", {
        "n_samples": 8, "n_val": 8, "periods_per_ue": 2, "epochs": 1, "eval_every": 1, "doppler_hz": 20.0,
        "model_dir": str(tmp / "model3"), "reuse_dataset": str(tmp / "model" / "dataset.npz")})
    row = (run_sweep(cfg, out=tmp / "off3", progress=False) / "data.csv").read_text().splitlines()
    assert row[1].split(",")[row[0].split(",").index("dataset_reused")] == "0"


def test_variants_see_identical_link_sequences(offline):
    tmp, _ = offline
    model, _ = load_model(tmp / "model" / "ff_model.msgpack")
    key = jax.random.key(11)
    o = run_point(key, model, "TDL-B50", 20.0, 30.0, n_ue=2, n_periods=3)
    assert o["err"].shape == (2, len(VARIANT_NAMES), 3)
    for v in range(len(VARIANT_NAMES)):
        np.testing.assert_array_equal(o["bler_seen"][:, v], o["bler"])
    # and it is exactly the link the follow-CQI gNB produces alone (UE u: fold_in(key, u), link fold_in(., 0))
    params = link_params_for_scenario("TDL-B50", 20.0, 30.0)
    alone = jax.jit(lambda k: run_ue(k, params, 3, follow_cqi))(jax.random.fold_in(jax.random.fold_in(key, 1), 0))
    np.testing.assert_array_equal(np.asarray(alone.bler), o["bler"][1])  # ACK/NACK counts: exact
    # estimated features: float32 round-off only (a vmapped micro-batch vectorises differently)
    np.testing.assert_allclose(np.asarray(alone.features), o["features"][1], rtol=1e-6)


def test_a_variant_subset_gives_the_full_runs_numbers(offline):
    """``variants = <one variant>`` runs no fine-tuning and that variant only; both see the same
    link and negatives as in the full run, so their outputs are the full run's rows."""
    tmp, _ = offline
    model, _ = load_model(tmp / "model" / "ff_model.msgpack")
    names = variant_names("one_step_hard")
    assert names == ("none", "one_step_hard") and variant_names() == VARIANT_NAMES
    key = jax.random.key(5)
    sub = run_point(key, model, "TDL-B50", 20.0, 30.0, n_ue=2, n_periods=3, names=names)
    full = run_point(key, model, "TDL-B50", 20.0, 30.0, n_ue=2, n_periods=3)
    rows = [VARIANT_NAMES.index(n) for n in names]
    assert sub["err"].shape == (2, 2, 3)
    for k in ("err", "upd", "bler_seen"):
        np.testing.assert_allclose(sub[k], full[k][:, rows], rtol=0, atol=1e-6, err_msg=k)
    with pytest.raises(ValueError, match="allowed: all, standard_uniform"):
        variant_names("none")


def test_lighttune_bler_error_end_to_end(offline, tmp_path):
    tmp, _ = offline
    cfg = _sweep(tmp_path, "err", "lighttune_bler_error", {
        "channel": "TDL-B50", "doppler_hz": 30.0, "snr_db": [20.0], "n_ue": 2, "n_periods": 3,
        "model_path": str(tmp / "model" / "ff_model.msgpack")})
    res = run_sweep(cfg, out=tmp_path / "err", progress=False)
    for f in ("data.csv", "fig4_error_vs_snr.png", "reduction_summary.csv", "over_time_TDL-B50_30Hz.png"):
        assert (res / f).exists(), f
    header = (res / "data.csv").read_text().splitlines()[0]
    for v in VARIANT_NAMES:
        assert f"err_{v}" in header and f"trigger_{v}" in header
    bad = _sweep(tmp_path, "err2", "lighttune_bler_error", {"n_ue": 1, "n_periods": 1,
                                                             "model_path": str(tmp_path / "none.msgpack")})
    with pytest.raises(InputError, match="none.msgpack: no such file.*`ltjax run sweeps/bler_offline.toml`") as e:
        run_sweep(bad, out=tmp_path / "err2", progress=False)
    assert "\n" not in str(e.value)


def test_bler_offline_refuses_a_bad_model_dir_before_compute(tmp_path):
    """The output directory is checked before any link simulation or training starts."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = _sweep(tmp_path, "off3", "bler_offline", {"n_samples": 8, "n_val": 8, "epochs": 1,
                                                    "model_dir": str(blocker)})
    with pytest.raises(InputError, match="model_dir.*is a file") as e:
        run_sweep(cfg, out=tmp_path / "off3", progress=False)
    assert "\n" not in str(e.value)


def test_achievable_floor_is_wired(offline):
    """The floor trains on UEs n_ue .. n_ue + floor_ue - 1 of the point (same kernel, their own
    keys) and scores the test UEs 0 .. n_ue - 1, whose numbers are those of the point's first
    n_ue UEs; achieved = reduction / reduction_floor."""
    from ltjax.experiments.lighttune_bler_error import (FLOOR_STREAM, LightTuneBlerErrorParams,
                                                        achievable_floor, lighttune_bler_error)

    tmp, _ = offline
    path = str(tmp / "model" / "ff_model.msgpack")
    key = jax.random.key(3)
    base = LightTuneBlerErrorParams(channel="TDL-B50", doppler_hz=30.0, snr_db=20.0, n_ue=2, n_periods=3,
                                    model_path=path, variants="one_step_uniform")
    res = lighttune_bler_error(key, base.replace(floor_ue=3, floor_epochs=2))
    assert res["floor_samples"] == 3 * 3
    # the floor's training samples are UEs 2..4 of the same point, the test UEs are 0..1
    model, _ = load_model(path)
    o = run_point(key, model, "TDL-B50", 20.0, 30.0, n_ue=5, n_periods=3, names=("none", "one_step_uniform"))
    per_ue = o["err"].astype(np.float64).mean(axis=2)  # [U, V], as the experiment averages
    assert res["err_none"] == pytest.approx(float(per_ue[:2, 0].mean()), rel=1e-12)
    assert res["err_one_step_uniform"] == pytest.approx(float(per_ue[:2, 1].mean()), rel=1e-12)
    fl = achievable_floor(jax.random.fold_in(key, FLOOR_STREAM), o["features"][2:], o["bler"][2:],
                          o["features"][:2], o["bler"][:2], epochs=2)
    assert res["err_floor"] == pytest.approx(float(fl["err"].mean()), rel=1e-12)
    assert res["err_floor_train"] == pytest.approx(float(fl["train_err"]), rel=1e-12)
    red_floor = 1.0 - res["err_floor"] / res["err_none"]
    assert res["reduction_floor"] == pytest.approx(red_floor, rel=1e-12)
    if red_floor > 0:
        assert res["achieved_one_step_uniform"] == pytest.approx(res["reduction_one_step_uniform"] / red_floor, rel=1e-12)
    else:
        assert np.isnan(res["achieved_one_step_uniform"])

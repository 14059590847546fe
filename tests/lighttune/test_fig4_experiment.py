"""Fig. 4 experiment: the 5 variants see identical link sequences; tiny end-to-end runs of bler_offline and
lighttune_bler_error; a missing model is a one-line InputError."""

import jax
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.experiments.lighttune_bler_error import VARIANT_NAMES, run_point
from ltjax.lighttune.dataset import link_config
from ltjax.lighttune.model import load_model
from ltjax.link import LinkParams, follow_cqi, run_ue
from ltjax.channels import ChannelParams
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
        "cache_dir": str(tmp / "cache")})
    out = run_sweep(cfg, out=tmp / "off", progress=False)
    return tmp, out


def test_bler_offline_end_to_end(offline):
    tmp, out = offline
    for f in ("data.csv", "meta.json", "training_curve.csv", "training_curve.png", "ff_model.msgpack",
              "ff_model.json", "dataset.npz", "dataset.json"):
        assert (out / f).exists(), f
    model, meta = load_model(out / "ff_model.msgpack")
    assert meta["config"]["params"]["epochs"] == 6
    assert len((out / "training_curve.csv").read_text().splitlines()) == 3  # header + 2 chunks
    # a second run with the same dataset config reuses the cached dataset
    cfg = _sweep(tmp, "off2", "bler_offline", {
        "n_samples": 8, "n_val": 8, "periods_per_ue": 2, "epochs": 2, "eval_every": 2,
        "cache_dir": str(tmp / "cache")})
    out2 = run_sweep(cfg, out=tmp / "off2", progress=False)
    assert "dataset_reused" in (out2 / "data.csv").read_text()
    row = (out2 / "data.csv").read_text().splitlines()
    assert row[1].split(",")[row[0].split(",").index("dataset_reused")] == "1"


def test_variants_see_identical_link_sequences(offline):
    _, out = offline
    model, _ = load_model(out / "ff_model.msgpack")
    key = jax.random.key(11)
    o = run_point(key, model, "TDL-B50", 20.0, 30.0, n_ue=2, n_periods=3)
    assert o["err"].shape == (2, len(VARIANT_NAMES), 3)
    for v in range(len(VARIANT_NAMES)):
        np.testing.assert_array_equal(o["bler_seen"][:, v], o["bler"])
    # and it is exactly the link the follow-CQI gNB produces alone (UE u: fold_in(key, u), link fold_in(., 0))
    cfg, ds = link_config("TDL-B50")
    params = LinkParams(cfg=cfg, snr_db=np.float32(20.0),
                        channel=ChannelParams(delay_spread_s=np.float32(ds), doppler_hz=np.float32(30.0)))
    alone = jax.jit(lambda k: run_ue(k, params, 3, follow_cqi))(jax.random.fold_in(jax.random.fold_in(key, 1), 0))
    np.testing.assert_array_equal(np.asarray(alone.n_nack), np.round(o["bler"][1] * 160).astype(int))


def test_lighttune_bler_error_end_to_end(offline, tmp_path):
    _, out = offline
    cfg = _sweep(tmp_path, "err", "lighttune_bler_error", {
        "channel": "TDL-B50", "doppler_hz": 30.0, "snr_db": [20.0], "n_ue": 2, "n_periods": 3,
        "model_path": str(out / "ff_model.msgpack")})
    res = run_sweep(cfg, out=tmp_path / "err", progress=False)
    for f in ("data.csv", "fig4_error_vs_snr.png", "reduction_summary.csv", "over_time_TDL-B50_30Hz.png"):
        assert (res / f).exists(), f
    header = (res / "data.csv").read_text().splitlines()[0]
    for v in VARIANT_NAMES:
        assert f"err_{v}" in header and f"trigger_{v}" in header
    bad = _sweep(tmp_path, "err2", "lighttune_bler_error", {"n_ue": 1, "n_periods": 1,
                                                             "model_path": str(tmp_path / "none.msgpack")})
    with pytest.raises(InputError, match="run `ltjax run sweeps/bler_offline.toml` first") as e:
        run_sweep(bad, out=tmp_path / "err2", progress=False)
    assert "\n" not in str(e.value)

"""Input scaling of the offline FF BLER model: "standard" is the plain training-set standardisation
bit for bit; "physical" holds the Table III test channels inside [-3, 3] where "standard" does not;
the option round-trips through model files, an old sidecar loads as "standard", bad values are
refused with one line; the online learner scales as its model does."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.errors import InputError
from ltjax.io import config_hash
from ltjax.lighttune import LightTuneParams, online
from ltjax.lighttune.dataset import load_dataset
from ltjax.lighttune.model import (FEATURE_SCALINGS, PHYSICAL_HALF_WIDTH, PHYSICAL_RANGES, BlerModel,
                                   feature_stats, init_model, input_stats, load_model, physical_stats,
                                   predict_bler, save_model, standardize)
from ltjax.lighttune.step import predict_class
from ltjax.link import FEATURE_NAMES

REPO = Path(__file__).resolve().parents[2]
COMMITTED_MODEL = REPO / "results/bler_offline_model/ff_model.msgpack"
COMMITTED_DATASET = REPO / "results/bler_offline_model/dataset.npz"
F = {name: i for i, name in enumerate(FEATURE_NAMES)}
# Table III test channels: (RMS delay spread [ns], maximum Doppler [Hz]) of TDL-A30 / B50 / C200 at
# their Fig. 4 Dopplers, SNR 0-40 dB.
TABLE_III = {"TDL-A30": (30.0, 10.0), "TDL-B50": (50.0, 30.0), "TDL-C200": (200.0, 50.0)}


@pytest.fixture(scope="module")
def a30():
    """The committed TDL-A30 training features [83200, 12] (raw, link engine) and their statistics."""
    data, cfg = load_dataset(COMMITTED_DATASET)
    f = data["features"][: int(cfg["n_samples"])]
    return f, feature_stats(f)


def _test_channel_features(rng, a30_features, channel, n=512):
    """Raw feature vectors [n, 12] standing in for a Table III test channel (no link simulation,
    to stay fast): committed A30 features with the SNR-like features shifted by U(0, 28) dB
    (training 0-12 dB -> test 0-40 dB) and the channel's delay spread and Doppler within +-30 %
    (estimation error)."""
    f = np.array(a30_features[rng.integers(0, len(a30_features), n)], np.float64)
    ds, fd = TABLE_III[channel]
    shift = rng.uniform(0.0, 28.0, n)  # training SNRs 0-12 dB -> 0-40 dB
    for k in ("csi_snr_db", "pdsch_snr_db", "pdsch_snr_db_m1", "pdsch_snr_db_m2", "pdsch_snr_db_m3"):
        f[:, F[k]] += shift
    f[:, F["delay_spread_ns"]] = ds * rng.uniform(0.7, 1.3, n)
    f[:, F["doppler_hz"]] = fd * rng.uniform(0.7, 1.3, n)
    return f.astype(np.float32)


def test_standard_is_the_plain_standardisation_bit_for_bit(a30):
    """The default scaling computes exactly (x - mean) / std with the training statistics, jitted
    or not, and predicts exactly what predict_class of those inputs gives (the model before the option)."""
    f, (mean, std) = a30
    model = init_model(jax.random.key(0), *input_stats(f, "standard"))
    assert model.feature_scaling == "standard"
    assert BlerModel(model.params, model.feat_mean, model.feat_std).feature_scaling == "standard"
    for a, b in zip(input_stats(f), (mean, std)):
        np.testing.assert_array_equal(a, b)
    x = jnp.asarray(f[:1024])
    want = (x - jnp.asarray(mean)) / jnp.asarray(std)
    np.testing.assert_array_equal(standardize(model, x), want)
    plain = jax.jit(lambda m, v: (v - m.feat_mean) / m.feat_std)
    np.testing.assert_array_equal(jax.jit(standardize)(model, x), plain(model, x))
    got = jax.vmap(lambda v: predict_bler(model, v))(x[:64])
    k = jax.vmap(lambda z: predict_class(model.params, z, model.spec))(want[:64])
    np.testing.assert_array_equal(got, np.asarray(model.spec.labels, np.float32)[np.asarray(k)])


def test_the_committed_model_loads_as_standard_and_predicts_as_before(a30):
    """The committed model (trained with the training-set standardisation) is a standard model and
    predicts from (x - mean) / std exactly."""
    f, _ = a30
    model, _ = load_model(COMMITTED_MODEL)
    assert model.feature_scaling == "standard"
    x = jnp.asarray(f[:64])
    z = (x - model.feat_mean) / model.feat_std
    k = jax.vmap(lambda v: predict_class(model.params, v, model.spec))(z)
    np.testing.assert_array_equal(jax.vmap(lambda v: predict_bler(model, v))(x),
                                  np.asarray(model.spec.labels, np.float32)[np.asarray(k)])


def test_physical_holds_the_test_channels_where_standard_does_not(a30):
    """Trained on A30 at 10 Hz, the standard scaling puts the B50/C200 delay spreads and Dopplers
    many sigma out (the offline model then sees inputs it never saw); the physical one keeps every
    input of every test channel in [-3, 3] and, inside its ranges, clips nothing."""
    f, (mean, std) = a30
    std_model = init_model(jax.random.key(0), mean, std)
    phys = init_model(jax.random.key(0), *input_stats(None, "physical"), feature_scaling="physical")
    rng = np.random.default_rng(0)
    for channel in TABLE_III:
        x = _test_channel_features(rng, f, channel)
        z_std = np.asarray(standardize(std_model, x))
        z_phys = np.asarray(standardize(phys, x))
        assert np.all(np.abs(z_phys) <= PHYSICAL_HALF_WIDTH * (1 + 1e-6)), channel
        if channel != "TDL-A30":
            # A30 Doppler 9.6 +- 3.9 Hz, delay spread 29 +- 7 ns: B50 at 30 Hz x 1.3 is 7.6 sigma
            # out, C200's 200 ns x 0.7 is 16 sigma out; 512 draws reach far beyond 4 sigma
            assert np.abs(z_std).max() > 4.0, channel
    # the nominal Table III values of delay spread and Doppler: standard 3-24 sigma, physical inside
    for channel, (ds, fd) in TABLE_III.items():
        x = np.array(mean, np.float32)
        x[F["delay_spread_ns"]], x[F["doppler_hz"]] = ds, fd
        z = np.asarray(standardize(phys, x))
        assert np.all(np.abs(z) < PHYSICAL_HALF_WIDTH), channel  # strictly inside: not clipped
    z = np.asarray(standardize(std_model, np.array([*mean[:2], 200.0, 30.0, *mean[4:]], np.float32)))
    assert z[F["delay_spread_ns"]] > 20 and z[F["doppler_hz"]] > 5
    # the training features themselves: nothing is clipped but delay-spread and Doppler estimates
    # below the 10 ns / 1 Hz floors ("no measurable spread", "static"); SNRs, capacity, RI, CQI,
    # RBs and DMRS symbols pass unchanged
    z = np.asarray(standardize(phys, f))
    assert np.all(np.abs(z) <= PHYSICAL_HALF_WIDTH * (1 + 1e-6))
    lo = np.array([r[0] for r in PHYSICAL_RANGES.values()], np.float32)
    hi = np.array([r[1] for r in PHYSICAL_RANGES.values()], np.float32)
    assert not np.any(f > hi)
    floored = [F["delay_spread_ns"], F["doppler_hz"]]
    assert not np.any(np.delete(f < lo, floored, axis=1))


def test_physical_ranges_cover_what_the_engine_can_report():
    """Every range end is a physical limit of the engine or of TR 38.901, and anything beyond it
    (including garbage) still maps into [-3, 3]; log-scaled features use log10."""
    from ltjax.channels import max_delay_spread_s, max_doppler_hz
    from ltjax.link import LinkConfig

    cfg = LinkConfig()
    assert PHYSICAL_RANGES["doppler_hz"] == (1.0, max_doppler_hz(), True)
    ds_lo, ds_hi, _ = PHYSICAL_RANGES["delay_spread_ns"]
    assert ds_lo <= 30.0 and max_delay_spread_s() * 1e9 <= ds_hi
    assert PHYSICAL_RANGES["n_rb"][1] == cfg.channel.n_rb and set(cfg.rb_choices) <= set(range(1, cfg.channel.n_rb + 1))
    assert PHYSICAL_RANGES["n_dmrs"][:2] == (1.0, 4.0) and set(cfg.dmrs_choices) <= {1, 2, 3, 4}
    assert PHYSICAL_RANGES["ri"][1] >= cfg.max_rank
    model = init_model(jax.random.key(0), *physical_stats(), feature_scaling="physical")
    ends = np.stack([np.array([r[0] for r in PHYSICAL_RANGES.values()]),
                     np.array([r[1] for r in PHYSICAL_RANGES.values()])]).astype(np.float32)
    np.testing.assert_allclose(standardize(model, ends), [[-3.0] * 12, [3.0] * 12], atol=1e-5)
    wild = np.array([[-1e6] * 12, [1e6] * 12, [0.0] * 12], np.float32)
    z = np.asarray(standardize(model, wild))
    assert np.all(np.isfinite(z)) and np.all(np.abs(z) <= 3.0 + 1e-5)
    # 10 Hz -> 100 Hz is the same step as 1 Hz -> 10 Hz
    x = np.tile(np.mean(ends, 0), (3, 1))
    x[:, F["doppler_hz"]] = [1.0, 10.0, 100.0]
    d = np.diff(np.asarray(standardize(model, x))[:, F["doppler_hz"]])
    np.testing.assert_allclose(d[0], d[1], rtol=1e-5)


def test_model_files_round_trip_the_option(tmp_path, a30):
    f, (mean, std) = a30
    for scaling in FEATURE_SCALINGS:
        model = init_model(jax.random.key(3), *input_stats(f, scaling), feature_scaling=scaling)
        path = save_model(tmp_path / f"{scaling}.msgpack", model, {"run": scaling})
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["feature_scaling"] == scaling
        assert ("physical_ranges" in sidecar) == (scaling == "physical")
        loaded, _ = load_model(path)
        assert loaded.feature_scaling == scaling and loaded.spec == model.spec
        np.testing.assert_array_equal(loaded.feat_mean, model.feat_mean)
        np.testing.assert_array_equal(loaded.feat_std, model.feat_std)
        x = jnp.asarray(f[:32])
        np.testing.assert_array_equal(standardize(loaded, x), standardize(model, x))
    # a sidecar from before the option: no feature_scaling field -> standard
    side = tmp_path / "standard.json"
    meta = json.loads(side.read_text())
    del meta["feature_scaling"]
    side.write_text(json.dumps(meta))
    loaded, _ = load_model(tmp_path / "standard.msgpack")
    assert loaded.feature_scaling == "standard"


def test_bad_scaling_values_are_refused_with_one_line(tmp_path, a30):
    f, (mean, std) = a30
    for bad in ("robust", "", None, 1):
        with pytest.raises(InputError, match=r"feature_scaling: .* allowed: 'standard', 'physical'$") as e:
            init_model(jax.random.key(0), mean, std, feature_scaling=bad)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"feature_scaling: 'robust'.*allowed: 'standard', 'physical'"):
        input_stats(f, "robust")
    with pytest.raises(InputError, match=r"BlerModel.feature_scaling: 'x'"):
        standardize(BlerModel(init_model(jax.random.key(0), mean, std).params, mean, std, feature_scaling="x"), f[:2])
    # in a model file: an unknown value, a sidecar edited against its (hashed) config, and a
    # physical model whose statistics are not the physical ranges
    phys = init_model(jax.random.key(0), *physical_stats(), feature_scaling="physical")
    path = save_model(tmp_path / "m.msgpack", phys, {"params": {"feature_scaling": "physical"}})
    side = path.with_suffix(".json")
    good = json.loads(side.read_text())
    for value, pattern in (("bogus", r"m.json: feature_scaling: 'bogus' is not a feature scaling; allowed: "
                                     r"'standard', 'physical'"),
                           ("standard", r"m.json: feature_scaling 'standard' but the model was trained with "
                                        r"'physical'")):
        side.write_text(json.dumps({**good, "feature_scaling": value}))
        with pytest.raises(InputError, match=pattern) as e:
            load_model(path)
        assert "\n" not in str(e.value)
    odd = phys.replace(feat_std=phys.feat_std * 2)
    path = save_model(tmp_path / "odd.msgpack", odd, {})
    with pytest.raises(InputError, match=r"odd.msgpack: corrupted, incompatible or degenerate.*physical ranges"):
        load_model(path)
    # in a sweep: the schema's one-line error naming the key and the allowed values
    import ltjax.experiments  # noqa: F401  (registers bler_offline)
    from ltjax.sweep import parse_sweep

    with pytest.raises(InputError, match=r"feature_scaling.*'robust'.*standard.*physical") as e:
        parse_sweep({"experiment": "bler_offline", "params": {"feature_scaling": "robust"}}, "<t>",
                    base_dir=str(tmp_path))
    assert "\n" not in str(e.value)


def test_bler_offline_records_physical_and_keeps_the_standard_config_hash():
    """A standard model's config (and so its hash) is what it was before the option; physical is recorded."""
    import ltjax.experiments.bler_offline as bo
    from ltjax.params import as_dict, build

    dcfg = {"key_data": [0, 0], "n_samples": 8}
    std = bo._model_config(build(bo.BlerOfflineParams, {}), dcfg)
    before = {k: v for k, v in as_dict(build(bo.BlerOfflineParams, {})).items() if k != "feature_scaling"}
    assert std["params"] == before
    assert config_hash(std, 16) == config_hash({**std, "params": before}, 16)
    phys = bo._model_config(build(bo.BlerOfflineParams, {"feature_scaling": "physical"}), dcfg)
    assert phys["params"]["feature_scaling"] == "physical" and config_hash(phys, 16) != config_hash(std, 16)


def test_online_learner_scales_as_its_model():
    """A UE starting from a physical model keeps the physical scaling through init / predict / tell."""
    model = init_model(jax.random.key(0), *physical_stats(), feature_scaling="physical")
    lt = LightTuneParams()
    state = online.init(jax.random.key(1), model, lt)
    assert state.model.feature_scaling == "physical"
    x = jnp.array([5.0, 4.0, 200.0, 50.0, 5.0, 5.0, 5.0, 5.0, 2.0, 7.0, 52.0, 2.0], jnp.float32)
    assert float(online.predict(state, x)) == float(predict_bler(model, x))
    state, _ = jax.jit(online.tell)(jax.random.key(2), state, x, jnp.float32(1.0), lt)
    assert state.feature_scaling == "physical" and state.model.feature_scaling == "physical"

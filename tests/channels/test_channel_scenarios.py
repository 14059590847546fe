"""The channel scenario table: names, a delay spread given apart, and one-line errors."""

import dataclasses

import pytest

from ltjax.channels import ChannelConfig, NAMED_SCENARIOS, Scenario, scenario
from ltjax.link import LinkConfig, link_params_for_scenario


@pytest.mark.parametrize("name, model, ds", [
    ("AWGN", "AWGN", 0.0), ("awgn", "AWGN", 0.0), ("TDL-A30", "A", 30e-9), ("TDL-B50", "B", 50e-9),
    ("TDL-C200", "C", 200e-9), ("tdl-c300", "C", 300e-9), ("TDL_B100", "B", 100e-9), ("TDL-A12.5", "A", 12.5e-9),
])
def test_names_map_to_model_and_delay_spread(name, model, ds):
    s = scenario(name)
    assert s == Scenario(model, ds)  # exact: "TDL-A30" gives the float 30e-9, as a literal would
    assert scenario(s.name) == s


def test_named_scenarios_round_trip():
    assert NAMED_SCENARIOS == ("AWGN", "TDL-A30", "TDL-B50", "TDL-C200")
    for name in NAMED_SCENARIOS:
        assert scenario(name).name == name


def test_delay_spread_given_apart():
    assert scenario("TDL-C", 300) == Scenario("C", 300e-9)
    assert scenario("TDL-C", 200.0) == scenario("TDL-C200")
    assert scenario("TDL-C200", 200) == scenario("TDL-C200")  # equal to the name's: allowed
    assert scenario("AWGN", 0.0) == Scenario("AWGN", 0.0)


@pytest.mark.parametrize("args, words", [
    (("TDL-D30",), "unknown channel"), (("Rayleigh",), "unknown channel"), (("TDL-C",), "needs a delay spread"),
    (("TDL-C200", 300), "names 200 ns but delay_spread_ns"), (("AWGN", 30), "AWGN has no delay spread"),
    (("TDL-C", 0), "must be > 0 ns"), (("TDL-C", -5), "must be > 0 ns"), (("TDL-C0",), "must be > 0 ns"),
])
def test_bad_names_one_line_errors(args, words):
    with pytest.raises(ValueError) as e:
        scenario(*args)
    msg = str(e.value)
    assert "\n" not in msg and words in msg, msg


def test_link_params_for_scenario():
    cfg = LinkConfig(channel=ChannelConfig(model="A", correlation="high"), max_rank=1)
    p = link_params_for_scenario("TDL-C300", snr_db=12.0, doppler_hz=30.0, cfg=cfg)
    # The scenario sets the model and delay spread; the rest of the config is kept.
    assert p.cfg == dataclasses.replace(cfg, channel=ChannelConfig(model="C", correlation="high"))
    assert float(p.channel.delay_spread_s) == pytest.approx(300e-9, rel=1e-7)
    assert float(p.snr_db) == 12.0 and float(p.channel.doppler_hz) == 30.0
    assert link_params_for_scenario(scenario("TDL-C", 300), 12.0, 30.0, cfg).cfg == p.cfg
    assert link_params_for_scenario("AWGN").cfg.channel.model == "AWGN"
    with pytest.raises(ValueError, match="delay_spread_s"):  # beyond the one-sample-per-RB limit
        link_params_for_scenario("TDL-C600")
    with pytest.raises(ValueError, match="unknown channel"):
        link_params_for_scenario("TDL-D30")


def test_flat_references_and_their_array_gain():
    """AWGN (identity), AWGN-EQ (equal array gain) and AWGN-SISO: with a rank-1 Type I precoder
    and MRC the UE collects |H w|^2 = 1/2, 2 (= E ||H w||^2 of a unit-gain 2x4 TDL channel with a
    fixed precoder, Nr ||w||^2) and 1 (SISO)."""
    import jax
    import numpy as np

    from ltjax.channels import ChannelParams, awgn_matrix, channel_freq_response, init_channel
    from ltjax.csi import type1_codebook

    assert scenario("AWGN-EQ") == Scenario("AWGN", 0.0, "equal_gain")
    assert scenario("awgn_siso") == Scenario("AWGN", 0.0, "identity", (1, 1))
    for name in ("AWGN", "AWGN-EQ", "AWGN-SISO"):
        assert scenario(name).name == name
    w = type1_codebook(4, 1)[5]  # any rank-1 precoder: entries of magnitude 1/2
    gains = {}
    for name in ("AWGN", "AWGN-EQ", "AWGN-SISO"):
        cfg = link_params_for_scenario(name).cfg
        h = np.asarray(channel_freq_response(init_channel(jax.random.key(0), cfg.channel), 1.0, cfg.channel,
                                             ChannelParams()))
        np.testing.assert_array_equal(h, np.broadcast_to(awgn_matrix(cfg.channel), h.shape))
        ww = w if cfg.channel.n_tx == 4 else type1_codebook(1, 1)[0]
        gains[name] = float(np.sum(np.abs(h[0] @ ww) ** 2))
    assert gains == pytest.approx({"AWGN": 0.5, "AWGN-EQ": 2.0, "AWGN-SISO": 1.0}, rel=1e-6)
    # Equal array gain: the squared Frobenius norm of a unit-gain TDL channel, Nr Nt = 8.
    eq = awgn_matrix(link_params_for_scenario("AWGN-EQ").cfg.channel)
    assert float(np.sum(np.abs(eq) ** 2)) == pytest.approx(8.0)
    siso = link_params_for_scenario("AWGN-SISO", cfg=LinkConfig(max_rank=2)).cfg
    assert (siso.channel.n_rx, siso.channel.n_tx, siso.max_rank) == (1, 1, 1)
    with pytest.raises(ValueError, match="awgn_matrix"):
        ChannelConfig(awgn_matrix="double")

"""OLLA: the AWGN SINR->CQI table, the offset rule, and convergence to BLER 0.1 (issue #4 sec. 7)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig
from ltjax.link.config import LinkConfig
from ltjax.link.engine import select_cqi
from ltjax.linkadapt import olla, scan
from ltjax.batching import map_ues


def test_thresholds_monotone_and_finite():
    thr = olla.cqi_sinr_thresholds()
    assert thr.shape == (2, 16) and np.isneginf(thr[:, 0]).all()
    assert np.all(np.isfinite(thr[:, 1:]))
    assert np.all(np.diff(thr[:, 1:], axis=1) > 0.3)  # CQI steps are ~1.5-2 dB apart
    assert -20.0 < thr[0, 1] < 0.0 < 15.0 < thr[0, 15] < 40.0


def test_thresholds_hit_the_target():
    """The PHY abstraction's TBLER at each threshold is the 10 % target (bisection is exact)."""
    cfg = LinkConfig()
    thr = olla.thresholds_for(cfg)
    # A flat SINR equal to the threshold of CQI c (+/- 0.01 dB) must select exactly CQI c (- 1).
    for ri in (1, 2):
        for c in (1, 5, 9, 12, 15):
            for eps, want in ((0.01, c), (-0.01, c - 1)):
                s = jnp.full((106, 2), 10 ** ((thr[ri - 1, c] + eps) / 10), jnp.float32)
                cqi, _ = select_cqi(s, jnp.int32(ri), cfg)
                assert int(cqi) == want, (ri, c, eps)


def test_table_cqi_matches_engine_select_cqi():
    """With offset 0 the table CQI equals the engine's own reference-resource CQI."""
    cfg = LinkConfig()
    thr = olla.thresholds_for(cfg)
    rng = np.random.default_rng(0)
    for _ in range(30):
        ri = int(rng.integers(1, 3))
        mean_db = rng.uniform(-8, 30)
        s = 10 ** ((mean_db + 4 * rng.standard_normal((106, 2))) / 10)
        cqi, per_mod = select_cqi(jnp.asarray(s, jnp.float32), jnp.int32(ri), cfg)
        assert int(olla.table_cqi(per_mod, ri, 0.0, thr)) == int(cqi)
        # a positive offset never lowers the CQI, a negative one never raises it
        assert int(olla.table_cqi(per_mod, ri, 2.0, thr)) >= int(cqi)
        assert int(olla.table_cqi(per_mod, ri, -2.0, thr)) <= int(cqi)


def test_olla_update_rule_and_clip():
    p = olla.OllaParams(delta_up_db=0.5, target=0.1, offset_min_db=-3.0, offset_max_db=1.0)
    s = olla.olla_update(olla.olla_init(), n_ack=9, n_nack=1, params=p)
    assert float(s.offset_db) == pytest.approx(0.0, abs=1e-6)  # BLER = T is the fixed point
    s = olla.olla_update(olla.olla_init(), n_ack=0, n_nack=2, params=p)
    assert float(s.offset_db) == pytest.approx(-1.0)
    s = olla.olla_update(olla.olla_init(), n_ack=18, n_nack=0, params=p)
    assert float(s.offset_db) == pytest.approx(1.0)  # 18 * 0.5/9 = 1.0
    s = olla.olla_update(olla.olla_init(), n_ack=0, n_nack=100, params=p)
    assert float(s.offset_db) == pytest.approx(-3.0)  # clipped


def test_olla_converges_to_target_bler_awgn():
    """Stationary AWGN at a fixed SNR: the BLER of OLLA's periods is 0.10 +- 3 sigma.

    sigma: the larger of the binomial sigma of the pooled NACK fraction and the spread of
    the per-UE BLERs over the independent UEs (periods of one UE are correlated through the
    offset, so UEs are the independent unit). Periods 0..4 (convergence from offset 0) are
    left out.
    """
    cfg = LinkConfig(channel=ChannelConfig(model="AWGN"))
    n_ue, n_t, skip = 16, 30, 5
    out = map_ues(scan.run_schemes, jax.random.key(7), n_ue, jnp.float32(12.0), jnp.float32(0.0),
                  jnp.float32(0.0), jnp.asarray(olla.thresholds_for(cfg)), None, None, scan.LaParams(),
                  static={"cfg": cfg, "n_periods": n_t, "schemes": ("olla",), "finetune": False,
                          "max_backoff": 1})
    nack = out["n_nack"][:, skip:, 0].astype(np.float64)
    tx = nack + out["n_ack"][:, skip:, 0]
    bler = nack.sum() / tx.sum()
    per_ue = nack.sum(1) / tx.sum(1)
    sigma = max(np.sqrt(0.1 * 0.9 / tx.sum()), np.std(per_ue, ddof=1) / np.sqrt(n_ue))
    assert abs(bler - 0.1) <= 3 * sigma, (bler, sigma)
    assert np.all(out["olla_offset_final"] < 10.0) and np.all(out["olla_offset_final"] > -20.0)
    # the CQI actually adapts (it is not pinned at a table edge)
    assert 1 <= np.mean(out["cqi"][:, skip:, 0]) <= 14

"""OLLA: the AWGN SINR->CQI table, the offset rule, and convergence to BLER 0.1."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.batching import map_ues
from ltjax.link import link_params_for_scenario
from ltjax.link.config import LinkConfig
from ltjax.link.engine import select_cqi
from ltjax.linkadapt import olla, scan


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


@pytest.mark.parametrize("feedback, n_ack, n_nack", [("first_tx", 120, 6), ("all_tx", 150, 10)])
def test_policy_update_jit_equals_no_jit(feedback, n_ack, n_nack):
    """One OLLA policy update, jitted and eagerly (``jax.disable_jit``); the offset moves with the
    feedback the policy counts: first transmissions (default) or all."""
    cfg = LinkConfig()
    pol = olla.OllaPolicy(thresholds=jnp.asarray(olla.thresholds_for(cfg)), params=olla.OllaParams(delta_up_db=0.3),
                          feedback=feedback)
    # the PeriodOutputs fields it reads: 150/10 over all transmissions, 120/6 over first ones
    out = SimpleNamespace(n_ack=jnp.int32(150), n_nack=jnp.int32(10), n_ack_first=jnp.int32(120),
                          n_nack_first=jnp.int32(6))

    def run(state):
        state, m = pol.update(None, state, out)
        return state, m

    s0 = pol.init(None)
    got = jax.jit(run)(s0)
    with jax.disable_jit():
        want = run(s0)
    jax.tree.map(np.testing.assert_array_equal, got, want)
    assert float(got[0].offset_db) == pytest.approx(-0.3 * n_nack + 0.3 / 9 * n_ack)


def test_olla_converges_to_target_bler_awgn():
    """Stationary AWGN at a fixed SNR: the pooled first-transmission BLER of OLLA's periods 5..119
    (periods 0..4 are the convergence from offset 0; OLLA counts first transmissions, the default)
    is 0.10 within a tolerance set by the sample size: 3 binomial sigma of the n first
    transmissions of 16 independent UEs (fixed seed), plus OLLA's own quantisation term.

    Why: in AWGN the channel is fixed, so given the CQI sequence the ACK/NACKs are independent
    Bernoulli draws with the TBLER p_t of each period's MCS; their NACK count has variance
    sum_t n_t p_t (1 - p_t) <= n T (1 - T) when the p_t average to T. OLLA's update rule gives
    BLER - T = -(1 - T) sum_u (offset_u(end) - offset_u(start)) / (Delta_up n) exactly (checked
    below). A converged offset stays in a band no wider than one period can move it, Delta_up S
    down or Delta_up S T / (1 - T) up (S = 160 slots, at most one new TB each), i.e.
    Delta_up S / (1 - T), so that term is at most U S / n: it falls like 1/n. When the CQI sits
    between an MCS that always succeeds and one that always fails (steep AWGN curves) the
    binomial part is small and this term is the whole deviation. 3 sigma: 0.27 % two-sided.
    """
    params = link_params_for_scenario("AWGN", 12.0, 0.0)
    pols = scan.make_policies(("olla",), thresholds=jnp.asarray(olla.thresholds_for(params.cfg)))
    n_ue, n_t, skip = 16, 120, 5
    out = map_ues(scan.run_schemes, jax.random.key(7), n_ue, params, pols, static={"n_periods": n_t})
    nack = out["n_nack_first"][:, skip:, 0].astype(np.float64)
    n_tx = out["n_new"][:, skip:, 0].astype(np.float64).sum()
    bler = nack.sum() / n_tx
    sigma = np.sqrt(0.1 * 0.9 / n_tx)
    quantisation = n_ue * params.cfg.slots_per_period / n_tx
    assert abs(bler - 0.1) <= 3 * sigma + quantisation, (bler, sigma, quantisation)
    # the OLLA identity over the window (no clipping: the offsets stay inside [-20, 10] dB)
    off = out["offset"][:, :, 0].astype(np.float64)  # [U, T] offset after each period
    assert np.all(off < 10.0) and np.all(off > -20.0)
    drift = np.sum(off[:, -1] - off[:, skip - 1])
    assert bler - 0.1 == pytest.approx(-0.9 * drift / (0.02 * n_tx), abs=1e-6)
    # the CQI actually adapts (it is not pinned at a table edge)
    assert 1 <= np.mean(out["cqi"][:, skip:, 0]) <= 14

"""The back-off bounds (``ltjax.linkadapt.genie``): counterfactual lanes with common random numbers.

In period 0 every scheme of a UE starts from the same link state, OLLA offset 0 and the same
report, so the genie's and the hindsight's table branch *is* OLLA's period 0: the bounds'
choices can be checked against OLLA's column exactly. A genie that never backs off must be
OLLA to the last bit (the extra lane does not perturb the scheme it shadows)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.batching import map_ues
from ltjax.link import link_params_for_scenario
from ltjax.linkadapt import olla, scan
from ltjax.linkadapt.genie import GeniePolicy, backoff_cqi_of
from ltjax.phy.tables import CQI_TO_MCS

TAU = 0.9


def test_backoff_cqi_of():
    got = [int(backoff_cqi_of(c)) for c in range(16)]
    assert got == [0, 1] + list(range(1, 15))  # CQI 0: nothing to back off; never below CQI 1
    assert [int(backoff_cqi_of(c, 3)) for c in (0, 1, 2, 5, 15)] == [0, 1, 1, 2, 12]


def test_bad_rule_is_refused():
    with pytest.raises(ValueError, match="rule must be one of"):
        GeniePolicy(thresholds=jnp.zeros((2, 16)), rule="oracle")


@pytest.fixture(scope="module")
def run():
    # TDL-C200 at 25 dB with the UE's AWGN-table CQI: the table is optimistic there, OLLA
    # starts at offset 0, so early periods fail often and the bounds have something to choose.
    params = link_params_for_scenario("TDL-C200", 25.0, 50.0)
    thr = jnp.asarray(olla.thresholds_for(params.cfg))
    policies = (olla.OllaPolicy(thresholds=thr),
                GeniePolicy(thresholds=thr, tau=2.0, rule="tau"),  # BLER never >= 2: never backs off
                GeniePolicy(thresholds=thr, tau=TAU, rule="tau"),
                GeniePolicy(thresholds=thr, rule="best"))
    return map_ues(scan.run_schemes, jax.random.key(11), 6, params, policies, static={"n_periods": 3})


def test_a_genie_that_never_backs_off_is_olla(run):
    assert not run["backed_off"][..., 1].any()
    for k in ("throughput_mbps", "n_ack", "n_nack", "cqi", "offset", "bler_first_tx"):
        np.testing.assert_array_equal(run[k][..., 1], run[k][..., 0], err_msg=k)


def test_period0_choices_follow_the_rules(run):
    thr0, cqi0 = run["throughput_mbps"][:, 0, :], run["cqi"][:, 0, :]
    genie, best = run["backed_off"][:, 0, 2], run["backed_off"][:, 0, 3]
    # the genie backs off exactly when OLLA's period 0 (its table branch) had BLER >= tau
    np.testing.assert_array_equal(genie, (run["bler_first_tx"][:, 0, 0] >= TAU) & (cqi0[:, 0] > 1))
    assert genie.any(), "the scenario should give at least one period-0 failure"
    np.testing.assert_array_equal(thr0[~genie, 2], thr0[~genie, 0])
    np.testing.assert_array_equal(cqi0[:, 2], np.where(genie, cqi0[:, 0] - 1, cqi0[:, 0]))
    # the hindsight keeps the better branch: never below OLLA's period 0, above it when it backed off
    assert np.all(thr0[:, 3] >= thr0[:, 0])
    assert np.all(thr0[best, 3] > thr0[best, 0]) and np.all(thr0[~best, 3] == thr0[~best, 0])
    # where both bounds backed off they kept the same counterfactual period
    both = genie & best
    np.testing.assert_array_equal(thr0[both, 2], thr0[both, 3])
    np.testing.assert_array_equal(run["mcs"][:, 0, 2][genie], np.asarray(CQI_TO_MCS)[cqi0[genie, 2]])

"""The LCM experiments: the cross-field check of T_LCM and the number of steps, the parameter order, the
paper's claims per draw of UEs, and the false-alarm / delay bookkeeping of realistic monitoring."""

import numpy as np

from ltjax.experiments.lcm_adaptation import LcmAdaptationParams, _check, claim_summary, claim_values
from ltjax.experiments.lcm_beyond import detection_stats


def test_lcm_sweep_check_rejects_bad_periods():
    ok = LcmAdaptationParams(t_lcm_s=1.0, n_steps=5000)
    assert _check(ok) is None
    assert _check(ok.replace(t_lcm_s=0.03))[0] == "t_lcm_s"   # not a multiple of 20 ms
    assert _check(ok.replace(t_lcm_s=0.1))[0] == "t_lcm_s"    # 5 steps cannot hold 5 messages + monitoring
    assert _check(ok.replace(t_lcm_s=0.3))[0] == "n_steps"    # 15 does not divide 5000
    assert _check(ok.replace(t_lcm_s=0.12, n_steps=12)) is None  # 6 steps: the shortest window that works


def test_parameters_keep_the_result_column_order():
    """The run's parameters come first, then the readings, then the models' (shared with ``beam_train``)."""
    from ltjax.experiments.beam_train import BeamTrainParams
    from ltjax.params import schema

    models = ["model_seed", "width", "epochs", "n_per_region", "n_eval", "cache_dir"]
    assert list(schema(BeamTrainParams)) == models
    assert list(schema(LcmAdaptationParams)) == [
        "n_ue", "n_steps", "t_lcm_s", "gamma_db", "gamma_sweep_db", "speed_kmh", "n_seeds", "ue_seed",
        "geometry", "measurement", "pool", "initial_model", "only_dataset", "trigger", *models]


def test_claims_are_evaluated_per_draw():
    rng = np.random.default_rng(0)
    n_ue, n_seeds = 10, 7
    acc1 = rng.uniform(0.2, 1.0, (3, n_ue * n_seeds))
    e_ue = rng.uniform(0.0, 8.0, (3, n_ue * n_seeds))
    v = claim_values(acc1, e_ue, [0, 1, 2], n_ue, n_seeds)
    for s in range(n_seeds):
        ues = slice(s * n_ue, (s + 1) * n_ue)
        p10 = [np.percentile(acc1[g, ues], 10) for g in range(3)]
        assert v["p10_proposed"][s] == p10[2]
        assert v["gap_only_dataset"][s] == p10[2] - p10[1] and v["gap_non_lcm"][s] == p10[2] - p10[0]
        assert v["e_non_lcm"][s] == e_ue[0, ues].mean()
    summ = claim_summary(v)
    assert summ["claim_e_non_lcm_prob"] == np.mean(v["e_non_lcm"] > 4.0)
    assert summ["claim_p10_proposed_median"] == np.median(v["p10_proposed"])
    assert summ["claim_gap_non_lcm_q05"] <= summ["claim_gap_non_lcm_median"] <= summ["claim_gap_non_lcm_q95"]


def test_detection_stats_count_false_alarms_delays_and_misses():
    # UE 0: degraded from window 2, triggered at window 4 (delay 2); UE 1: a trigger in a healthy tested
    # window (false alarm); UE 2: degraded at windows 1-2, then healthy again without a trigger (a miss).
    tested = np.ones((3, 6), bool)
    genie = np.zeros((3, 6), bool)
    trigger = np.zeros((3, 6), bool)
    genie[0, 2:5] = True
    trigger[0, 4] = True
    trigger[1, 3] = True
    genie[2, 1:3] = True
    fa, n_ok, delays, missed = detection_stats(trigger, tested, genie)
    assert (fa, delays, missed) == (1, [2], 1)
    assert n_ok == int((~genie).sum())

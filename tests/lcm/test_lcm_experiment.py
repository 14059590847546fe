"""The ``lcm_adaptation`` experiment: the cross-field check of T_LCM and the number of steps, the parameter order."""

from ltjax.experiments.lcm_adaptation import LcmAdaptationParams, _check


def test_lcm_sweep_check_rejects_bad_periods():
    ok = LcmAdaptationParams(t_lcm_s=1.0, n_steps=5000)
    assert _check(ok) is None
    assert _check(ok.replace(t_lcm_s=0.03))[0] == "t_lcm_s"   # not a multiple of 20 ms
    assert _check(ok.replace(t_lcm_s=0.1))[0] == "t_lcm_s"    # 5 steps cannot hold 5 messages + monitoring
    assert _check(ok.replace(t_lcm_s=0.3))[0] == "n_steps"    # 15 does not divide 5000
    assert _check(ok.replace(t_lcm_s=0.12, n_steps=12)) is None  # 6 steps: the shortest window that works


def test_parameters_keep_the_result_column_order():
    """The run's parameters come before the models' (shared with ``beam_train``), as in committed results."""
    from ltjax.experiments.beam_train import BeamTrainParams
    from ltjax.params import schema

    models = ["model_seed", "width", "epochs", "n_per_region", "n_eval", "cache_dir"]
    assert list(schema(BeamTrainParams)) == models
    assert list(schema(LcmAdaptationParams)) == ["n_ue", "n_steps", "t_lcm_s", "gamma_db", "gamma_sweep_db",
                                                 "speed_kmh", *models]

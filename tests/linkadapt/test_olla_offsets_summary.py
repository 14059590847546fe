"""``olla_offsets``: the summary statistics of a point (numpy only, no link run) and the check of a
point's parameters."""

import numpy as np
import pytest

from ltjax.experiments.olla_offsets import OllaOffsetsParams, RI_SNR_DB, _check, doppler_of, summarize
from ltjax.params import build


def _outputs(u=4, t=6):
    rng = np.random.default_rng(0)
    off = np.cumsum(-0.1 * np.ones((u, t)), axis=1) + rng.normal(0, 0.01, (u, t))
    bler = np.zeros((u, t))
    bler[0, 0] = 0.95  # one period of UE 0 at >= 0.9
    bler[1, 4] = 0.9
    n_new = np.full((u, t), 100)
    return {"offset": off.astype(np.float32), "bler_first": bler.astype(np.float32), "n_new": n_new,
            "n_nack_first": (bler * n_new).astype(np.int32), "thr": np.ones((u, t), np.float32),
            "cqi": np.full((u, t), 7), "ri": np.ones((u, t), np.int32),
            "ri_init": np.tile([1, 1, 2], (u, 1)), "ri_init_capacity": np.tile([2, 2, 2], (u, 1))}


def test_summary_offsets_cis_and_tail_probability():
    o = _outputs()
    res = summarize(o, warmup=2)
    per_ue = o["offset"][:, 2:].astype(np.float64).mean(axis=1)
    assert res["offset_db"] == pytest.approx(per_ue.mean())
    assert res["offset_ci_db"] == pytest.approx(1.959964 * per_ue.std(ddof=1) / 2.0)  # sqrt(4 UEs)
    assert res["p_bler_ge_09"] == pytest.approx(2 / 24)  # every period counts, from offset 0
    assert res["p_bler_ge_09_conv"] == pytest.approx(1 / 16)  # the period of UE 1 after the warm-up
    assert res["bler_first_tx"] == pytest.approx(90 / 1600)
    assert [res[f"ri1_frac_{s:g}db"] for s in RI_SNR_DB] == [1.0, 1.0, 0.0]
    assert [res[f"ri1_frac_{s:g}db_capacity"] for s in RI_SNR_DB] == [0.0, 0.0, 0.0]
    assert res["offset_t"].shape == (6,)


def test_profile_doppler_pairs_and_checks():
    p = build(OllaOffsetsParams, {"channel": "TDL-B50", "doppler_hz": -1.0})
    assert doppler_of(p) == 30.0
    assert _check(p) is None
    bad = build(OllaOffsetsParams, {"channel": "TDL-C300", "doppler_hz": -1.0})
    assert _check(bad)[0] == "doppler_hz"
    assert _check(build(OllaOffsetsParams, {"n_periods": 10, "warmup_periods": 10}))[0] == "warmup_periods"

"""``olla_offsets``: the offset OLLA converges to, i.e. the mismatch of the UE's CQI table, measured.

Per grid point (UE CQI table kind ``cqi_table``, channel, Doppler, SNR) ``n_ue`` UEs run
``n_periods`` CSI-RS periods of the link engine under table-based OLLA
(``ltjax.linkadapt.olla``): the CQI of a period is the AWGN-table CQI of the last report's
effective SINR plus the offset, and the offset moves with the HARQ feedback (first
transmissions by default, ``olla_feedback``). With ``olla_location = "gnb"`` the UE reports the
plain table CQI and the gNB-side loop of the engine moves the MCS per HARQ feedback instead
(``LinkConfig.gnb_olla``, 0.5 dB per NACK). In a stationary channel the offset settles where
the first-transmission BLER is the target: for a table that knew the link exactly it would
settle at 0 dB, so the converged offset is the table's error, in dB of SINR.

Metrics (UE-level statistics: each UE is independent, so CIs are over UEs):
  doppler_hz_used: the point's maximum Doppler (``doppler_hz``, or with -1 the profile's pair in
    the LightTune scenarios: TDL-A30 10 Hz, TDL-B50 30 Hz, TDL-C200 50 Hz);
  offset_db: mean over UEs of the UE's mean offset over periods >= ``warmup_periods``;
    offset_ci_db: its 95 % CI half-width (1.96 sd / sqrt(U) of the per-UE means);
  bler_first_tx: first-transmission BLER pooled over the converged window (the loop's target);
  p_bler_ge_09: fraction of UE-periods whose first-transmission period BLER is >= 0.9 (all
    periods, from offset 0: the event CQI-Tune's tau = 0.9 acts on), p_bler_ge_09_ci its 95 %
    CI over UEs; p_bler_ge_09_conv the same in the converged window;
  throughput_mbps, cqi_mean (applied CQI), ri2_frac (reports with rank 2 during the run);
  ri1_frac_<s>db / ri1_frac_<s>db_capacity: fraction of UEs reporting rank 1 at SNR s of
    ``ri_snr_db`` (0, 10, 20 dB) with the point's RI rule and with the capacity rule, from
    one report per UE (same channels and measurement noise for both rules).
Series: offset_t [T] (mean over UEs after each period), bler_first_t [T].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import scenario, validate_channel_config
from ltjax.link import GnbOllaParams, LinkParams, PeriodInputs, init_link, link_params_for_scenario
from ltjax.link import link_period
from ltjax.link.options import LinkOptionsParams, check_link_options, config_from_options
from ltjax.linkadapt.olla import OllaParams, olla_init, olla_update, table_cqi, thresholds_for
from ltjax.params import field
from ltjax.phy.tables import CQI_TO_MCS
from ltjax.plotting.olla_offsets import plot_offsets, plot_offsets_over_time
from ltjax.sweep.registry import register_experiment

Z95 = 1.959964
RI_SNR_DB = (0.0, 10.0, 20.0)
# The Doppler each profile is paired with in the LightTune scenarios (Table III, Figs. 4-5):
# doppler_hz = -1 runs a channel at its pair, so a sweep over channels keeps the pairs.
PROFILE_DOPPLER_HZ = {"TDL-A30": 10.0, "TDL-B50": 30.0, "TDL-C200": 50.0}


def doppler_of(p) -> float:
    """The maximum Doppler [Hz] of a point: ``doppler_hz``, or the profile's pair when it is -1."""
    if float(p.doppler_hz) >= 0.0:
        return float(p.doppler_hz)
    return PROFILE_DOPPLER_HZ[scenario(p.channel).name]


def _ue_kernel(ue_key, params: LinkParams, params_capacity: LinkParams, olla: OllaParams, thresholds, ri_snr_db,
               *, n_periods: int, location: str, feedback: str):
    """One UE: init, ``n_periods`` periods under OLLA (UE- or gNB-side); RI of one report at each SNR."""
    k_init, k_run, k_ri = jax.random.split(ue_key, 3)

    def body(carry, t):
        link, olla_state = carry
        if location == "ue":
            cqi = table_cqi(link.report.sinr_eff_db, link.report.ri, olla_state.offset_db, thresholds)
        else:  # the UE reports the plain table CQI; the gNB loop moves the MCS per HARQ feedback
            cqi = link.report.cqi
        link, out = link_period(jax.random.fold_in(k_run, t), link,
                                PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[cqi], cqi=cqi), params)
        if location == "ue":
            n_ack, n_nack = (out.n_ack_first, out.n_nack_first) if feedback == "first_tx" else (out.n_ack, out.n_nack)
            olla_state = olla_update(olla_state, n_ack, n_nack, olla)
            offset = olla_state.offset_db
        else:
            offset = out.gnb_offset_db
        rec = dict(offset=offset, bler_first=out.bler_first_tx, n_new=out.n_new, n_nack_first=out.n_nack_first,
                   thr=out.throughput_mbps, cqi=cqi, ri=out.report.ri)
        return (link, olla_state), rec

    _, rec = jax.lax.scan(body, (init_link(k_init, params), olla_init()), jnp.arange(n_periods))
    snr = jnp.asarray(ri_snr_db, jnp.float32)
    rec["ri_init"] = jax.vmap(lambda s: init_link(k_ri, params.replace(snr_db=s)).report.ri)(snr)
    rec["ri_init_capacity"] = jax.vmap(lambda s: init_link(k_ri, params_capacity.replace(snr_db=s)).report.ri)(snr)
    return rec


def _params(p):
    """(LinkParams of the point, the same with RI by capacity, OLLA params, thresholds [2, 16])."""
    sc = scenario(p.channel)
    fd = doppler_of(p)
    base, dyn = config_from_options(p, sc, fd)
    base = dataclasses.replace(base, gnb_olla=p.olla_location == "gnb", olla_feedback=p.olla_feedback)
    gnb = GnbOllaParams(delta_up_db=p.gnb_delta_up_db)
    params = link_params_for_scenario(sc, p.snr_db, fd, base, dynamics=dyn, gnb_olla=gnb)
    params_cap = link_params_for_scenario(sc, p.snr_db, fd, dataclasses.replace(base, ri_rule="capacity"),
                                          dynamics=dyn, gnb_olla=gnb)
    return params, params_cap, OllaParams(delta_up_db=p.delta_up_db), jnp.asarray(thresholds_for(params.cfg))


def run_point(key, p) -> dict[str, np.ndarray]:
    """Per-UE outputs of one grid point (numpy): [U, T] per period, ri_init* [U, len(RI_SNR_DB)]."""
    params, params_cap, olla, thr = _params(p)
    return map_ues(_ue_kernel, key, p.n_ue, params, params_cap, olla, thr, jnp.asarray(RI_SNR_DB, jnp.float32),
                   static={"n_periods": int(p.n_periods), "location": p.olla_location, "feedback": p.olla_feedback})


def _mean_ci(per_ue: np.ndarray) -> tuple[float, float]:
    n = per_ue.shape[0]
    return float(np.mean(per_ue)), float(Z95 * np.std(per_ue, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def summarize(o: dict, warmup: int) -> dict:
    """Scalar metrics and series of a point (see the module docstring)."""
    off = o["offset"].astype(np.float64)  # [U, T]
    hi = (o["bler_first"] >= 0.9).astype(np.float64)
    res = {}
    res["offset_db"], res["offset_ci_db"] = _mean_ci(off[:, warmup:].mean(axis=1))
    nn, nw = o["n_nack_first"][:, warmup:].astype(np.float64), o["n_new"][:, warmup:].astype(np.float64)
    res["bler_first_tx"] = float(nn.sum() / max(nw.sum(), 1.0))
    res["p_bler_ge_09"], res["p_bler_ge_09_ci"] = _mean_ci(hi.mean(axis=1))
    res["p_bler_ge_09_conv"] = float(hi[:, warmup:].mean())
    res["throughput_mbps"] = float(np.mean(o["thr"]))
    res["cqi_mean"] = float(np.mean(o["cqi"]))
    res["ri2_frac"] = float(np.mean(o["ri"] == 2))
    for j, s in enumerate(RI_SNR_DB):
        res[f"ri1_frac_{s:g}db"] = float(np.mean(o["ri_init"][:, j] == 1))
        res[f"ri1_frac_{s:g}db_capacity"] = float(np.mean(o["ri_init_capacity"][:, j] == 1))
    res["offset_t"] = off.mean(axis=0).astype(np.float32)
    res["bler_first_t"] = o["bler_first"].mean(axis=0).astype(np.float32)
    return res


def _check(p):
    if p.n_ue < 2:
        return "n_ue", "must be >= 2 (confidence intervals over UEs)"
    if p.warmup_periods >= p.n_periods:
        return "warmup_periods", f"must be below n_periods = {p.n_periods}, got {p.warmup_periods}"
    try:
        sc = scenario(p.channel)
    except ValueError as e:
        return "channel", str(e)
    if p.doppler_hz < 0 and sc.name not in PROFILE_DOPPLER_HZ:
        return "doppler_hz", (f"-1 (the profile's Doppler) needs one of {', '.join(PROFILE_DOPPLER_HZ)}, "
                              f"got channel {p.channel!r}")
    bad = validate_channel_config(model=sc.model, delay_spread_s=sc.delay_spread_s, doppler_hz=doppler_of(p),
                                  n_rb=106, names={"delay_spread_s": "channel"})
    return bad or check_link_options(p, sc.model)


@struct.dataclass
class OllaOffsetsParams(LinkOptionsParams):
    """Parameters of the experiment (units in each field's schema); the physics options (the UE's
    ``cqi_table`` above all) and the dynamics come from ``LinkOptionsParams``."""

    channel: str = field("TDL-C200", 'channel scenario (ltjax.channels.scenario)')
    doppler_hz: float = field(50.0, "maximum Doppler; -1 = the profile's pair in the LightTune scenarios "
                                    "(TDL-A30 10 Hz, TDL-B50 30 Hz, TDL-C200 50 Hz)", unit='Hz', lo=-1.0, hi=200.0)
    snr_db: float = field(15.0, 'average SNR per receive antenna and RE', unit='dB', lo=-20.0, hi=50.0)
    n_ue: int = field(32, 'UEs per grid point', lo=2, hi=10**7)
    n_periods: int = field(40, 'CSI-RS periods (80 ms) per UE', lo=2, hi=100_000)
    warmup_periods: int = field(15, 'periods before the offset counts as converged', lo=0, hi=100_000)
    olla_location: str = field("ue", 'where OLLA runs: UE-side per period, or gNB-side per HARQ feedback',
                               choices=("ue", "gnb"))
    olla_feedback: str = field("first_tx", 'HARQ feedback OLLA counts', choices=("first_tx", "all_tx"))
    delta_up_db: float = field(0.02, 'UE-side OLLA step per NACK (period counts applied at once)', unit='dB',
                               lo=0.0, hi=10.0, lo_open=True)
    gnb_delta_up_db: float = field(0.5, 'gNB-side OLLA step per NACK', unit='dB', lo=0.0, hi=10.0, lo_open=True)


@register_experiment(
    name="olla_offsets",
    description="Converged OLLA offset (the CQI table's mismatch), P(first-tx period BLER >= 0.9), RI distribution",
    params=OllaOffsetsParams,
    plots=(plot_offsets, plot_offsets_over_time),
    check=_check,
)
def olla_offsets(key, p: OllaOffsetsParams):
    return {"doppler_hz_used": doppler_of(p), **summarize(run_point(key, p), int(p.warmup_periods))}

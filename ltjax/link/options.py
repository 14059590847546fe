"""The link-physics options and non-stationary scenarios as typed experiment parameters.

Experiments that run the link engine (``link_bler_curves``, ``cqi_throughput``,
``lighttune_bler_error``, ``olla_offsets``) inherit :class:`LinkOptionsParams`, so every
option of ``LinkConfig`` (BLER definition, UE CQI table, DMRS frequency error, RI rule, CSI
delay, period-0 PDSCH SNR, code-block error model) and every dynamics number is a sweep key, and a sweep axis,
with the engine's default and its schema. :func:`apply_link_options` turns them into the
``LinkConfig`` fields and the traced ``DynamicsParams``; :func:`check_link_options` gives the
one-line problem of a bad combination for an experiment's ``check``. To reproduce results
made before the options existed, set the ``LEGACY_PHYSICS`` values (e.g. ``bler_mode =
"all_tx"``, ``cqi_table = "exact"``, ``chest_freq = "none"``, ``ri_rule = "capacity"``,
``csi_delay_slots = 0``, ``pdsch_snr_init = "csi_snr"``, ``bler_model = "margin"``); results made
with the hand-chosen margin before the LDPC calibration need ``bler_model = "margin"`` only.
"""

from __future__ import annotations

import dataclasses

from flax import struct

from ltjax.channels import ChannelParams, Scenario, max_delay_spread_s, max_doppler_hz, scenario
from ltjax.link.config import BLER_MODES, CQI_TABLES, PDSCH_SNR_INITS, RI_RULES, LinkConfig
from ltjax.link.dynamics import DYNAMICS, DynamicsParams
from ltjax.params import field
from ltjax.phy.bler import BLER_MODELS
from ltjax.phy.chest import CHEST_FREQ

_D = LinkConfig()


@struct.dataclass
class LinkPhysicsParams:
    """The link-physics options of ``LinkConfig`` (docs/link_engine.md), for a stationary link."""

    bler_mode: str = field(_D.bler_mode, 'period BLER (eq. 11) over first transmissions or all (retransmissions '
                                         'included)', choices=BLER_MODES)
    cqi_table: str = field(_D.cqi_table, "UE's SINR -> CQI mapping: MMIB or wideband SNR through the AWGN 10 % "
                                         'table, or the exact receiver model', choices=CQI_TABLES)
    chest_freq: str = field(_D.chest_freq, 'DMRS frequency-interpolation error: RB average, Wiener (3 RBs), none',
                            choices=CHEST_FREQ)
    ri_rule: str = field(_D.ri_rule, 'RI by the CQI-implied rate (as a UE) or by Gaussian capacity',
                         choices=RI_RULES)
    csi_delay_slots: int = field(_D.csi_delay_slots, 'slots between the CSI measurement and the period it is used '
                                                     'in (TS 38.214 5.2.2.5)', lo=0, hi=10_000)
    pdsch_snr_init: str = field(_D.pdsch_snr_init, 'period-0 PDSCH-SNR features: the PDSCH SINR the first report '
                                                   'predicts, or the CSI-RS SNR', choices=PDSCH_SNR_INITS)
    bler_model: str = field(_D.bler_model, 'code-block error model: calibrated on the NR LDPC reference decoder, or '
                                           'the hand-chosen margin 1.5 + 3.5 (1 - R) dB of earlier results',
                            choices=BLER_MODELS)


PHYSICS_KEYS = ("bler_mode", "cqi_table", "chest_freq", "ri_rule", "csi_delay_slots", "pdsch_snr_init", "bler_model")


def physics_options(p) -> dict:
    """The physics options of ``p`` (a :class:`LinkPhysicsParams` subclass) as LinkConfig field values."""
    return {k: (int(getattr(p, k)) if k == "csi_delay_slots" else getattr(p, k)) for k in PHYSICS_KEYS}


@struct.dataclass
class LinkOptionsParams(LinkPhysicsParams):
    """The link-physics options and the non-stationary scenario (docs/link_engine.md)."""

    dynamics: str = field("stationary", 'non-stationary scenario (ltjax.link.dynamics)', choices=DYNAMICS)
    snr_step_db: float = field(6.0, 'snr_steps: SNR step of the square wave', unit='dB', lo=-40.0, hi=40.0)
    step_periods: int = field(10, 'snr_steps: periods per half-wave', lo=1, hi=1_000_000)
    shadow_sigma_db: float = field(6.0, 'shadowing: log-normal standard deviation', unit='dB', lo=0.0, hi=20.0)
    shadow_corr_periods: float = field(10.0, 'shadowing: correlation time (AR(1), Gudmundson)', unit='periods',
                                       lo=0.01, hi=1e6)
    switch_period: int = field(10, 'profile_switch: first period on the new channel', lo=0, hi=10_000_000)
    switch_channel: str = field("", 'profile_switch: TDL scenario after the switch, e.g. TDL-C200 ("" = the same '
                                    'profile: a Doppler switch)')
    switch_doppler_hz: float = field(-1.0, 'profile_switch: maximum Doppler after the switch (-1 = unchanged)',
                                     unit='Hz', lo=-1.0, hi=200.0)


def _switch_scenario(p, model: str, delay_spread_s: float):
    """(model, delay spread [s]) after the switch: the named scenario, or the same one."""
    if not str(p.switch_channel).strip():
        return model, delay_spread_s
    sc = scenario(p.switch_channel)
    if sc.model == "AWGN":
        raise ValueError(f"switch_channel must be a TDL scenario (e.g. TDL-C200), got {p.switch_channel!r}")
    return sc.model, sc.delay_spread_s


def apply_link_options(cfg: LinkConfig, p, delay_spread_s: float, doppler_hz: float):
    """(LinkConfig with the options of ``p``, DynamicsParams of ``p``) for a link whose channel is ``cfg.channel``.

    Args:
      cfg: the experiment's LinkConfig (channel model already set).
      p: the experiment's params (a :class:`LinkOptionsParams` subclass).
      delay_spread_s, doppler_hz: the channel before a switch (a switch without a new
        scenario or Doppler keeps them).
    """
    switch_model, switch_ds = None, 0.0
    if p.dynamics == "profile_switch":
        switch_model, switch_ds = _switch_scenario(p, cfg.channel.model, float(delay_spread_s))
    cfg = dataclasses.replace(cfg, bler_mode=p.bler_mode, cqi_table=p.cqi_table, chest_freq=p.chest_freq,
                              ri_rule=p.ri_rule, csi_delay_slots=int(p.csi_delay_slots),
                              pdsch_snr_init=p.pdsch_snr_init, bler_model=p.bler_model, dynamics=p.dynamics, switch_model=switch_model)
    fd_after = float(doppler_hz) if float(p.switch_doppler_hz) < 0 else float(p.switch_doppler_hz)
    dyn = DynamicsParams(snr_step_db=float(p.snr_step_db), step_periods=float(p.step_periods),
                         shadow_sigma_db=float(p.shadow_sigma_db), shadow_corr_periods=float(p.shadow_corr_periods),
                         switch_period=int(p.switch_period),
                         switch_channel=ChannelParams(delay_spread_s=float(switch_ds), doppler_hz=fd_after))
    return cfg, dyn


def config_from_options(p, scen: Scenario | str, doppler_hz: float,
                        base: LinkConfig = LinkConfig()) -> tuple[LinkConfig, DynamicsParams]:
    """(LinkConfig, DynamicsParams) of an experiment's options ``p`` on the scenario ``scen``.

    ``base`` gives everything the options do not set (antennas, RBs, HARQ, ...); its channel
    model becomes the scenario's.
    """
    scen = scenario(scen) if isinstance(scen, str) else scen
    base = dataclasses.replace(base, channel=dataclasses.replace(base.channel, model=scen.model))
    return apply_link_options(base, p, scen.delay_spread_s, doppler_hz)


def check_link_options(p, channel_model: str):
    """``(key, problem)`` of a bad option combination for an experiment's ``check``, else None."""
    if p.dynamics != "profile_switch":
        return None
    if channel_model == "AWGN":
        return "dynamics", "profile_switch needs a TDL channel before the switch, got AWGN"
    try:
        _, ds = _switch_scenario(p, channel_model, 0.0)
    except ValueError as err:
        return "switch_channel", str(err)
    if ds > max_delay_spread_s():
        return "switch_channel", (f"the RMS delay spread must be at most {max_delay_spread_s() * 1e9:.0f} ns, got "
                                  f"{ds * 1e9:g} ns")
    if float(p.switch_doppler_hz) > max_doppler_hz():
        return "switch_doppler_hz", f"must be at most {max_doppler_hz():g} Hz, got {p.switch_doppler_hz!r}"
    return None


__all__ = ["LinkOptionsParams", "LinkPhysicsParams", "PHYSICS_KEYS", "apply_link_options", "check_link_options",
           "config_from_options", "physics_options"]

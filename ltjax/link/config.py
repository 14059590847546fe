"""Static configuration, traced parameters and state/IO dataclasses of the link engine.

Three kinds of data: ``LinkConfig`` is static (shapes, distributions, switches; hashable),
``LinkParams`` is traced (what a sweep varies: SNR, delay spread, Doppler) and carries the
config as a static field, and ``LinkState`` / ``PeriodInputs`` / ``SlotOutputs`` /
``PeriodOutputs`` / ``CsiOut`` are what the kernels of ``ltjax.link.engine`` take and return.
Parameters are built once on the host (``make_link_params``, ``link_params_for_scenario``)
and passed to the kernels as a pytree.

Letters: U UEs, S slots per CSI-RS period (160), R resource blocks (106), Nr UE antennas (2),
Nt gNB ports (4), r rank (<= 2), P HARQ processes (8), F features (12).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import (
    ChannelConfig, ChannelParams, ChannelState, Scenario, check_channel_model, check_channel_params, scenario,
)
from ltjax.link.dynamics import DYNAMICS, DynamicsParams, check_dynamics
from ltjax.numerics import db_to_lin
from ltjax.phy.bler import BLER_MODELS, DEFAULT_BLER_MODEL
from ltjax.phy.chest import CHEST_FREQ
from ltjax.phy.harq import HarqState

N_FEATURES = 12
FEATURE_NAMES = (
    "csi_snr_db", "csi_capacity", "delay_spread_ns", "doppler_hz", "pdsch_snr_db",
    "pdsch_snr_db_m1", "pdsch_snr_db_m2", "pdsch_snr_db_m3", "ri", "cqi", "n_rb", "n_dmrs",
)
SNR_DB_RANGE = (-20.0, 50.0)

# The link-physics options (docs/link_engine.md, "Physics options"): name -> allowed values.
# The first value of each is the default; LEGACY_PHYSICS restores the engine before they existed.
BLER_MODES = ("first_tx", "all_tx")
CQI_TABLES = ("awgn_mmib", "awgn_snr", "exact")
RI_RULES = ("cqi_rate", "capacity")
PDSCH_SNR_INITS = ("predicted", "csi_snr")
OLLA_FEEDBACK = ("first_tx", "all_tx")
LEGACY_PHYSICS = {"bler_mode": "all_tx", "cqi_table": "exact", "chest_freq": "none", "ri_rule": "capacity",
                  "csi_delay_slots": 0, "pdsch_snr_init": "csi_snr", "bler_model": "margin"}


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    """Static link configuration (shapes, distributions, switches); hashable.

    Attributes:
      channel: ltjax.channels.ChannelConfig (model, antennas, R, SCS, correlation).
      slots_per_period: S, slots per CSI-RS period (160 = 80 ms at 30 kHz).
      n_harq: P, HARQ processes (= HARQ RTT in slots).
      max_tx: maximum transmissions per TB (initial + retransmissions).
      n_symb_sh: PDSCH symbols per slot (13: symbols 1..13).
      rb_choices / rb_probs: distribution of the number of allocated RBs per period
        (probabilities None = uniform).
      dmrs_choices / dmrs_probs: distribution of DMRS symbols per slot (1..4) per period.
      esm: effective-SINR method, "miesm" or "eesm".
      max_rank: largest reported rank (1 or 2).
      cqi_ref_dmrs: DMRS symbols of the CSI reference resource (TS 38.214 5.2.2.5) that the
        CQI is computed for (the reference resource spans all R RBs).
      doppler_lag_s: CSI-RS occasion spacing used by the Doppler estimator [s].
      bler_target: CQI target (0.1, TS 38.214 5.2.2.1).

    Physics options (each documented with its reason in docs/link_engine.md and
    docs/phy_abstraction.md; ``LEGACY_PHYSICS`` / :func:`legacy_physics` give the engine
    before them, so earlier results can be reproduced):
      bler_mode: the period BLER (eq. 11, ``PeriodOutputs.bler``) over "first_tx"
        transmissions (TS 38.214 5.2.2.1 defines the CQI by the error probability of one
        transmission of a TB) or "all_tx" (retransmissions included).
      cqi_table: how the UE maps its measurement to a CQI: "awgn_mmib" (the MMIB/MIESM
        effective SINR of its measured per-RB SINRs through the AWGN 10 % table, the
        estimation loss of a flat static channel included), "awgn_snr" (the measured
        wideband CSI-RS SNR through the same table), "exact" (the receiver's own SINR,
        estimation error at the estimated Doppler included: the table is the truth model).
      chest_freq: DMRS frequency-interpolation error, "rb_average" (the RB's 6 pilots
        averaged and held flat), "wiener" (LMMSE interpolation over 3 RBs) or "none"
        (``ltjax.phy.chest``).
      ri_rule: "cqi_rate" (the rank with the largest CQI-implied rate, CQI spectral
        efficiency x layers, ties to the lower rank, as a UE reports) or "capacity"
        (Gaussian capacity). The PMI of each rank is the capacity-best one.
      csi_delay_slots: the CSI report is measured this many slots before the period it is
        used in starts (TS 38.214 5.2.2.5 reference resource, plus processing and
        scheduling); 0 = measured at the instant it is applied. The fast fading is evaluated at
        the measurement time; the average SNR and profile are those of the period the
        measurement is made for.
      pdsch_snr_init: period-0 PDSCH-SNR features: "predicted" (the mean PDSCH SINR the
        first CSI report predicts for its precoder, the features' own scale) or "csi_snr"
        (the CSI-RS SNR).
      bler_model: the code-block error model of the abstraction (``ltjax.phy.bler``): "ldpc"
        (calibrated on ltjax's NR LDPC link-level reference in AWGN; receiver losses come from
        ``chest_freq`` and the DMRS error terms) or "margin" (the hand-chosen margin
        1.5 + 3.5 (1 - R) dB, kept to reproduce results made before the calibration). The UE's
        AWGN CQI table and the gNB's tables are computed with the same model.
      dynamics: non-stationary scenario, one of ``ltjax.link.dynamics.DYNAMICS``; its numbers
        are ``LinkParams.dynamics``.
      switch_model: TDL letter after a "profile_switch" (None: the same letter).
      gnb_olla: compile the gNB-side outer loop that moves the MCS of every new TB with the
        HARQ feedback within the period (``LinkParams.gnb_olla``); False = the MCS of
        ``PeriodInputs`` for the whole period.
      olla_feedback: which HARQ feedback the gNB loop counts: "first_tx" or "all_tx".
      user_channel: None (the built-in TR 38.901 TDL channel of ``channel.model``) or a user
        channel implementing ``ltjax.channels.ChannelModel`` (``init`` / ``freq_response``,
        hashable), used wherever the engine evaluates the UE's channel; needs
        ``chest_freq = "none"`` (no delay profile for the interpolation term).
    """

    channel: ChannelConfig = ChannelConfig()
    slots_per_period: int = 160
    n_harq: int = 8
    max_tx: int = 4
    n_symb_sh: int = 13
    rb_choices: tuple[int, ...] = (26, 52, 79, 106)
    rb_probs: tuple[float, ...] | None = None
    dmrs_choices: tuple[int, ...] = (1, 2, 3, 4)
    dmrs_probs: tuple[float, ...] | None = None
    esm: str = "miesm"
    max_rank: int = 2
    cqi_ref_dmrs: int = 2
    doppler_lag_s: float = 5e-3
    bler_target: float = 0.1
    bler_mode: str = "first_tx"
    cqi_table: str = "awgn_mmib"
    chest_freq: str = "rb_average"
    ri_rule: str = "cqi_rate"
    csi_delay_slots: int = 8
    pdsch_snr_init: str = "predicted"
    bler_model: str = DEFAULT_BLER_MODEL
    dynamics: str = "stationary"
    switch_model: str | None = None
    gnb_olla: bool = False
    olla_feedback: str = "first_tx"
    user_channel: Any = None

    def __post_init__(self):
        def bad(field, problem):
            raise ValueError(f"LinkConfig.{field}: {problem}")

        r = self.channel.n_rb
        for name, lo in (("slots_per_period", 1), ("n_harq", 1), ("max_tx", 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < lo:
                bad(name, f"must be an int >= {lo}, got {v!r}")
        if not 4 <= self.n_symb_sh <= 14:
            bad("n_symb_sh", f"must be in [4, 14], got {self.n_symb_sh!r}")
        rb = tuple(self.rb_choices)
        if not rb or any((not isinstance(x, (int, np.integer))) or not 1 <= x <= r for x in rb):
            bad("rb_choices", f"every RB count must be an int in [1, {r}] (0 RBs is not a"
                f" transmission), got {rb!r}")
        dm = tuple(self.dmrs_choices)
        if not dm or any(x not in (1, 2, 3, 4) for x in dm):
            bad("dmrs_choices", f"DMRS symbols per slot must be in 1..4, got {dm!r}")
        for name, choices in (("rb_probs", rb), ("dmrs_probs", dm)):
            p = getattr(self, name)
            if p is not None:
                if len(p) != len(choices) or any(not (x >= 0) for x in p) or not math.isclose(sum(p), 1.0, abs_tol=1e-6):
                    bad(name, f"must be {len(choices)} non-negative numbers summing to 1, got {p!r}")
        if self.esm not in ("miesm", "eesm"):
            bad("esm", f"must be 'miesm' or 'eesm', got {self.esm!r}")
        if self.max_rank not in (1, 2):
            bad("max_rank", f"must be 1 or 2, got {self.max_rank!r}")
        if self.cqi_ref_dmrs not in (1, 2, 3, 4):
            bad("cqi_ref_dmrs", f"must be in 1..4, got {self.cqi_ref_dmrs!r}")
        if not self.doppler_lag_s > 0:
            bad("doppler_lag_s", f"must be > 0, got {self.doppler_lag_s!r}")
        if not 0.0 < self.bler_target < 1.0:
            bad("bler_target", f"must be in (0, 1), got {self.bler_target!r}")
        for name, allowed in (("bler_mode", BLER_MODES), ("cqi_table", CQI_TABLES), ("chest_freq", CHEST_FREQ),
                              ("ri_rule", RI_RULES), ("pdsch_snr_init", PDSCH_SNR_INITS), ("dynamics", DYNAMICS),
                              ("olla_feedback", OLLA_FEEDBACK), ("bler_model", BLER_MODELS)):
            if getattr(self, name) not in allowed:
                bad(name, f"must be one of {allowed}, got {getattr(self, name)!r}")
        if (not isinstance(self.csi_delay_slots, (int, np.integer)) or isinstance(self.csi_delay_slots, bool)
                or not 0 <= self.csi_delay_slots <= 10_000):
            bad("csi_delay_slots", f"must be an int in [0, 10000], got {self.csi_delay_slots!r}")
        if self.switch_model is not None and self.switch_model not in ("A", "B", "C"):
            bad("switch_model", f"must be None or one of 'A', 'B', 'C', got {self.switch_model!r}")
        if self.switch_model is not None and self.channel.model == "AWGN":
            bad("switch_model", "a profile switch needs a TDL channel before it, got AWGN")
        if not isinstance(self.gnb_olla, (bool, np.bool_)):
            bad("gnb_olla", f"must be True or False, got {self.gnb_olla!r}")
        if self.user_channel is not None:
            problem = check_channel_model(self.user_channel)
            if problem:
                bad("user_channel", problem)
            if self.chest_freq != "none":
                bad("chest_freq", "a user channel has no delay profile to compute the DMRS frequency-interpolation "
                    f"error from: set chest_freq='none' (and model that loss in the channel), got {self.chest_freq!r}")
            if self.dynamics == "profile_switch":
                bad("dynamics", "a profile switch changes the built-in TDL profile; with a user channel, switch "
                    "inside the channel's freq_response instead")

    @property
    def slot_s(self) -> float:
        return 1e-3 * 15e3 / self.channel.scs_hz

    @property
    def switch_channel_config(self) -> ChannelConfig:
        """ChannelConfig after a "profile_switch" (the same antennas, RBs and correlation)."""
        model = self.switch_model if self.switch_model is not None else self.channel.model
        return dataclasses.replace(self.channel, model=model)

    @property
    def period_s(self) -> float:
        return self.slots_per_period * self.slot_s


def legacy_physics(cfg: LinkConfig = LinkConfig(), **overrides) -> LinkConfig:
    """``cfg`` with every physics option at its value before the options existed (``LEGACY_PHYSICS``).

    all-transmission eq. 11, the exact CQI table, no frequency-interpolation error, RI by
    capacity, CSI applied at the instant it is measured, period-0 PDSCH-SNR features = CSI-RS
    SNR: reproduces results made before them (e.g. results/link_curves_quickstart). ``overrides``
    replace single options.
    """
    return dataclasses.replace(cfg, **{**LEGACY_PHYSICS, **overrides})


@flax.struct.dataclass
class GnbOllaParams:
    """Traced numbers of the gNB-side outer loop (``LinkConfig.gnb_olla``).

    Per counted HARQ feedback: offset -= delta_up on a NACK, offset += delta_up T / (1 - T)
    on an ACK, clipped to [offset_min_db, offset_max_db]; every new TB gets the MCS of the
    reported CQI's AWGN SINR plus the offset (``ltjax.phy.thresholds.mcs_from_cqi``).

    Attributes:
      delta_up_db: float32 [] offset step per NACK [dB] (0.5 dB, a per-TB step of real gNBs).
      target: float32 [] BLER target T.
      offset_min_db, offset_max_db: float32 [] clip range [dB].
    """

    delta_up_db: jax.Array = 0.5  # [] dB
    target: jax.Array = 0.1  # []
    offset_min_db: jax.Array = -20.0  # [] dB
    offset_max_db: jax.Array = 10.0  # [] dB


@flax.struct.dataclass
class LinkParams:
    """Traced link parameters plus the static config (so kernels keep the 4-argument form).

    Attributes:
      cfg: LinkConfig (static, not a pytree leaf).
      snr_db: float32 [], average SNR per receive antenna and RE [dB] (unit-gain channel,
        unit total transmit power): noise_var = 10^(-snr_db / 10).
      channel: ChannelParams (delay spread [s], maximum Doppler [Hz]).
      dynamics: DynamicsParams of ``cfg.dynamics`` (``ltjax.link.dynamics``).
      gnb_olla: GnbOllaParams of the gNB-side loop (used when ``cfg.gnb_olla``).
    """

    cfg: LinkConfig = flax.struct.field(pytree_node=False, default=LinkConfig())
    snr_db: jax.Array = 10.0  # [] dB
    channel: ChannelParams = ChannelParams()
    dynamics: DynamicsParams = DynamicsParams()
    gnb_olla: GnbOllaParams = GnbOllaParams()


def _f32_tree(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.int32 if isinstance(x, (int, np.integer)) else jnp.float32),
                        tree)


def make_link_params(cfg: LinkConfig = LinkConfig(), snr_db: float = 10.0,
                     delay_spread_s: float = 30e-9, doppler_hz: float = 10.0,
                     dynamics: DynamicsParams = DynamicsParams(),
                     gnb_olla: GnbOllaParams = GnbOllaParams()) -> LinkParams:
    """Validated LinkParams from Python numbers; ValueError (one line) when out of range."""
    if not (math.isfinite(float(snr_db)) and SNR_DB_RANGE[0] <= float(snr_db) <= SNR_DB_RANGE[1]):
        raise ValueError(f"snr_db must be in [{SNR_DB_RANGE[0]}, {SNR_DB_RANGE[1]}] dB, got {snr_db!r}")
    check_channel_params(cfg.channel, delay_spread_s, doppler_hz)
    d = dynamics
    check_dynamics(cfg.dynamics, float(d.snr_step_db), float(d.step_periods), float(d.shadow_sigma_db),
                   float(d.shadow_corr_periods), int(d.switch_period))
    if cfg.dynamics == "profile_switch":
        check_channel_params(cfg.switch_channel_config, float(d.switch_channel.delay_spread_s),
                             float(d.switch_channel.doppler_hz))
    g = gnb_olla
    if not (0.0 <= float(g.delta_up_db) <= 10.0 and 0.0 < float(g.target) < 1.0
            and float(g.offset_min_db) <= 0.0 <= float(g.offset_max_db)):
        raise ValueError(f"gnb_olla: need 0 <= delta_up_db <= 10 dB, 0 < target < 1 and offset_min_db <= 0 <= "
                         f"offset_max_db, got {g!r}")
    return LinkParams(cfg=cfg, snr_db=jnp.float32(snr_db),
                      channel=ChannelParams(delay_spread_s=jnp.float32(delay_spread_s),
                                            doppler_hz=jnp.float32(doppler_hz)),
                      dynamics=_f32_tree(dynamics), gnb_olla=_f32_tree(gnb_olla))


def link_params_for_scenario(channel: Scenario | str, snr_db: float = 10.0, doppler_hz: float = 10.0,
                             cfg: LinkConfig = LinkConfig(), dynamics: DynamicsParams = DynamicsParams(),
                             gnb_olla: GnbOllaParams = GnbOllaParams()) -> LinkParams:
    """Validated LinkParams of a channel scenario (``ltjax.channels.scenario``).

    The scenario sets the TDL model (or AWGN) of ``cfg.channel`` and the RMS delay spread
    (and, for the flat references, the AWGN matrix and, for AWGN-SISO, one antenna and one
    port, which caps the rank at 1); everything else in ``cfg`` (correlation, RB and DMRS
    distributions, physics options, ...) is kept. Build it once on the host and pass it to the kernels (``ltjax.batching.map_ues``)
    as their params argument.

    Args:
      channel: a Scenario, or a scenario name such as "AWGN", "TDL-A30", "TDL-C200".
      snr_db: average SNR per receive antenna and RE [dB].
      doppler_hz: maximum Doppler [Hz].
      cfg: the rest of the static configuration.
      dynamics, gnb_olla: traced numbers of ``cfg.dynamics`` and of the gNB loop.

    Raises:
      ValueError: one line, for an unknown name or a value out of range.
    """
    scen = scenario(channel) if isinstance(channel, str) else channel
    ch = dataclasses.replace(cfg.channel, model=scen.model, awgn_matrix=scen.awgn_matrix)
    if scen.antennas is not None:
        ch = dataclasses.replace(ch, n_rx=scen.antennas[0], n_tx=scen.antennas[1])
        cfg = dataclasses.replace(cfg, max_rank=min(cfg.max_rank, *scen.antennas))
    cfg = dataclasses.replace(cfg, channel=ch)
    return make_link_params(cfg, snr_db=snr_db, delay_spread_s=scen.delay_spread_s, doppler_hz=doppler_hz,
                            dynamics=dynamics, gnb_olla=gnb_olla)


def noise_var(params: LinkParams):
    """Noise power per receive antenna and RE for unit channel gain: 10^(-SNR/10), float32 []."""
    return db_to_lin(-jnp.asarray(params.snr_db, jnp.float32)).astype(jnp.float32)


@flax.struct.dataclass
class PeriodInputs:
    """What the gNB applies in one period (chosen by an external policy from the last report).

    Attributes:
      mcs: int32 [], MCS (table 1) of every new TB in the period.
      cqi: int32 [], the CQI the policy applied (feature 10); usually mcs = CQI_TO_MCS[cqi].
      n_rb: int32 [], allocated RBs; -1 draws from LinkConfig.rb_choices/rb_probs.
      n_dmrs: int32 [], DMRS symbols; -1 draws from LinkConfig.dmrs_choices/dmrs_probs.
      rank: int32 [], transmission rank; 0 uses the reported RI (and its PMI precoder).
    """

    mcs: jax.Array  # [] int32
    cqi: jax.Array  # [] int32
    n_rb: jax.Array = -1  # [] int32
    n_dmrs: jax.Array = -1  # [] int32
    rank: jax.Array = 0  # [] int32


@flax.struct.dataclass
class CsiOut:
    """A CSI-RS report (made at the end of a period, used in the next).

    Attributes:
      ri: int32 [] rank indicator. pmi: int32 [] Type I PMI for ri.
      precoder: complex64 [Nt, 2] W of (ri, pmi), zero column beyond ri.
      precoder_r1: complex64 [Nt, 2] best rank-1 W (for a forced rank 1), column 2 zero.
      capacity: float32 [] bits/s/Hz at (ri, pmi) (feature 2).
      snr_db: float32 [] measured CSI-RS SNR [dB] (feature 1).
      delay_spread_s: float32 [] estimate [s] (feature 3). doppler_hz: float32 [] estimate (feature 4).
      cqi: int32 [] the reported CQI (``LinkConfig.cqi_table``): the highest CQI whose AWGN
        10 %-BLER threshold on the reference resource is <= the effective SINR below.
      sinr_eff_db: float32 [3] the UE's effective SINR (QPSK, 16QAM, 64QAM) [dB] in the
        domain of the AWGN table (``ltjax.phy.thresholds``): table-based link adaptation
        (OLLA) adds its offset to it; with offset 0 the table gives ``cqi``.
      pdsch_sinr_db: float32 [] the mean PDSCH SINR [dB] the report predicts for its precoder
        (linear mean over the R RBs and ri layers of the receiver's LMMSE SINR, DMRS error
        of the reference resource included): the PDSCH-SNR features' scale.
    """

    ri: jax.Array  # [] int32
    pmi: jax.Array  # [] int32
    precoder: jax.Array  # [Nt, 2] complex64
    precoder_r1: jax.Array  # [Nt, 2] complex64
    capacity: jax.Array  # [] float32
    snr_db: jax.Array  # [] float32
    delay_spread_s: jax.Array  # [] float32
    doppler_hz: jax.Array  # [] float32
    cqi: jax.Array  # [] int32
    sinr_eff_db: jax.Array  # [3] float32
    pdsch_sinr_db: jax.Array  # [] float32


@flax.struct.dataclass
class GnbLoopState:
    """The gNB-side outer loop of one UE (``LinkConfig.gnb_olla``).

    Attributes:
      offset_db: float32 [] the loop's offset [dB].
      feedback: int32 [P] feedback of each HARQ process's last transmission, not yet
        applied: +1 ACK, -1 NACK, 0 none (or not counted). It is applied when the process
        comes round again, P slots later (the HARQ round-trip time).
    """

    offset_db: jax.Array  # [] float32
    feedback: jax.Array  # [P] int32


@flax.struct.dataclass
class LinkState:
    """One UE's link state carried across periods.

    Attributes:
      channel: ChannelState (drawn once, never redrawn).
      harq: HarqState ([P] processes).
      report: CsiOut, the latest CSI report.
      pdsch_snr_hist: float32 [4], PDSCH SNR [dB] of the last 4 transmissions, newest first.
      period: int32 [], index of the next period (sets absolute time).
      shadow_db: float32 [], the shadowing of the next period [dB] (dynamics "shadowing"; 0 otherwise).
      channel_after: ChannelState of the profile after a "profile_switch", else None.
      gnb: GnbLoopState of the gNB-side loop (``LinkConfig.gnb_olla``), else None.
    """

    channel: ChannelState
    harq: HarqState
    report: CsiOut
    pdsch_snr_hist: jax.Array  # [4] float32
    period: jax.Array  # [] int32
    shadow_db: jax.Array = 0.0  # [] float32
    channel_after: ChannelState | None = None
    gnb: GnbLoopState | None = None


@flax.struct.dataclass
class SlotOutputs:
    """What one slot's PDSCH transmission produces (``slot_step``; [S] after the slot scan).

    Attributes:
      ack: bool [], the TB was decoded (drawn from the TBLER).
      tbler: float32 [], the abstraction's TBLER of this transmission (after combining).
      bits: float32 [], TBS if ACKed, else 0.
      new: bool [], a first transmission (not a HARQ retransmission).
      dropped: bool [], the max_tx-th transmission of the TB failed.
      sinr_eff_db: float32 [], effective SINR of the combined transmission [dB].
      mcs: int32 [], MCS of the transmitted TB.
    """

    ack: jax.Array  # [] bool
    tbler: jax.Array  # [] float32
    bits: jax.Array  # [] float32
    new: jax.Array  # [] bool
    dropped: jax.Array  # [] bool
    sinr_eff_db: jax.Array  # [] float32
    mcs: jax.Array  # [] int32


@flax.struct.dataclass
class PeriodOutputs:
    """What one period produces.

    Attributes:
      features: float32 [F=12], the BLER-prediction features at the period start (names in
        FEATURE_NAMES).
      report: CsiOut made at the period end.
      n_ack, n_nack: int32 [] PDSCH ACKs/NACKs in the period (retransmissions included).
      bler: float32 [] eq. 11 (``period_bler``) under ``LinkConfig.bler_mode``: bler_first_tx
        ("first_tx") or bler_all_tx ("all_tx").
      bler_first_tx: float32 [] n_nack_first / n_new (0 if no new TB).
      bler_all_tx: float32 [] n_nack / (n_ack + n_nack).
      delivered_bits: float32 [] bits of ACKed TBs.
      throughput_mbps: float32 [] delivered_bits / period duration [Mbit/s].
      n_new: int32 [] new TBs. n_dropped: int32 [] TBs dropped after max_tx NACKs.
      mean_tbler: float32 [] mean predicted TBLER of the period's transmissions.
      n_nack_first: int32 [] NACKs of first transmissions (new TBs).
      n_ack_first: int32 [] ACKs of first transmissions, n_new - n_nack_first.
      mean_tbler_first: float32 [] mean predicted TBLER of the first transmissions.
      mcs, n_rb, n_dmrs, rank: int32 [] what was applied to new TBs (mcs: the period's
        ``PeriodInputs.mcs``; with the gNB loop see mean_mcs_new).
      mean_mcs_new: float32 [] mean MCS of the period's new TBs.
      snr_db: float32 [] the period's average SNR [dB] (after the dynamics' offset).
      gnb_offset_db: float32 [] the gNB loop's offset at the period end (0 without it).
    """

    features: jax.Array  # [12] float32
    report: CsiOut
    n_ack: jax.Array  # [] int32
    n_nack: jax.Array  # [] int32
    bler: jax.Array  # [] float32
    delivered_bits: jax.Array  # [] float32
    throughput_mbps: jax.Array  # [] float32
    n_new: jax.Array  # [] int32
    n_dropped: jax.Array  # [] int32
    mean_tbler: jax.Array  # [] float32
    n_nack_first: jax.Array  # [] int32
    mean_tbler_first: jax.Array  # [] float32
    mcs: jax.Array  # [] int32
    n_rb: jax.Array  # [] int32
    n_dmrs: jax.Array  # [] int32
    rank: jax.Array  # [] int32
    bler_first_tx: jax.Array  # [] float32
    bler_all_tx: jax.Array  # [] float32
    n_ack_first: jax.Array  # [] int32
    mean_mcs_new: jax.Array  # [] float32
    snr_db: jax.Array  # [] float32
    gnb_offset_db: jax.Array  # [] float32

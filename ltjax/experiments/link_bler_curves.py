"""``link_bler_curves``: mean BLER and throughput per fixed MCS over SNR (AWGN or a TDL scenario).

Each grid point runs ``n_ue`` UEs for ``n_periods`` CSI-RS periods (80 ms, 160 slots each)
through the full link engine (``ltjax.link``): channel, DMRS estimation error, LMMSE SINR,
effective SINR, BLER, HARQ with chase combining, CSI report. The gNB uses the fixed MCS of
the grid point for every new TB, the reported RI/PMI (or rank 1), ``n_rb`` RBs and
``n_dmrs`` DMRS symbols. Metrics (means over UE-periods):

- ``bler``: eq. 11 under ``bler_mode``: = bler_first_tx ("first_tx", the default) or
  bler_all_tx ("all_tx");
- ``bler_first_tx``: NACKs of first transmissions / new TBs (the classical BLER curve);
- ``bler_all_tx``: NACKs / PDSCH transmissions (retransmissions included);
- ``tbler_first_tx_pred``: the abstraction's mean TBLER of first transmissions (no draws);
- ``throughput_mbps``: delivered bits / 80 ms;
- ``residual_bler``: TBs dropped after max_tx transmissions / new TBs;
- ``cqi_mean``, ``ri_mean``: what the UE reported.

Channels are named through the scenario table (``ltjax.channels.scenario``): the flat
references "AWGN-SISO", "AWGN-EQ" and "AWGN", "TDL-A30", "TDL-B50", "TDL-C200", any
"TDL-<A|B|C><ns>", or "TDL-A/B/C" with ``delay_spread_ns``. The link-physics options and the
non-stationary scenarios are parameters too (``ltjax.link.options.LinkOptionsParams``), and
``n_rb_carrier`` sets the carrier bandwidth in RBs (106 = the paper's RB count; 273 = 100 MHz
at 30 kHz).

SNR is the average SNR per receive antenna and RE (``snr_db``), not the post-equaliser
SINR. Which flat channel a fading curve should be compared with: "AWGN-SISO" (1 x 1, SINR =
SNR) is the textbook curve; "AWGN-EQ" (H = 2 I_{2x4}) has the squared Frobenius norm 8 of a
unit-gain 2x4 TDL channel, so a rank-1 precoder and MRC collect the TDL channels' average
array gain |H w|^2 = 2 (SNR + 3 dB): fading curves sit right of it by the fading loss alone.
"AWGN" (H = I_{2x4}) collects |H w|^2 = 1/2 (SNR - 3 dB), so its curves sit 3 dB right of
SISO's and 6 dB right of AWGN-EQ's. See docs/link_engine.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import MAX_RB, ChannelConfig, Scenario, max_delay_spread_s, scenario, validate_channel_config
from ltjax.link.config import LinkConfig, LinkParams, PeriodInputs, link_params_for_scenario
from ltjax.link.dynamics import DynamicsParams
from ltjax.link.options import LinkOptionsParams, check_link_options, config_from_options
from ltjax.link.rollout import fixed_inputs, run_ue
from ltjax.params import field
from ltjax.plotting.link_bler_curves import plot_bler, plot_bler_first_tx, plot_throughput
from ltjax.sweep.registry import register_experiment


def _ue_kernel(ue_key, params: LinkParams, inputs: PeriodInputs, *, n_periods: int):
    """One UE's run with the fixed ``inputs`` every period; per-period scalars [T]."""
    o = run_ue(ue_key, params, n_periods, fixed_inputs(inputs))
    return dict(n_nack=o.n_nack, n_ack=o.n_ack, bits=o.delivered_bits, tbler=o.mean_tbler,
                n_nack_first=o.n_nack_first, tbler_first=o.mean_tbler_first,
                n_new=o.n_new, n_dropped=o.n_dropped, cqi=o.report.cqi, ri=o.report.ri,
                sinr_eff=o.report.sinr_eff_db)


def link_config(n_rb: int = 106, max_tx: int = 4, esm: str = "miesm", max_rank: int = 2,
                correlation: str = "low", n_rb_carrier: int = 106, base: LinkConfig = LinkConfig()) -> LinkConfig:
    """The experiment's static link configuration (the channel model comes from the scenario;
    the physics options from ``base``)."""
    return dataclasses.replace(base, channel=ChannelConfig(correlation=correlation, n_rb=n_rb_carrier),
                               rb_choices=(n_rb,), dmrs_choices=(1, 2, 3, 4), max_tx=max_tx, esm=esm,
                               max_rank=max_rank)


def run_point(key, channel: Scenario | str, snr_db: float, mcs: int, doppler_hz: float = 10.0,
              n_ue: int = 32, n_periods: int = 2, n_rb: int = 106, n_dmrs: int = 2, rank: int = 1,
              max_tx: int = 4, esm: str = "miesm", correlation: str = "low", n_rb_carrier: int = 106,
              base: LinkConfig = LinkConfig(), dynamics: DynamicsParams = DynamicsParams()) -> dict[str, np.ndarray]:
    """Per-UE, per-period outputs of one grid point (numpy, [U, T]).

    ``rank`` 1 caps the reported rank at 1; 2 lets the UE report RI <= 2 and the gNB follow it.
    ``base`` carries the physics options (``LinkConfig`` defaults, or e.g. ``legacy_physics()``),
    ``dynamics`` the traced numbers of ``base.dynamics``.
    """
    cfg = link_config(n_rb, max_tx, esm, max_rank=2 if rank != 1 else 1, correlation=correlation,
                      n_rb_carrier=n_rb_carrier, base=base)
    params = link_params_for_scenario(channel, snr_db=snr_db, doppler_hz=doppler_hz, cfg=cfg, dynamics=dynamics)
    inputs = PeriodInputs(mcs=jnp.int32(mcs), cqi=jnp.int32(0), n_rb=jnp.int32(n_rb),
                          n_dmrs=jnp.int32(n_dmrs), rank=jnp.int32(0))
    return map_ues(_ue_kernel, key, n_ue, params, inputs, static={"n_periods": int(n_periods)})


def _scenario(p) -> Scenario:
    """The point's channel scenario (``delay_spread_ns`` 0 means: the one in the name)."""
    return scenario(p.channel, p.delay_spread_ns if p.delay_spread_ns else None)


def _check(p):
    if p.n_rb > p.n_rb_carrier:
        return "n_rb", f"must be at most n_rb_carrier = {p.n_rb_carrier}, got {p.n_rb}"
    try:
        scen = _scenario(p)
    except ValueError as err:
        msg = str(err)
        return ("delay_spread_ns" if p.delay_spread_ns and not msg.startswith("unknown channel") else "channel"), msg
    if scen.delay_spread_s > max_delay_spread_s():
        return ("delay_spread_ns" if p.delay_spread_ns else "channel",
                f"the RMS delay spread must be at most {max_delay_spread_s() * 1e9:.0f} ns (coherence bandwidth "
                f">= 1 RB at 30 kHz), got {scen.delay_spread_s * 1e9:g} ns")
    bad = validate_channel_config(model=scen.model, delay_spread_s=scen.delay_spread_s, doppler_hz=p.doppler_hz,
                                  n_rb=p.n_rb_carrier, correlation=p.correlation)
    return bad or check_link_options(p, scen.model)


@struct.dataclass
class LinkBlerCurvesParams(LinkOptionsParams):
    """Parameters of the experiment (units in each field's schema); the physics options and the
    dynamics come from ``LinkOptionsParams``."""

    channel: str = field("AWGN", 'channel scenario: AWGN-SISO, AWGN-EQ, AWGN, TDL-A30, TDL-B50, TDL-C200, '
                                 'TDL-<A|B|C><ns>, or TDL-A/B/C with delay_spread_ns')
    delay_spread_ns: float = field(0.0, 'RMS delay spread for a channel named without one (e.g. TDL-C); '
                                        '0 = the one in the name', unit='ns', lo=0.0, hi=1000.0)
    snr_db: float = field(10.0, 'average SNR per receive antenna and RE', unit='dB', lo=-20.0, hi=50.0)
    mcs: int = field(9, 'fixed MCS (TS 38.214 table 5.1.3.1-1) of every new TB', lo=0, hi=28)
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    n_ue: int = field(32, 'UEs per grid point', lo=1, hi=1_000_000)
    n_periods: int = field(2, 'CSI-RS periods (80 ms) per UE', lo=1, hi=10_000)
    n_rb: int = field(106, 'allocated resource blocks (<= n_rb_carrier)', lo=1, hi=MAX_RB)
    n_dmrs: int = field(2, 'DMRS symbols per slot', lo=1, hi=4)
    rank: int = field(1, '1: rank 1; 2: the reported RI (<= 2)', choices=(1, 2))
    max_tx: int = field(4, 'HARQ transmissions per TB', lo=1, hi=16)
    esm: str = field("miesm", 'effective-SINR method', choices=("miesm", "eesm"))
    correlation: str = field("low", 'antenna correlation (TS 38.101-4)', choices=("low", "medium", "high"))
    n_rb_carrier: int = field(106, 'carrier bandwidth in RBs (106: the paper; 273: 100 MHz at 30 kHz)', lo=1,
                              hi=MAX_RB)


@register_experiment(
    name="link_bler_curves",
    description="Mean BLER (eq. 11) and throughput per fixed MCS vs SNR, full link engine",
    params=LinkBlerCurvesParams,
    plots=(plot_bler, plot_bler_first_tx, plot_throughput),
    check=_check,
)
def link_bler_curves(key, p: LinkBlerCurvesParams):
    scen = _scenario(p)
    base, dyn = config_from_options(p, scen, p.doppler_hz)
    o = run_point(key, scen, p.snr_db, p.mcs, p.doppler_hz, p.n_ue, p.n_periods,
                  p.n_rb, p.n_dmrs, p.rank, p.max_tx, p.esm, p.correlation, p.n_rb_carrier, base, dyn)
    n_tx = float(np.sum(o["n_ack"]) + np.sum(o["n_nack"]))
    period_s = 160 * 0.5e-3
    bler_all = float(np.sum(o["n_nack"]) / n_tx)
    bler_first = float(np.sum(o["n_nack_first"]) / max(np.sum(o["n_new"]), 1))
    return {
        "bler": bler_first if p.bler_mode == "first_tx" else bler_all,
        "bler_first_tx": bler_first,
        "bler_all_tx": bler_all,
        "tbler_first_tx_pred": float(np.sum(o["tbler_first"] * o["n_new"]) / max(np.sum(o["n_new"]), 1)),
        "throughput_mbps": float(np.mean(o["bits"]) / period_s / 1e6),
        "residual_bler": float(np.sum(o["n_dropped"]) / max(np.sum(o["n_new"]), 1)),
        "n_transmissions": n_tx,
        "cqi_mean": float(np.mean(o["cqi"])),
        "ri_mean": float(np.mean(o["ri"])),
    }

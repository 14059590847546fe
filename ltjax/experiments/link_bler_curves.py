"""``link_bler_curves``: mean BLER and throughput per fixed MCS over SNR (AWGN, TDL-A30/B50/C200).

Each grid point runs ``n_ue`` UEs for ``n_periods`` CSI-RS periods (80 ms, 160 slots each)
through the full link engine (``ltjax.link``): channel, DMRS estimation error, LMMSE SINR,
effective SINR, BLER, HARQ with chase combining, CSI report. The gNB uses the fixed MCS of
the grid point for every new TB, the reported RI/PMI (or rank 1), ``n_rb`` RBs and
``n_dmrs`` DMRS symbols. Metrics (means over UE-periods):

- ``bler``: eq. 11, NACKs / PDSCH transmissions (retransmissions included);
- ``bler_first_tx``: NACKs of first transmissions / new TBs (the classical BLER curve);
- ``tbler_first_tx_pred``: the abstraction's mean TBLER of first transmissions (no draws);
- ``throughput_mbps``: delivered bits / 80 ms;
- ``residual_bler``: TBs dropped after max_tx transmissions / new TBs;
- ``cqi_mean``, ``ri_mean``: what the UE reported.

SNR is the average SNR per receive antenna and RE (``snr_db``), not the post-equaliser
SINR. With AWGN's identity-like 2x4 channel (H = I_{2x4}, ltjax.channels) a rank-1 Type I
precoder (four entries of magnitude 1/2) puts only half its power on the two ports that
reach the UE, and MRC over the 2 antennas collects |g|^2 = 1/2: the post-equaliser SNR is
SNR - 3 dB, so rank-1 AWGN curves sit 3 dB right of SISO curves. See docs/link_engine.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.channels import ChannelConfig, ChannelParams, validate_channel_config
from ltjax.link.config import LinkConfig, LinkParams, PeriodInputs
from ltjax.link.rollout import run_ue
from ltjax.plotting.link_bler_curves import plot_bler, plot_bler_first_tx, plot_throughput
from ltjax.batching import map_ues
from ltjax.params import field
from ltjax.sweep.registry import register_experiment

# Experiment channel name -> (ltjax.channels model, RMS delay spread [s]).
CHANNELS = {"AWGN": ("AWGN", 0.0), "TDL-A30": ("A", 30e-9), "TDL-B50": ("B", 50e-9),
            "TDL-C200": ("C", 200e-9)}


def _ue_kernel(ue_key, snr_db, ds, fd, mcs, n_rb, n_dmrs, rank, *, cfg: LinkConfig, n_periods: int):
    """One UE's run at a fixed MCS; per-period scalars [T]."""
    params = LinkParams(cfg=cfg, snr_db=snr_db, channel=ChannelParams(delay_spread_s=ds, doppler_hz=fd))

    def policy(report):
        return PeriodInputs(mcs=mcs, cqi=report.cqi, n_rb=n_rb, n_dmrs=n_dmrs, rank=rank)

    o = run_ue(ue_key, params, n_periods, policy)
    return dict(n_nack=o.n_nack, n_ack=o.n_ack, bits=o.delivered_bits, tbler=o.mean_tbler,
                n_nack_first=o.n_nack_first, tbler_first=o.mean_tbler_first,
                n_new=o.n_new, n_dropped=o.n_dropped, cqi=o.report.cqi, ri=o.report.ri,
                sinr_eff=o.report.sinr_eff_db)


def link_config(channel: str, n_rb: int = 106, max_tx: int = 4, esm: str = "miesm",
                max_rank: int = 2, correlation: str = "low") -> LinkConfig:
    model, _ = CHANNELS[channel]
    return LinkConfig(channel=ChannelConfig(model=model, correlation=correlation), rb_choices=(n_rb,),
                      dmrs_choices=(1, 2, 3, 4), max_tx=max_tx, esm=esm, max_rank=max_rank)


def run_point(key, channel: str, snr_db: float, mcs: int, doppler_hz: float = 10.0, n_ue: int = 32,
              n_periods: int = 2, n_rb: int = 106, n_dmrs: int = 2, rank: int = 1, max_tx: int = 4,
              esm: str = "miesm", correlation: str = "low") -> dict[str, np.ndarray]:
    """Per-UE, per-period outputs of one grid point (numpy, [U, T])."""
    cfg = link_config(channel, n_rb, max_tx, esm, max_rank=2 if rank != 1 else 1, correlation=correlation)
    _, ds = CHANNELS[channel]
    return map_ues(_ue_kernel, key, n_ue, jnp.float32(snr_db), jnp.float32(ds), jnp.float32(doppler_hz),
                   jnp.int32(mcs), jnp.int32(n_rb), jnp.int32(n_dmrs), jnp.int32(0),
                   static={"cfg": cfg, "n_periods": int(n_periods)})


def _check(p):
    model, ds = CHANNELS.get(p.channel, (None, 0.0))
    if model is None:
        return "channel", f"must be one of {', '.join(CHANNELS)}"
    return validate_channel_config(model=model, delay_spread_s=ds, doppler_hz=p.doppler_hz,
                                   n_rb=106, correlation=p.correlation)


@struct.dataclass
class LinkBlerCurvesParams:
    """Parameters of the experiment (units in each field's schema)."""

    channel: str = field("AWGN", 'channel model', choices=tuple(CHANNELS))
    snr_db: float = field(10.0, 'average SNR per receive antenna and RE', unit='dB', lo=-20.0, hi=50.0)
    mcs: int = field(9, 'fixed MCS (TS 38.214 table 5.1.3.1-1) of every new TB', lo=0, hi=28)
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    n_ue: int = field(32, 'UEs per grid point', lo=1, hi=1_000_000)
    n_periods: int = field(2, 'CSI-RS periods (80 ms) per UE', lo=1, hi=10_000)
    n_rb: int = field(106, 'allocated resource blocks', lo=1, hi=106)
    n_dmrs: int = field(2, 'DMRS symbols per slot', lo=1, hi=4)
    rank: int = field(1, '1: rank 1; 2: the reported RI (<= 2)', choices=(1, 2))
    max_tx: int = field(4, 'HARQ transmissions per TB', lo=1, hi=16)
    esm: str = field("miesm", 'effective-SINR method', choices=("miesm", "eesm"))
    correlation: str = field("low", 'antenna correlation (TS 38.101-4)', choices=("low", "medium", "high"))


@register_experiment(
    name="link_bler_curves",
    description="Mean BLER (eq. 11) and throughput per fixed MCS vs SNR, full link engine",
    params=LinkBlerCurvesParams,
    plots=(plot_bler, plot_bler_first_tx, plot_throughput),
    check=_check,
)
def link_bler_curves(key, p):
    o = run_point(key, p.channel, p.snr_db, p.mcs, p.doppler_hz, p.n_ue, p.n_periods,
                  p.n_rb, p.n_dmrs, p.rank, p.max_tx, p.esm, p.correlation)
    n_tx = float(np.sum(o["n_ack"]) + np.sum(o["n_nack"]))
    period_s = 160 * 0.5e-3
    return {
        "bler": float(np.sum(o["n_nack"]) / n_tx),
        "bler_first_tx": float(np.sum(o["n_nack_first"]) / max(np.sum(o["n_new"]), 1)),
        "tbler_first_tx_pred": float(np.sum(o["tbler_first"] * o["n_new"]) / max(np.sum(o["n_new"]), 1)),
        "throughput_mbps": float(np.mean(o["bits"]) / period_s / 1e6),
        "residual_bler": float(np.sum(o["n_dropped"]) / max(np.sum(o["n_new"]), 1)),
        "n_transmissions": n_tx,
        "cqi_mean": float(np.mean(o["cqi"])),
        "ri_mean": float(np.mean(o["ri"])),
    }

"""``cqi_tune_map``: where does CQI back-off (CQI-Tune, Alg. 2 of the LightTune paper) pay?

One grid point is one *cell*: a physical condition of the link, named by the factors it
changes from one of two baselines. Every cell runs table OLLA, CQI-Tune (uniform and hard
negatives, LightTune one-step Adam) and the two back-off bounds of ``ltjax.linkadapt.genie``
(genie: back off exactly when the true first-transmission BLER at the table CQI is >= tau;
hindsight: the better of {CQI_table, CQI_min} per period), ``n_ue`` UEs x ``n_periods``
periods, with common random numbers across the schemes (``ltjax.linkadapt.scan``), and
reports the metrics of ``cqi_throughput`` (gains over OLLA with paired 95 % CIs over UEs,
early / steady / overall; back-off rates; P(label >= tau); LightTune trigger rate, error and
tau recall / precision).

Baselines (both TDL-B50 at 30 Hz Doppler, 15 dB, stationary, UE-side OLLA with 0.02 dB per
NACK, up to 4 transmissions per TB):
  "legacy": the engine before its physics options (``ltjax.link.LEGACY_PHYSICS``: period BLER
     over all transmissions, the UE's CQI table is the exact receiver model, no DMRS
     frequency error, RI by capacity, no CSI delay), OLLA counting every HARQ feedback, and
     CQI-Tune starting from the offline FF model trained under that physics
     (``ff_model_legacy``).
  "new": the engine's defaults (first-transmission BLER as TS 38.214 5.2.2.1 defines the CQI,
     the UE maps its MMIB through the AWGN 10 % table, per-RB DMRS error, RI by CQI rate,
     8-slot CSI delay), OLLA counting first transmissions, and the FF model ``ff_model``.

Factors, each varied alone around both baselines (one factor at a time), and why:
  table   : awgn_mmib | awgn_snr | exact. What the UE's SINR -> CQI table knows about the
            channel. "exact" is the truth model: the reported CQI is right on average, and
            nothing is left for a back-off to correct.
  olla    : ue (0.02 dB per NACK) | ue_fast (0.2 dB) | gnb (the gNB moves the MCS per HARQ
            feedback, 0.5 dB per NACK; the UE-side loop off). A fast loop corrects a biased
            table before a back-off is needed; the gNB loop is the negative control.
  harq    : 4 | 1 maximum transmissions per TB. Without retransmissions a failed TB is lost.
  bler    : first_tx | all_tx, the period BLER that labels and tau act on (eq. 11).
  channel : TDL-B50 at 30 Hz | TDL-C200 at 50 Hz (larger delay spread and Doppler: a larger
            table error and a noisier label).
  snr     : 5 | 15 | 25 dB.
  dyn     : stationary | snr_steps (the average SNR drops by 6 dB for 10 periods every 20,
            a blocker) | switch (TDL-A30 at 10 Hz, switching to TDL-C200 at 50 Hz at period
            20, a handover into a harsher environment).
plus two interactions: channel x SNR at TDL-C200 and 25 dB for both baselines (the corner
where the AWGN table is most optimistic: ltjax's converged OLLA offset there is about -8 dB,
results/olla_offsets), and the interaction that decides whether a table bias survives to
the CQI-Tune decision, table (awgn_mmib, exact) x olla (ue, gnb) x harq (4, 1), around the
"new" baseline. That is 12 cells per baseline plus 6 interaction cells not already among
them: 30 cells (:data:`CELLS`), about an hour on 2 CPU cores at 64 UEs x 40 periods.

Cell names: ``"<baseline>"`` or ``"<baseline>/<factor>=<level>[+<factor>=<level>...]"``,
e.g. ``"new/table=exact+olla=gnb"``.
"""

from __future__ import annotations

import dataclasses

from flax import struct

from ltjax.experiments.cqi_throughput import load_ff_model, run_point, summarize
from ltjax.lighttune.dataset import check_scenario
from ltjax.link import LEGACY_PHYSICS, LinkConfig
from ltjax.link.options import LinkOptionsParams, config_from_options
from ltjax.linkadapt import olla, scan
from ltjax.params import field
from ltjax.phy.bler import BLER_MODELS
from ltjax.plotting.cqi_tune_map import plot_map
from ltjax.sweep.registry import register_experiment

MAP_SCHEMES = ("olla", "tune_uniform", "tune_hard", "genie", "hindsight")
DEFAULT_FF_MODEL = "results/bler_offline_model/ff_model.msgpack"
DEFAULT_FF_MODEL_LEGACY = "results/bler_offline_model_legacy/ff_model.msgpack"

BASELINE_SCENARIO = {"table": None, "olla": "ue", "harq": "4", "bler": None, "channel": "TDL-B50",
                     "snr": "15", "dyn": "stationary"}
BASELINES = {
    "legacy": {"physics": dict(LEGACY_PHYSICS), "olla_feedback": "all_tx", "model": "legacy"},
    "new": {"physics": {}, "olla_feedback": "first_tx", "model": "new"},
}
LEVELS = {
    "table": ("awgn_mmib", "awgn_snr", "exact"),
    "olla": ("ue", "ue_fast", "gnb"),
    "harq": ("4", "1"),
    "bler": ("first_tx", "all_tx"),
    "channel": ("TDL-B50", "TDL-C200"),
    "snr": ("5", "15", "25"),
    "dyn": ("stationary", "snr_steps", "switch"),
}
OLLA_STEP_DB = {"ue": 0.02, "ue_fast": 0.2, "gnb": 1e-9}  # gnb: the UE-side loop is off (a step of 1e-9 dB)
DOPPLER_HZ = {"TDL-A30": 10.0, "TDL-B50": 30.0, "TDL-C200": 50.0}


def _baseline_levels(baseline: str) -> dict[str, str]:
    lv = dict(BASELINE_SCENARIO)
    phys = {**LinkConfig().__dict__, **BASELINES[baseline]["physics"]}
    lv["table"], lv["bler"] = phys["cqi_table"], phys["bler_mode"]
    return lv


def _name(baseline: str, changes: dict[str, str]) -> str:
    if not changes:
        return baseline
    return baseline + "/" + "+".join(f"{k}={v}" for k, v in changes.items())


def _cells() -> tuple[str, ...]:
    out = []
    for b in BASELINES:
        base = _baseline_levels(b)
        out.append(b)
        for factor, levels in LEVELS.items():
            out += [_name(b, {factor: lv}) for lv in levels if lv != base[factor]]
    # The table's error grows with SNR on TDL-C200 (results/olla_offsets: the converged OLLA
    # offset of the AWGN MMIB table is -3.5 / -4.4 / -8.1 dB at 5 / 15 / 25 dB), so the channel
    # x SNR corner where the table is most optimistic is run for both baselines.
    out += [_name(b, {"channel": "TDL-C200", "snr": "25"}) for b in BASELINES]
    base = _baseline_levels("new")
    for table in ("awgn_mmib", "exact"):
        for side in ("ue", "gnb"):
            for harq in ("4", "1"):
                changes = {k: v for k, v in (("table", table), ("olla", side), ("harq", harq)) if v != base[k]}
                name = _name("new", changes)
                if name not in out:
                    out.append(name)
    return tuple(out)


CELLS = _cells()


def cell_levels(cell: str) -> tuple[str, dict[str, str]]:
    """(baseline, {factor: level} for every factor) of a cell name; ValueError for a bad name."""
    baseline, _, rest = cell.partition("/")
    if baseline not in BASELINES:
        raise ValueError(f"cell {cell!r}: the baseline must be one of {', '.join(BASELINES)}")
    lv = _baseline_levels(baseline)
    for part in filter(None, rest.split("+")):
        k, _, v = part.partition("=")
        if k not in LEVELS or v not in LEVELS[k]:
            raise ValueError(f"cell {cell!r}: {part!r} is not a factor=level of {LEVELS}")
        lv[k] = v
    return baseline, lv


@struct.dataclass
class CqiTuneMapParams:
    """Parameters of the experiment (units in each field's schema)."""

    cell: str = field("new", 'the cell: a baseline and the factors it changes (ltjax.experiments.cqi_tune_map)',
                      choices=CELLS)
    n_ue: int = field(64, 'UEs per cell (each runs every scheme)', lo=2, hi=10**7)
    n_periods: int = field(40, 'CSI-RS periods (80 ms) per UE', lo=1, hi=100_000)
    early_periods: int = field(10, 'periods 0 .. early_periods-1 form the "early" gain window (OLLA converging)', lo=1, hi=100_000)
    tau: float = field(0.9, 'CQI-Tune threshold tau_BLER (and the genie\'s)', lo=0.0, hi=1.0, lo_open=True)
    finetune: bool = field(True, 'LightTune fine-tuning on (False: the offline model only)')
    ff_model: str = field(DEFAULT_FF_MODEL, 'offline FF BLER model of the "new" cells; make it with `ltjax run sweeps/bler_offline.toml`', kind="path", role="input")
    bler_model: str = field(LinkConfig().bler_model, 'code-block error model of the "new" cells (the "legacy" '
                            'cells use LEGACY_PHYSICS: "margin")', choices=BLER_MODELS)
    ff_model_legacy: str = field(DEFAULT_FF_MODEL_LEGACY, 'offline FF BLER model of the "legacy" cells (trained under LEGACY_PHYSICS)', kind="path", role="input")


def cell_setup(cell: str, bler_model: str = LinkConfig().bler_model):
    """(channel, snr_db, doppler_hz, LinkConfig, DynamicsParams, OllaParams, olla_feedback, model kind) of a cell."""
    baseline, lv = cell_levels(cell)
    b = BASELINES[baseline]
    channel = "TDL-A30" if lv["dyn"] == "switch" else lv["channel"]
    opts = dict(LinkOptionsParams().__dict__, bler_model=bler_model)
    opts.update(b["physics"])  # the "legacy" baseline sets its own model
    opts.update(cqi_table=lv["table"], bler_mode=lv["bler"])
    if lv["dyn"] == "snr_steps":
        opts.update(dynamics="snr_steps", snr_step_db=-6.0, step_periods=10)
    elif lv["dyn"] == "switch":
        opts.update(dynamics="profile_switch", switch_period=20, switch_channel="TDL-C200",
                    switch_doppler_hz=DOPPLER_HZ["TDL-C200"])
    opt_params = LinkOptionsParams(**opts)
    base = dataclasses.replace(LinkConfig(), max_tx=int(lv["harq"]), gnb_olla=lv["olla"] == "gnb",
                               olla_feedback=b["olla_feedback"])
    cfg, dyn = config_from_options(opt_params, channel, DOPPLER_HZ[channel], base)
    return (channel, float(lv["snr"]), DOPPLER_HZ[channel], cfg, dyn,
            olla.OllaParams(delta_up_db=OLLA_STEP_DB[lv["olla"]]), b["olla_feedback"], b["model"])


def _check(p):
    try:
        channel, _, fd, *_ = cell_setup(p.cell, p.bler_model)
    except ValueError as err:
        return "cell", str(err)
    return check_scenario(channel, fd)


# The paper's Fig. 5 gains exist for TDL-B50 and TDL-C200 only (NaN for a cell that starts on TDL-A30).
_NAN_OK = tuple(f"gain_{s}{w}{c}_pct" for s in MAP_SCHEMES[1:] for w in ("", "_early", "_steady")
                for c in ("", "_ci")) + tuple(f"tau_{m}_{s}" for s in scan.TUNE_NEGATIVE for m in ("recall", "precision")) + tuple(
    f"paper_gain_{s}_pct" for s in scan.TUNE_NEGATIVE)


@register_experiment(
    name="cqi_tune_map",
    description="Where CQI back-off pays: CQI-Tune vs OLLA with genie/hindsight bounds over physical cells",
    params=CqiTuneMapParams,
    plots=(plot_map,),
    check=_check,
    allow_nonfinite=_NAN_OK,
)
def cqi_tune_map(key, p):
    channel, snr_db, fd, cfg, dyn, olla_params, feedback, model_kind = cell_setup(p.cell, p.bler_model)
    ff_model = load_ff_model(p.ff_model_legacy if model_kind == "legacy" else p.ff_model)
    o = run_point(key, channel, snr_db, fd, p.n_ue, p.n_periods, ff_model, None, MAP_SCHEMES,
                  olla_params=olla_params, tau=p.tau, finetune=p.finetune, cfg=cfg, dynamics=dyn,
                  olla_feedback=feedback)
    return summarize(o, MAP_SCHEMES, channel, p.tau, p.early_periods)

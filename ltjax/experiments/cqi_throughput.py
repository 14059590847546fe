"""``cqi_throughput``: Fig. 5, throughput of OLLA, the offline ML baseline [16] and CQI-Tune.

Per grid point (channel, Doppler, SNR), ``n_ue`` UEs each run the schemes of
``ltjax.linkadapt.scan`` (OLLA; offline ML + ACK/NACK calibration; CQI-Tune with LightTune
one-step Adam and uniform / hard negatives; with ``bounds``, the genie and hindsight back-off
bounds of ``ltjax.linkadapt.genie``) for ``n_periods`` CSI-RS periods (80 ms) through the full
link engine, with common random numbers: every scheme of a UE sees the same channel
realisation, RB/DMRS draws, CSI noise and per-slot ACK/NACK uniforms. All periods count (from
t = 0, i.e. including OLLA's convergence: the regime CQI-Tune is meant for).

Metrics per scheme s in (olla, ml, tune_uniform, tune_hard[, genie, hindsight]):
  thr_<s>: mean throughput [Mbit/s] over UEs and periods; thr_<s>_ci: 95 % CI half-width
    over UEs (1.96 * std / sqrt(U) of the per-UE means);
  bler_<s>: NACKs / transmissions (eq. 11 over all transmissions, pooled); bler_first_<s>:
    NACKs of first transmissions / new TBs (pooled); p_bler_ge_09_<s>: fraction of UE-periods
    whose first-transmission period BLER is >= 0.9 (the event CQI-Tune's tau = 0.9 acts on);
    cqi_<s>: mean applied CQI;
  gain_<s>_pct: 100 * (thr_s / thr_olla - 1); gain_<s>_ci_pct: paired 95 % CI half-width over
    UEs (delta method for the ratio of means on the per-UE pairs: common random numbers make
    the pairs strongly correlated, so this is much tighter than the per-scheme CIs);
    gain_<s>_early_pct / gain_<s>_steady_pct (+ _ci_pct): the same over periods
    0 .. early_periods - 1 (OLLA converging) and over the later ones;
  backoff_<s> (CQI-Tune, genie, hindsight): fraction of periods run below the table CQI;
  ft_rate_<s> / ft_error_<s> (CQI-Tune): LightTune trigger rate and mean |P_hat - P|;
  tau_recall_<s> / tau_precision_<s> (CQI-Tune): of the periods whose label is >= tau, the
    fraction the UE's model predicted >= tau (P_hat made before the period's update, at the
    applied CQI), and of those predicted >= tau, the fraction whose label was;
  p_label_ge_tau_olla: fraction of OLLA's UE-periods whose BLER label (eq. 11 under
    ``bler_mode``) is >= tau: how often the event CQI-Tune acts on happens at all.
The genie's gain bounds what CQI-Tune with a perfect predictor of its event could gain; the
hindsight's bounds any rule that picks CQI_table or CQI_min per period (ltjax.linkadapt.genie).
The paper's average gains (Sec. V-B) are written next to ours: paper_gain_<s>_pct.
Series: thr_ue [U, N] (per-UE means) and thr_t [T, N] (mean over UEs per period).

The link-physics options (UE CQI table, BLER definition of the labels CQI-Tune learns, DMRS
frequency error, RI rule, CSI delay) and the non-stationary scenarios are parameters
(``ltjax.link.options.LinkOptionsParams``), as is the feedback the OLLA loops count
(``olla_feedback``); their defaults are the engine's (docs/link_engine.md).
"""

from __future__ import annotations

import functools
import os

import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import NAMED_SCENARIOS
from ltjax.lighttune.dataset import check_scenario
from ltjax.lighttune.model import BlerModel, load_model
from ltjax.channels import scenario
from ltjax.link import LinkConfig, link_params_for_scenario
from ltjax.link.dynamics import DynamicsParams
from ltjax.link.options import LinkOptionsParams, check_link_options, config_from_options
from ltjax.linkadapt import ml_baseline, olla, scan
from ltjax.linkadapt.cqi_tune import TAU_BLER
from ltjax.params import field
from ltjax.plotting.cqi_throughput import plot_gain, plot_throughput
from ltjax.sweep.registry import register_experiment

PAPER_GAIN_PCT = {"TDL-B50": {"tune_uniform": 6.0, "tune_hard": 5.0},
                  "TDL-C200": {"tune_uniform": 9.5, "tune_hard": 7.2}}
DEFAULT_FF_MODEL = "results/bler_offline_model/ff_model.msgpack"
DEFAULT_ML_MODEL = "results/ml_baseline_offline_model/ml_model.msgpack"
Z95 = 1.959964


@functools.lru_cache(maxsize=8)
def _load_ff(path: str, mtime: float):
    return load_model(path)[0]


@functools.lru_cache(maxsize=8)
def _load_ml(path: str, mtime: float):
    return ml_baseline.load_model(path)[0]


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return -1.0  # missing: the loader raises the InputError naming the file


def load_ff_model(ff_path: str) -> BlerModel:
    """The offline FF BLER model, cached per file and modification time (InputError as :func:`load_models`)."""
    return _load_ff(ff_path, _mtime(ff_path))


def load_models(ff_path: str, ml_path: str):
    """(FF BlerModel, MlModel), cached per file and modification time; InputError naming a
    missing or bad file and the command that makes it."""
    return _load_ff(ff_path, _mtime(ff_path)), _load_ml(ml_path, _mtime(ml_path))


def run_point(key, channel: str, snr_db: float, doppler_hz: float, n_ue: int, n_periods: int,
              ff_model: BlerModel | None, ml_model: ml_baseline.MlModel | None, schemes=scan.SCHEMES, *,
              olla_params: olla.OllaParams = olla.OllaParams(),
              ml_cal: ml_baseline.MlCalParams = ml_baseline.MlCalParams(), tau: float = TAU_BLER,
              finetune: bool = True, max_backoff: int = 1, cfg: LinkConfig = LinkConfig(),
              dynamics: DynamicsParams = DynamicsParams(), olla_feedback: str = "first_tx") -> dict[str, np.ndarray]:
    """Per-UE outputs of one grid point (numpy, [U, T, N]; N = len(schemes)); see ``scan.run_schemes``.

    ``cfg`` carries the link-physics options (``LinkConfig`` defaults, or ``legacy_physics()``
    for the engine before them), ``dynamics`` the traced numbers of ``cfg.dynamics``;
    ``olla_feedback`` is the HARQ feedback the OLLA loops count.
    """
    params = link_params_for_scenario(channel, snr_db, doppler_hz, cfg, dynamics=dynamics)
    policies = scan.make_policies(schemes, thresholds=jnp.asarray(olla.thresholds_for(params.cfg)),
                                  ff_model=ff_model, ml_model=ml_model, olla=olla_params, ml_cal=ml_cal, tau=tau,
                                  max_backoff=max_backoff, finetune=finetune, olla_feedback=olla_feedback)
    return map_ues(scan.run_schemes, key, n_ue, params, policies, static={"n_periods": int(n_periods)})


def paired_gain(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(gain, 95 % CI half-width) of mean(y)/mean(x) - 1 over paired samples (delta method)."""
    xm, ym = float(np.mean(x)), float(np.mean(y))
    if xm <= 0.0:
        return float("nan"), float("nan")
    r = ym / xm
    n = len(x)
    resid = y - r * x
    se = float(np.std(resid, ddof=1)) / np.sqrt(n) / xm if n > 1 else float("nan")
    return r - 1.0, Z95 * se


def _gain_windows(res: dict, name: str, thr: np.ndarray, ref: np.ndarray, early: int) -> None:
    """gain_<name>_pct (+ _ci_pct) over all periods, _early_ over periods < ``early`` and _steady_
    over the rest (paired per-UE means, :func:`paired_gain`); thr, ref: [U, T] throughputs."""
    t = thr.shape[1]
    for suffix, sl in (("", slice(None)), ("_early", slice(0, min(early, t))), ("_steady", slice(early, t))):
        if sl.start is not None and sl.start >= t:
            g = ci = float("nan")  # no steady-state periods in a run this short
        else:
            g, ci = paired_gain(thr[:, sl].mean(1), ref[:, sl].mean(1))
        res[f"gain_{name}{suffix}_pct"] = 100.0 * g
        res[f"gain_{name}{suffix}_ci_pct"] = 100.0 * ci


def _ratio(num, den) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def summarize(o: dict, schemes=scan.SCHEMES, channel: str = "", tau: float = TAU_BLER, early_periods: int = 10) -> dict:
    """Scalar metrics of a point from ``run_point`` outputs (see the module docstring)."""
    thr = np.asarray(o["throughput_mbps"], np.float64)  # [U, T, N]
    thr_ue = np.mean(thr, axis=1)  # [U, N]
    u = thr_ue.shape[0]
    res = {}
    i_olla = schemes.index("olla") if "olla" in schemes else None
    for i, s in enumerate(schemes):
        res[f"thr_{s}"] = float(np.mean(thr_ue[:, i]))
        res[f"thr_{s}_ci"] = float(Z95 * np.std(thr_ue[:, i], ddof=1) / np.sqrt(u)) if u > 1 else float("nan")
        tx = float(np.sum(o["n_ack"][..., i]) + np.sum(o["n_nack"][..., i]))
        res[f"bler_{s}"] = float(np.sum(o["n_nack"][..., i]) / tx)
        res[f"bler_first_{s}"] = float(np.sum(o["n_nack_first"][..., i]) / max(np.sum(o["n_new"][..., i]), 1))
        res[f"p_bler_ge_09_{s}"] = float(np.mean(o["bler_first_tx"][..., i] >= 0.9))
        res[f"cqi_{s}"] = float(np.mean(o["cqi"][..., i]))
        if i_olla is not None and s != "olla":
            _gain_windows(res, s, thr[..., i], thr[..., i_olla], early_periods)
        if s in scan.TUNE_NEGATIVE:
            res[f"backoff_{s}"] = float(np.mean(o["backed_off"][..., i]))
            res[f"ft_rate_{s}"] = float(np.mean(o["ft_updated"][..., i]))
            res[f"ft_error_{s}"] = float(np.mean(o["ft_error"][..., i]))
            res[f"paper_gain_{s}_pct"] = PAPER_GAIN_PCT.get(channel, {}).get(s, float("nan"))
            # tau diagnostics: does P_hat >= tau find the periods whose label is >= tau?
            pred, true = o["ft_pred"][..., i] >= tau, o["bler"][..., i] >= tau
            res[f"tau_recall_{s}"] = _ratio(np.sum(pred & true), np.sum(true))
            res[f"tau_precision_{s}"] = _ratio(np.sum(pred & true), np.sum(pred))
        if s in scan.BOUND_RULE:
            res[f"backoff_{s}"] = float(np.mean(o["backed_off"][..., i]))
    if i_olla is not None:
        res["p_label_ge_tau_olla"] = float(np.mean(o["bler"][..., i_olla] >= tau))
    res["thr_ue"] = thr_ue.astype(np.float32)
    res["thr_t"] = np.mean(thr, axis=0).astype(np.float32)
    return res


def _check(p):
    if p.n_ue < 2:
        return "n_ue", "must be >= 2 (confidence intervals over UEs)"
    return check_scenario(p.channel, p.doppler_hz) or check_link_options(p, scenario(p.channel).model)


# Gains are NaN when OLLA delivered nothing or a window is empty; tau recall / precision when
# no period had the event; the paper's gains exist only for TDL-B50 / TDL-C200.
_NAN_OK = tuple(f"paper_gain_{s}_pct" for s in scan.TUNE_NEGATIVE) + tuple(
    f"gain_{s}{w}{c}_pct" for s in scan.ALL_SCHEMES[1:] for w in ("", "_early", "_steady") for c in ("", "_ci")) + tuple(
    f"tau_{m}_{s}" for s in scan.TUNE_NEGATIVE for m in ("recall", "precision"))


@struct.dataclass
class CqiThroughputParams(LinkOptionsParams):
    """Parameters of the experiment (units in each field's schema); the physics options and the
    dynamics come from ``LinkOptionsParams``."""

    channel: str = field("TDL-B50", 'test channel', choices=NAMED_SCENARIOS[1:])
    doppler_hz: float = field(30.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    snr_db: float = field(20.0, 'average SNR per receive antenna and RE', unit='dB', lo=-20.0, hi=50.0)
    n_ue: int = field(64, 'UEs per grid point (each runs all 4 schemes)', lo=2, hi=10**7)
    n_periods: int = field(20, 'CSI-RS periods (80 ms) per UE', lo=1, hi=100_000)
    delta_up_db: float = field(0.02, 'OLLA offset step per NACK (Delta_down = Delta_up T/(1-T))', unit='dB', lo=0.0, hi=10.0, lo_open=True)
    ml_gamma: float = field(0.02, 'ML calibration: logit step per NACK', lo=0.0, hi=10.0)
    tau: float = field(0.9, 'CQI-Tune threshold tau_BLER', lo=0.0, hi=1.0, lo_open=True)
    max_backoff: int = field(1, 'CQI_min = max(CQI_table - max_backoff, 1)', lo=0, hi=15)
    finetune: bool = field(True, 'LightTune fine-tuning on (False: prediction only)')
    olla_feedback: str = field("first_tx", 'HARQ feedback the OLLA loops count', choices=olla.OLLA_FEEDBACK)
    ff_model: str = field(DEFAULT_FF_MODEL, 'offline FF BLER model; make it with `ltjax run sweeps/bler_offline.toml`', kind="path", role="input")
    ml_model: str = field(DEFAULT_ML_MODEL, 'offline ML baseline; make it with `ltjax run sweeps/ml_baseline_offline.toml`', kind="path", role="input")
    bounds: bool = field(True, 'also run the genie and hindsight back-off bounds (each a second, counterfactual link lane)')
    early_periods: int = field(10, 'periods 0 .. early_periods-1 form the "early" gain window (OLLA converging), the rest the steady one', lo=1, hi=100_000)


@register_experiment(
    name="cqi_throughput",
    description="Fig. 5: throughput of OLLA, offline ML [16] and CQI-Tune (uniform/hard) vs SNR, paired CRN",
    params=CqiThroughputParams,
    plots=(plot_throughput, plot_gain),
    check=_check,
    allow_nonfinite=_NAN_OK,
)
def cqi_throughput(key, p):
    ff_model, ml_model = load_models(p.ff_model, p.ml_model)
    cfg, dyn = config_from_options(p, p.channel, p.doppler_hz)
    schemes = scan.ALL_SCHEMES if p.bounds else scan.SCHEMES
    o = run_point(key, p.channel, p.snr_db, p.doppler_hz, p.n_ue, p.n_periods, ff_model, ml_model, schemes,
                  olla_params=olla.OllaParams(delta_up_db=p.delta_up_db),
                  ml_cal=ml_baseline.MlCalParams(gamma=p.ml_gamma), tau=p.tau, finetune=p.finetune,
                  max_backoff=p.max_backoff, cfg=cfg, dynamics=dyn, olla_feedback=p.olla_feedback)
    return summarize(o, schemes, p.channel, p.tau, p.early_periods)

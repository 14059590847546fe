"""``lighttune_bler_error``: BLER prediction error with and without online fine-tuning (LightTune Fig. 4).

Per grid point (channel, Doppler, SNR): ``n_ue`` UEs each run ``n_periods`` CSI-RS periods of
the link engine ONCE with the follow-the-reported-CQI gNB (the link does not depend on the
predictions), and the same feature/BLER sequences feed all five predictors (common random
numbers): no fine-tuning, Adam standard / one-step x uniform / hard negatives. ``variants``
names one fine-tuning variant to run beside no fine-tuning instead of all four (the
quickstart does): each predictor adds its FF passes per UE-period to the link engine's cost
(about an eighth of a point's time for the three left out, on CPU), and the predictors that
do run give the numbers of the full run (they share its link and negatives). Every UE starts
at t = 0 from the offline model (trained on TDL-A30, 0-12 dB, 10 Hz): t = 0 is the shift
from the training distribution to the test scenario. delta = 0.3, alpha_f = 0.03 (Table IV).

Metrics per variant v that runs: ``err_<v>`` = mean |P_hat - P| (eq. 12, unquantised P) over
UE-periods, ``err_se_<v>`` its standard error over UEs (per-UE means are independent),
``trigger_<v>`` = fraction of periods that fine-tuned, ``reduction_<v>`` = 1 - err_v / err_none. Series:
``err_t`` [V, T] and ``trigger_t`` [V, T] (means over UEs per period index; V the variants
that run, in the order of ``VARIANT_NAMES``).

The link-physics options (the BLER definition of the labels, eq. 11 over first transmissions
by default) and the non-stationary scenarios (SNR steps, shadowing, profile or Doppler
switches: the shifts online fine-tuning is for) are parameters
(``ltjax.link.options.LinkOptionsParams``).

The achievable floor (``floor_ue`` > 0): how low a well-trained offline regressor gets on the
same test periods. ``floor_ue`` further UEs (UEs n_ue .. n_ue + floor_ue - 1 of the point) run
``n_periods`` periods of the same scenario and link; their ``floor_ue * n_periods`` (feature,
label) pairs train the backprop baseline of [16] (``ltjax.linkadapt.ml_baseline``: 12-64-64-1
ReLU MLP, sigmoid output, BCE on the unquantised label, Adam with the Table V schedule,
``floor_epochs`` epochs), which then predicts
every test UE-period. It sees the test scenario's distribution, not its realisations, so it is
what offline training on in-scenario data would achieve with these 12 features; what it leaves
is label noise (the channel decorrelates within the 80 ms period) plus its own fitting error.
``err_floor`` / ``err_se_floor`` are its mean |P_hat - P| and standard error over UEs,
``reduction_floor`` = 1 - err_floor / err_none the achievable reduction, and
``achieved_<v>`` = reduction_<v> / reduction_floor the fraction of it each variant reaches
(NaN when the floor is not below the untuned error).

Keys: UE u uses k_u = fold_in(point_key, u); its link ``fold_in(k_u, 0)``, its LightTune
negatives ``fold_in(fold_in(k_u, 1), t)`` (the same for every variant); the floor model's weights
and minibatch order ``fold_in(point_key, FLOOR_STREAM)``. Adding a floor does not change the test
UEs' keys; their numbers are bit-identical once n_ue >= 32 (``map_ues``' micro-batch; below that
the micro-batch grows with the floor's UEs, which may move float results in the last bits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.batching import map_ues
from ltjax.channels import NAMED_SCENARIOS, scenario
from ltjax.data.shipped import FF_BLER_MODEL
from ltjax.lighttune.dataset import check_scenario
from ltjax.lighttune.model import BlerModel, load_model
from ltjax.lighttune.online import FIG4_VARIANTS, fig4_variants, run_sequence
from ltjax.link import LinkConfig, LinkParams, follow_cqi, link_params_for_scenario, run_ue
from ltjax.link.dynamics import DynamicsParams
from ltjax.link.options import LinkOptionsParams, check_link_options, config_from_options
from ltjax.linkadapt import ml_baseline
from ltjax.params import field
from ltjax.plotting.lighttune_bler_error import plot_error_over_time, plot_error_vs_snr
from ltjax.sweep.registry import register_experiment

VARIANT_NAMES = tuple(v[0] for v in FIG4_VARIANTS)
# ``variants`` values: every predictor, or no fine-tuning plus the one fine-tuning variant named.
VARIANT_CHOICES = ("all",) + VARIANT_NAMES[1:]
PAPER_REDUCTION = {"TDL-A30": 0.435, "TDL-B50": 0.36}  # Sec. V-B, one-step uniform (Fig. 4 caption)
# Key of the achievable floor's model: above any UE index (n_ue + floor_ue < 2**31 - 1).
FLOOR_STREAM = 2**31 - 1
# Compiled once per process (the library never jits): the floor model's training epoch and predictor.
_FLOOR_EPOCH = jax.jit(ml_baseline.train_epoch, static_argnames=("config",))
_FLOOR_PREDICT = jax.jit(ml_baseline.predict_bler)


def variant_names(choice: str = "all") -> tuple[str, ...]:
    """The predictors a grid point runs, in ``VARIANT_NAMES`` order: all five for ``"all"``,
    else ``("none", choice)`` (the baseline every reduction is measured against, and one variant)."""
    if choice not in VARIANT_CHOICES:
        raise ValueError(f"variants {choice!r}; allowed: {', '.join(VARIANT_CHOICES)}")
    return VARIANT_NAMES if choice == "all" else ("none", choice)


def _ue_kernel(ue_key, params: LinkParams, model: BlerModel, variants: tuple, *, n_periods: int):
    """One UE: link once, then the V predictors on the same sequence. Outputs [V, T]."""
    link = run_ue(jax.random.fold_in(ue_key, 0), params, n_periods, follow_cqi)
    k_lt = jax.random.fold_in(ue_key, 1)
    outs = [run_sequence(k_lt, model, lt, link.features, link.bler) for lt in variants]
    return {"err": jnp.stack([o.error for o in outs]), "upd": jnp.stack([o.updated for o in outs]),
            "bler_seen": jnp.stack([o.bler_true for o in outs]), "bler": link.bler, "features": link.features}


def achievable_floor(key, train_features: np.ndarray, train_bler: np.ndarray, features: np.ndarray,
                     bler: np.ndarray, epochs: int = 250) -> dict[str, np.ndarray]:
    """Trains the [16] backprop baseline on in-scenario samples and scores it on the test UEs.

    Args:
      key: typed key of the model's initial weights and minibatch order.
      train_features: [J, T, 12] raw features of the floor-training UEs; train_bler: [J, T] labels.
      features: [U, T, 12] the test UEs' features; bler: [U, T] their labels P.

    Returns ``err`` [U] (each test UE's mean |P_hat - P| over its T periods, P_hat the model's
    sigmoid output), ``train_err`` [] (the same over the training samples) and ``n_train`` [] (J T).
    """
    x = np.asarray(train_features, np.float32).reshape(-1, 12)
    y = np.asarray(train_bler, np.float32).reshape(-1)
    model, _ = ml_baseline.train(key, x, y, epochs=epochs, epoch_fn=_FLOOR_EPOCH)
    p_test = np.asarray(_FLOOR_PREDICT(model, jnp.asarray(features, jnp.float32)), np.float64)
    p_train = np.asarray(_FLOOR_PREDICT(model, jnp.asarray(x)), np.float64)
    return {"err": np.abs(p_test - np.asarray(bler, np.float64)).mean(axis=-1),
            "train_err": np.float64(np.abs(p_train - y).mean()), "n_train": np.int64(x.shape[0])}


def run_point(key, model: BlerModel, channel: str, snr_db: float, doppler_hz: float, n_ue: int, n_periods: int,
              delta: float = 0.3, lr: float = 0.03, cfg: LinkConfig = LinkConfig(),
              dynamics: DynamicsParams = DynamicsParams(),
              names: tuple[str, ...] = VARIANT_NAMES) -> dict[str, np.ndarray]:
    """Per-UE outputs of one grid point (numpy): err/upd/bler_seen [U, V, T], bler [U, T], features [U, T, 12].

    ``cfg`` carries the link-physics options (the BLER label is eq. 11 under ``cfg.bler_mode``),
    ``dynamics`` the traced numbers of ``cfg.dynamics``; ``names`` the V predictors to run (a
    subset of ``VARIANT_NAMES``, e.g. :func:`variant_names`), in that order. A predictor's
    outputs do not depend on which others run: they share the link and the negatives' keys.
    """
    variants = tuple(lt for name, lt in fig4_variants(jnp.float32(delta), jnp.float32(lr)) if name in names)
    params = link_params_for_scenario(channel, snr_db, doppler_hz, cfg, dynamics=dynamics)
    return map_ues(_ue_kernel, key, n_ue, params, model, variants, static={"n_periods": int(n_periods)})


def _check(p):
    if not str(p.model_path).strip():
        return "model_path", ("must name the offline model file (results/bler_offline_model/ff_model.msgpack, "
                              f"or {FF_BLER_MODEL}, the one shipped with ltjax)")
    return check_scenario(p.channel, p.doppler_hz) or check_link_options(p, scenario(p.channel).model)


@struct.dataclass
class LightTuneBlerErrorParams(LinkOptionsParams):
    """Parameters of the experiment (units in each field's schema); the physics options (the
    BLER definition of the labels above all) and the dynamics come from ``LinkOptionsParams``."""

    channel: str = field("TDL-A30", 'test channel', choices=NAMED_SCENARIOS[1:])
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    snr_db: float = field(0.0, 'average SNR per receive antenna and RE', unit='dB', lo=-20.0, hi=50.0)
    n_ue: int = field(1000, 'UEs per grid point', lo=1, hi=10**7)
    n_periods: int = field(100, 'CSI-RS periods (80 ms) per UE', lo=1, hi=100_000)
    model_path: str = field("results/bler_offline_model/ff_model.msgpack", f'offline FF model ({FF_BLER_MODEL} is the one shipped with ltjax); make one with `ltjax run sweeps/bler_offline.toml`', kind="path", role="input")
    delta: float = field(0.3, 'fine-tuning threshold delta (Table IV)', lo=0.0, hi=1.0)
    lr: float = field(0.03, 'fine-tuning learning rate alpha_f (Table IV)', lo=0.0, hi=10.0, lo_open=True)
    floor_ue: int = field(0, "UEs (n_periods each, in the test scenario) whose samples train the achievable floor, the [16] backprop baseline; 0: no floor", lo=0, hi=10**6)
    floor_epochs: int = field(250, "training epochs of the achievable floor (Table V: 250)", lo=1, hi=100_000)
    variants: str = field("all", "predictors: 'all' (no fine-tuning + the 4 Adam/negative variants) or one variant, run beside no fine-tuning only", choices=VARIANT_CHOICES)


@register_experiment(
    name="lighttune_bler_error",
    description="LightTune Fig. 4: mean |P_hat - P| vs SNR, no fine-tuning vs 4 Adam/negative variants",
    params=LightTuneBlerErrorParams,
    plots=(plot_error_vs_snr, plot_error_over_time),
    check=_check,
    allow_nonfinite=tuple(f"achieved_{v}" for v in VARIANT_NAMES[1:]),  # NaN where the floor is not below the untuned error
)
def lighttune_bler_error(key, p):
    model, meta = load_model(p.model_path)
    cfg, dyn = config_from_options(p, p.channel, p.doppler_hz)
    names = variant_names(p.variants)
    # The floor's training UEs are UEs n_ue .. n_ue + floor_ue - 1 of the point: the same kernel,
    # so one compiled program (their predictor outputs are not used).
    o = run_point(key, model, p.channel, p.snr_db, p.doppler_hz, p.n_ue + p.floor_ue, p.n_periods,
                  p.delta, p.lr, cfg, dyn, names)
    train = {k: o[k][p.n_ue:] for k in ("features", "bler")}
    o = {k: v[: p.n_ue] for k, v in o.items()}
    err = o["err"].astype(np.float64)  # [U, V, T]
    upd = o["upd"].astype(np.float64)
    per_ue = err.mean(axis=2)  # [U, V]
    n_ue = err.shape[0]
    res = {"mean_bler": float(o["bler"].mean()), "model_config_hash": str(meta.get("config_hash", ""))}
    e_none = per_ue[:, 0].mean()
    for j, name in enumerate(names):
        res[f"err_{name}"] = float(per_ue[:, j].mean())
        res[f"err_se_{name}"] = float(per_ue[:, j].std(ddof=1) / np.sqrt(n_ue)) if n_ue > 1 else 0.0
        res[f"trigger_{name}"] = float(upd[:, j].mean())
        res[f"reduction_{name}"] = float(1.0 - per_ue[:, j].mean() / e_none) if e_none > 0 else 0.0
    if p.floor_ue > 0:
        fl = achievable_floor(jax.random.fold_in(key, FLOOR_STREAM), train["features"], train["bler"],
                              o["features"], o["bler"], p.floor_epochs)
        res["err_floor"] = float(fl["err"].mean())
        res["err_se_floor"] = float(fl["err"].std(ddof=1) / np.sqrt(n_ue)) if n_ue > 1 else 0.0
        res["err_floor_train"] = float(fl["train_err"])
        res["floor_samples"] = int(fl["n_train"])
        red_floor = 1.0 - res["err_floor"] / e_none if e_none > 0 else 0.0
        res["reduction_floor"] = float(red_floor)
        for name in names[1:]:
            res[f"achieved_{name}"] = float(res[f"reduction_{name}"] / red_floor) if red_floor > 0 else float("nan")
    res["err_t"] = err.mean(axis=0).astype(np.float32)  # [V, T]
    res["trigger_t"] = upd.mean(axis=0).astype(np.float32)  # [V, T]
    return res

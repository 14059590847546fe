"""``ff_class_histogram``: which BLER classes the offline FF model predicts on a channel, next to the truth.

Per grid point (channel, Doppler): ``n_samples`` UE-periods made exactly as the offline
dataset is made (``ltjax.lighttune.dataset.generate_bler_dataset``: follow-CQI gNB, average
SNR U(``snr_min_db``, ``snr_max_db``) per UE, ``periods_per_ue`` consecutive 80-ms CSI-RS
periods per UE, the link-physics options of ``LinkPhysicsParams``, so the labels follow
``bler_mode``, first transmissions by default). The model of ``model_path`` predicts each
period's BLER class from its 12 raw features (eq. 5, no fine-tuning), scaled as the model
was trained (its ``feature_scaling``); the true class is the period's BLER quantised to the
nearest of 0, 0.1, ..., 1.0 (Remark 4).

It answers one question about a model trained on TDL-A30 at 10 Hz: does it collapse onto one
class (class 0 under the standard scaling) when the delay spread and the Doppler leave the
training range, and does the input scaling (``docs/lighttune.md``) change that?

Metrics (scalars, one ``data.csv`` row per point):
  ``pred_frac_c<k>`` / ``true_frac_c<k>``, k = 0..10: fraction of samples predicted / labelled
  class k (BLER k/10); ``acc``: predicted class == true class; ``mae``: mean |P_hat - P| (eq. 12,
  unquantised P); ``mean_bler``; ``z_abs_max``: the largest |model input| over samples and
  features; ``frac_z_beyond_3``: fraction of samples with some |model input| > 3 (outside the
  3-sigma range of the training set, for the standard scaling); ``feature_scaling`` and
  ``model_config_hash`` of the model.
Series: ``pred_hist`` / ``true_hist`` [11] counts and ``confusion`` [11, 11] counts (true class x
predicted class).

Keys: the point key is the dataset key (UE u: ``fold_in(k, u)``), so two models run with the
same seed and grid see identical inputs (common random numbers).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from flax import struct

from ltjax.channels import NAMED_SCENARIOS
from ltjax.lighttune.dataset import DEFAULT_PERIODS_PER_UE, check_scenario, generate_bler_dataset
from ltjax.lighttune.model import BlerModel, load_model, standardize
from ltjax.lighttune.step import predict_class, quantize
from ltjax.link.config import LinkConfig
from ltjax.link.options import LinkPhysicsParams, physics_options
from ltjax.params import field
from ltjax.plotting.ff_class_histogram import plot_class_histogram
from ltjax.sweep.registry import register_experiment

N_CLASSES = 11


def predicted_classes(model: BlerModel, features) -> jax.Array:
    """Eq. 5 class indices int32 [N] of raw features [N, 12], scaled as ``model`` was trained."""
    z = standardize(model, features)
    return jax.lax.map(lambda zz: predict_class(model.params, zz, model.spec), z, batch_size=4096)


# Compiled once per process (the library never jits); the model's spec and scaling are static.
PREDICTED_CLASSES = jax.jit(predicted_classes)


def _check(p):
    if not str(p.model_path).strip():
        return "model_path", "must name the offline model file (results/bler_offline_model/ff_model.msgpack)"
    if not p.snr_max_db >= p.snr_min_db:
        return "snr_max_db", "must be >= snr_min_db"
    return check_scenario(p.channel, p.doppler_hz)


@struct.dataclass
class FfClassHistogramParams(LinkPhysicsParams):
    """Parameters of the experiment (units in each field's schema); the link-physics options
    (``LinkPhysicsParams``, the BLER definition of the labels above all) set the link."""

    model_path: str = field("results/bler_offline_model/ff_model.msgpack", 'offline FF model (.msgpack + .json sidecar); make one with `ltjax run sweeps/bler_offline.toml`', kind="path", role="input")
    channel: str = field("TDL-A30", 'test channel', choices=NAMED_SCENARIOS[1:])
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    snr_min_db: float = field(0.0, 'lowest per-UE average SNR (Table III test: 0-40 dB)', unit='dB', lo=-20.0, hi=50.0)
    snr_max_db: float = field(40.0, 'highest per-UE average SNR', unit='dB', lo=-20.0, hi=50.0)
    n_samples: int = field(4096, 'UE-periods per grid point', lo=1, hi=10**7)
    periods_per_ue: int = field(DEFAULT_PERIODS_PER_UE, 'consecutive CSI-RS periods per UE (as the offline dataset)',
                                lo=1, hi=10_000)


@register_experiment(
    name="ff_class_histogram",
    description="offline FF BLER model: predicted vs true BLER-class histogram on link-engine inputs",
    params=FfClassHistogramParams,
    plots=(plot_class_histogram,),
    check=_check,
)
def ff_class_histogram(key, p):
    model, meta = load_model(p.model_path)
    cfg = dataclasses.replace(LinkConfig(), **physics_options(p))  # labels follow bler_mode
    data = generate_bler_dataset(key, p.n_samples, channel=p.channel, snr_db_range=(p.snr_min_db, p.snr_max_db),
                                 doppler_hz=p.doppler_hz, periods_per_ue=p.periods_per_ue, cfg=cfg)
    y_hat = np.asarray(PREDICTED_CLASSES(model, data["features"]))
    y_true = np.asarray(quantize(data["bler"], model.spec.labels))
    z = np.abs(np.asarray(standardize(model, data["features"])))
    labels = np.asarray(model.spec.labels, np.float64)
    n = len(y_hat)
    pred_hist = np.bincount(y_hat, minlength=N_CLASSES).astype(np.int64)
    true_hist = np.bincount(y_true, minlength=N_CLASSES).astype(np.int64)
    confusion = np.zeros((N_CLASSES, N_CLASSES), np.int64)
    np.add.at(confusion, (y_true, y_hat), 1)
    res = {f"pred_frac_c{k}": float(pred_hist[k] / n) for k in range(N_CLASSES)}
    res.update({f"true_frac_c{k}": float(true_hist[k] / n) for k in range(N_CLASSES)})
    res.update({
        "acc": float(np.mean(y_hat == y_true)),
        "mae": float(np.mean(np.abs(labels[y_hat] - data["bler"]))),
        "mean_bler": float(np.mean(data["bler"])),
        "z_abs_max": float(z.max()),
        "frac_z_beyond_3": float(np.mean(np.any(z > 3.0, axis=1))),
        "feature_scaling": model.feature_scaling,
        "model_config_hash": str(meta.get("config_hash", "")),
        "pred_hist": pred_hist, "true_hist": true_hist, "confusion": confusion,
    })
    return res

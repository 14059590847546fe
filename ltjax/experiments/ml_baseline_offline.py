"""``ml_baseline_offline``: trains the offline ML link-adaptation baseline of [16] (Table V).

A 12 x 64 x 64 x 1 ReLU MLP (flax) predicts the period BLER (sigmoid output, BCE loss on the
quantised BLER, lambda = 0.1) from the 12 features of the offline dataset made by the
``bler_offline`` sweep (83,200 TDL-A30 low-SNR samples, results/bler_offline_model/dataset.npz).
Adam, lr 1e-3 with cosine decay to 1e-5 over 10 epochs and warm restarts, 250 epochs,
minibatches of 256 (see ``ltjax.linkadapt.ml_baseline`` and docs/link_adaptation.md).

The trained model is a versioned artefact (``ltjax.io.save_artifact``: flax msgpack at
``model_out`` and a JSON sidecar with suffix .json); ``model_out`` is checked before
training starts (a ``.json`` path, which the sidecar would overwrite, is refused).
``cqi_throughput`` loads it. Metrics: final training loss,
mean absolute error of the predicted BLER against the unquantised period BLER, the fraction
of samples whose prediction is on the right side of the 10 % target, training time. Series:
the loss per epoch.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax.io import check_artifact_path
from ltjax.lighttune.dataset import load_dataset
from ltjax.linkadapt import ml_baseline
from ltjax.params import field
from ltjax.plotting.ml_baseline_offline import plot_training
from ltjax.sweep.registry import register_experiment

DEFAULT_DATASET = "results/bler_offline_model/dataset.npz"
DEFAULT_MODEL = "results/ml_baseline_offline_model/ml_model.msgpack"  # outside the sweep dir (the runner replaces it)
QUANT = 0.1  # lambda (Remark 4): the dataset labels are quantised like the FF model's
# Compiled once per process (the library never jits).
TRAIN_EPOCH = jax.jit(ml_baseline.train_epoch, static_argnames=("config",))
PREDICT = jax.jit(ml_baseline.predict_bler)
CONFIG_KEYS = ("dataset", "epochs", "batch_size", "lr", "lr_min", "cycle_epochs", "max_samples")


def load_training_data(path: str):
    """(features [N, 12], bler [N]) from the offline BLER dataset file; InputError naming the file."""
    data, _ = load_dataset(path)
    return data["features"], data["bler"]


@struct.dataclass
class MlBaselineOfflineParams:
    """Parameters of the experiment (units in each field's schema)."""

    dataset: str = field(DEFAULT_DATASET, 'offline BLER dataset (.npz + .json sidecar); make it with `ltjax run sweeps/bler_offline.toml`', kind="path", role="input")
    model_out: str = field(DEFAULT_MODEL, 'where to save the model (.msgpack; config next to it as .json)', kind="path", role="output")
    epochs: int = field(250, 'training epochs (Table V: 250)', lo=1, hi=100_000)
    batch_size: int = field(256, 'minibatch size', lo=1, hi=1_000_000)
    lr: float = field(1e-3, 'peak learning rate (Table V: 1e-3)', lo=0.0, hi=1.0, lo_open=True)
    lr_min: float = field(1e-5, 'floor of the cosine decay (Table V: 1e-5)', lo=0.0, hi=1.0)
    cycle_epochs: int = field(10, 'epochs per cosine cycle before the warm restart', lo=1, hi=100_000)
    max_samples: int = field(0, 'use only the first N samples (0: all)', lo=0, hi=10**9)


@register_experiment(
    name="ml_baseline_offline",
    description="Train the offline 12x64x64x1 MLP BLER baseline of [16] (Table V) on the TDL-A30 dataset",
    params=MlBaselineOfflineParams,
    plots=(plot_training,),
    check=lambda p: ("lr_min", "must be <= lr") if p.lr_min > p.lr else None,
)
def ml_baseline_offline(key, p):
    model_out = check_artifact_path(p.model_out, "ml_baseline_offline: model_out")
    feats, bler = load_training_data(p.dataset)
    if p.max_samples:
        feats, bler = feats[: p.max_samples], bler[: p.max_samples]
    labels = np.round(np.clip(bler, 0.0, 1.0) / QUANT) * QUANT
    t0 = time.perf_counter()
    model, curve = ml_baseline.train(key, feats, labels, epochs=p.epochs, batch_size=p.batch_size,
                                     lr=p.lr, lr_min=p.lr_min, cycle_epochs=p.cycle_epochs, epoch_fn=TRAIN_EPOCH)
    train_s = time.perf_counter() - t0
    pred = np.asarray(PREDICT(model, jnp.asarray(feats)))
    config = {k: getattr(p, k) for k in CONFIG_KEYS}
    config.update(n_samples=int(len(bler)), target="period BLER (eq. 11), quantised to 0.1", loss="BCE",
                  optimizer="adam", schedule="cosine decay per cycle, warm restarts")
    ml_baseline.save_model(model_out, model, config)
    return {
        "final_loss": float(curve[-1]),
        "mae_bler": float(np.mean(np.abs(pred - bler))),
        "target_side_acc": float(np.mean((pred <= 0.1) == (bler <= 0.1))),
        "mean_pred": float(np.mean(pred)),
        "mean_bler": float(np.mean(bler)),
        "n_samples": int(len(bler)),
        "train_s": float(train_s),
        "loss_curve": curve,
    }

"""``bler_offline``: the offline FF BLER model of LightTune (Sec. V-B, Tables III-IV).

One grid point = the whole pipeline:

1. dataset: ``n_samples`` training samples (TDL-A30, SNR U(0, 12) dB, 10 Hz, follow-CQI gNB;
   ``ltjax.lighttune.dataset``) and ``n_val`` validation samples from other UEs.
   Skipped when ``<model_dir>/dataset.npz`` or the ``reuse_dataset`` file (default the
   committed ``results/bler_offline_model/dataset.npz``) has the same dataset config hash
   (resume-friendly: the link simulation is the slow part);
2. offline training: [13, 32, 32], T = 9, Adam lr 0.03, ``epochs`` epochs with the
   closed-form gradients (``ltjax.lighttune.train``, an epoch is one full-batch step of
   every layer with fresh uniform negatives), on inputs scaled by ``feature_scaling``
   ("standard": the training set's mean and std, the committed model's; "physical": fixed
   physical ranges, log-scaled delay spread and Doppler; ``ltjax.lighttune.model``);
3. the dataset and the model are written to the declared output directory ``model_dir``
   (default ``results/bler_offline_model``: ``dataset.npz`` / ``ff_model.msgpack``, each with
   its JSON sidecar, through ``ltjax.io.save_artifact``); the paths are checked before anything
   is computed. ``results/bler_offline_model/ff_model.msgpack`` is the reference model that
   ``lighttune_bler_error`` and the link-adaptation experiments load; the result directory
   holds the run's metrics and training curve only.

Metrics: accuracy and mean |P_hat - P| on the training and validation sets, the constant
predictors' references, timings, the config hashes, and the label distribution (the BLER
classes 0, 0.1, ..., 1.0 of the labels, under the run's ``bler_mode``): ``class_hist`` [11]
and ``val_class_hist`` [11] counts, ``train_frac_class0`` / ``train_frac_class10`` the
fractions of the end classes.

Keys: point key k; training data ``fold_in(k, 0)``, validation data ``fold_in(k, 1)``,
initial weights ``fold_in(k, 2)``, training negatives ``fold_in(k, 3)``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from flax import struct

from ltjax.channels import NAMED_SCENARIOS
from ltjax.errors import InputError
from ltjax.io import check_artifact_path, check_output_path, config_hash
from ltjax.lighttune.dataset import (DATASET_FORMAT, check_scenario, generate_bler_dataset, load_dataset,
                                     save_dataset)
from ltjax.lighttune.model import FEATURE_SCALINGS, MODEL_FORMAT, SIZES, init_model, input_stats, save_model
from ltjax.link.config import LEGACY_PHYSICS, LinkConfig
from ltjax.link.options import LinkPhysicsParams, physics_options
from ltjax.lighttune.train import evaluate, evaluate_arrays, train_chunk, train_offline
from ltjax.params import as_dict, field
from ltjax.plotting.bler_offline import plot_training_curve
from ltjax.sweep.registry import register_experiment

DATASET_FILE = "dataset.npz"
MODEL_FILE = "ff_model.msgpack"
# Compiled once per process (the library never jits): the epoch chunk and the evaluation.
TRAIN_CHUNK = jax.jit(train_chunk, static_argnames=("n_epochs", "spec"))
EVALUATE = jax.jit(evaluate_arrays, static_argnames=("spec",))


def _dataset_config(p, key) -> dict:
    """The dataset's identity (its config hash decides reuse). The link-physics options are part
    of it, except when they are all at ``LEGACY_PHYSICS``: datasets made before the options
    existed were made with those values, and keep their hash. Likewise ``bler_model = "margin"``
    (the only model before the LDPC calibration) is left out, so those datasets keep theirs."""
    cfg = {"format": DATASET_FORMAT, "n_samples": p.n_samples, "n_val": p.n_val,
           "channel": p.channel, "snr_db_range": [p.snr_min_db, p.snr_max_db],
           "doppler_hz": p.doppler_hz, "periods_per_ue": p.periods_per_ue,
           "key_data": np.asarray(jax.random.key_data(key)).tolist()}
    physics = physics_options(p)
    if physics != LEGACY_PHYSICS:
        if physics["bler_model"] == "margin":
            del physics["bler_model"]
        cfg["link_physics"] = physics
    return cfg


def _model_config(p, dcfg: dict) -> dict:
    """The model's config (its sidecar's ``config``; its hash is ``model_config_hash``). The
    default ``feature_scaling = "standard"`` is left out: a standard model keeps the config
    hash it had before the option existed; "physical" is recorded (and hashed). The same holds
    for ``bler_model = "margin"``, the model before the LDPC calibration."""
    params = as_dict(p)
    if params["feature_scaling"] == "standard":
        del params["feature_scaling"]
    if params["bler_model"] == "margin":
        del params["bler_model"]
    return {"experiment": "bler_offline", "params": params, "dataset_config_hash": config_hash(dcfg, 16),
            "key_data": dcfg["key_data"], "model_format": MODEL_FORMAT, "sizes": list(SIZES)}


def _find_dataset(candidates, want: str, log=print):
    """(train, val, path) from the first existing dataset whose config hash is ``want``, else None."""
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data, cfg = load_dataset(path)
        except InputError as e:
            log(f"[bler_offline] ignoring {e}")
            continue
        if config_hash(cfg, 16) == want:
            n = int(cfg["n_samples"])
            split = {k: (v[:n], v[n:]) for k, v in data.items()}
            return ({k: v[0] for k, v in split.items()}, {k: v[1] for k, v in split.items()}, path)
    return None


def _check(p):
    if not p.snr_max_db >= p.snr_min_db:
        return "snr_max_db", "must be >= snr_min_db"
    return check_scenario(p.channel, p.doppler_hz)


@struct.dataclass
class BlerOfflineParams(LinkPhysicsParams):
    """Parameters of the experiment (units in each field's schema); the link-physics options
    (``LinkPhysicsParams``, the BLER definition of the labels above all) set the dataset's link."""

    n_samples: int = field(83_200, 'training samples (UE-periods) (Table IV: 83,200)', lo=2, hi=10**7)
    n_val: int = field(8_320, 'validation samples, from other UEs', lo=1, hi=10**7)
    channel: str = field("TDL-A30", 'training channel (Table III)', choices=NAMED_SCENARIOS[1:])
    snr_min_db: float = field(0.0, 'lowest per-UE average SNR', unit='dB', lo=-20.0, hi=50.0)
    snr_max_db: float = field(12.0, 'highest per-UE average SNR', unit='dB', lo=-20.0, hi=50.0)
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    periods_per_ue: int = field(8, 'consecutive CSI-RS periods per UE', lo=1, hi=10_000)
    epochs: int = field(22_000, 'training epochs (Table IV: 22,000)', lo=1, hi=10**6)
    lr: float = field(0.03, 'Adam learning rate (Table IV)', lo=0.0, hi=10.0, lo_open=True)
    eval_every: int = field(500, 'epochs per jitted chunk / training-curve row', lo=1, hi=10**6)
    model_dir: str = field("results/bler_offline_model", 'where the dataset and the model are written (dataset.npz, ff_model.msgpack + .json sidecars); the experiments that use the model read it there', kind="path", role="dir")
    reuse_dataset: str = field("results/bler_offline_model/dataset.npz", 'an existing dataset (.npz + .json sidecar), used instead of simulating when its config hash matches this run', kind="path", role="input")
    feature_scaling: str = field("standard", "model input scaling: the training set's mean/std (standard, the committed model's) or fixed physical ranges with log delay spread and Doppler (physical; holds other channels in [-3, 3])", choices=FEATURE_SCALINGS)


@register_experiment(
    name="bler_offline",
    description="LightTune offline FF BLER model: dataset (link engine) + closed-form-gradient training",
    params=BlerOfflineParams,
    plots=(plot_training_curve,),
    check=_check,
)
def bler_offline(key, p):
    cache = check_output_path(p.model_dir, "bler_offline: model_dir", directory=True)
    dataset_path = check_artifact_path(cache / DATASET_FILE, "bler_offline: model_dir")
    model_path = check_artifact_path(cache / MODEL_FILE, "bler_offline: model_dir")
    dcfg = _dataset_config(p, key)
    want = config_hash(dcfg, 16)
    t0 = time.perf_counter()
    found = _find_dataset([dataset_path] + ([Path(p.reuse_dataset)] if str(p.reuse_dataset).strip() else []), want)
    if found is None:
        link_cfg = dataclasses.replace(LinkConfig(), **physics_options(p))  # labels follow bler_mode
        kw = dict(channel=p.channel, snr_db_range=(p.snr_min_db, p.snr_max_db),
                  doppler_hz=p.doppler_hz, periods_per_ue=p.periods_per_ue, cfg=link_cfg)
        train = generate_bler_dataset(jax.random.fold_in(key, 0), p.n_samples, **kw)
        val = generate_bler_dataset(jax.random.fold_in(key, 1), p.n_val, **kw)
        save_dataset(dataset_path, {k: np.concatenate([train[k], val[k]]) for k in train}, dcfg)
        reused = 0
    else:
        train, val, src = found
        print(f"[bler_offline] reusing dataset {src} (config hash {want})")
        reused = 1
    t_data = time.perf_counter() - t0

    model0 = init_model(jax.random.fold_in(key, 2), *input_stats(train["features"], p.feature_scaling),
                        feature_scaling=p.feature_scaling)
    t1 = time.perf_counter()
    model, curve = train_offline(jax.random.fold_in(key, 3), model0, train, val, p.epochs, lr=p.lr,
                                 eval_every=p.eval_every, chunk_fn=TRAIN_CHUNK, eval_fn=EVALUATE)
    t_train = time.perf_counter() - t1
    mcfg = _model_config(p, dcfg)
    save_model(model_path, model, mcfg)

    ev_tr = evaluate(model, train["features"], train["bler"], EVALUATE)
    ev_va = evaluate(model, val["features"], val["bler"], EVALUATE)
    classes = np.rint(np.asarray(train["bler"]) * 10).astype(int)
    hist = np.bincount(classes, minlength=11).astype(np.int64)
    val_hist = np.bincount(np.rint(np.asarray(val["bler"]) * 10).astype(int), minlength=11).astype(np.int64)
    # Reference predictors without features: the best constant class (median of P) and the mean of P.
    med = np.round(np.median(train["bler"]) * 10) / 10
    res = {
        "train_acc": ev_tr["acc"], "val_acc": ev_va["acc"],
        "train_mae": ev_tr["mae"], "val_mae": ev_va["mae"],
        "val_mae_const_median_class": float(np.mean(np.abs(val["bler"] - med))),
        "val_acc_majority_class": float(np.mean(np.rint(val["bler"] * 10).astype(int) == np.argmax(hist))),
        "mean_bler_train": float(np.mean(train["bler"])),
        "n_train": int(len(train["bler"])), "n_val": int(len(val["bler"])),
        "dataset_reused": reused, "dataset_s": t_data, "train_s": t_train,
        "ms_per_epoch": 1e3 * t_train / p.epochs,
        "model_config_hash": config_hash(mcfg, 16), "dataset_config_hash": want,
        "train_frac_class0": float(hist[0] / hist.sum()), "train_frac_class10": float(hist[10] / hist.sum()),
        "class_hist": hist, "val_class_hist": val_hist,
    }
    for k, v in curve.items():
        res[f"curve_{k}"] = v
    return res

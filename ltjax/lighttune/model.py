"""The offline FF BLER model (Table IV): [13, 32, 32] ReLU, label appended as a value, T = 9.

A :class:`BlerModel` is the FF parameters plus the input standardisation of the
training set and the static FF settings (:class:`LightTuneParams`) that define
inference (labels, threshold, goodness, prediction mode).

Input standardisation (the paper is silent): the 12 raw features span dB (-10..50),
ns (0..700), Hz (0..100), RB counts (26..106) and small integers; fed raw, the
106-RB input would swamp the appended label value (0..1) and every goodness would
sit far above T. Every feature is therefore standardised with the training set's
mean and standard deviation, z = (x - mean) / std (std floored at
:data:`STD_FLOOR` so a constant feature maps to 0 rather than inf), before the
label is appended. A UE keeps the same standardisation while it fine-tunes:
only the FF weights change online (Alg. 1).

Three further choices the paper is silent on (``default_lt``; docs/lighttune.md has the
measurements behind them):

- **Label encoding.** The class value P in 0, 0.1, ..., 1.0 is appended as
  ``(P - 0.5) * 10`` (``LABEL_OFFSET``, ``LABEL_SCALE``): centred, and on the scale of
  the standardised features, so that it is not drowned by them.
- **Length normalisation** of every layer's input (Hinton's FF, the reference code).
  Without it the appended label enters layer 1 linearly, so its goodness
  G_1(y) = sum_j ReLU(a_j + w_j y)^2 is *convex* in y and eq. 5 can only pick the end
  classes 0 or 1.0 (``test_raw_appended_label_gives_convex_first_layer_goodness``);
  trained that way the model predicted one class for every sample.
- **Goodness** is the per-sample mean of h^2 (``goodness="mean"``, the reference code's,
  as for MNIST); the per-neuron reading of eqs. 3/6 did not learn here either.

Prediction (eq. 5): the BLER class with the largest goodness over the 11 candidates
0, 0.1, ..., 1.0, the goodness summed over both layers (the reference code's rule,
``predict_mode="sum_layers"``; the last layer alone learned an *anti*-correlated
ordering early in training on a toy set); its value is the predicted BLER P_hat.

Letters: F = 12 features, K = 11 BLER classes.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization, struct

from ltjax.errors import InputError
from ltjax.lighttune.step import BLER_CLASSES, LightTuneParams, predict_ue
from ltjax.link import FEATURE_NAMES, N_FEATURES

MODEL_FORMAT = 1
SIZES = (13, 32, 32)  # Table IV
STD_FLOOR = 1e-6
# Appended label input (P - 0.5) * 10: centred, and on the scale of the 12 standardised
# features (norm ~ sqrt(12)), so that it survives the length normalisation. See the module
# docstring and docs/lighttune.md for why the raw value 0..1 cannot work.
LABEL_OFFSET = 0.5
LABEL_SCALE = 10.0
# The settings of LightTuneParams that define the model (stored with it); the online
# ones (delta, lr, variant, negative, Adam betas) are chosen by the experiment.
MODEL_LT_FIELDS = ("threshold", "labels", "loss", "goodness", "label_mode", "normalize", "predict_mode",
                   "label_offset", "label_scale")


def default_lt() -> LightTuneParams:
    """Table IV settings (T = 9, BLER classes 0..1 step 0.1 appended as a value, quadratic loss) plus
    the three choices the paper is silent on: mean goodness, length normalisation, label encoding."""
    return LightTuneParams(threshold=9.0, labels=BLER_CLASSES, loss="quadratic", goodness="mean",
                           label_mode="append", normalize=True, predict_mode="sum_layers",
                           label_offset=LABEL_OFFSET, label_scale=LABEL_SCALE)


@struct.dataclass
class BlerModel:
    """Offline FF BLER model.

    Attributes:
      params: list of 2 layers ``{"w": [13, 32] / [32, 32], "b": [32]}`` (float32).
      feat_mean: [12] float32, training-set feature means (raw units, FEATURE_NAMES order).
      feat_std: [12] float32, training-set feature standard deviations (>= STD_FLOOR).
      lt: static LightTuneParams of the model (labels, T, loss, goodness, prediction mode).
    """

    params: list  # [{"w": [N_l, M_l], "b": [M_l]}] * L
    feat_mean: jax.Array  # [12] float32
    feat_std: jax.Array  # [12] float32
    lt: LightTuneParams = struct.field(pytree_node=False, default_factory=default_lt)


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean [12], std [12]) of raw training features [N, 12], std floored at STD_FLOOR."""
    f = np.asarray(features, np.float64)
    return (f.mean(0).astype(np.float32),
            np.maximum(f.std(0), STD_FLOOR).astype(np.float32))


def normalize_features(model: BlerModel, features: jax.Array) -> jax.Array:
    """Standardised features z = (x - mean) / std, [..., 12] -> [..., 12] (float32)."""
    x = jnp.asarray(features, jnp.float32)
    return (x - model.feat_mean) / model.feat_std


def predict_class(params, model: BlerModel, x_raw: jax.Array) -> jax.Array:
    """Eq. (5): index of the predicted BLER class for one UE. x_raw: [12] raw features -> [] int32."""
    return predict_ue(params, normalize_features(model, x_raw), model.lt)


def predict_bler(params_or_model, model_or_x, x_raw=None) -> jax.Array:
    """Predicted BLER P_hat (the value of the eq. 5 class), float32 [].

    Two forms:
      ``predict_bler(params, model, x_raw)``: with a UE's own (fine-tuned) FF params,
        e.g. ``ue_state.params``; vmap it over UEs with ``in_axes=(0, None, 0)``.
      ``predict_bler(model, x_raw)``: with the offline params ``model.params``.
    ``x_raw`` is one UE's raw feature vector [12] (FEATURE_NAMES order, e.g.
    ``PeriodOutputs.features``); standardisation happens here.
    """
    if x_raw is None:
        model, x_raw = params_or_model, model_or_x
        params = model.params
    else:
        params, model = params_or_model, model_or_x
    k = predict_class(params, model, x_raw)
    return jnp.asarray(model.lt.labels, jnp.float32)[k]


def init_model(key, mean, std, lt: LightTuneParams | None = None, sizes=SIZES) -> BlerModel:
    """An untrained model (PyTorch-default uniform init, ``ltjax.ff.init``) with the given standardisation."""
    from ltjax import ff

    if sizes[0] != N_FEATURES + 1:
        raise ValueError(f"sizes[0] must be {N_FEATURES + 1} (12 features + label), got {sizes}")
    return BlerModel(params=ff.init(key, sizes), feat_mean=jnp.asarray(mean, jnp.float32),
                     feat_std=jnp.asarray(std, jnp.float32), lt=lt or default_lt())


# ---- serialization (flax msgpack + JSON config; no pickle) ---------------------------------


def _config_path(path: Path) -> Path:
    return path.with_suffix(".json")


def save_model(path, model: BlerModel, config: dict) -> Path:
    """Writes the params and standardisation to ``path`` (flax msgpack) and a JSON config beside it.

    The JSON (``path`` with suffix .json) holds the format version, the layer sizes,
    the model's static LightTune settings, the feature names, ``config`` (what made the
    model, e.g. the run's parameters) and ``config_hash`` (its identity).
    """
    from ltjax.lighttune.dataset import config_hash

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = {"params": {str(i): {k: np.asarray(v, np.float32) for k, v in layer.items()}
                       for i, layer in enumerate(model.params)},
            "feat_mean": np.asarray(model.feat_mean, np.float32),
            "feat_std": np.asarray(model.feat_std, np.float32)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(tree))
    tmp.replace(path)
    sizes = [int(model.params[0]["w"].shape[0])] + [int(l["w"].shape[1]) for l in model.params]
    lt = {f: (list(getattr(model.lt, f)) if f == "labels" else getattr(model.lt, f)) for f in MODEL_LT_FIELDS}
    meta = {"format_version": MODEL_FORMAT, "sizes": sizes, "lt": lt,
            "feature_names": list(FEATURE_NAMES), "config": config, "config_hash": config_hash(config)}
    _config_path(path).write_text(json.dumps(meta, indent=1, default=str))
    return path


def load_model(path) -> tuple[BlerModel, dict]:
    """(BlerModel, meta) from :func:`save_model`; ``meta`` is the JSON (``config``, ``config_hash``, ...).

    Missing, corrupted or inconsistent files raise InputError, one line naming the file.
    """
    from ltjax.lighttune.dataset import read_versioned_json

    path = Path(path)
    cpath = _config_path(path)
    try:
        meta = read_versioned_json(cpath, MODEL_FORMAT)
        sizes = [int(s) for s in meta["sizes"]]
        lt_fields = dict(meta["lt"])
        lt_fields["labels"] = tuple(float(v) for v in lt_fields["labels"])
        lt = LightTuneParams(**{k: lt_fields[k] for k in MODEL_LT_FIELDS})
    except FileNotFoundError:
        raise InputError(f"{cpath}: model config missing (train the model with "
                         "`ltjax run sweeps/bler_offline.toml`)") from None
    except Exception as e:  # noqa: BLE001 - JSON/structure problems of a corrupted file
        raise InputError(f"{cpath}: unreadable model config ({type(e).__name__}: {e})") from None
    try:
        tree = serialization.msgpack_restore(path.read_bytes())
        layers = tree["params"]
        params = [{"w": np.asarray(layers[str(i)]["w"], np.float32), "b": np.asarray(layers[str(i)]["b"], np.float32)}
                  for i in range(len(sizes) - 1)]
        if str(len(sizes) - 1) in layers:
            raise ValueError(f"more layers than the config's sizes {sizes}")
        for i, layer in enumerate(params):
            if layer["w"].shape != (sizes[i], sizes[i + 1]) or layer["b"].shape != (sizes[i + 1],):
                raise ValueError(f"layer {i} shapes {layer['w'].shape}, {layer['b'].shape} do not match sizes {sizes}")
        mean, std = (np.asarray(tree[k], np.float32) for k in ("feat_mean", "feat_std"))
        if mean.shape != (N_FEATURES,) or std.shape != (N_FEATURES,) or not np.all(std > 0):
            raise ValueError("feature standardisation must be [12] with std > 0")
        if sizes[0] != N_FEATURES + 1:
            raise ValueError(f"input size {sizes[0]} != 13")
        if not all(np.all(np.isfinite(a)) for l in params for a in l.values()) or not np.all(np.isfinite(mean)):
            raise ValueError("non-finite parameters")
    except FileNotFoundError:
        raise InputError(f"{path}: model file missing (train the model with "
                         "`ltjax run sweeps/bler_offline.toml`)") from None
    except Exception as e:  # noqa: BLE001 - msgpack/structure errors of a corrupted file
        raise InputError(f"{path}: corrupted or incompatible model file ({type(e).__name__}: {e}); "
                         "retrain with `ltjax run sweeps/bler_offline.toml`") from None
    model = BlerModel(params=[{k: jnp.asarray(v) for k, v in l.items()} for l in params],
                      feat_mean=jnp.asarray(mean), feat_std=jnp.asarray(std), lt=lt)
    return model, meta

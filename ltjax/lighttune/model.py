"""The offline FF BLER model (Table IV): [13, 32, 32] ReLU, label appended as a value, T = 9.

A :class:`BlerModel` is the FF parameters plus the input standardisation of the training set
and the model's fixed description (:class:`~ltjax.lighttune.step.FFSpec`: labels and their
encoding, threshold, loss, goodness, normalisation, prediction rule).

Input standardisation (the paper is silent): the 12 raw features span dB (-10..50), ns
(0..700), Hz (0..100), RB counts (26..106) and small integers; fed raw, the 106-RB input
would swamp the appended label value (0..1) and every goodness would sit far above T. Every
feature is therefore standardised with the training set's mean and standard deviation,
z = (x - mean) / std, before the label is appended. The std is floored at
``STD_FLOOR * max(|mean|, 1)`` (:func:`std_floor`) so that a feature that is constant in the
training set maps to 0 rather than inf; a saved model whose std is below that floor (or not
finite) is refused as degenerate. A UE keeps the same standardisation while it fine-tunes:
only the FF weights change online (Alg. 1).

Three further choices the paper is silent on (:func:`default_spec`; docs/lighttune.md has the
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

Saved models are versioned artefacts (``ltjax.io.save_artifact``): flax msgpack weights and
standardisation plus a JSON sidecar with the sizes, the spec, the feature names and the
config that made the model.

Letters: F = 12 features, K = 11 BLER classes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.errors import InputError
from ltjax.io import check_input_file, load_artifact, save_artifact
from ltjax.lighttune.step import BLER_CLASSES, FFSpec, predict_class
from ltjax.link import FEATURE_NAMES, N_FEATURES

MODEL_FORMAT = 1
MODEL_KIND = "ff_bler_model"
SIZES = (13, 32, 32)  # Table IV
# Standard-deviation floor relative to the feature's scale max(|mean|, 1): far below any
# spread a simulated feature has (the smallest in the committed dataset is 0.30, for the RI),
# far above float32 round-off of a constant feature's std.
STD_FLOOR = 1e-6
# Appended label input (P - 0.5) * 10: centred, and on the scale of the 12 standardised
# features (norm ~ sqrt(12)), so that it survives the length normalisation. See the module
# docstring and docs/lighttune.md for why the raw value 0..1 cannot work.
LABEL_OFFSET = 0.5
LABEL_SCALE = 10.0
RETRAIN_HINT = "train it with `ltjax run sweeps/bler_offline.toml`"


def default_spec() -> FFSpec:
    """Table IV settings (T = 9, BLER classes 0..1 step 0.1 appended as a value, quadratic loss) plus
    the three choices the paper is silent on: mean goodness, length normalisation, label encoding."""
    return FFSpec(labels=BLER_CLASSES, label_mode="append", label_offset=LABEL_OFFSET, label_scale=LABEL_SCALE,
                  threshold=9.0, loss="quadratic", goodness="mean", normalize=True, predict_mode="sum_layers")


@struct.dataclass
class BlerModel:
    """An FF BLER model.

    Attributes:
      params: list of 2 layers ``{"w": [13, 32] / [32, 32], "b": [32]}`` (float32).
      feat_mean: [12] float32, training-set feature means (raw units, FEATURE_NAMES order).
      feat_std: [12] float32, training-set feature standard deviations (>= :func:`std_floor`).
      spec: the model's static :class:`FFSpec` (labels, T, loss, goodness, prediction rule).
    """

    params: list  # [{"w": [N_l, M_l], "b": [M_l]}] * L
    feat_mean: jax.Array  # [12] float32
    feat_std: jax.Array  # [12] float32
    spec: FFSpec = struct.field(pytree_node=False, default_factory=default_spec)


def std_floor(mean) -> np.ndarray:
    """The smallest standard deviation a feature may have: ``STD_FLOOR * max(|mean|, 1)``, [F]."""
    return STD_FLOOR * np.maximum(np.abs(np.asarray(mean, np.float64)), 1.0)


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean [12], std [12]) of raw training features [N, 12], std floored at :func:`std_floor`."""
    f = np.asarray(features, np.float64)
    mean = f.mean(0)
    return mean.astype(np.float32), np.maximum(f.std(0), std_floor(mean)).astype(np.float32)


def check_standardisation(mean, std) -> None:
    """ValueError (one line) unless mean/std are [12], finite, and std >= :func:`std_floor` (float32)."""
    mean, std = np.asarray(mean), np.asarray(std)
    if mean.shape != (N_FEATURES,) or std.shape != (N_FEATURES,):
        raise ValueError(f"feature standardisation must be [{N_FEATURES}], got {mean.shape} / {std.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError("non-finite feature standardisation")
    # 0.1 % slack: a constant feature's std is the floor computed from the float64 mean,
    # rounded to float32 like the mean it is compared against here.
    bad = np.flatnonzero(std < 0.999 * std_floor(mean))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"degenerate feature standardisation: std of {FEATURE_NAMES[i]!r} is {float(std[i]):.3g}, "
                         f"below the floor {float(std_floor(mean)[i]):.3g} (STD_FLOOR x max(|mean|, 1))")


def standardize(model: BlerModel, features: jax.Array) -> jax.Array:
    """Standardised features z = (x - mean) / std, [..., 12] -> [..., 12] (float32)."""
    x = jnp.asarray(features, jnp.float32)
    return (x - model.feat_mean) / model.feat_std


def predict_bler(model: BlerModel, x_raw: jax.Array) -> jax.Array:
    """Predicted BLER P_hat (the value of the eq. 5 class) of ``model`` for one feature vector.

    Args:
      model: the FF model (offline, or a UE's fine-tuned copy: ``ltjax.lighttune.online``).
      x_raw: [12] raw features (FEATURE_NAMES order, e.g. ``PeriodOutputs.features``);
        standardised here.
    Returns:
      float32 [], one of ``model.spec.labels``. vmap it over UEs or candidate features.
    Raises:
      ValueError: ``x_raw`` is not one vector of the model's feature length (shapes are static,
        so this is checked at trace time, also under jit and vmap).
    """
    n_feat = model.feat_mean.shape[-1]
    if jnp.ndim(x_raw) != 1 or jnp.shape(x_raw)[0] != n_feat:
        raise ValueError(f"predict_bler: x_raw must have shape [{n_feat}] (one feature vector in FEATURE_NAMES "
                         f"order; vmap over UEs), got {tuple(jnp.shape(x_raw))}")
    k = predict_class(model.params, standardize(model, x_raw), model.spec)
    return jnp.asarray(model.spec.labels, jnp.float32)[k]


def init_model(key, mean, std, spec: FFSpec | None = None, sizes=SIZES) -> BlerModel:
    """An untrained model (PyTorch-default uniform init, ``ltjax.ff.init``) with the given standardisation."""
    from ltjax import ff

    if sizes[0] != N_FEATURES + 1:
        raise ValueError(f"sizes[0] must be {N_FEATURES + 1} (12 features + label), got {sizes}")
    return BlerModel(params=ff.init(key, sizes), feat_mean=jnp.asarray(mean, jnp.float32),
                     feat_std=jnp.asarray(std, jnp.float32), spec=spec or default_spec())


# ---- artefact files ---------------------------------------------------------------------------


def save_model(path, model: BlerModel, config: dict) -> Path:
    """Writes the model as a versioned artefact: ``path`` (flax msgpack: params, feat_mean,
    feat_std) and its JSON sidecar (``path`` with suffix .json: format version, kind, layer
    sizes, ``ff_spec``, feature names, ``config`` (what made the model) and its hash).

    Both files are written atomically (mode 0644). Check ``path`` with
    ``ltjax.io.check_artifact_path`` before training: a ``.json`` path is refused.
    """
    check_standardisation(model.feat_mean, model.feat_std)
    tree = {"params": {str(i): {k: np.asarray(v, np.float32) for k, v in layer.items()}
                       for i, layer in enumerate(model.params)},
            "feat_mean": np.asarray(model.feat_mean, np.float32),
            "feat_std": np.asarray(model.feat_std, np.float32)}
    sizes = [int(model.params[0]["w"].shape[0])] + [int(l["w"].shape[1]) for l in model.params]
    meta = {"sizes": sizes, "ff_spec": model.spec.as_dict(), "feature_names": list(FEATURE_NAMES),
            "config": config}
    return save_artifact(path, tree, meta, version=MODEL_FORMAT, kind=MODEL_KIND)


def _spec_from_meta(meta: dict) -> FFSpec:
    # "lt" is the key of models saved before FFSpec existed (same fields).
    fields = dict(meta["ff_spec"] if "ff_spec" in meta else meta["lt"])
    fields["labels"] = tuple(float(v) for v in fields["labels"])
    return FFSpec(**fields)


def load_model(path) -> tuple[BlerModel, dict]:
    """(BlerModel, meta) from :func:`save_model`; ``meta`` is the sidecar (``config``, ``config_hash``, ...).

    A missing, corrupted, inconsistent or degenerate file (non-finite weights, a feature
    standardisation below :func:`std_floor`) raises InputError, one line naming the file.
    """
    path = Path(path)
    check_input_file(path, "FF BLER model", hint=RETRAIN_HINT)  # names the payload, not its sidecar
    tree, meta = load_artifact(path, version=MODEL_FORMAT, kind=MODEL_KIND, hint=RETRAIN_HINT)
    sidecar = path.with_suffix(".json")
    try:
        sizes = [int(s) for s in meta["sizes"]]
        spec = _spec_from_meta(meta)
    except Exception as e:  # noqa: BLE001 - structure problems of an edited sidecar
        raise InputError(f"{sidecar}: unreadable model config ({type(e).__name__}: {e})") from None
    try:
        if sizes[0] != N_FEATURES + 1:
            raise ValueError(f"input size {sizes[0]} != 13")
        layers = tree["params"]
        params = [{"w": np.asarray(layers[str(i)]["w"], np.float32), "b": np.asarray(layers[str(i)]["b"], np.float32)}
                  for i in range(len(sizes) - 1)]
        if str(len(sizes) - 1) in layers:
            raise ValueError(f"more layers than the config's sizes {sizes}")
        for i, layer in enumerate(params):
            if layer["w"].shape != (sizes[i], sizes[i + 1]) or layer["b"].shape != (sizes[i + 1],):
                raise ValueError(f"layer {i} shapes {layer['w'].shape}, {layer['b'].shape} do not match sizes {sizes}")
        if not all(np.all(np.isfinite(a)) for l in params for a in l.values()):
            raise ValueError("non-finite parameters")
        mean, std = (np.asarray(tree[k], np.float32) for k in ("feat_mean", "feat_std"))
        check_standardisation(mean, std)
    except Exception as e:  # noqa: BLE001 - structure errors of a corrupted or degenerate file
        raise InputError(f"{path}: corrupted, incompatible or degenerate model file ({type(e).__name__}: {e}); "
                         f"re{RETRAIN_HINT}") from None
    model = BlerModel(params=[{k: jnp.asarray(v) for k, v in l.items()} for l in params],
                      feat_mean=jnp.asarray(mean), feat_std=jnp.asarray(std), spec=spec)
    return model, meta


__all__ = ["LABEL_OFFSET", "LABEL_SCALE", "MODEL_FORMAT", "MODEL_KIND", "SIZES", "STD_FLOOR", "BlerModel",
           "check_standardisation", "default_spec", "feature_stats", "init_model", "load_model", "predict_bler",
           "save_model", "standardize", "std_floor"]

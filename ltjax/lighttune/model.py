"""The offline FF BLER model (Table IV): [13, 32, 32] ReLU, label appended as a value, T = 9.

A :class:`BlerModel` is the FF parameters plus the input scaling (rule and feature statistics)
and the model's fixed description (:class:`~ltjax.lighttune.step.FFSpec`: labels and their
encoding, threshold, loss, goodness, normalisation, prediction rule).

Input scaling (the paper is silent): the 12 raw features span dB (-10..50), ns
(0..700), Hz (0..100), RB counts (26..106) and small integers; fed raw, the 106-RB input
would swamp the appended label value (0..1) and every goodness would sit far above T. Every
feature is therefore mapped to z = (g(x) - mean) / std before the label is appended, by one
of two rules (``BlerModel.feature_scaling``, :data:`FEATURE_SCALINGS`):

- ``"standard"`` (the default, the committed model's): g(x) = x and (mean, std) are the
  training set's (:func:`feature_stats`). Sharpest resolution inside the training
  distribution, but a feature the training set hardly varies is blown up outside it: trained
  on TDL-A30 at 10 Hz, a 30 Hz Doppler sits at about +5 sigma and a 200 ns delay spread at
  about +24 sigma.
- ``"physical"``: g clips every feature to a fixed physical range (:data:`PHYSICAL_RANGES`:
  the engine's SNRs, the two-layer capacity, TR 38.901's delay spreads, the engine's
  Doppler range, RI, CQI, RBs and DMRS symbols) and takes log10 of the delay spread and the
  Doppler; (mean, std) are the centre of that range and its half-width divided by
  ``PHYSICAL_HALF_WIDTH``, so every input lies in [-3, 3] whatever the channel
  (:func:`physical_stats`). Independent of the training set, at the price of a coarser
  resolution inside it.

The std is floored at ``STD_FLOOR * max(|mean|, 1)`` (:func:`std_floor`) so that a feature
that is constant in the training set maps to 0 rather than inf; a saved model whose std is
below that floor (or not finite) is refused as degenerate. A UE keeps the same scaling while
it fine-tunes: only the FF weights change online (Alg. 1).

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
feature statistics (mean, std) plus a JSON sidecar with the sizes, the spec, the feature
scaling, the feature names and the config that made the model. A sidecar written before the
scaling option has no ``feature_scaling`` field and loads as ``"standard"``.

Letters: F = 12 features, K = 11 BLER classes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.csi.estimators import SNR_FLOOR_DB
from ltjax.errors import InputError, one_line
from ltjax.io import check_input_file, load_artifact, save_artifact
from ltjax.lighttune.step import BLER_CLASSES, FFSpec, predict_class
from ltjax.link import FEATURE_NAMES, N_FEATURES
from ltjax.link.config import SNR_DB_RANGE

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

# How raw features become model inputs (module docstring). "standard" is the default because it
# is what the committed model and every result made with it use.
FEATURE_SCALINGS = ("standard", "physical")
# "physical": each range end maps to +-3, where the standard scaling puts a 3-sigma training
# sample, so the appended label (+-5) keeps roughly the weight relative to the 12 features that
# LABEL_SCALE was chosen for.
PHYSICAL_HALF_WIDTH = 3.0
# Every SNR-like feature: from the CSI-RS SNR estimator's floor (-30 dB,
# ltjax.csi.estimators.SNR_FLOOR_DB; a faded period of a -20 dB UE gets there) to the
# largest average SNR the engine accepts (50 dB, ltjax.link.config.SNR_DB_RANGE).
_SNR_DB = (float(SNR_FLOOR_DB), float(SNR_DB_RANGE[1]))
# feature -> (lo, hi, log10?), FEATURE_NAMES order; raw values are clipped to [lo, hi].
PHYSICAL_RANGES: dict[str, tuple[float, float, bool]] = {
    "csi_snr_db": (*_SNR_DB, False),
    # [bits/s/Hz] 2 layers (LinkConfig.max_rank <= 2) x log2(1 + 60 dB): the 50 dB average SNR
    # plus ~10 dB of 2x4 array gain and fading peaks, 2 log2(1 + 1e6) = 39.9.
    "csi_capacity": (0.0, 40.0, False),
    # [ns] TR 38.901 Table 7.7.3-1 (TDL/CDL delay scaling): "very short" 10 ns to "very long"
    # 1000 ns, log-scaled (the scenarios are spaced by factors, 30 / 50 / 200 / 300 ns); the
    # engine allows up to 555 ns (coherence bandwidth >= one RB); a noise-limited estimate
    # below 10 ns clips there.
    "delay_spread_ns": (10.0, 1000.0, True),
    # [Hz] log-scaled; 200 Hz = the engine's largest Doppler (f_D x slot <= 0.1 at 30 kHz SCS,
    # ltjax.channels.max_doppler_hz); below 1 Hz the coherence time 0.42 / f_D exceeds five
    # 80-ms CSI-RS periods, so the channel is static over a period and an estimate of 0 clips there.
    "doppler_hz": (1.0, 200.0, True),
    "pdsch_snr_db": (*_SNR_DB, False),
    "pdsch_snr_db_m1": (*_SNR_DB, False),
    "pdsch_snr_db_m2": (*_SNR_DB, False),
    "pdsch_snr_db_m3": (*_SNR_DB, False),
    "ri": (1.0, 2.0, False),  # ranks 1..2 (LinkConfig.max_rank <= 2)
    "cqi": (0.0, 15.0, False),  # the 4-bit CQI index (TS 38.214 Table 5.2.2.1-2/3; 0 = out of range)
    "n_rb": (1.0, 106.0, False),  # 1 RB to the 106-RB carrier at 30 kHz SCS (Table III)
    "n_dmrs": (1.0, 4.0, False),  # front-loaded + up to 3 additional DMRS symbols (TS 38.211 7.4.1.1)
}
assert tuple(PHYSICAL_RANGES) == FEATURE_NAMES
_PHYS_LO = np.array([r[0] for r in PHYSICAL_RANGES.values()], np.float32)
_PHYS_HI = np.array([r[1] for r in PHYSICAL_RANGES.values()], np.float32)
_PHYS_LOG = np.array([r[2] for r in PHYSICAL_RANGES.values()], bool)


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
      feat_mean: [12] float32, the offset subtracted from g(x) (FEATURE_NAMES order): the
        training-set means in raw units ("standard"), or the centres of the physical ranges,
        log10 units for delay spread and Doppler ("physical").
      feat_std: [12] float32, the divisor (>= :func:`std_floor`): training-set standard
        deviations, or physical half-widths / ``PHYSICAL_HALF_WIDTH``.
      spec: the model's static :class:`FFSpec` (labels, T, loss, goodness, prediction rule).
      feature_scaling: static, one of :data:`FEATURE_SCALINGS` (how :func:`standardize` maps x).
    """

    params: list  # [{"w": [N_l, M_l], "b": [M_l]}] * L
    feat_mean: jax.Array  # [12] float32
    feat_std: jax.Array  # [12] float32
    spec: FFSpec = struct.field(pytree_node=False, default_factory=default_spec)
    feature_scaling: str = struct.field(pytree_node=False, default="standard")


def check_feature_scaling(value, where: str = "feature_scaling") -> str:
    """``value`` if it is one of :data:`FEATURE_SCALINGS`, else a one-line InputError naming ``where``."""
    if not (isinstance(value, str) and value in FEATURE_SCALINGS):
        allowed = ", ".join(repr(v) for v in FEATURE_SCALINGS)
        raise InputError(one_line(f"{where}: {value!r} is not a feature scaling; allowed: {allowed}"))
    return value


def physical_stats() -> tuple[np.ndarray, np.ndarray]:
    """(centre [12], scale [12]) float32 of the "physical" scaling: the middle of each
    :data:`PHYSICAL_RANGES` range (log10 units where it is log-scaled) and its half-width over
    ``PHYSICAL_HALF_WIDTH``, so that the range maps onto [-3, 3]."""
    lo, hi = (np.where(_PHYS_LOG, np.log10(np.where(_PHYS_LOG, a, 1.0)), a)
              for a in (_PHYS_LO.astype(np.float64), _PHYS_HI.astype(np.float64)))
    return ((lo + hi) / 2).astype(np.float32), ((hi - lo) / (2 * PHYSICAL_HALF_WIDTH)).astype(np.float32)


def physical_transform(features: jax.Array) -> jax.Array:
    """g(x) of the "physical" scaling, [..., 12] -> [..., 12] float32: raw features clipped to
    :data:`PHYSICAL_RANGES`, delay spread [ns] and Doppler [Hz] as log10."""
    x = jnp.clip(jnp.asarray(features, jnp.float32), _PHYS_LO, _PHYS_HI)
    return jnp.where(_PHYS_LOG, jnp.log10(jnp.where(_PHYS_LOG, x, 1.0)), x)  # no log of a negative SNR


def input_stats(features, feature_scaling: str = "standard") -> tuple[np.ndarray, np.ndarray]:
    """(mean [12], std [12]) float32 of a new model with ``feature_scaling``: the training
    features' statistics (:func:`feature_stats` of raw [N, 12]) or :func:`physical_stats`
    (``features`` unused)."""
    if check_feature_scaling(feature_scaling) == "physical":
        return physical_stats()
    return feature_stats(features)


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
    """Model inputs z = (g(x) - mean) / std of raw features, [..., 12] -> [..., 12] (float32).

    g is the identity for ``model.feature_scaling == "standard"`` and :func:`physical_transform`
    for ``"physical"``; an unknown scaling is a one-line InputError (static: raised at trace time).
    """
    x = jnp.asarray(features, jnp.float32)
    if check_feature_scaling(model.feature_scaling, "BlerModel.feature_scaling") == "physical":
        x = physical_transform(x)
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


def init_model(key, mean, std, spec: FFSpec | None = None, sizes=SIZES,
               feature_scaling: str = "standard") -> BlerModel:
    """An untrained model (PyTorch-default uniform init, ``ltjax.ff.init``) with the given input
    scaling: ``mean``/``std`` [12] from :func:`input_stats` of the same ``feature_scaling``."""
    from ltjax import ff

    if sizes[0] != N_FEATURES + 1:
        raise ValueError(f"sizes[0] must be {N_FEATURES + 1} (12 features + label), got {sizes}")
    return BlerModel(params=ff.init(key, sizes), feat_mean=jnp.asarray(mean, jnp.float32),
                     feat_std=jnp.asarray(std, jnp.float32), spec=spec or default_spec(),
                     feature_scaling=check_feature_scaling(feature_scaling))


# ---- artefact files ---------------------------------------------------------------------------


def save_model(path, model: BlerModel, config: dict) -> Path:
    """Writes the model as a versioned artefact: ``path`` (flax msgpack: params, feat_mean,
    feat_std) and its JSON sidecar (``path`` with suffix .json: format version, kind, layer
    sizes, ``ff_spec``, ``feature_scaling`` (with ``physical_ranges`` for "physical"), feature
    names, ``config`` (what made the model) and its hash).

    Both files are written atomically (mode 0644). Check ``path`` with
    ``ltjax.io.check_artifact_path`` before training: a ``.json`` path is refused.
    """
    check_feature_scaling(model.feature_scaling, "BlerModel.feature_scaling")
    check_standardisation(model.feat_mean, model.feat_std)
    tree = {"params": {str(i): {k: np.asarray(v, np.float32) for k, v in layer.items()}
                       for i, layer in enumerate(model.params)},
            "feat_mean": np.asarray(model.feat_mean, np.float32),
            "feat_std": np.asarray(model.feat_std, np.float32)}
    sizes = [int(model.params[0]["w"].shape[0])] + [int(l["w"].shape[1]) for l in model.params]
    meta = {"sizes": sizes, "ff_spec": model.spec.as_dict(), "feature_scaling": model.feature_scaling}
    if model.feature_scaling == "physical":  # for a reader of the sidecar; load checks the statistics
        meta["physical_ranges"] = {k: [lo, hi, "log10" if log else "linear"]
                                   for k, (lo, hi, log) in PHYSICAL_RANGES.items()}
        meta["physical_half_width"] = PHYSICAL_HALF_WIDTH
    meta.update({"feature_names": list(FEATURE_NAMES), "config": config})
    return save_artifact(path, tree, meta, version=MODEL_FORMAT, kind=MODEL_KIND)


def _spec_from_meta(meta: dict) -> FFSpec:
    # "lt" is the key of models saved before FFSpec existed (same fields).
    fields = dict(meta["ff_spec"] if "ff_spec" in meta else meta["lt"])
    fields["labels"] = tuple(float(v) for v in fields["labels"])
    return FFSpec(**fields)


def _scaling_from_meta(meta: dict, sidecar: Path) -> str:
    """The sidecar's ``feature_scaling`` ("standard" when it predates the field), checked
    against ``config.params.feature_scaling`` (covered by the config hash) where the config has one."""
    value = meta.get("feature_scaling", "standard")
    check_feature_scaling(value, f"{sidecar}: feature_scaling")
    config = meta.get("config")
    params = config.get("params") if isinstance(config, dict) else None
    made = params.get("feature_scaling", value) if isinstance(params, dict) else value
    if made != value:
        raise InputError(f"{sidecar}: feature_scaling {value!r} but the model was trained with {made!r} "
                         "(config.params.feature_scaling); the sidecar was edited")
    return value


def load_model(path) -> tuple[BlerModel, dict]:
    """(BlerModel, meta) from :func:`save_model`; ``meta`` is the sidecar (``config``, ``config_hash``, ...).

    A missing, corrupted, inconsistent or degenerate file (non-finite weights, a feature
    standardisation below :func:`std_floor`, a "physical" model whose statistics are not
    :func:`physical_stats`, an unknown ``feature_scaling``) raises InputError, one line naming
    the file. A sidecar without ``feature_scaling`` (written before the option) loads as "standard".
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
    scaling = _scaling_from_meta(meta, sidecar)
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
        if scaling == "physical" and not all(np.allclose(a, b, rtol=1e-6, atol=0) for a, b in
                                             zip((mean, std), physical_stats())):
            raise ValueError("feature statistics are not the physical ranges of this ltjax version")
    except Exception as e:  # noqa: BLE001 - structure errors of a corrupted or degenerate file
        raise InputError(f"{path}: corrupted, incompatible or degenerate model file ({type(e).__name__}: {e}); "
                         f"re{RETRAIN_HINT}") from None
    model = BlerModel(params=[{k: jnp.asarray(v) for k, v in l.items()} for l in params],
                      feat_mean=jnp.asarray(mean), feat_std=jnp.asarray(std), spec=spec, feature_scaling=scaling)
    return model, meta


__all__ = ["FEATURE_SCALINGS", "LABEL_OFFSET", "LABEL_SCALE", "MODEL_FORMAT", "MODEL_KIND", "PHYSICAL_HALF_WIDTH",
           "PHYSICAL_RANGES", "SIZES", "STD_FLOOR", "BlerModel", "check_feature_scaling", "check_standardisation",
           "default_spec", "feature_stats", "init_model", "input_stats", "load_model", "physical_stats",
           "physical_transform", "predict_bler", "save_model", "standardize", "std_floor"]

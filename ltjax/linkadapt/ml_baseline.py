"""Offline ML link-adaptation baseline of [16] (Table V), with ACK/NACK output calibration.

What the network predicts (the paper is silent; our reading): the BLER of the coming CSI-RS
period (eq. 11) from the same 12 features as the FF model (``ltjax.link.FEATURE_NAMES``,
feature 10 = the CQI applied in the period). Architecture 12 x 64 x 64 x 1, ReLU, one logit
z(x); P_hat = sigmoid(z). Trained by backprop (flax + optax Adam) with the binary
cross-entropy between sigmoid(z) and the quantised period BLER (soft labels in [0, 1]), on
standardised features (mean/std of the training set, stored with the model).

Learning-rate schedule (Table V: "decays over 10 steps, then restarts with cycles, peak
constant, minimum 1e-5"): cosine decay from 1e-3 to 1e-5 over 10 *epochs*, restarted
(SGDR, Loshchilov & Hutter 2017) 25 times for the 250 epochs. Minibatches of 256 samples,
reshuffled every epoch (Table V is silent).

How the CQI follows (``ml_cqi``): for each candidate c = 1..15 the CQI feature is set to c,
P_hat(c) = sigmoid(z(x_c) + b), and the UE reports the highest c with P_hat(c) <= T = 0.1
(0 if none). The calibration b is an OLLA-like offset on the logit, per UE: +gamma per NACK,
-gamma T/(1-T) per ACK (period counts, applied at the period end), clipped to [-8, 8]. The
network weights are constants of the deployed policy: only b changes online.

Letters: N samples, F = 12 features, C = 15 candidate CQIs.
"""

from __future__ import annotations

import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization, struct

from ltjax.errors import InputError
from ltjax.lighttune.dataset import config_hash
from ltjax.lighttune.model import feature_stats

FORMAT_VERSION = 1
CQI_FEATURE = 9  # index of "cqi" in ltjax.link.FEATURE_NAMES
HIDDEN = (64, 64)


class MlpBler(nn.Module):
    """12 -> 64 -> 64 -> 1 ReLU MLP; returns the BLER logit, float32 [...]."""

    hidden: tuple = HIDDEN

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = nn.relu(nn.Dense(h)(x))
        return nn.Dense(1)(x)[..., 0]


@struct.dataclass
class MlModel:
    """A trained baseline: flax variables plus the input standardisation."""

    variables: dict  # flax variables of MlpBler
    feat_mean: jnp.ndarray  # [12] float32
    feat_std: jnp.ndarray  # [12] float32 (>= 1e-6)


@struct.dataclass
class MlCalParams:
    """Online calibration hyper-parameters (traced)."""

    gamma: float = 0.02  # logit increase per NACK
    target: float = 0.1  # BLER target T
    offset_min: float = -8.0
    offset_max: float = 8.0


@struct.dataclass
class MlCalState:
    """One UE's calibration state. The weights are deliberately not part of it."""

    offset: jnp.ndarray  # [] float32, added to the logit


def init_model(key, features: np.ndarray) -> MlModel:
    """Random weights and the standardisation of ``features`` [N, 12]."""
    mean, std = feature_stats(features)  # the FF BLER model's standardisation rule
    variables = MlpBler().init(key, jnp.zeros((12,), jnp.float32))
    return MlModel(variables=variables, feat_mean=jnp.asarray(mean), feat_std=jnp.asarray(std))


def ml_logit(model: MlModel, x_raw) -> jnp.ndarray:
    """Logit z of the period BLER. x_raw: [..., 12] raw features -> [...] float32."""
    x = (jnp.asarray(x_raw, jnp.float32) - model.feat_mean) / model.feat_std
    return MlpBler().apply(model.variables, x)


def lr_schedule(steps_per_epoch: int, epochs: int = 250, lr: float = 1e-3, lr_min: float = 1e-5,
                cycle_epochs: int = 10) -> optax.Schedule:
    """Cosine decay lr -> lr_min over ``cycle_epochs`` epochs, restarted at lr (SGDR)."""
    n_cycles = max(1, -(-epochs // cycle_epochs))
    decay = cycle_epochs * steps_per_epoch
    one = optax.cosine_decay_schedule(lr, decay, alpha=lr_min / lr)
    return optax.join_schedules([one] * n_cycles, [decay * (i + 1) for i in range(n_cycles - 1)])


def bce_loss(variables, model: MlModel, x_raw, y) -> jnp.ndarray:
    """Mean binary cross-entropy between sigmoid(z(x)) and soft labels y in [0, 1]."""
    z = ml_logit(model.replace(variables=variables), x_raw)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(z, y))


def make_train_epoch(optimizer: optax.GradientTransformation, batch_size: int):
    """A pure epoch function ``(key, model, opt_state, x [N,12], y [N]) -> (model, opt_state, loss)``.

    Shuffles, drops the last N mod batch_size samples of the permutation, and scans Adam over
    the minibatches. Jit it at the entry point.
    """

    def epoch(key, model: MlModel, opt_state, x, y):
        n_batches = x.shape[0] // batch_size
        perm = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        xb = x[perm].reshape(n_batches, batch_size, -1)
        yb = y[perm].reshape(n_batches, batch_size)

        def step(carry, batch):
            variables, opt_state = carry
            loss, g = jax.value_and_grad(bce_loss)(variables, model, *batch)
            upd, opt_state = optimizer.update(g, opt_state, variables)
            return (optax.apply_updates(variables, upd), opt_state), loss

        (variables, opt_state), losses = jax.lax.scan(step, (model.variables, opt_state), (xb, yb))
        return model.replace(variables=variables), opt_state, jnp.mean(losses)

    return epoch


def train(key, features: np.ndarray, bler: np.ndarray, epochs: int = 250, batch_size: int = 256,
          lr: float = 1e-3, lr_min: float = 1e-5, cycle_epochs: int = 10):
    """Trains the baseline (entry point: jits the epoch). Returns (MlModel, loss per epoch [epochs])."""
    x = jnp.asarray(features, jnp.float32)
    y = jnp.clip(jnp.asarray(bler, jnp.float32), 0.0, 1.0)
    batch_size = int(min(batch_size, x.shape[0]))
    k_init, k_run = jax.random.split(key)
    model = init_model(k_init, np.asarray(features))
    spe = x.shape[0] // batch_size
    opt = optax.adam(lr_schedule(spe, epochs, lr, lr_min, cycle_epochs))
    opt_state = opt.init(model.variables)
    epoch = jax.jit(make_train_epoch(opt, batch_size))
    curve = []
    for e in range(epochs):
        model, opt_state, loss = epoch(jax.random.fold_in(k_run, e), model, opt_state, x, y)
        curve.append(float(loss))
    return model, np.asarray(curve, np.float32)


# ---- online use (per UE, pure) ----

def cal_init() -> MlCalState:
    return MlCalState(offset=jnp.zeros([], jnp.float32))


def cal_update(state: MlCalState, n_ack, n_nack, params: MlCalParams = MlCalParams()) -> MlCalState:
    """OLLA-like logit offset: +gamma per NACK, -gamma T/(1-T) per ACK, clipped."""
    g = jnp.asarray(params.gamma, jnp.float32)
    off = (state.offset + g * jnp.asarray(n_nack, jnp.float32)
           - g * params.target / (1.0 - params.target) * jnp.asarray(n_ack, jnp.float32))
    return state.replace(offset=jnp.clip(off, params.offset_min, params.offset_max).astype(jnp.float32))


def candidate_features(x_raw, cqis):
    """[12] features -> [C, 12] with the CQI feature replaced by each candidate."""
    x = jnp.broadcast_to(jnp.asarray(x_raw, jnp.float32), (cqis.shape[0], x_raw.shape[-1]))
    return x.at[:, CQI_FEATURE].set(cqis.astype(jnp.float32))


def ml_cqi(model: MlModel, x_raw, state: MlCalState, target: float = 0.1):
    """Highest CQI c in 1..15 with calibrated P_hat(c) = sigmoid(z(x_c) + b) <= target (0 if none).

    Args:
      x_raw: float32 [12] features of the next period (CQI feature overwritten).
    Returns:
      (cqi int32 [], p_hat float32 [15] calibrated predictions for c = 1..15).
    """
    c = jnp.arange(1, 16)
    p = jax.nn.sigmoid(ml_logit(model, candidate_features(x_raw, c)) + state.offset)
    cqi = jnp.max(jnp.where(p <= target, c, 0)).astype(jnp.int32)
    return cqi, p


# ---- save / load (flax msgpack + JSON config, no pickle) ----

def save_model(path, model: MlModel, config: dict) -> tuple[Path, Path]:
    """Writes ``path`` (msgpack: variables, feat_mean, feat_std) and ``path.with_suffix('.json')``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = {"variables": jax.device_get(model.variables), "feat_mean": np.asarray(model.feat_mean),
            "feat_std": np.asarray(model.feat_std)}
    path.write_bytes(serialization.msgpack_serialize(serialization.to_state_dict(tree)))
    meta = {"format_version": FORMAT_VERSION, "model": "ml_baseline_mlp", "sizes": [12, *HIDDEN, 1],
            "config": config, "config_hash": config_hash(config)}
    cpath = path.with_suffix(".json")
    cpath.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    return path, cpath


def load_model(path) -> tuple[MlModel, dict]:
    """Loads a model saved by :func:`save_model`; any problem raises a one-line InputError."""
    path = Path(path)
    cpath = path.with_suffix(".json")
    if not path.exists():
        raise InputError(f"{path}: model file missing; make it with `ltjax run sweeps/ml_baseline_offline.toml`")
    try:
        meta = json.loads(cpath.read_text())
    except FileNotFoundError:
        raise InputError(f"{cpath}: model config missing (saved together with {path.name})") from None
    except Exception as e:  # noqa: BLE001 - a corrupted JSON
        raise InputError(f"{cpath}: unreadable model config ({type(e).__name__})") from None
    if meta.get("format_version") != FORMAT_VERSION or meta.get("model") != "ml_baseline_mlp":
        raise InputError(f"{cpath}: format_version/model: expected {FORMAT_VERSION}/ml_baseline_mlp, got "
                         f"{meta.get('format_version')!r}/{meta.get('model')!r}")
    template = init_model(jax.random.key(0), np.zeros((2, 12), np.float32))
    target = {"variables": jax.device_get(template.variables), "feat_mean": np.zeros(12, np.float32),
              "feat_std": np.ones(12, np.float32)}
    try:
        raw = serialization.msgpack_restore(path.read_bytes())
        tree = serialization.from_state_dict(target, raw)
        shapes_ok = jax.tree.all(jax.tree.map(lambda a, b: np.shape(a) == np.shape(b), tree, target))
        if not shapes_ok:
            raise ValueError("parameter shapes differ from 12x64x64x1")
    except Exception as e:  # noqa: BLE001 - msgpack/structure errors of a corrupted file
        raise InputError(f"{path}: corrupted or incompatible model file ({type(e).__name__}: {e})") from None
    model = MlModel(variables=jax.tree.map(jnp.asarray, tree["variables"]),
                    feat_mean=jnp.asarray(tree["feat_mean"], jnp.float32),
                    feat_std=jnp.asarray(tree["feat_std"], jnp.float32))
    return model, meta

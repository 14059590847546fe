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

Saved models are versioned artefacts (``ltjax.io.save_artifact``: flax msgpack + JSON
sidecar). :class:`MlPolicy` is the deployed scheme as a link-adaptation policy
(``ltjax.linkadapt.policy``). Nothing here is jitted: :func:`train` takes the epoch function
as an argument and entry points pass ``jax.jit(train_epoch, static_argnames=("config",))``.

Letters: N samples, F = 12 features, C = 15 candidate CQIs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization, struct

from ltjax.errors import InputError
from ltjax.io import check_input_file, load_artifact, save_artifact
from ltjax.lighttune.model import check_standardisation, feature_stats
from ltjax.link import period_features
from ltjax.linkadapt.policy import Observation, metrics, no_backoff

FORMAT_VERSION = 1
MODEL_KIND = "ml_baseline_model"
MODEL_NAME = "ml_baseline_mlp"
CQI_FEATURE = 9  # index of "cqi" in ltjax.link.FEATURE_NAMES
HIDDEN = (64, 64)
REMAKE_HINT = "make it with `ltjax run sweeps/ml_baseline_offline.toml`"


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
    feat_std: jnp.ndarray  # [12] float32 (>= ltjax.lighttune.model.std_floor)


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


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (Table V; static, hashable).

    Attributes:
      epochs: passes over the data. batch_size: minibatch size (at most N).
      lr, lr_min: peak and floor of the cosine decay. cycle_epochs: epochs per cosine cycle.
    """

    epochs: int = 250
    batch_size: int = 256
    lr: float = 1e-3
    lr_min: float = 1e-5
    cycle_epochs: int = 10


def init_model(key, features: np.ndarray) -> MlModel:
    """Random weights and the standardisation of ``features`` [N, 12]."""
    mean, std = feature_stats(features)  # the FF BLER model's standardisation rule
    variables = MlpBler().init(key, jnp.zeros((12,), jnp.float32))
    return MlModel(variables=variables, feat_mean=jnp.asarray(mean), feat_std=jnp.asarray(std))


def ml_logit(model: MlModel, x_raw) -> jnp.ndarray:
    """Logit z of the period BLER. x_raw: [..., 12] raw features -> [...] float32."""
    x = (jnp.asarray(x_raw, jnp.float32) - model.feat_mean) / model.feat_std
    return MlpBler().apply(model.variables, x)


def predict_bler(model: MlModel, x_raw) -> jnp.ndarray:
    """Uncalibrated P_hat = sigmoid(z(x)). x_raw: [..., 12] raw features -> [...] float32."""
    return jax.nn.sigmoid(ml_logit(model, x_raw))


def lr_schedule(steps_per_epoch: int, epochs: int = 250, lr: float = 1e-3, lr_min: float = 1e-5,
                cycle_epochs: int = 10) -> optax.Schedule:
    """Cosine decay lr -> lr_min over ``cycle_epochs`` epochs, restarted at lr (SGDR)."""
    n_cycles = max(1, -(-epochs // cycle_epochs))
    decay = cycle_epochs * steps_per_epoch
    one = optax.cosine_decay_schedule(lr, decay, alpha=lr_min / lr)
    return optax.join_schedules([one] * n_cycles, [decay * (i + 1) for i in range(n_cycles - 1)])


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    """Adam with the SGDR schedule of ``config``."""
    return optax.adam(lr_schedule(steps_per_epoch, config.epochs, config.lr, config.lr_min, config.cycle_epochs))


def bce_loss(variables, model: MlModel, x_raw, y) -> jnp.ndarray:
    """Mean binary cross-entropy between sigmoid(z(x)) and soft labels y in [0, 1]."""
    z = ml_logit(model.replace(variables=variables), x_raw)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(z, y))


def make_train_epoch(optimizer: optax.GradientTransformation, batch_size: int):
    """A pure epoch function ``(key, model, opt_state, x [N,12], y [N]) -> (model, opt_state, loss)``.

    Shuffles, drops the last N mod batch_size samples of the permutation, and scans Adam over
    the minibatches.
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


def train_epoch(key, model: MlModel, opt_state, x, y, *, config: TrainConfig):
    """One epoch (:func:`make_train_epoch` with :func:`make_optimizer`); ``config`` static.

    x [N, 12] raw features, y [N] soft labels. Returns (model, opt_state, mean loss []).
    """
    optimizer = make_optimizer(config, x.shape[0] // config.batch_size)
    return make_train_epoch(optimizer, config.batch_size)(key, model, opt_state, x, y)


def train(key, features: np.ndarray, bler: np.ndarray, epochs: int = 250, batch_size: int = 256,
          lr: float = 1e-3, lr_min: float = 1e-5, cycle_epochs: int = 10, *,
          epoch_fn: Callable = train_epoch):
    """Trains the baseline. Returns (MlModel, loss per epoch [epochs]).

    ``epoch_fn``: :func:`train_epoch` or, from an entry point, its jitted version
    ``jax.jit(train_epoch, static_argnames=("config",))`` (compiled once per data shape and config).
    """
    x = jnp.asarray(features, jnp.float32)
    y = jnp.clip(jnp.asarray(bler, jnp.float32), 0.0, 1.0)
    config = TrainConfig(epochs=int(epochs), batch_size=int(min(batch_size, x.shape[0])), lr=float(lr),
                         lr_min=float(lr_min), cycle_epochs=int(cycle_epochs))
    k_init, k_run = jax.random.split(key)
    model = init_model(k_init, np.asarray(features))
    opt_state = make_optimizer(config, x.shape[0] // config.batch_size).init(model.variables)
    curve = []
    for e in range(config.epochs):
        model, opt_state, loss = epoch_fn(jax.random.fold_in(k_run, e), model, opt_state, x, y, config=config)
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


@struct.dataclass
class MlPolicy:
    """The offline ML baseline of [16] with ACK/NACK calibration, as a link-adaptation policy.

    Attributes:
      model: the trained :class:`MlModel` (frozen: weights never change online).
      cal: :class:`MlCalParams` of the logit-offset calibration.
    """

    model: MlModel
    cal: MlCalParams = MlCalParams()

    def init(self, key) -> MlCalState:
        """Offset 0 (``key`` unused)."""
        del key
        return cal_init()

    def next_cqi(self, state: MlCalState, obs: Observation):
        """(:func:`ml_cqi` on the next period's features, False). The CQI feature is a candidate,
        so the report's CQI is not used (set to 0)."""
        x = period_features(obs.report, obs.pdsch_snr_hist, jnp.int32(0), obs.n_rb, obs.n_dmrs)
        cqi, _ = ml_cqi(self.model, x, state, self.cal.target)
        return cqi, no_backoff()

    def update(self, key, state: MlCalState, out):
        """The period's ACK/NACK counts move the logit offset (:func:`cal_update`); ``key`` unused."""
        del key
        state = cal_update(state, out.n_ack, out.n_nack, self.cal)
        return state, metrics(state.offset)


# ---- artefact files (flax msgpack + JSON sidecar, no pickle) ----

def save_model(path, model: MlModel, config: dict) -> Path:
    """Writes ``path`` (msgpack: variables, feat_mean, feat_std) and its JSON sidecar
    (``path.with_suffix('.json')``: format version, kind, sizes, ``config`` and its hash), atomically.
    A degenerate standardisation is refused (ValueError) rather than written."""
    check_standardisation(model.feat_mean, model.feat_std)
    tree = {"variables": jax.device_get(model.variables), "feat_mean": np.asarray(model.feat_mean),
            "feat_std": np.asarray(model.feat_std)}
    meta = {"model": MODEL_NAME, "sizes": [12, *HIDDEN, 1], "config": config}
    return save_artifact(path, serialization.to_state_dict(tree), meta, version=FORMAT_VERSION, kind=MODEL_KIND)


def load_model(path) -> tuple[MlModel, dict]:
    """Loads a model saved by :func:`save_model`; any problem (missing, corrupted, edited sidecar,
    non-finite weights, degenerate standardisation) raises a one-line InputError naming the file."""
    path = Path(path)
    check_input_file(path, "ML baseline model", hint=REMAKE_HINT)  # names the payload, not its sidecar
    raw, meta = load_artifact(path, version=FORMAT_VERSION, kind=MODEL_KIND, hint=REMAKE_HINT)
    if meta.get("model") != MODEL_NAME:
        raise InputError(f"{path.with_suffix('.json')}: model {meta.get('model')!r}; allowed: {MODEL_NAME!r}")
    template = init_model(jax.random.key(0), np.zeros((2, 12), np.float32))
    target = {"variables": jax.device_get(template.variables), "feat_mean": np.zeros(12, np.float32),
              "feat_std": np.ones(12, np.float32)}
    try:
        tree = serialization.from_state_dict(target, raw)
        shapes_ok = jax.tree.all(jax.tree.map(lambda a, b: np.shape(a) == np.shape(b), tree, target))
        if not shapes_ok:
            raise ValueError("parameter shapes differ from 12x64x64x1")
        if not all(np.all(np.isfinite(a)) for a in jax.tree.leaves(tree["variables"])):
            raise ValueError("non-finite weights")
        check_standardisation(tree["feat_mean"], tree["feat_std"])
    except Exception as e:  # noqa: BLE001 - msgpack/structure errors of a corrupted or degenerate file
        raise InputError(f"{path}: corrupted, incompatible or degenerate model file ({type(e).__name__}: {e}); "
                         f"{REMAKE_HINT}") from None
    model = MlModel(variables=jax.tree.map(jnp.asarray, tree["variables"]),
                    feat_mean=jnp.asarray(tree["feat_mean"], jnp.float32),
                    feat_std=jnp.asarray(tree["feat_std"], jnp.float32))
    return model, meta

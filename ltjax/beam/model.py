"""The 54 beam-prediction DNNs: flax MLPs trained vmapped per depth, a registry, msgpack serialization.

Model = (Set B ID, model ID, dataset ID): 3 Set B patterns x 3 depths (model ID 0/1/2 = 3/4/5 hidden
layers of width H, LeakyReLU with slope 0.01) x 6 regions. Input: the 16 normalised Set B RSRPs; output:
64 logits over Set A. Softmax cross-entropy, Adam (lr 1e-3), batch 50, 30 epochs (paper Sec. IV-A).

Training is one jit per depth: ``jax.vmap`` over the 18 (Set B, dataset) models of that depth of a
``lax.scan`` over epochs (each a ``lax.scan`` over minibatches). The per-epoch training loss/accuracy is
the mean over that epoch's minibatches; validation uses the 10 % split after the epoch.

Flat model index m = (set_b_id * 3 + model_id) * 6 + dataset_id. For LCM inference all 54 models are
stacked into one depth-padded pytree (``PaddedMLP``): unused hidden layers are skipped by a mask, so one
gather by m selects any model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization, struct

from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.dataset import BeamData, make_region_data, normalise
from ltjax.errors import InputError

CACHE_VERSION = 1  # bump when training code changes results


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training recipe (static).

    Attributes:
      width: H, hidden width (same for every layer).
      depths: hidden layers of model IDs 0, 1, 2.
      epochs, batch, lr: 30, 50, 1e-3 as in the paper.
      n_per_region: locations per region before the 9:1 split.
      val_frac: validation fraction.
      n_eval: locations of each region's evaluation set (model adaptation, Step 4).
    """

    width: int = 64
    depths: tuple = (3, 4, 5)
    epochs: int = 30
    batch: int = 50
    lr: float = 1e-3
    n_per_region: int = 10_000
    val_frac: float = 0.1
    n_eval: int = 5_000

    @property
    def n_val(self) -> int:
        return int(round(self.n_per_region * self.val_frac))

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["depths"] = list(self.depths)
        return d


class BeamMLP(nn.Module):
    """MLP: ``depth`` x (Dense(width) + LeakyReLU) then Dense(n_out) logits. x: [..., S] -> [..., B]."""

    depth: int
    width: int
    n_out: int = 64

    @nn.compact
    def __call__(self, x):
        for i in range(self.depth):
            x = nn.leaky_relu(nn.Dense(self.width, name=f"hidden_{i}")(x))
        return nn.Dense(self.n_out, name="out")(x)


def flat_id(set_b_id, model_id, dataset_id, n_models: int = 3, n_regions: int = 6):
    """Flat model index m of (set B ID, model ID, dataset ID)."""
    return (set_b_id * n_models + model_id) * n_regions + dataset_id


def unflat_id(m, n_models: int = 3, n_regions: int = 6):
    """(set B ID, model ID, dataset ID) of flat index m (works on ints and arrays)."""
    return m // (n_models * n_regions), (m // n_regions) % n_models, m % n_regions


def model_inputs(cfg: BeamConfig, meas, set_b_id):
    """Normalised Set B input [..., S] from measured Set A RSRP [..., B]."""
    idx = jnp.asarray(cfg.set_b_array())[set_b_id]
    return normalise(cfg, jnp.take(meas, idx, axis=-1))


def _loss_acc(model, params, x, y):
    logits = model.apply(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == y)


def train_one(key, x_tr, y_tr, x_va, y_va, depth: int, tc: TrainConfig):
    """Trains one model (unbatched kernel; vmapped by ``train_depth``).

    Args:
      key: typed key (consumed): init and per-epoch shuffles.
      x_tr: [N_tr, S], y_tr: [N_tr] int; x_va: [N_va, S], y_va: [N_va].
    Returns:
      (params, curves) with curves = (train_loss, train_acc, val_loss, val_acc), each [E].
    """
    model = BeamMLP(depth, tc.width)
    k_init, k_ep = jax.random.split(key)
    params = model.init(k_init, x_tr[:1])
    opt = optax.adam(tc.lr)
    n_b = x_tr.shape[0] // tc.batch

    def epoch(carry, k):
        params, ost = carry
        perm = jax.random.permutation(k, x_tr.shape[0])[: n_b * tc.batch].reshape(n_b, tc.batch)

        def step(c, idx):
            p, o = c
            (loss, acc), g = jax.value_and_grad(lambda q: _loss_acc(model, q, x_tr[idx], y_tr[idx]),
                                                has_aux=True)(p)
            upd, o = opt.update(g, o, p)
            return (optax.apply_updates(p, upd), o), (loss, acc)

        (params, ost), (l, a) = jax.lax.scan(step, (params, ost), perm)
        vl, va = _loss_acc(model, params, x_va, y_va)
        return (params, ost), (l.mean(), a.mean(), vl, va)

    (params, _), curves = jax.lax.scan(epoch, (params, opt.init(params)), jax.random.split(k_ep, tc.epochs))
    return params, curves


def split_inputs(cfg: BeamConfig, tc: TrainConfig, data: BeamData):
    """Inputs/labels of the 18 (Set B, dataset) pairs, ordered j = set_b_id * R + dataset_id.

    Returns x_tr [18, N_tr, S], y_tr [18, N_tr], x_va [18, N_va, S], y_va [18, N_va].
    """
    n_tr = tc.n_per_region - tc.n_val
    xs = jnp.stack([model_inputs(cfg, data.meas, sb) for sb in range(cfg.n_set_b)])  # [3, R, N, S]
    xs = xs.reshape(-1, *xs.shape[2:])
    ys = jnp.tile(data.label, (cfg.n_set_b, 1))
    return xs[:, :n_tr], ys[:, :n_tr], xs[:, n_tr:], ys[:, n_tr:]


def train_depth(keys, x_tr, y_tr, x_va, y_va, depth: int, tc: TrainConfig):
    """All models of one depth at once: vmap of ``train_one`` over the leading model axis of every argument."""
    return jax.vmap(lambda k, a, b, c, d: train_one(k, a, b, c, d, depth, tc))(keys, x_tr, y_tr, x_va, y_va)


@struct.dataclass
class PaddedMLP:
    """All models stacked and padded to the deepest architecture.

    Attributes:
      w_in: [M, S, H], b_in: [M, H]        first hidden layer;
      w_hid: [M, D-1, H, H], b_hid: [M, D-1, H]  further hidden layers (zeros where unused);
      mask: [M, D-1] bool                  hidden layer i+1 exists for model m;
      w_out: [M, H, B], b_out: [M, B]      output layer.
    """

    w_in: jax.Array
    b_in: jax.Array
    w_hid: jax.Array
    b_hid: jax.Array
    mask: jax.Array
    w_out: jax.Array
    b_out: jax.Array


def padded_apply(p: PaddedMLP, x):
    """Logits [..., B] of ONE model (p unbatched: w_in [S, H], ...) for inputs x [..., S]."""
    h = nn.leaky_relu(x @ p.w_in + p.b_in)
    for i in range(p.w_hid.shape[0]):
        h = jnp.where(p.mask[i], nn.leaky_relu(h @ p.w_hid[i] + p.b_hid[i]), h)
    return h @ p.w_out + p.b_out


@dataclasses.dataclass
class ModelRegistry:
    """The trained models, keyed by (set B ID, model ID, dataset ID).

    Attributes:
      cfg, tc: the configs they were trained with.
      params: model_id -> flax params with leading axes [n_set_b, R] (numpy).
      curves: name -> [n_set_b, n_model_ids, R, E] (train_loss, train_acc, val_loss, val_acc).
      identity: cache identity string (hash of configs + seed).
    """

    cfg: BeamConfig
    tc: TrainConfig
    params: dict
    curves: dict
    identity: str = ""

    def get(self, set_b_id: int, model_id: int, dataset_id: int):
        """Flax params of one model (apply with ``BeamMLP(tc.depths[model_id], tc.width)``)."""
        return jax.tree_util.tree_map(lambda a: a[set_b_id, dataset_id], self.params[model_id])

    def keys(self):
        return [(s, m, d) for s in range(self.cfg.n_set_b) for m in range(len(self.tc.depths))
                for d in range(self.cfg.n_regions)]

    def padded(self) -> PaddedMLP:
        """All models as one ``PaddedMLP`` in flat-index order."""
        n_sb, n_m, n_r = self.cfg.n_set_b, len(self.tc.depths), self.cfg.n_regions
        d_max, h, s, b = max(self.tc.depths), self.tc.width, self.cfg.set_b_size, self.cfg.n_beams
        cols = {k: [] for k in ("w_in", "b_in", "w_hid", "b_hid", "mask", "w_out", "b_out")}
        for sb in range(n_sb):
            for mid in range(n_m):
                for r in range(n_r):
                    p = self.get(sb, mid, r)["params"]
                    depth = self.tc.depths[mid]
                    w_hid = np.zeros((d_max - 1, h, h), np.float32)
                    b_hid = np.zeros((d_max - 1, h), np.float32)
                    for i in range(1, depth):
                        w_hid[i - 1] = p[f"hidden_{i}"]["kernel"]
                        b_hid[i - 1] = p[f"hidden_{i}"]["bias"]
                    cols["w_in"].append(np.asarray(p["hidden_0"]["kernel"]).reshape(s, h))
                    cols["b_in"].append(np.asarray(p["hidden_0"]["bias"]))
                    cols["w_hid"].append(w_hid)
                    cols["b_hid"].append(b_hid)
                    cols["mask"].append(np.arange(1, d_max) < depth)
                    cols["w_out"].append(np.asarray(p["out"]["kernel"]).reshape(h, b))
                    cols["b_out"].append(np.asarray(p["out"]["bias"]))
        return PaddedMLP(**{k: jnp.asarray(np.stack(v)) for k, v in cols.items()})

    # ---- serialization (msgpack via flax.serialization; no pickle) ----
    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for mid in range(len(self.tc.depths)):
            (d / f"models_id{mid}.msgpack").write_bytes(serialization.msgpack_serialize(
                jax.tree_util.tree_map(np.asarray, self.params[mid])))
        np.savez(d / "curves.npz", **{k: np.asarray(v) for k, v in self.curves.items()})
        (d / "config.json").write_text(json.dumps(
            {"beam": self.cfg.as_dict(), "train": self.tc.as_dict(), "identity": self.identity,
             "layout": "params[model_id]: leaves [set_b_id, dataset_id, ...]"}, indent=1))
        return d

    @classmethod
    def load(cls, directory: str | Path, cfg: BeamConfig, tc: TrainConfig) -> "ModelRegistry":
        """Loads a saved registry; any unreadable or inconsistent file raises InputError naming it."""
        d = Path(directory)
        params = {}
        for mid, depth in enumerate(tc.depths):
            path = d / f"models_id{mid}.msgpack"
            try:
                tree = serialization.msgpack_restore(path.read_bytes())
                p = tree["params"]
                shapes = [p[f"hidden_{i}"]["kernel"].shape for i in range(depth)] + [p["out"]["kernel"].shape]
                want = [(cfg.n_set_b, cfg.n_regions, cfg.set_b_size if i == 0 else tc.width, tc.width)
                        for i in range(depth)] + [(cfg.n_set_b, cfg.n_regions, tc.width, cfg.n_beams)]
                if shapes != want or f"hidden_{depth}" in p:
                    raise ValueError(f"shapes {shapes} do not match the config ({want})")
            except FileNotFoundError:
                raise InputError(f"{path}: model file missing") from None
            except Exception as e:  # noqa: BLE001 - msgpack/structure errors of a corrupted file
                raise InputError(f"{path}: corrupted or incompatible model file ({type(e).__name__}: {e}); "
                                 "delete the directory to retrain") from None
            params[mid] = tree
        cpath = d / "curves.npz"
        try:
            with np.load(cpath, allow_pickle=False) as z:
                curves = {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{cpath}: unreadable training curves ({type(e).__name__})") from None
        ident = ""
        try:
            ident = json.loads((d / "config.json").read_text()).get("identity", "")
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{d / 'config.json'}: unreadable config ({type(e).__name__})") from None
        return cls(cfg=cfg, tc=tc, params=params, curves=curves, identity=ident)


CURVE_NAMES = ("train_loss", "train_acc", "val_loss", "val_acc")


def train_all(key, cfg: BeamConfig, tc: TrainConfig, data: BeamData, depths=None, timings: dict | None = None):
    """Trains the 54 models (one jitted vmapped call per depth). Model (sb, mid, r) uses fold_in(key, m)."""
    import time

    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, data)
    n_sb, n_r = cfg.n_set_b, cfg.n_regions
    params, curves = {}, {k: np.zeros((n_sb, len(tc.depths), n_r, tc.epochs), np.float32) for k in CURVE_NAMES}
    for mid, depth in enumerate(tc.depths):
        if depths is not None and depth not in depths:
            continue
        ids = jnp.array([flat_id(sb, mid, r) for sb in range(n_sb) for r in range(n_r)])
        keys = jax.vmap(lambda m: jax.random.fold_in(key, m))(ids)
        fn = jax.jit(train_depth, static_argnums=(5, 6))
        t0 = time.perf_counter()
        p, c = jax.block_until_ready(fn(keys, x_tr, y_tr, x_va, y_va, depth, tc))
        if timings is not None:
            timings[depth] = time.perf_counter() - t0
        params[mid] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(n_sb, n_r, *a.shape[1:]), p)
        for name, arr in zip(CURVE_NAMES, c):
            curves[name][:, mid] = np.asarray(arr).reshape(n_sb, n_r, -1)
    return params, curves


def identity(cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig, seed: int) -> str:
    """Cache identity: hash of every input of training (configs, channel params, seed, code version)."""
    blob = json.dumps({"beam": cfg.as_dict(), "chan": {k: float(v) for k, v in vars(chp).items()},
                       "train": tc.as_dict(), "seed": seed, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def datasets(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig):
    """(training data [R, n_per_region], evaluation data [R, n_eval]) for ``seed`` (jitted, vmapped)."""
    root = jax.random.key(seed)
    gen = jax.jit(make_region_data, static_argnums=(1, 3))
    return (gen(jax.random.fold_in(root, 0), cfg, chp, tc.n_per_region),
            gen(jax.random.fold_in(root, 1), cfg, chp, tc.n_eval))


def load_or_train(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig,
                  cache_root: str | Path = "results/beam_models", log=print) -> ModelRegistry:
    """The cached registry for (configs, seed); trains and saves it first when missing."""
    ident = identity(cfg, chp, tc, seed)
    d = Path(cache_root) / ident
    if (d / "config.json").exists():
        return ModelRegistry.load(d, cfg, tc)
    log(f"[beam] training 54 models into {d} (cache miss)")
    train, _ = datasets(seed, cfg, chp, tc)
    timings: dict = {}
    params, curves = train_all(jax.random.fold_in(jax.random.key(seed), 2), cfg, tc, train, timings=timings)
    log(f"[beam] training wall time per depth [s]: {timings}")
    reg = ModelRegistry(cfg=cfg, tc=tc, params=params, curves=curves, identity=ident)
    reg.save(d)
    return reg


def perf_table(reg: ModelRegistry, ev: BeamData):
    """Performance of every model on every region's evaluation set (the UE's Step-4 evaluation).

    Returns (e_rsrp [M, R] mean dB loss of the predicted beam, top1 [M, R]) as numpy.
    """
    cfg = reg.cfg
    pm = reg.padded()
    best = jnp.max(ev.rsrp, axis=-1)
    label = ev.label

    @jax.jit
    def one(p, m):
        sb, _, _ = unflat_id(m, len(reg.tc.depths), cfg.n_regions)
        logits = padded_apply(p, model_inputs(cfg, ev.meas, sb))  # [R, N, B]
        pred = jnp.argmax(logits, -1)
        got = jnp.take_along_axis(ev.rsrp, pred[..., None], -1)[..., 0]
        return jnp.mean(best - got, -1), jnp.mean(pred == label, -1)

    e, t = jax.lax.map(lambda a: one(a[0], a[1]), (pm, jnp.arange(pm.w_in.shape[0])))
    return np.asarray(e), np.asarray(t)


def load_or_train_tables(seed: int, cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig,
                         cache_root: str | Path = "results/beam_models", log=print):
    """(registry, e_table [M, R], top1_table [M, R]); the evaluation table is cached beside the models."""
    reg = load_or_train(seed, cfg, chp, tc, cache_root, log)
    path = Path(cache_root) / reg.identity / "perf_table.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return reg, z["e_rsrp"], z["top1"]
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{path}: unreadable performance table ({type(e).__name__}); delete it") from None
    _, ev = datasets(seed, cfg, chp, tc)
    e_tab, t_tab = perf_table(reg, ev)
    np.savez(path, e_rsrp=e_tab, top1=t_tab)
    return reg, e_tab, t_tab

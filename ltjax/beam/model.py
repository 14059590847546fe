"""The 54 trained beam-prediction models: a registry and its on-disk cache.

Models are keyed by (Set B ID, model ID, dataset ID); see ``ltjax.beam.inference`` for flat ids and
the padded stack used for inference, ``ltjax.beam.training`` for how they are trained. Training takes
minutes, so the models are cached in ``<cache_root>/<identity>/`` (``results/beam_models/`` by
default), where the identity hashes every input of training (``identity``):

  models_id<k>.msgpack   flax params of model ID k, leaves [n_set_b, R, ...] (flax msgpack, no pickle);
  curves.npz             training curves, name -> [n_set_b, n_model_ids, R, E];
  perf_table.npz         e_rsrp [M, R] (dB) and top1 [M, R]: every model on every region's evaluation set;
  config.json            the configs, the identity and the layout (written last: it marks a complete entry).

Every file is written atomically (``ltjax.io``), and any missing, unreadable or inconsistent file is a
one-line ``InputError`` naming it. Nothing here compiles or trains: the ``beam_train`` experiment does.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import jax
import numpy as np
from flax import serialization

from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.inference import PaddedMLP, pad_models
from ltjax.beam.training import TrainConfig
from ltjax.errors import InputError
from ltjax.io import atomic_write_bytes, atomic_write_json, legacy_config_hash, read_bytes_checked

CACHE_VERSION = 1  # bump when training code changes results
CONFIG_FILE = "config.json"
PERF_FILE = "perf_table.npz"


def identity(cfg: BeamConfig, chp: ChannelParams, tc: TrainConfig, seed: int) -> str:
    """Cache identity (16 hex digits): hash of every input of training (configs, channel params, seed,
    ``CACHE_VERSION``).

    The hash is ``ltjax.io.legacy_config_hash`` (``json.dumps`` with default separators), the one the
    cache was named with before ``ltjax.io.config_hash`` existed, so existing caches (the committed
    ``results/beam_models/b83873ab2ca67307``) keep their names and load without retraining.
    """
    inputs = {"beam": cfg.as_dict(), "chan": chp.identity_dict(), "train": tc.as_dict(), "seed": seed,
              "version": CACHE_VERSION}
    return legacy_config_hash(inputs, 16)


def _read(path: Path, what: str) -> bytes:
    if not (path.exists() or path.is_symlink()):
        raise InputError(f"{path}: {what} missing")
    return read_bytes_checked(path, str(path))


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _read_npz(path: Path, what: str, hint: str) -> dict:
    blob = _read(path, what)
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - any decoding error of a damaged file
        raise InputError(f"{path}: unreadable {what} ({type(e).__name__}); {hint}") from None


@dataclasses.dataclass
class ModelRegistry:
    """The trained models, keyed by (Set B ID, model ID, dataset ID).

    Attributes:
      cfg, tc: the configs they were trained with.
      params: model_id -> flax params with leading axes [n_set_b, R] (numpy).
      curves: name -> [n_set_b, n_model_ids, R, E] (train_loss, train_acc, val_loss, val_acc).
      identity: cache identity string (``identity``).
    """

    cfg: BeamConfig
    tc: TrainConfig
    params: dict
    curves: dict
    identity: str = ""

    def get(self, set_b_id: int, model_id: int, dataset_id: int):
        """Flax params of one model (apply with ``training.BeamMLP(tc.depths[model_id], tc.width)``)."""
        return jax.tree_util.tree_map(lambda a: a[set_b_id, dataset_id], self.params[model_id])

    def keys(self):
        """Every (Set B ID, model ID, dataset ID) of the entry (Set B IDs from 0 within it; the one dataset
        of pooled global models is 0), in flat-index order."""
        return [(s, m, d) for s in range(self.cfg.n_set_b) for m in range(len(self.tc.depths))
                for d in range(self.tc.n_datasets(self.cfg))]

    def padded(self) -> PaddedMLP:
        """All models as one ``PaddedMLP`` [M] in flat-index order."""
        return pad_models([(mid, self.get(sb, mid, r)) for sb, mid, r in self.keys()], self.tc.depths,
                          self.tc.width, self.cfg)

    def save(self, directory: str | Path) -> Path:
        """Writes the entry (models, curves, then config.json); returns the directory."""
        d = Path(directory)
        for mid in range(len(self.tc.depths)):
            atomic_write_bytes(d / f"models_id{mid}.msgpack", serialization.msgpack_serialize(
                jax.tree_util.tree_map(np.asarray, self.params[mid])))
        atomic_write_bytes(d / "curves.npz", _npz_bytes(self.curves))
        atomic_write_json(d / CONFIG_FILE, {"beam": self.cfg.as_dict(), "train": self.tc.as_dict(),
                                            "identity": self.identity,
                                            "layout": "params[model_id]: leaves [set_b_id, dataset_id, ...]"})
        return d

    @staticmethod
    def exists(directory: str | Path) -> bool:
        """Whether ``directory`` holds a complete entry (its config.json is written last)."""
        return (Path(directory) / CONFIG_FILE).exists()

    @classmethod
    def load(cls, directory: str | Path, cfg: BeamConfig, tc: TrainConfig,
             identity: str | None = None) -> "ModelRegistry":
        """Loads an entry; ``identity``, when given, must match the one in its config.json.

        Any missing, unreadable or inconsistent file (a model of another architecture, an entry copied
        from another identity) raises a one-line InputError naming the file.
        """
        d = Path(directory)
        params = {}
        for mid, depth in enumerate(tc.depths):
            path = d / f"models_id{mid}.msgpack"
            blob = _read(path, "model file")
            try:
                tree = serialization.msgpack_restore(blob)
                p = tree["params"]
                shapes = [p[f"hidden_{i}"]["kernel"].shape for i in range(depth)] + [p["out"]["kernel"].shape]
                n_d = tc.n_datasets(cfg)
                want = [(cfg.n_set_b, n_d, cfg.set_b_size if i == 0 else tc.width, tc.width)
                        for i in range(depth)] + [(cfg.n_set_b, n_d, tc.width, cfg.n_beams)]
                if shapes != want or f"hidden_{depth}" in p:
                    raise ValueError(f"shapes {shapes} do not match the config ({want})")
            except Exception as e:  # noqa: BLE001 - msgpack/structure errors of a corrupted file
                raise InputError(f"{path}: corrupted or incompatible model file ({type(e).__name__}: {e}); "
                                 "delete the directory to retrain") from None
            params[mid] = tree
        curves = _read_npz(d / "curves.npz", "training curves", "delete the directory to retrain")
        cpath = d / CONFIG_FILE
        try:
            meta = json.loads(_read(cpath, "model config").decode("utf-8"))
            stored = meta.get("identity", "")
        except (ValueError, UnicodeDecodeError, AttributeError) as e:
            raise InputError(f"{cpath}: unreadable model config ({type(e).__name__})") from None
        if identity is not None and stored != identity:
            raise InputError(f"{cpath}: identity {stored!r} does not match the entry's {identity!r} "
                             "(copied from another cache entry?); delete the directory to retrain")
        return cls(cfg=cfg, tc=tc, params=params, curves=curves, identity=stored)


def save_perf_table(directory: str | Path, e_rsrp, top1) -> Path:
    """Writes the evaluation table (e_rsrp [M, R] dB, top1 [M, R]) of an entry."""
    return atomic_write_bytes(Path(directory) / PERF_FILE, _npz_bytes({"e_rsrp": e_rsrp, "top1": top1}))


def load_perf_table(directory: str | Path):
    """(e_rsrp [M, R], top1 [M, R]) of an entry, or None when it has not been evaluated yet."""
    path = Path(directory) / PERF_FILE
    if not path.exists():
        return None
    z = _read_npz(path, "performance table", "delete it to re-evaluate")
    try:
        return z["e_rsrp"], z["top1"]
    except KeyError as e:
        raise InputError(f"{path}: performance table without {e}; delete it to re-evaluate") from None

"""BLER-prediction datasets from the link engine (LightTune Sec. V-B, Tables III-IV).

A sample is one UE's CSI-RS period: the 12 features at the period start
(``ltjax.link.FEATURE_NAMES``) and the period's true BLER (eq. 11, every PDSCH
ACK/NACK of the period counts, retransmissions included; see docs/link_engine.md).
The BLER is stored unquantised; training and LightTune quantise it to the classes
0, 0.1, ..., 1.0 (Remark 4) with :func:`ltjax.lighttune.quantize`.

How the data are made (the paper gives only Table III):

- U = ceil(N / periods_per_ue) UEs; UE u uses ``k_ue = fold_in(key, u)``. Its average
  SNR is drawn U(snr_lo, snr_hi) from ``fold_in(k_ue, 0)`` and its link runs from
  ``fold_in(k_ue, 1)`` (so a UE's channel does not depend on N or on the chunking).
- Every UE runs ``periods_per_ue`` consecutive CSI-RS periods (80 ms) from t = 0 with
  the plain follow-the-reported-CQI gNB (``ltjax.link.follow_cqi``): the MCS of a
  period is the one of the CQI reported at the end of the previous period (the first
  period uses the t = 0 report); RBs (26/52/79/106) and DMRS symbols (1-4) are drawn
  uniformly per period, rank = the reported RI (<= 2). The first N samples in (UE,
  period) order are kept.
- "Low delay" (Table III) is the TDL profile scaled to its short RMS delay spread:
  TDL-A with 30 ns ("short delay", TR 38.901 Table 7.7.3-1), the "30" of TDL-A30.
  The channel names map to (TDL model, RMS delay spread) by :data:`CHANNELS`.

Letters: N samples, U UEs, T periods per UE, F = 12 features.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import ChannelConfig, ChannelParams
from ltjax.errors import InputError
from ltjax.link import FEATURE_NAMES, N_FEATURES, LinkConfig, LinkParams, follow_cqi, run_ue

# Channel name -> (TDL model of ltjax.channels, RMS delay spread [s]).
CHANNELS = {"TDL-A30": ("A", 30e-9), "TDL-B50": ("B", 50e-9), "TDL-C200": ("C", 200e-9)}
DATASET_FORMAT = 1
DEFAULT_PERIODS_PER_UE = 8


def link_config(channel: str) -> tuple[LinkConfig, float]:
    """(LinkConfig, RMS delay spread [s]) of a channel name in :data:`CHANNELS`.

    Engine defaults otherwise: 2x4 antennas, low correlation, 106 RBs at 30 kHz, 160 slots
    (80 ms) per period, RBs uniform over {26, 52, 79, 106}, DMRS 1-4, rank <= 2, HARQ max 4.
    """
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {tuple(CHANNELS)}, got {channel!r}")
    model, ds = CHANNELS[channel]
    return LinkConfig(channel=ChannelConfig(model=model)), ds


def _ue_kernel(ue_key, snr_lo, snr_hi, ds, fd, *, cfg: LinkConfig, n_periods: int):
    """One UE: SNR ~ U(lo, hi), ``n_periods`` follow-CQI periods. Returns features [T, F], bler [T], snr [T]."""
    snr = jax.random.uniform(jax.random.fold_in(ue_key, 0), (), jnp.float32, snr_lo, snr_hi)
    params = LinkParams(cfg=cfg, snr_db=snr, channel=ChannelParams(delay_spread_s=ds, doppler_hz=fd))
    out = run_ue(jax.random.fold_in(ue_key, 1), params, n_periods, follow_cqi)
    return {"features": out.features, "bler": out.bler,
            "snr_db": jnp.broadcast_to(snr, (n_periods,))}


def generate_bler_dataset(key, n_samples: int, channel: str = "TDL-A30",
                          snr_db_range: tuple[float, float] = (0.0, 12.0), doppler_hz: float = 10.0,
                          periods_per_ue: int = DEFAULT_PERIODS_PER_UE,
                          chunk_ues: int | None = 1024) -> dict[str, np.ndarray]:
    """N (features, BLER) samples of follow-CQI UEs (see the module docstring).

    Args:
      key: typed key (``jax.random.key``); UE u uses ``fold_in(key, u)``.
      n_samples: N >= 1.
      channel: a name of :data:`CHANNELS`.
      snr_db_range: (lo, hi) [dB] of the per-UE average SNR, drawn uniformly.
      doppler_hz: maximum Doppler [Hz].
      periods_per_ue: T, consecutive CSI-RS periods per UE.
      chunk_ues: UEs per compiled chunk (memory bound; results do not depend on it).
    Returns:
      dict(features=float32 [N, 12], bler=float32 [N] (eq. 11, unquantised),
      snr_db=float32 [N] (the UE's average SNR)), numpy.

    Jitted here (an entry point), via ``ltjax.batching.map_ues``.
    """
    from ltjax.batching import map_ues

    if isinstance(n_samples, bool) or int(n_samples) < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if int(periods_per_ue) < 1:
        raise ValueError(f"periods_per_ue must be >= 1, got {periods_per_ue!r}")
    lo, hi = (float(v) for v in snr_db_range)
    if not hi >= lo:
        raise ValueError(f"snr_db_range must be (lo, hi) with hi >= lo, got {snr_db_range!r}")
    cfg, ds = link_config(channel)
    n_ue = math.ceil(int(n_samples) / int(periods_per_ue))
    out = map_ues(_ue_kernel, key, n_ue, jnp.float32(lo), jnp.float32(hi), jnp.float32(ds),
                  jnp.float32(doppler_hz), chunk_size=chunk_ues,
                  static={"cfg": cfg, "n_periods": int(periods_per_ue)})
    n = int(n_samples)
    return {"features": out["features"].reshape(-1, N_FEATURES)[:n].astype(np.float32),
            "bler": out["bler"].reshape(-1)[:n].astype(np.float32),
            "snr_db": out["snr_db"].reshape(-1)[:n].astype(np.float32)}


def config_hash(config: dict) -> str:
    """Short SHA-256 of a JSON-able config (sorted keys): the identity of a dataset or model."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


_KEYS = {"features": (2, N_FEATURES), "bler": (1, None), "snr_db": (1, None)}


def save_dataset(path, data: dict, config: dict) -> Path:
    """Writes ``data`` to ``path`` (.npz, no pickle) and ``config`` (+ format, hash) to ``path``.json."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **{k: np.asarray(data[k], np.float32) for k in _KEYS})
    tmp.replace(path)
    meta = {"format_version": DATASET_FORMAT, "config_hash": config_hash(config), "config": config,
            "feature_names": list(FEATURE_NAMES), "n_samples": int(np.shape(data["bler"])[0])}
    _json_path(path).write_text(json.dumps(meta, indent=1, default=str))
    return path


def _json_path(path: Path) -> Path:
    return path.with_suffix(".json")


def read_versioned_json(path: Path, version: int) -> dict:
    """The JSON object in ``path`` whose ``format_version`` is ``version``.

    Raises FileNotFoundError if the file is missing and ValueError (or a JSON error) if it
    is not such an object; callers turn both into a one-line InputError naming the file.
    """
    meta = json.loads(Path(path).read_text())
    if not isinstance(meta, dict) or meta.get("format_version") != version:
        raise ValueError(f"format_version must be {version}")
    return meta


def load_dataset(path) -> tuple[dict[str, np.ndarray], dict]:
    """(data, config) written by :func:`save_dataset` (``config_hash(config)`` is its identity).

    Raises InputError (one line naming the file) when a file is missing, unreadable,
    or the arrays have the wrong shapes / are not finite.
    """
    path = Path(path)
    jpath = _json_path(path)
    try:
        meta = read_versioned_json(jpath, DATASET_FORMAT)
    except FileNotFoundError:
        raise InputError(f"{jpath}: dataset config missing; regenerate the dataset "
                         "(ltjax run sweeps/bler_offline.toml)") from None
    except Exception as e:  # noqa: BLE001 - any JSON/structure problem of a corrupted file
        raise InputError(f"{jpath}: unreadable dataset config ({type(e).__name__}: {e})") from None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: np.asarray(z[k]) for k in _KEYS}
        n = data["bler"].shape[0]
        for k, (ndim, last) in _KEYS.items():
            a = data[k]
            if a.ndim != ndim or a.shape[0] != n or (last is not None and a.shape[-1] != last):
                raise ValueError(f"{k} has shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{k} has non-finite values")
    except FileNotFoundError:
        raise InputError(f"{path}: dataset file missing; regenerate it "
                         "(ltjax run sweeps/bler_offline.toml)") from None
    except Exception as e:  # noqa: BLE001 - zip/npz/shape errors of a corrupted file
        raise InputError(f"{path}: corrupted dataset file ({type(e).__name__}: {e}); delete it "
                         "to regenerate") from None
    return data, dict(meta.get("config", {}))

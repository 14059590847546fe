"""BLER-prediction datasets from the link engine (LightTune Sec. V-B, Tables III-IV).

A sample is one UE's CSI-RS period: the 12 features at the period start
(``ltjax.link.FEATURE_NAMES``) and the period's true BLER (eq. 11 under
``LinkConfig.bler_mode``: by default over the first transmissions of the period's TBs, the
single-transmission error probability the CQI is defined by, TS 38.214 5.2.2.1, so a label
tells whether the reported CQI was too high; ``"all_tx"`` counts every PDSCH ACK/NACK,
retransmissions included, as datasets made before the option did; see docs/link_engine.md).
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
  TDL-A with 30 ns ("short delay", TR 38.901 Table 7.7.3-1), the "30" of TDL-A30. Channel
  names are the scenarios of :func:`ltjax.channels.scenario` ("TDL-A30", "TDL-B50",
  "TDL-C200", any "TDL-<A|B|C><ns>", "AWGN").

Datasets are versioned artefacts (``ltjax.io.save_artifact``): an ``.npz`` payload (no
pickle) and a JSON sidecar with the config that made them and its hash.

Letters: N samples, U UEs, T periods per UE, F = 12 features.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels import scenario, validate_channel_config
from ltjax.errors import InputError
from ltjax.io import check_input_file, load_artifact, save_artifact
from ltjax.link import FEATURE_NAMES, N_FEATURES, LinkConfig, LinkParams, follow_cqi, link_params_for_scenario, run_ue

DATASET_FORMAT = 1
DATASET_KIND = "bler_dataset"
DEFAULT_PERIODS_PER_UE = 8
REMAKE_HINT = "make it with `ltjax run sweeps/bler_offline.toml`"


def check_scenario(channel: str, doppler_hz: float) -> tuple[str, str] | None:
    """For an experiment's ``check``: ``(key, problem)`` if the channel name or the Doppler is not
    allowed with the engine defaults (2x4, 106 RBs at 30 kHz, 160-slot periods, RBs
    26/52/79/106, DMRS 1-4), else None."""
    try:
        sc = scenario(channel)
    except ValueError as e:
        return "channel", str(e)
    return validate_channel_config(model=sc.model, delay_spread_s=sc.delay_spread_s, doppler_hz=doppler_hz,
                                   n_rb=106, names={"delay_spread_s": "channel"})


def _ue_kernel(ue_key, params: LinkParams, snr_lo, snr_hi, *, n_periods: int):
    """One UE: SNR ~ U(lo, hi), ``n_periods`` follow-CQI periods. Returns features [T, F], bler [T], snr [T]."""
    snr = jax.random.uniform(jax.random.fold_in(ue_key, 0), (), jnp.float32, snr_lo, snr_hi)
    out = run_ue(jax.random.fold_in(ue_key, 1), params.replace(snr_db=snr), n_periods, follow_cqi)
    return {"features": out.features, "bler": out.bler,
            "snr_db": jnp.broadcast_to(snr, (n_periods,))}


def generate_bler_dataset(key, n_samples: int, channel: str = "TDL-A30",
                          snr_db_range: tuple[float, float] = (0.0, 12.0), doppler_hz: float = 10.0,
                          periods_per_ue: int = DEFAULT_PERIODS_PER_UE,
                          chunk_ues: int | None = 1024, cfg: LinkConfig = LinkConfig()) -> dict[str, np.ndarray]:
    """N (features, BLER) samples of follow-CQI UEs (see the module docstring).

    Args:
      key: typed key (``jax.random.key``); UE u uses ``fold_in(key, u)``.
      n_samples: N >= 1.
      channel: a channel scenario name (``ltjax.channels.scenario``).
      snr_db_range: (lo, hi) [dB] of the per-UE average SNR, drawn uniformly.
      doppler_hz: maximum Doppler [Hz].
      periods_per_ue: T, consecutive CSI-RS periods per UE.
      chunk_ues: UEs per compiled chunk (memory bound; results do not depend on it).
      cfg: the link's static configuration and physics options (its channel model becomes the
        scenario's); ``ltjax.link.legacy_physics()`` remakes datasets made before the options.
    Returns:
      dict(features=float32 [N, 12], bler=float32 [N] (eq. 11 under ``cfg.bler_mode``, unquantised),
      snr_db=float32 [N] (the UE's average SNR)), numpy.

    Runs through ``ltjax.batching.map_ues`` (the batching and compilation boundary).
    """
    from ltjax.batching import map_ues

    if isinstance(n_samples, bool) or int(n_samples) < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if int(periods_per_ue) < 1:
        raise ValueError(f"periods_per_ue must be >= 1, got {periods_per_ue!r}")
    lo, hi = (float(v) for v in snr_db_range)
    if not hi >= lo:
        raise ValueError(f"snr_db_range must be (lo, hi) with hi >= lo, got {snr_db_range!r}")
    params = link_params_for_scenario(channel, lo, doppler_hz, cfg)  # the SNR is drawn per UE in the kernel
    n_ue = math.ceil(int(n_samples) / int(periods_per_ue))
    out = map_ues(_ue_kernel, key, n_ue, params, jnp.float32(lo), jnp.float32(hi), chunk_size=chunk_ues,
                  static={"n_periods": int(periods_per_ue)})
    n = int(n_samples)
    return {"features": out["features"].reshape(-1, N_FEATURES)[:n].astype(np.float32),
            "bler": out["bler"].reshape(-1)[:n].astype(np.float32),
            "snr_db": out["snr_db"].reshape(-1)[:n].astype(np.float32)}


_KEYS = {"features": (2, N_FEATURES), "bler": (1, None), "snr_db": (1, None)}


def save_dataset(path, data: dict, config: dict) -> Path:
    """Writes ``data`` to ``path`` (.npz, no pickle) and ``config`` (+ format, kind, hash) to its
    JSON sidecar (``path`` with suffix .json), both atomically."""
    payload = {k: np.asarray(data[k], np.float32) for k in _KEYS}
    meta = {"config": config, "feature_names": list(FEATURE_NAMES), "n_samples": int(np.shape(data["bler"])[0])}
    return save_artifact(path, payload, meta, version=DATASET_FORMAT, kind=DATASET_KIND)


def load_dataset(path) -> tuple[dict[str, np.ndarray], dict]:
    """(data, config) written by :func:`save_dataset` (``ltjax.io.config_hash(config)`` is its identity).

    Raises InputError (one line naming the file) when a file is missing, unreadable, its
    sidecar does not match, or the arrays have the wrong shapes / are not finite.
    """
    path = Path(path)
    check_input_file(path, "BLER dataset", hint=REMAKE_HINT)  # names the payload, not its sidecar
    data, meta = load_artifact(path, version=DATASET_FORMAT, kind=DATASET_KIND, hint=REMAKE_HINT)
    try:
        data = {k: np.asarray(data[k]) for k in _KEYS}
        n = data["bler"].shape[0]
        for k, (ndim, last) in _KEYS.items():
            a = data[k]
            if a.ndim != ndim or a.shape[0] != n or (last is not None and a.shape[-1] != last):
                raise ValueError(f"{k} has shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{k} has non-finite values")
    except Exception as e:  # noqa: BLE001 - missing keys or shape errors of a corrupted file
        raise InputError(f"{path}: corrupted dataset file ({type(e).__name__}: {e}); {REMAKE_HINT}") from None
    return data, dict(meta.get("config", {}))

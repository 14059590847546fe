"""DMRS channel-estimation error as extra noise: noise averaging and channel ageing.

The UE estimates the channel on the DMRS symbols of each slot and equalises the data
symbols with it. Two error terms, per channel entry, relative to the unit average channel
gain (both add to the noise in ``ltjax.phy.sinr``):

1. Noise: a least-squares estimate per RB and port, smoothed over the 6 REs that one port
   occupies per RB in a DMRS symbol (configuration type 1) and over the n_DMRS symbols of
   the slot: err_noise = noise_var / (6 n_DMRS).
2. Ageing (time-domain hold): a data symbol at OFDM symbol l is equalised with the estimate
   of the nearest DMRS symbol, Delta_l = |l - l_DMRS| symbols away. For Clarke fading the
   linear MMSE predictor from a correlation rho = J0(2 pi f_D Delta_l T_sym) leaves
   1 - rho^2 of the channel power unexplained:
   err_age = mean over data symbols l of [1 - J0(2 pi f_D Delta_l T_sym)^2].

DMRS positions: TS 38.211 Table 7.4.1.1.2-3 (mapping type A, l0 = 2, 1-4 symbols:
{2}, {2,11}, {2,7,11}, {2,5,8,11}); PDSCH data on symbols 1..13 except the DMRS symbols
(symbol 0 is the PDCCH). T_sym = slot / 14 (35.7 us at 30 kHz).

Simplification (documented in docs/phy_abstraction.md): the two terms are computed as if
the estimator could both average all DMRS symbols (noise) and use the nearest one (ageing);
a real time-domain Wiener filter trades the two off. Frequency-domain interpolation error
across the RB is neglected (coherence bandwidth >= 1 RB is enforced by ltjax.channels).

Effects: more DMRS symbols lower both terms (shorter hold, more averaging) but remove
12 REs per RB each from the data (``ltjax.phy.tbs``); Doppler raises err_age; SNR sets
err_noise.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ltjax.phy.tables import DMRS_SYMBOLS, SLOT_S, SYMBOLS_PER_SLOT

DMRS_RE_PER_PORT_PER_RB = 6  # DMRS type 1: comb-2 -> 6 of 12 subcarriers per CDM group
PDSCH_SYMBOLS = tuple(range(1, SYMBOLS_PER_SLOT))  # symbols 1..13


def _hold_distances() -> np.ndarray:
    """[4, 13] distance in symbols from each PDSCH symbol to the nearest DMRS (-1: a DMRS symbol)."""
    out = -np.ones((4, len(PDSCH_SYMBOLS)), np.float32)
    for d, pos in enumerate(DMRS_SYMBOLS):
        for i, l in enumerate(PDSCH_SYMBOLS):
            if l not in pos:
                out[d, i] = min(abs(l - p) for p in pos)
    return out


HOLD_DISTANCE = _hold_distances()


def bessel_j0(x, n: int = 32):
    """J0(x) = (1/pi) int_0^pi cos(x sin t) dt, n-point midpoint rule (spectrally accurate)."""
    t = (np.arange(n) + 0.5) * math.pi / n
    return jnp.mean(jnp.cos(jnp.asarray(x, jnp.float32)[..., None] * jnp.asarray(np.sin(t), jnp.float32)), -1)


def ageing_error(n_dmrs, doppler_hz, slot_s: float = SLOT_S):
    """Mean 1 - J0(2 pi f_D Delta T_sym)^2 over the slot's data symbols (dimensionless).

    Args:
      n_dmrs: int32 [] number of DMRS symbols, 1..4 (traced ok).
      doppler_hz: float32 [] maximum Doppler [Hz].
    """
    dist = jnp.asarray(HOLD_DISTANCE)[n_dmrs - 1]  # [13]
    is_data = dist >= 0
    t_sym = slot_s / SYMBOLS_PER_SLOT
    rho = bessel_j0(2.0 * math.pi * doppler_hz * jnp.maximum(dist, 0.0) * t_sym)
    err = jnp.where(is_data, 1.0 - rho * rho, 0.0)
    return jnp.sum(err) / jnp.sum(is_data)


def chest_error_var(noise_var, n_dmrs, doppler_hz, slot_s: float = SLOT_S):
    """Per-entry channel-estimation error variance (noise + ageing), float32 [].

    Args:
      noise_var: noise power per receive antenna per RE (unit channel gain), float [].
      n_dmrs: int32 [] DMRS symbols per slot (1..4).
      doppler_hz: maximum Doppler [Hz].
    """
    noise_term = noise_var / (DMRS_RE_PER_PORT_PER_RB * n_dmrs)
    return (noise_term + ageing_error(n_dmrs, doppler_hz, slot_s)).astype(jnp.float32)

"""DMRS channel-estimation error as extra noise: noise averaging, channel ageing and
frequency interpolation.

The UE estimates the channel on the DMRS symbols of each slot and equalises the data
symbols with it. Error terms, per channel entry, relative to the unit average channel
gain (all add to the noise in ``ltjax.phy.sinr``):

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

3. Frequency interpolation (``chest_freq``, docs/phy_abstraction.md), from the profile's
   frequency correlation r(df) = sum_l P_l exp(-j 2 pi df tau_l) (TR 38.901 7.7.2 PDP,
   E[H(f + df) H(f)^*] = r(df) for a WSSUS channel):

   - "rb_average" (default): the estimator that term 1 already assumes: the LS estimates on
     the 6 DMRS subcarriers of the RB (configuration type 1: every other subcarrier, TS 38.211
     7.4.1.1.2) are averaged and held flat over the RB's 12 subcarriers k. Its bias is
     err_bias = mean_k E|H_k - (1/6) sum_p H_p|^2
              = 1 - (1/36) sum_k sum_p Re r(k - p) + (1/36) sum_p sum_p' Re r(p - p')
     -31.6 dB for TDL-A30, -27.7 dB for TDL-B50, -16.5 dB for TDL-C200 (0 for a flat channel).
   - "wiener": an LMMSE (Wiener) interpolator from the pilots of a window of
     ``WIENER_WINDOW_RB`` RBs (the RB and its neighbours) to the 12 subcarriers of the RB,
     knowing r and the pilot noise noise_var / n_DMRS (after averaging the DMRS symbols):
     err_wiener = mean_k [1 - c_k^H (R_pp + sigma^2 I)^{-1} c_k]. It replaces terms 1 and 3
     (noise averaging and bias are traded off by one filter).
   - "none": neither (the engine before this term existed).

Simplification (documented in docs/phy_abstraction.md): the noise and ageing terms are
computed as if the estimator could both average all DMRS symbols (noise) and use the
nearest one (ageing); a real time-domain Wiener filter trades the two off. Every error is
treated as independent extra noise (a mismatched-receiver approximation: the bias of a
plain average is in fact correlated with the channel). The Wiener window is taken as
interior (a band-edge RB has one neighbour only).

Effects: more DMRS symbols lower both terms (shorter hold, more averaging) but remove
12 REs per RB each from the data (``ltjax.phy.tbs``); Doppler raises err_age; SNR sets
err_noise.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

import jax
import jax.scipy.linalg

from ltjax.phy.tables import DMRS_SYMBOLS, SLOT_S, SUBCARRIERS_PER_RB, SYMBOLS_PER_SLOT

DMRS_RE_PER_PORT_PER_RB = 6  # DMRS type 1: comb-2 -> 6 of 12 subcarriers per CDM group
PDSCH_SYMBOLS = tuple(range(1, SYMBOLS_PER_SLOT))  # symbols 1..13
CHEST_FREQ = ("rb_average", "wiener", "none")
WIENER_WINDOW_RB = 3  # the RB and one neighbour on each side
# DMRS type 1, CDM group 0 (ports 1000/1001): subcarriers 0, 2, ..., 10 of every RB.
PILOT_SUBCARRIERS = np.arange(0, SUBCARRIERS_PER_RB, 2)
FLAT_PROFILE = (np.zeros(1), np.ones(1))  # (normalised delays, powers) of a flat channel


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


def _rb_average_lag_weights() -> np.ndarray:
    """c[d], d = 0..11, with err_bias = sum_d c[d] Re r(d) for the 6-pilot average held over 12 subcarriers.

    E|H_k - (1/6) sum_p H_p|^2 = r(0) - (2/6) sum_p Re r(k - p) + (1/36) sum_{p, p'} Re r(p - p'),
    averaged over the 12 subcarriers k; Re r is even in the lag, so only |lag| matters.
    """
    c = np.zeros(SUBCARRIERS_PER_RB)
    c[0] += 1.0
    for k in range(SUBCARRIERS_PER_RB):
        for p in PILOT_SUBCARRIERS:
            c[abs(k - p)] -= 2.0 / 6.0 / SUBCARRIERS_PER_RB
    for p in PILOT_SUBCARRIERS:
        for q in PILOT_SUBCARRIERS:
            c[abs(p - q)] += 1.0 / 36.0
    assert abs(c.sum()) < 1e-12  # a flat channel (r = 1) has no bias
    return c


RB_AVERAGE_LAG_WEIGHTS = _rb_average_lag_weights()


def rb_average_bias(profile, delay_spread_s, scs_hz: float = 30e3):
    """Bias of the RB-average estimator, float32 [] (per channel entry, unit channel gain).

    err_bias = sum_d c[d] sum_l P_l cos(2 pi d SCS tau_l), written with
    cos x - 1 = -2 sin^2(x / 2) (the weights sum to 0), so that the small values of short
    delay spreads (-31.6 dB for TDL-A30) keep their float32 precision.

    Args:
      profile: (normalised delays [L], powers [L] summing to 1), numpy (static).
      delay_spread_s: RMS delay spread DS [s] (traced ok); tau_l = tau_norm,l DS.
      scs_hz: subcarrier spacing [Hz] (static).
    """
    delays_norm, powers = (np.asarray(x, np.float64) for x in profile)
    d = np.arange(SUBCARRIERS_PER_RB)
    # Half-angle per (lag, tap) in radians per second of delay spread: pi d SCS tau_norm.
    half = jnp.asarray(np.pi * scs_hz * np.outer(d, delays_norm), jnp.float32) \
        * jnp.asarray(delay_spread_s, jnp.float32)  # [12, L]
    s2 = jnp.sin(half) ** 2
    w = jnp.asarray(-2.0 * RB_AVERAGE_LAG_WEIGHTS[:, None] * powers[None, :], jnp.float32)
    return jnp.maximum(jnp.sum(w * s2), 0.0).astype(jnp.float32)


def frequency_correlation(profile, delay_spread_s, lags, scs_hz: float = 30e3):
    """r(d SCS) = sum_l P_l exp(-j 2 pi d SCS tau_l) at integer subcarrier lags d, complex64.

    Args:
      profile: (normalised delays [L], powers [L]), numpy (static).
      delay_spread_s: DS [s] (traced ok).
      lags: integer array of subcarrier lags (static numpy, any shape).
    """
    delays_norm, powers = (np.asarray(x, np.float64) for x in profile)
    ang = jnp.asarray(-2.0 * np.pi * scs_hz * np.multiply.outer(np.asarray(lags, np.float64), delays_norm),
                      jnp.float32) * jnp.asarray(delay_spread_s, jnp.float32)  # [..., L]
    p = jnp.asarray(powers, jnp.float32)
    return jax.lax.complex(jnp.sum(p * jnp.cos(ang), -1), jnp.sum(p * jnp.sin(ang), -1))


def _wiener_geometry(window_rb: int):
    """(pilot-pilot lags [Np, Np], pilot-target lags [Np, 12]) of the window, numpy int."""
    pilots = np.concatenate([PILOT_SUBCARRIERS + SUBCARRIERS_PER_RB * b for b in range(window_rb)])
    targets = SUBCARRIERS_PER_RB * (window_rb // 2) + np.arange(SUBCARRIERS_PER_RB)
    return np.subtract.outer(pilots, pilots), np.subtract.outer(pilots, targets)


def wiener_error(profile, delay_spread_s, pilot_noise_var, scs_hz: float = 30e3,
                 window_rb: int = WIENER_WINDOW_RB):
    """Mean squared error of the LMMSE frequency interpolator, float32 [] (noise and bias together).

    err = mean_k [1 - c_k^H (R_pp + sigma^2 I)^{-1} c_k], R_pp[i, j] = r(p_i - p_j),
    c_k[i] = r(p_i - k), over the Np = 6 window_rb pilots of the window and the 12
    subcarriers k of its centre RB, computed by a Cholesky factor (backward stable).

    Args:
      profile: (normalised delays, powers) of the channel (static numpy).
      delay_spread_s: DS [s] (traced ok).
      pilot_noise_var: sigma^2, the noise of one pilot's LS estimate after averaging the DMRS
        symbols (noise_var / n_DMRS), traced ok.
    """
    pp, pt = _wiener_geometry(window_rb)
    r_pp = frequency_correlation(profile, delay_spread_s, pp, scs_hz)
    c = frequency_correlation(profile, delay_spread_s, pt, scs_hz)  # [Np, 12]
    a = r_pp + jnp.asarray(pilot_noise_var, jnp.float32) * jnp.eye(pp.shape[0], dtype=jnp.complex64)
    chol = jnp.linalg.cholesky(a)
    y = jax.scipy.linalg.solve_triangular(chol, c, lower=True)  # L^{-1} c_k
    explained = jnp.mean(jnp.sum(jnp.abs(y) ** 2, axis=0))
    return jnp.maximum(1.0 - explained, 0.0).astype(jnp.float32)


def flat_noise_error(noise_var, n_dmrs, chest_freq: str, window_rb: int = WIENER_WINDOW_RB):
    """The estimator's error in a flat, static channel (no bias, no ageing), float32 [].

    The condition a UE's AWGN CQI table is calibrated in: noise_var / (6 n_DMRS) for the RB
    average (and "none"); for the Wiener interpolator over Np = 6 window_rb equally correlated
    pilots, sigma^2 / (Np + sigma^2) with sigma^2 = noise_var / n_DMRS (closed form of
    ``wiener_error`` with r = 1).
    """
    nv = jnp.asarray(noise_var, jnp.float32)
    if chest_freq == "wiener":
        s2 = nv / n_dmrs
        return (s2 / (DMRS_RE_PER_PORT_PER_RB * window_rb + s2)).astype(jnp.float32)
    return (nv / (DMRS_RE_PER_PORT_PER_RB * n_dmrs)).astype(jnp.float32)

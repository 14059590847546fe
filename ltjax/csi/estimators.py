"""CSI-RS measurements from noisy channel estimates: SNR, delay spread, Doppler.

Letters: R resource blocks, Nr UE antennas, Nt gNB ports. All functions are for one UE,
pure, float32, jit/vmap-safe; each consumes its key to draw the measurement noise.

Measurement model: the UE's least-squares CSI-RS estimate on RB r is
H_hat_r = H_r + E_r, E_r ~ CN(0, noise_var / n_avg) iid per (RB, rx, port), where n_avg is
the number of REs averaged per RB and port (1 for CSI-RS density 1; 3 for a TRS).
The noise power itself is estimated from M = R * Nr noise samples, so
noise_var_hat = noise_var * Gamma(M, 1) / M (by its normal approximation).

* SNR (``csi_snr_estimate``): SNR = mean |H|^2 / noise_var, the per-port, per-antenna RS
  SNR (each port's CSI-RS RE at unit power). Estimate:
  (mean |H_hat|^2 - noise_var_hat / n_avg) / noise_var_hat, floored at -30 dB. Unbiased
  in the signal power; the error shrinks as 1/sqrt(R Nr Nt) and grows at low SNR.
* Delay spread (``estimate_delay_spread``): power-delay profile from an IFFT over the RBs
  of the Hann-windowed H_hat (zero-padded to ``n_fft``, averaged over the Nr Nt antenna
  pairs), minus the known noise floor; bins below ``threshold_db`` under the peak are
  dropped (30 dB: just above the Hann window's first sidelobe at -31.5 dB, so leakage of
  a strong tap is not read as a late tap), and so are bins under 3x the noise floor; RMS of what is left, with delays
  taken circularly in [-T/4, 3T/4),
  T = 1 / (12 SCS) = 2.78 us at 30 kHz. The window's own RMS width (the estimate for a
  single tap, 15 ns at 106 RBs) is removed in quadrature. Limits: the delay resolution
  is 1 / (R 12 SCS) = 26 ns, so DS well below ~20 ns reads as 0-20 ns; weak late taps
  under the threshold are lost, which biases long-tail profiles low; delays beyond 3T/4
  alias. On one snapshot the estimate scatters with the fading (see docs/channels.md).
* Doppler (``estimate_doppler``): normalised time correlation of two estimates lag_s
  apart, rho = Re sum H_hat0^* H_hat1 / sqrt(P0 P1), with the noise power removed from
  P0 and P1 (independent noise leaves the cross term unbiased). Under Clarke's model
  rho = J0(2 pi f_D lag), which we invert on its monotone branch [0, j0,1 = 2.405]:
  estimates saturate at j0,1 / (2 pi lag) (76.5 Hz at the default 5 ms lag), and read
  0 when rho >= 1. Small f_D is hard: 1 - rho ~ (pi f_D lag)^2, so noise matters most
  at 10 Hz; a longer lag helps slow UEs but lowers the saturation point.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.numerics import lin_to_db

J0_FIRST_ZERO = 2.404825557695773
DEFAULT_DOPPLER_LAG_S = 5e-3  # 10 slots at 30 kHz: unambiguous up to 76.5 Hz
SNR_FLOOR_DB = -30.0


def noisy_estimate(key: jax.Array, h: jax.Array, noise_var, n_avg: int = 1) -> jax.Array:
    """H + CN(0, noise_var / n_avg) iid per entry; same shape, complex64. The key is consumed."""
    nv = jnp.asarray(noise_var, jnp.float32) / n_avg
    z = jax.random.normal(key, (2, *h.shape), jnp.float32)
    return h.astype(jnp.complex64) + jax.lax.complex(z[0], z[1]) * jnp.sqrt(nv / 2.0)


def _noise_var_estimate(key, noise_var, n_samples: int):
    """Mean of M exponential noise-power samples: noise_var * Gamma(M, 1)/M.

    Drawn by its normal approximation noise_var * (1 + z / sqrt(M)) (M = R Nr = 212 by
    default, where Gamma(M)/M has skewness 2/sqrt(M) = 0.14), floored at 0.1 noise_var;
    a gamma sampler would cost a while-loop per UE.
    """
    z = jax.random.normal(key, (), jnp.float32)
    return jnp.asarray(noise_var, jnp.float32) * jnp.maximum(1.0 + z / math.sqrt(n_samples), 0.1)


def csi_snr_estimate(key: jax.Array, h: jax.Array, noise_var, n_avg: int = 1) -> jax.Array:
    """Measured CSI-RS SNR [dB], float32 [].

    Args:
      key: consumed (estimate noise and noise-power estimate).
      h: complex64 [R, Nr, Nt] true channel on the CSI-RS RBs.
      noise_var: noise power per RE per receive antenna (scalar).
      n_avg: REs averaged per RB and port in the LS estimate (static int).
    """
    k_est, k_nv = jax.random.split(key)
    h_hat = noisy_estimate(k_est, h, noise_var, n_avg)
    nv_hat = _noise_var_estimate(k_nv, noise_var, h.shape[0] * h.shape[1])
    sig = jnp.mean(jnp.abs(h_hat) ** 2) - nv_hat / n_avg
    sig = jnp.maximum(sig, nv_hat * 10.0 ** (SNR_FLOOR_DB / 10.0))
    return lin_to_db(sig / nv_hat).astype(jnp.float32)


def csi_snr_true(h: jax.Array, noise_var) -> jax.Array:
    """Noise-free CSI-RS SNR mean|H|^2 / noise_var [dB], float32 []."""
    return lin_to_db(jnp.mean(jnp.abs(h) ** 2) / noise_var).astype(jnp.float32)


def _hann(n: int) -> np.ndarray:
    """Hann window without zero end points, normalised to unit RMS."""
    w = np.hanning(n + 2)[1:-1]
    return w / np.sqrt(np.mean(w * w))


def _pdp_rms(pdp, floor, delays, threshold_db):
    """RMS delay of a PDP [n_fft] after noise-floor removal and thresholds.

    A bin counts if it is within threshold_db of the peak AND above 3x the noise floor:
    averaged over Nr Nt = 8 pairs the noise-only bin power is ~Gamma(8, floor/8), which
    exceeds 3x its mean with probability ~1e-4, so noise bins rarely leak in.
    """
    keep = pdp >= 3.0 * floor
    p = jnp.maximum(pdp - floor, 0.0)
    p = jnp.where(keep & (p >= jnp.max(p) * 10.0 ** (-threshold_db / 10.0)), p, 0.0)
    tot = jnp.maximum(jnp.sum(p), 1e-30)
    mean = jnp.sum(p * delays) / tot
    return jnp.sqrt(jnp.maximum(jnp.sum(p * delays * delays) / tot - mean * mean, 0.0))


def _delay_axis(n_fft: int, scs_hz: float) -> np.ndarray:
    period = 1.0 / (12.0 * scs_hz)
    d = np.arange(n_fft) / n_fft * period
    return np.where(d >= 0.75 * period, d - period, d)


def window_rms_width_s(n_rb: int, scs_hz: float = 30e3, n_fft: int = 512,
                       threshold_db: float = 30.0) -> float:
    """RMS width [s] the estimator reports for a single-tap channel (its resolution floor)."""
    # NumPy on purpose: a static constant, computed at trace time inside jitted callers.
    p = np.abs(np.fft.ifft(_hann(n_rb), n_fft)) ** 2
    p = np.where(p >= p.max() * 10.0 ** (-threshold_db / 10.0), p, 0.0)
    d = _delay_axis(n_fft, scs_hz)
    mean = np.sum(p * d) / np.sum(p)
    return float(np.sqrt(max(np.sum(p * d * d) / np.sum(p) - mean * mean, 0.0)))


def estimate_delay_spread(key: jax.Array, h: jax.Array, noise_var, scs_hz: float = 30e3,
                          n_avg: int = 1, n_fft: int = 512, threshold_db: float = 30.0) -> jax.Array:
    """RMS delay-spread estimate [s], float32 [], from a noisy estimate of h.

    Args:
      key: consumed (estimate noise).
      h: complex64 [R, Nr, Nt] true channel on consecutive RBs (RB spacing 12 * scs_hz).
      noise_var: noise power per RE per receive antenna.
      scs_hz, n_avg, n_fft, threshold_db: static; see the module docstring.
    """
    n_rb = h.shape[0]
    h_hat = noisy_estimate(key, h, noise_var, n_avg)
    w = jnp.asarray(_hann(n_rb), jnp.float32)
    taps = jnp.fft.ifft(h_hat * w[:, None, None], n=n_fft, axis=0)  # [n_fft, Nr, Nt]
    pdp = jnp.mean(jnp.abs(taps) ** 2, axis=(1, 2))
    # Noise through the windowed IFFT: E|.|^2 = (noise_var / n_avg) * sum w^2 / n_fft^2 per bin.
    floor = jnp.asarray(noise_var, jnp.float32) / n_avg * float(np.sum(_hann(n_rb) ** 2)) / n_fft ** 2
    delays = jnp.asarray(_delay_axis(n_fft, scs_hz), jnp.float32)
    raw = _pdp_rms(pdp, floor, delays, threshold_db)
    width = window_rms_width_s(n_rb, scs_hz, n_fft, threshold_db)
    return jnp.sqrt(jnp.maximum(raw * raw - width * width, 0.0)).astype(jnp.float32)


def bessel_j0(x):
    """J0(x) by its power series (20 terms: float32-exact for 0 <= x <= 2.5)."""
    x = jnp.asarray(x, jnp.float32)
    q = -(x * x) / 4.0
    term, total = jnp.ones_like(x), jnp.ones_like(x)
    for m in range(1, 20):
        term = term * q / (m * m)
        total = total + term
    return total


def inverse_j0(rho, n_iter: int = 30):
    """x in [0, j0,1] with J0(x) = rho (bisection; rho clipped to [0, 1])."""
    rho = jnp.clip(jnp.asarray(rho, jnp.float32), 0.0, 1.0)

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        above = bessel_j0(mid) > rho  # J0 decreasing: root is to the right
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    # A loop, not unrolled: 30 unrolled series evaluations were a tenth of the link engine's program.
    lo, hi = jax.lax.fori_loop(0, n_iter, halve, (jnp.zeros_like(rho), jnp.full_like(rho, J0_FIRST_ZERO)))
    return 0.5 * (lo + hi)


def estimate_doppler(key: jax.Array, h0: jax.Array, h1: jax.Array, lag_s: float, noise_var,
                     n_avg: int = 1) -> jax.Array:
    """Maximum-Doppler estimate [Hz], float32 [], from two noisy estimates lag_s apart.

    Args:
      key: consumed (estimate noise of both occasions).
      h0, h1: complex64 [R, Nr, Nt], true channel at t and t + lag_s.
      lag_s: time between the two occasions [s] (static float; default choice 5 ms).
      noise_var: noise power per RE per receive antenna.
      n_avg: REs averaged per RB and port (static int).
    """
    k0, k1 = jax.random.split(key)
    e0 = noisy_estimate(k0, h0, noise_var, n_avg)
    e1 = noisy_estimate(k1, h1, noise_var, n_avg)
    n = h0.size * jnp.asarray(noise_var, jnp.float32) / n_avg
    p0 = jnp.maximum(jnp.sum(jnp.abs(e0) ** 2) - n, 1e-12)
    p1 = jnp.maximum(jnp.sum(jnp.abs(e1) ** 2) - n, 1e-12)
    rho = jnp.real(jnp.sum(jnp.conj(e0) * e1)) / jnp.sqrt(p0 * p1)
    return (inverse_j0(rho) / (2.0 * math.pi * lag_s)).astype(jnp.float32)

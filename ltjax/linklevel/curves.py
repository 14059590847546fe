"""Monte-Carlo block-error-rate curves with an error-count stop rule and Wilson intervals.

``bler_curve`` drives a batch function point by point on the host: at each SNR it draws
batches of blocks until ``min_errors`` block errors or ``max_blocks`` blocks, then reports
the BLER with a Wilson score interval (Wilson 1927),

  (p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n),  z = 1.96 (95 %),

which, unlike the normal interval, is sensible at 0 errors (upper bound ~ 3.8 / n).

Keys: block j of point p uses fold_in(fold_in(key, p), j), so a block's randomness does
not depend on the batch size (the batch size only sets how far past the stop rule a point
runs). The batch function is pure; the library does not jit it, the caller does:

    fn = jax.jit(awgn_batch_fn(mcs_link_config(9, 10)))
    curve = bler_curve(jax.random.key(0), fn, snr_db=[3.0, 4.0, 5.0], batch=64)

Letters: P SNR points, B blocks per batch.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.linklevel.chain import LinkConfig, TbResult, simulate_tbs, simulate_tbs_awgn

Z_95 = 1.959963984540054  # standard normal 97.5 % quantile


def wilson_interval(n_errors, n_blocks, z: float = Z_95):
    """Wilson score interval of a binomial proportion (numpy, broadcasting).

    Returns:
      (low, high) float64 arrays; NaN where n_blocks = 0.
    """
    k = np.asarray(n_errors, np.float64)
    n = np.asarray(n_blocks, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        # The bounds are exactly 0 at k = 0 and 1 at k = n; pin them against round-off.
        low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
        return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


@dataclasses.dataclass(frozen=True)
class BlerCurve:
    """Result of ``bler_curve`` (numpy arrays [P]).

    Attributes:
      snr_db: SNR of each point [dB].
      n_blocks: blocks simulated (0 for points skipped after the curve stopped).
      n_errors: block errors.
      bler: n_errors / n_blocks (NaN where not simulated).
      ci_low, ci_high: 95 % Wilson interval.
      mean_iter: mean decoder iterations per code block.
    """

    snr_db: np.ndarray
    n_blocks: np.ndarray
    n_errors: np.ndarray
    bler: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    mean_iter: np.ndarray

    def snr_at_bler(self, target: float = 0.1) -> float:
        """SNR [dB] where the BLER first falls below ``target``.

        Linear interpolation of log BLER between the two points around the crossing (of
        BLER itself when the lower point has no errors). NaN when the curve does not cross.
        """
        s, b = self.snr_db, self.bler
        for i in range(len(s) - 1):
            if b[i] >= target > b[i + 1]:
                if b[i + 1] > 0:
                    t = (math.log(target) - math.log(b[i])) / (math.log(b[i + 1]) - math.log(b[i]))
                else:
                    t = (b[i] - target) / b[i]
                return float(s[i] + t * (s[i + 1] - s[i]))
        return float("nan")


def bler_curve(key, batch_fn: Callable, snr_db: Sequence[float], *, batch: int = 64,
               min_errors: int = 100, max_blocks: int = 10_000,
               stop_below: float | None = None) -> BlerCurve:
    """BLER at each SNR with an error-count stop rule.

    Args:
      key: typed PRNG key (consumed).
      batch_fn: ``fn(keys [B], snr_db) -> TbResult`` with fields [B] (e.g. a jitted
        ``awgn_batch_fn``); called with B = ``batch`` keys.
      snr_db: SNR points [dB], in increasing order if ``stop_below`` is used.
      batch: blocks per call.
      min_errors: a point stops once it has this many block errors...
      max_blocks: ...or this many blocks.
      stop_below: when a finished point's BLER is below this, later points are skipped.

    Returns:
      BlerCurve.
    """
    p_n = len(snr_db)
    n_blk = np.zeros(p_n, np.int64)
    n_err = np.zeros(p_n, np.int64)
    it_sum = np.zeros(p_n, np.float64)
    stopped = False
    for p, snr in enumerate(snr_db):
        if stopped:
            continue
        kp = jax.random.fold_in(key, p)
        while n_err[p] < min_errors and n_blk[p] < max_blocks:
            ids = jnp.arange(n_blk[p], n_blk[p] + batch, dtype=jnp.uint32)
            keys = jax.vmap(jax.random.fold_in, (None, 0))(kp, ids)
            res = batch_fn(keys, jnp.float32(snr))
            n_err[p] += int(np.sum(np.asarray(res.error)))
            it_sum[p] += float(np.sum(np.asarray(res.n_iter)))
            n_blk[p] += batch
        if stop_below is not None and n_err[p] / n_blk[p] < stop_below:
            stopped = True
    with np.errstate(invalid="ignore", divide="ignore"):
        bler = n_err / n_blk
        mean_iter = it_sum / n_blk
    lo, hi = wilson_interval(n_err, n_blk)
    return BlerCurve(snr_db=np.asarray(snr_db, np.float64), n_blocks=n_blk, n_errors=n_err,
                     bler=bler, ci_low=lo, ci_high=hi, mean_iter=mean_iter)


def awgn_batch_fn(cfg: LinkConfig, alpha=0.75, beta=0.0) -> Callable:
    """Pure ``fn(keys [B], snr_db) -> TbResult [B]`` over SISO AWGN (``simulate_tbs_awgn``)."""

    def fn(keys, snr_db) -> TbResult:
        return simulate_tbs_awgn(keys, cfg, snr_db, alpha, beta)

    return fn


def channel_batch_fn(cfg: LinkConfig, h, w, err_var=0.0, alpha=0.75, beta=0.0) -> Callable:
    """Pure ``fn(keys [B], snr_db) -> TbResult [B]`` over a fixed channel h, precoder w.

    noise_var = 10^(-snr_db / 10) per receive antenna (SNR of a unit-gain channel).
    """

    def fn(keys, snr_db) -> TbResult:
        nv = jnp.power(10.0, -jnp.asarray(snr_db, jnp.float32) / 10.0)
        return simulate_tbs(keys, cfg, h, w, nv, err_var, alpha, beta)

    return fn

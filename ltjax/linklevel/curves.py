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
import statistics
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.linklevel.chain import LinkConfig, TbResult, simulate_tbs, simulate_tbs_awgn

Z_95 = 1.959963984540054  # standard normal 97.5 % quantile
_STD_NORMAL = statistics.NormalDist()


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
        return _crossing(self.snr_db, self.bler, target)

    def snr_at_bler_interval(self, target: float = 0.1) -> tuple[float, float]:
        """(low, high) SNR [dB] of the crossing read off the 95 % Wilson bounds.

        The upper bound curve crosses ``target`` last, the lower one first; each is
        interpolated as in ``snr_at_bler``. NaN where a bound does not cross.
        """
        return _crossing(self.snr_db, self.ci_low, target), _crossing(self.snr_db, self.ci_high, target)

    def probit_slope(self, lo: float = 0.01, hi: float = 0.7) -> float:
        """Slope d Phi^{-1}(BLER) / d SNR [1/dB] of the waterfall (negative).

        Weighted least squares of z = Phi^{-1}(BLER) on SNR over the points with
        ``lo`` <= BLER <= ``hi`` (and at least one error), weights n phi(z)^2 / (p (1 - p)),
        the inverse of z's binomial variance (delta method). NaN with fewer than 2 points.
        """
        ok = (self.n_errors > 0) & (self.bler >= lo) & (self.bler <= hi)
        if np.count_nonzero(ok) < 2:
            return float("nan")
        p = self.bler[ok]
        z = np.array([_STD_NORMAL.inv_cdf(float(v)) for v in p])
        w = self.n_blocks[ok] * np.exp(-z * z) / (2 * math.pi) / (p * (1 - p))
        x = self.snr_db[ok]
        xm, zm = np.sum(w * x) / np.sum(w), np.sum(w * z) / np.sum(w)
        return float(np.sum(w * (x - xm) * (z - zm)) / np.sum(w * (x - xm) ** 2))


def _crossing(s, b, target: float) -> float:
    """First SNR where b falls below target: log-linear between the two points (linear to 0)."""
    with np.errstate(invalid="ignore"):
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
    counts, stopped = [], False
    for p, snr in enumerate(snr_db):
        if stopped:
            counts.append((0, 0, 0.0))  # skipped: the curve stopped at an earlier point
            continue
        n, e, it = bler_point(jax.random.fold_in(key, p), batch_fn, snr, batch=batch,
                              min_errors=min_errors, max_blocks=max_blocks)
        counts.append((n, e, it))
        stopped = stop_below is not None and e / n < stop_below
    return _curve(snr_db, counts)


def bler_point(key, batch_fn: Callable, snr_db: float, *, batch: int = 64, min_errors: int = 100,
               max_blocks: int = 10_000) -> tuple[int, int, float]:
    """Blocks at one SNR until ``min_errors`` block errors or ``max_blocks`` blocks.

    Block j uses ``fold_in(key, j)``. Returns (blocks, block errors, summed mean iterations).
    """
    n_blk, n_err, it_sum = 0, 0, 0.0
    while n_err < min_errors and n_blk < max_blocks:
        ids = jnp.arange(n_blk, n_blk + batch, dtype=jnp.uint32)
        keys = jax.vmap(jax.random.fold_in, (None, 0))(key, ids)
        res = batch_fn(keys, jnp.float32(snr_db))
        n_err += int(np.sum(np.asarray(res.error)))
        it_sum += float(np.sum(np.asarray(res.n_iter)))
        n_blk += batch
    return n_blk, n_err, it_sum


def _curve(snr_db, counts) -> BlerCurve:
    """BlerCurve from per-point (blocks, errors, summed iterations)."""
    n_blk = np.array([c[0] for c in counts], np.int64)
    n_err = np.array([c[1] for c in counts], np.int64)
    it_sum = np.array([c[2] for c in counts], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bler = n_err / n_blk
        mean_iter = it_sum / n_blk
    lo, hi = wilson_interval(n_err, n_blk)
    return BlerCurve(snr_db=np.asarray(snr_db, np.float64), n_blocks=n_blk, n_errors=n_err,
                     bler=bler, ci_low=lo, ci_high=hi, mean_iter=mean_iter)


def adaptive_bler_curve(key, batch_fn: Callable, snr_start: float, step_db: float, *,
                        target: float = 0.1, stop_below: float = 0.01, batch: int = 64,
                        min_errors: int = 100, max_blocks: int = 10_000,
                        max_points: int = 24) -> BlerCurve:
    """A BLER curve on a grid of ``step_db`` that brackets the ``target`` crossing.

    Starting at ``snr_start``, the grid walks down in steps of 2 ``step_db`` while the BLER
    is below 0.5 (the start was past the waterfall), then up from its highest point: in
    steps of 2 ``step_db`` while the BLER is 0.9 or more (cheap points: a few batches reach
    ``min_errors``) and of ``step_db`` after that, until a point's BLER is below
    ``stop_below`` (and below ``target``). Last, the two points around the ``target``
    crossing are bisected until they are at most ``step_db`` apart. Every point runs the
    error-count rule of ``bler_point``. The j-th point run uses ``fold_in(key, j)``; each
    decision depends only on earlier results, so a key and a batch function always give
    the same curve.

    Returns:
      BlerCurve with the points in increasing SNR.
    """
    runs: dict[float, tuple[int, int, float]] = {}

    def run(snr):
        snr = round(float(snr), 6)
        if snr not in runs:
            runs[snr] = bler_point(jax.random.fold_in(key, len(runs)), batch_fn, snr, batch=batch,
                                   min_errors=min_errors, max_blocks=max_blocks)
        n, e, _ = runs[snr]
        return e / n

    if not step_db > 0:
        raise ValueError(f"step_db must be > 0, got {step_db!r}")
    snr = float(snr_start)
    for _ in range(max_points):  # attempts, not points: a step below the rounding adds none
        if run(snr) >= 0.5:
            break
        snr -= 2 * step_db
    snr = max(runs)
    bler = run(snr)
    for _ in range(max_points):
        if len(runs) >= max_points or (bler < stop_below and bler < target):
            break
        snr += (2 if bler >= 0.9 else 1) * step_db
        bler = run(snr)
    for _ in range(max_points):
        grid = sorted(runs)
        pairs = [(a, b) for a, b in zip(grid, grid[1:])
                 if run(a) >= target > run(b) and b - a > step_db * (1 + 1e-6)]
        if len(runs) >= max_points or not pairs:
            break
        run(0.5 * (pairs[0][0] + pairs[0][1]))
    grid = sorted(runs)
    return _curve(grid, [runs[s] for s in grid])


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

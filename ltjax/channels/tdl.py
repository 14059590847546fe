"""TR 38.901 scalable tapped-delay-line (TDL) profiles, as data.

TR 38.901 V16 Table 7.7.2-1 (TDL-A), Table 7.7.2-2 (TDL-B) and Table 7.7.2-3
(TDL-C): all NLOS, every tap Rayleigh. Delays are normalised to the RMS delay
spread (clause 7.7.3 "scaling of delays"): tau_n = tau_n,norm * DS, so
"TDL-A30 / TDL-B50 / TDL-C200" are these tables with DS = 30 / 50 / 200 ns.
Powers are given in dB and are normalised here to sum to 1 (linear).

L is the number of taps (23, 23, 24). Pure NumPy: the tables set shapes, so
they are static data, not traced values.
"""

from __future__ import annotations

import numpy as np

# name -> (normalised delays [L], powers [L] in dB); TR 38.901 Table 7.7.2-1/2/3.
TDL_TABLES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # TR 38.901 Table 7.7.2-1: TDL-A
    "A": (
        (0.0, 0.3819, 0.4025, 0.5868, 0.4610, 0.5375, 0.6708, 0.5750, 0.7618, 1.5375, 1.8978,
         2.2242, 2.1718, 2.4942, 2.5119, 3.0582, 4.0810, 4.4579, 4.5695, 4.7966, 5.0066, 5.3043,
         9.6586),
        (-13.4, 0.0, -2.2, -4.0, -6.0, -8.2, -9.9, -10.5, -7.5, -15.9, -6.6, -16.7, -12.4, -15.2,
         -10.8, -11.3, -12.7, -16.2, -18.3, -18.9, -16.6, -19.9, -29.7),
    ),
    # TR 38.901 Table 7.7.2-2: TDL-B
    "B": (
        (0.0, 0.1072, 0.2155, 0.2095, 0.2870, 0.2986, 0.3752, 0.5055, 0.3681, 0.3697, 0.5700,
         0.5283, 1.1021, 1.2756, 1.5474, 1.7842, 2.0169, 2.8294, 3.0219, 3.6187, 4.1067, 4.2790,
         4.7834),
        (0.0, -2.2, -4.0, -3.2, -9.8, -1.2, -3.4, -5.2, -7.6, -3.0, -8.9, -9.0, -4.8, -5.7, -7.5,
         -1.9, -7.6, -12.2, -9.8, -11.4, -14.9, -9.2, -11.3),
    ),
    # TR 38.901 Table 7.7.2-3: TDL-C
    "C": (
        (0.0, 0.2099, 0.2219, 0.2329, 0.2176, 0.6366, 0.6448, 0.6560, 0.6584, 0.7935, 0.8213,
         0.9336, 1.2285, 1.3083, 2.1704, 2.7105, 4.2589, 4.6003, 5.4902, 5.6077, 6.3065, 6.6374,
         7.0427, 8.6523),
        (-4.4, -1.2, -3.5, -5.2, -2.5, 0.0, -2.2, -3.9, -7.4, -7.1, -10.7, -11.1, -5.1, -6.8,
         -8.7, -13.2, -13.9, -13.9, -15.8, -17.1, -16.0, -15.7, -21.6, -22.8),
    ),
}

TDL_NAMES = tuple(TDL_TABLES)


def canonical_tdl_name(name: str) -> str:
    """Maps "A", "a", "TDL-A", "tdl_a" to "A"; raises ValueError for anything else."""
    key = str(name).strip().upper().replace("_", "-")
    if key.startswith("TDL-"):
        key = key[4:]
    if key not in TDL_TABLES:
        raise ValueError(f"unknown TDL profile {name!r}; allowed: A, B, C (or TDL-A, TDL-B, TDL-C)")
    return key


def normalized_profile(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Normalised delays [L] (units of DS) and linear powers [L] summing to 1."""
    delays, powers_db = TDL_TABLES[canonical_tdl_name(name)]
    p = 10.0 ** (np.asarray(powers_db, np.float64) / 10.0)
    return np.asarray(delays, np.float64), p / p.sum()


def rms_delay_spread(delays: np.ndarray, powers: np.ndarray) -> float:
    """RMS delay spread sqrt(E[tau^2] - E[tau]^2) with power weights (same unit as delays)."""
    p = np.asarray(powers, np.float64) / np.sum(powers)
    d = np.asarray(delays, np.float64)
    mean = np.sum(p * d)
    return float(np.sqrt(max(np.sum(p * d * d) - mean * mean, 0.0)))


def tdl_profile(name: str, delay_spread_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Scaled TDL power-delay profile (TR 38.901 7.7.2 / 7.7.3).

    Args:
      name: "A" | "B" | "C" (also "TDL-A" etc., case-insensitive).
      delay_spread_s: desired RMS delay spread DS [s], >= 0 (e.g. 30e-9 for TDL-A30).

    Returns:
      (delays_s [L] in seconds, powers [L] linear, summing to 1), float64 NumPy.

    Raises:
      ValueError: unknown name, or a negative / non-finite delay spread.
    """
    ds = float(delay_spread_s)
    if not np.isfinite(ds) or ds < 0.0:
        raise ValueError(f"delay_spread_s must be finite and >= 0 s, got {delay_spread_s!r}")
    delays, powers = normalized_profile(name)
    return delays * ds, powers

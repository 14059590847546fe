"""Static configuration (shapes, patterns) and traced parameters of the beam simulator.

Static config is a frozen dataclass (it fixes shapes or control flow, so changing it recompiles);
traced parameters are ``flax.struct`` dataclasses (a sweep may vary them without recompiling).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from flax import struct


def set_b_patterns(q_h: int = 8, q_v: int = 8) -> tuple[tuple[int, ...], ...]:
    """The three Set B index patterns (16 of the 64 Set A beams each; Fig. 1 of the paper, our choice).

    Beam index b = h * Q_v + v (h horizontal, v vertical codebook index; Kronecker order of eq. 6).
      * Set B 0 "grid":      h in {0,2,4,6}, v in {1,3,5,7}  (every other beam in both dimensions);
      * Set B 1 "rows":      every h, v in {0, 5}            (two full horizontal rows of beams);
      * Set B 2 "staggered": (h + 2 v) mod 4 == 0            (a sheared checkerboard, 2 beams per row).
    All three measure 1/4 of Set A, like the TR 38.843 evaluations.
    """
    p0 = [h * q_v + v for h in range(0, q_h, 2) for v in range(1, q_v, 2)]
    p1 = [h * q_v + v for h in range(q_h) for v in (0, 5)]
    p2 = [h * q_v + v for h in range(q_h) for v in range(q_v) if (h + 2 * v) % 4 == 0]
    return tuple(tuple(sorted(p)) for p in (p0, p1, p2))


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    """Deployment, array, codebook and channel structure (paper Sec. IV-A; TR 38.843 BM-Case1).

    Attributes:
      isd_m: inter-site distance [m]; the cell is a flat-top hexagon of circumradius isd/sqrt(3).
      h_bs_m, h_ue_m: antenna heights [m].
      fc_ghz: carrier frequency [GHz].
      min_dist_m: minimum 2D distance of dataset locations from the BS [m].
      m_v, m_h: UPA rows x columns (4 x 8), half-wavelength spacing.
      o_h, o_v: DFT oversampling (1, 2) -> Q_h x Q_v = 8 x 8 = 64 beams.
      downtilt_deg, bearing_deg: TR 38.901 array orientation (beta, alpha) [deg].
      element_pattern: apply the TR 38.901 Table 7.3-1 element pattern (breaks the front/back symmetry
        of a planar array in absolute RSRP).
      n_paths: L, equal-power paths of eq. (2).
      tx_power_dbm: transmit power per beam [dBm]; only offsets every RSRP.
      n_regions: angular regions (dataset IDs).
      set_b: Set B beam index patterns.
      norm_offset_db, norm_scale_db: DNN input x = (RSRP_dBm - offset) / scale, one fixed affine map for
        (-88 dBm and 17 dB: the rounded mean and std of all training RSRPs, all beams and regions, seed 0)
        every model and region (so a model trained in one region sees the absolute level elsewhere);
        -88 dBm and 17 dB are the rounded mean and std of all training RSRPs (all beams, regions; seed 0).
    """

    isd_m: float = 200.0
    h_bs_m: float = 25.0
    h_ue_m: float = 1.5
    fc_ghz: float = 30.0
    min_dist_m: float = 10.0
    m_v: int = 4
    m_h: int = 8
    o_h: int = 1
    o_v: int = 2
    downtilt_deg: float = 20.0
    bearing_deg: float = 30.0
    element_pattern: bool = True
    n_paths: int = 6
    tx_power_dbm: float = 33.0
    n_regions: int = 6
    set_b: tuple = dataclasses.field(default_factory=set_b_patterns)
    norm_offset_db: float = -88.0
    norm_scale_db: float = 17.0

    @property
    def q_h(self) -> int:
        return self.o_h * self.m_h

    @property
    def q_v(self) -> int:
        return self.o_v * self.m_v

    @property
    def n_beams(self) -> int:
        return self.q_h * self.q_v

    @property
    def n_set_b(self) -> int:
        return len(self.set_b)

    @property
    def set_b_size(self) -> int:
        return len(self.set_b[0])

    @property
    def radius_m(self) -> float:
        return self.isd_m / math.sqrt(3.0)

    @property
    def wavelength_m(self) -> float:
        return 299_792_458.0 / (self.fc_ghz * 1e9)

    def set_b_array(self) -> np.ndarray:
        """[n_set_b, S] int32 Set B beam indices."""
        return np.asarray(self.set_b, dtype=np.int32)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["set_b"] = [list(p) for p in self.set_b]
        return d


@struct.dataclass
class ChannelParams:
    """Traced channel/measurement parameters.

    Attributes:
      angular_spread_deg: RMS angular spread of the Laplacian path offsets [deg] (scale b = spread/sqrt(2)).
      meas_noise_db: std of Gaussian L1-RSRP measurement error [dB] (0: none).
      quant_db: L1-RSRP report quantisation step [dB] (0: none; 38.133 reports use 1 dB).
    """

    angular_spread_deg: float = 5.0
    meas_noise_db: float = 0.0
    quant_db: float = 0.0


@struct.dataclass
class MobilityParams:
    """Traced mobility parameters.

    Attributes:
      speed_mps: UE speed [m/s] (3 km/h = 0.833 m/s).
      dt_s: step [s].
      corr_dist_m: correlation distance of path angular offsets and slow path gains [m] (TR 38.901 7.6.3 order).
    """

    speed_mps: float = 3.0 / 3.6
    dt_s: float = 0.02
    corr_dist_m: float = 10.0

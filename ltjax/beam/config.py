"""Static configuration (shapes, patterns) and traced parameters of the beam simulator.

Static config is a frozen dataclass (it fixes shapes or control flow, so changing it recompiles);
traced parameters are ``flax.struct`` dataclasses (a sweep may vary them without recompiling).

Readings of the paper that change the simulated world live here as named choices:
  * cell geometry (``BeamConfig.geometry``): "hexagon", the whole hexagonal cell cut into six 60-degree
    regions, or "sector", the 120-degree sector that a panel at bearing 30 deg serves (the first sector of a
    three-sector site, TR 38.901 bearings 30/150/270 deg) cut into six 20-degree regions;
  * Set B designs (``SET_B_DESIGNS``): "spread" (16 beams spread over the whole codebook, Fig. 1 as we read
    it) or "localised" (4 x 4 neighbouring beams that cover one angular sector);
  * L1-RSRP measurement (``MEASUREMENTS``): "ideal" (noiseless, unquantised) or "awgn" (thermal noise per
    beam from a stated power budget, then the TS 38.133 report: 1 dB steps inside the reporting range).
Fields added after the model cache existed enter its identity only when they differ from their defaults
(``BeamConfig.as_dict``, ``ChannelParams.identity_dict``), so the committed models keep their names.
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


def localised_set_b_patterns(q_h: int = 8, q_v: int = 8) -> tuple[tuple[int, ...], ...]:
    """Three Set B designs of 4 x 4 neighbouring beams, each covering one angular sector (left/centre/right).

    Horizontal beam h peaks at u = sin(theta') sin(phi') = 2h/Q_h (mod 2), so h in {5, 6, 7, 0} covers
    u in [-0.75, 0] (left of boresight), {6, 7, 0, 1} covers [-0.5, 0.25] (centre) and {0, 1, 2, 3} covers
    [0, 0.75] (right). All three use the vertical beams v in {6, 7, 0, 1} (cos(theta') in [-0.5, 0.25]), the
    elevations of UEs between about 15 m and the cell edge under the 20-degree downtilt. Such a Set B carries
    direction: a model on it is good only where its beams point, which is what the paper's support
    information ("IDs that describe beam-related parameters such as beamwidth and direction") describes.
    """
    rows = (6, 7, 0, 1)
    cols = ((5, 6, 7, 0), (6, 7, 0, 1), (0, 1, 2, 3))
    return tuple(tuple(sorted(h * q_v + v for h in hs for v in rows)) for hs in cols)


SET_B_DESIGNS = {"spread": set_b_patterns, "localised": localised_set_b_patterns}
GEOMETRIES = ("hexagon", "sector")


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
      set_b_first_id: Set B ID of the first pattern of ``set_b``: a family of patterns trained apart from
        the paper's three (e.g. the localised ones, IDs 3-5) keeps model keys distinct from theirs.
      geometry: "hexagon" (six 60-degree regions of the whole cell, azimuth from 0 deg) or "sector" (the
        120-degree sector centred on the bearing, six 20-degree regions from bearing - 60 deg); UEs stay in it.
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
    set_b_first_id: int = 0
    geometry: str = "hexagon"

    def __post_init__(self):
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {GEOMETRIES}, got {self.geometry!r}")

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

    @property
    def region_start_deg(self) -> float:
        """Azimuth where region 0 starts [deg]: 0 (hexagon) or bearing - 60 (sector)."""
        return 0.0 if self.geometry == "hexagon" else self.bearing_deg - 60.0

    @property
    def region_width_deg(self) -> float:
        """Azimuth width of one region [deg]: 360 / R (hexagon) or 120 / R (sector)."""
        return (360.0 if self.geometry == "hexagon" else 120.0) / self.n_regions

    def set_b_array(self) -> np.ndarray:
        """[n_set_b, S] int32 Set B beam indices."""
        return np.asarray(self.set_b, dtype=np.int32)

    def as_dict(self) -> dict:
        """The fields as JSON (the cache identity hashes it); fields added after the cache existed appear
        only when they differ from their defaults, so the committed entries keep their identities."""
        d = dataclasses.asdict(self)
        d["set_b"] = [list(p) for p in self.set_b]
        for name, default in _LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d


_LATER_FIELDS = {"set_b_first_id": 0, "geometry": "hexagon"}


def reading_config(geometry: str = "hexagon", set_b_design: str = "spread", **kw) -> BeamConfig:
    """The ``BeamConfig`` of a geometry and a Set B design: the spread patterns are Set B IDs 0-2, the
    localised ones IDs 3-5 (so a pool holding both has six distinct Set B IDs)."""
    if set_b_design not in SET_B_DESIGNS:
        raise ValueError(f"set_b_design must be one of {tuple(SET_B_DESIGNS)}, got {set_b_design!r}")
    first = list(SET_B_DESIGNS).index(set_b_design) * 3
    return BeamConfig(geometry=geometry, set_b=SET_B_DESIGNS[set_b_design](), set_b_first_id=first, **kw)


@struct.dataclass
class ChannelParams:
    """Traced channel/measurement parameters (``awgn`` is static: it decides whether noise is drawn).

    L1-RSRP is the power per resource element (TS 38.215); the simulator carries the received power of a
    beam over the carrier, RSRP_carrier = P_tx - PL + beam gain [dBm], and the per-RE value is
    RSRP_carrier - 10 log10(n_subcarriers) (equal power on every subcarrier). With ``awgn`` the UE estimates
    each beam's received amplitude from ``n_re`` REs in thermal noise of -174 dBm/Hz + NF over one
    subcarrier, so the measured power is |sqrt(P) + w|^2 with w ~ CN(0, N_RE P_scale / n_re) (the noise
    bias of a plain |estimate|^2 is kept); the report is then clipped to the reporting range and rounded
    to ``quant_db`` steps on the per-RE scale. Values go back to the carrier scale for the models.

    Attributes:
      angular_spread_deg: RMS angular spread of the Laplacian path offsets [deg] (scale b = spread/sqrt(2)).
      meas_noise_db: std of Gaussian L1-RSRP measurement error [dB] (0: none).
      quant_db: L1-RSRP report quantisation step [dB] (0: none; 38.133 reports use 1 dB).
      awgn: draw thermal noise per beam (static).
      noise_figure_db: UE noise figure [dB].
      scs_khz: subcarrier spacing [kHz] (noise bandwidth of one RE).
      n_subcarriers: subcarriers of the carrier (the per-RE share of P_tx).
      n_re: REs averaged in one L1-RSRP estimate.
      report_min_dbm, report_max_dbm: L1-RSRP reporting range per RE [dBm] (used when quant_db > 0).
    """

    angular_spread_deg: float = 5.0
    meas_noise_db: float = 0.0
    quant_db: float = 0.0
    awgn: bool = struct.field(pytree_node=False, default=False)
    noise_figure_db: float = 10.0
    scs_khz: float = 120.0
    n_subcarriers: float = 792.0
    n_re: float = 127.0
    report_min_dbm: float = -140.0
    report_max_dbm: float = -44.0

    def identity_dict(self) -> dict:
        """The parameters as floats for the cache identity; those added after the cache existed appear only
        when ``awgn`` is on (they change nothing without it), so the committed entry keeps its identity."""
        d = {f: float(getattr(self, f)) for f in ("angular_spread_deg", "meas_noise_db", "quant_db")}
        if self.awgn:
            d.update({f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in d})
        return d


# Measurement readings (see ChannelParams): "ideal" is the noiseless, unquantised L1-RSRP; "awgn" is the
# SSB-based L1-RSRP of an FR2 UE: 100 MHz carrier at 120 kHz SCS (66 RBs, 792 subcarriers, TS 38.101-2),
# noise figure 10 dB, the 127 REs of one SSS (TS 38.215 measures SS-RSRP on the SSS), the L1-RSRP
# reporting range -140 ... -44 dBm in 1 dB steps (TS 38.133).
MEASUREMENTS = {
    "ideal": ChannelParams(),
    "awgn": ChannelParams(quant_db=1.0, awgn=True),
}


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

"""Spatially consistent UE trajectories inside the cell (the hexagon, or its 120-degree sector).

Mobility model (our reading; the paper gives only 3 km/h and 20 ms): each UE starts uniformly in the
cell (at least ``min_dist_m`` from the BS) with a uniform heading and moves in a straight line at constant
speed, reflecting specularly off the cell's edges (a billiard: the hexagon's edges, and for the sector
also its two rays through the BS), so it stays in the cell and crosses region boundaries (83 m per 100 s
against a 115 m cell radius).

Common random numbers: the innovations of step t are drawn from fold_in(key, t) (``step_innovations``),
so a UE's channel at step t depends only on its key and t, never on how the steps are grouped into LCM
windows: every strategy, gamma and T_LCM sees the same channels.

Spatial consistency (TR 38.901 7.6.3 in spirit): the LOS geometry is recomputed every step; the latent
normals z of the Laplacian path offsets and a slow complex path gain g follow an AR(1) process in the
distance travelled, rho = exp(-dd / d_corr) (d_corr = 10 m); each path also rotates its phase with its own
Doppler shift f_l = (v / lambda) cos(psi_l - heading), psi_l a fixed uniform arrival azimuth at the UE.
Path gain alpha_l = g_l exp(j phi_l). Nothing is redrawn independently from step to step.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.beam.config import BeamConfig, MobilityParams
from ltjax.beam.geometry import cell_edges, sample_in_region, sample_in_wedge


@struct.dataclass
class UeState:
    """Per-UE channel/mobility state.

    Attributes:
      pos: [2] position [m].
      heading: [2] unit direction of motion.
      z: [L, 2] latent N(0,1) of the (zenith, azimuth) path offsets.
      g: [L] complex64 slow path gain, CN(0, 1) marginally.
      phase: [L] Doppler phase [rad].
      arr_az: [L] arrival azimuth of each path at the UE [rad] (fixed).
    """

    pos: jax.Array
    heading: jax.Array
    z: jax.Array
    g: jax.Array
    phase: jax.Array
    arr_az: jax.Array

    def alpha(self):
        """[L] complex path gains alpha_l = g_l exp(j phase_l)."""
        return self.g * jax.lax.complex(jnp.cos(self.phase), jnp.sin(self.phase))


def init_ue(key, cfg: BeamConfig) -> UeState:
    """A UE uniform in the cell, uniform heading, stationary small-scale state. The key is consumed.

    Hexagon: a uniform region (the six triangles have equal area), then a uniform point of it. Sector: a
    uniform point of the 120-degree wedge (its 20-degree regions differ in area).
    """
    kr, kp, kh, kz, kg, kph, ka = jax.random.split(key, 7)
    if cfg.geometry == "hexagon":
        region = jax.random.randint(kr, (), 0, cfg.n_regions)
        pos = sample_in_region(kp, region, cfg.radius_m, cfg.min_dist_m)
    else:
        pos = sample_in_wedge(kp, jnp.float32(cfg.region_start_deg), 120.0, cfg.radius_m, cfg.min_dist_m)
    ang = jax.random.uniform(kh, (), maxval=2 * jnp.pi)
    ri = jax.random.normal(kg, (cfg.n_paths, 2)) / math.sqrt(2.0)
    return UeState(
        pos=pos,
        heading=jnp.stack([jnp.cos(ang), jnp.sin(ang)]),
        z=jax.random.normal(kz, (cfg.n_paths, 2)),
        g=(ri[:, 0] + 1j * ri[:, 1]).astype(jnp.complex64),
        phase=jax.random.uniform(kph, (cfg.n_paths,), maxval=2 * jnp.pi),
        arr_az=jax.random.uniform(ka, (cfg.n_paths,), maxval=2 * jnp.pi),
    )


def reflect(pos, heading, cfg: BeamConfig):
    """Folds a position that crossed a cell edge (``geometry.cell_edges``) back inside and mirrors the
    heading (billiard)."""
    for nx, ny, c in cell_edges(cfg):
        n = jnp.array([nx, ny])
        over = pos @ n - c
        hit = over > 0
        pos = jnp.where(hit, pos - 2.0 * over * n, pos)
        heading = jnp.where(hit & (heading @ n > 0), heading - 2.0 * (heading @ n) * n, heading)
    return pos, heading


def step_ue(normals, s: UeState, cfg: BeamConfig, mp: MobilityParams) -> UeState:
    """Advances one UE by one step of ``mp.dt_s``.

    Args:
      normals: [L, 4] fresh N(0, 1) innovations (2 for the offsets' latents, 2 for the slow gain); drawn by
        the caller for a whole window at once, which is much cheaper than one key per step.
    """
    dd = mp.speed_mps * mp.dt_s
    pos, heading = reflect(s.pos + dd * s.heading, s.heading, cfg)
    rho = jnp.exp(-dd / mp.corr_dist_m)
    innov = jnp.sqrt(1.0 - rho ** 2)
    z = rho * s.z + innov * normals[:, :2]
    cn = jax.lax.complex(normals[:, 2], normals[:, 3]) / math.sqrt(2.0)
    g = (rho * s.g + innov * cn).astype(jnp.complex64)
    heading_az = jnp.arctan2(heading[1], heading[0])
    doppler_hz = mp.speed_mps / cfg.wavelength_m * jnp.cos(s.arr_az - heading_az)
    phase = jnp.mod(s.phase + 2 * jnp.pi * doppler_hz * mp.dt_s, 2 * jnp.pi)
    return s.replace(pos=pos, heading=heading, z=z, g=g, phase=phase)


def step_innovations(key, t0, n_steps: int, cfg: BeamConfig):
    """Innovations [T, L, 4] of steps t0 .. t0 + T - 1; step t's come from fold_in(key, t) alone.

    Args:
      key: the UE's innovation key (not consumed: any range of steps can be drawn again).
      t0: [] int first step index (traced).
    """
    return jax.vmap(lambda t: jax.random.normal(jax.random.fold_in(key, t), (cfg.n_paths, 4)))(
        t0 + jnp.arange(n_steps))


def trajectory(key, s: UeState, cfg: BeamConfig, mp: MobilityParams, n_steps: int):
    """``n_steps`` steps of one UE: (final state, positions [T, 2]); step t uses ``step_innovations``."""
    normals = step_innovations(key, 0, n_steps, cfg)

    def step(st, nz):
        st = step_ue(nz, st, cfg, mp)
        return st, st.pos

    return jax.lax.scan(step, s, normals)

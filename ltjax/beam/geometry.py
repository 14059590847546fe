"""Cell geometry: flat-top hexagon or its 120-degree sector, six azimuth regions, LOS angles, TR 38.901
array orientation.

The BS is at (0, 0). A 2D point (x, y) [m] is inside the flat-top hexagon of circumradius R when
|y| <= (sqrt(3)/2) R and sqrt(3)|x| + |y| <= sqrt(3) R. Two cell readings (``BeamConfig.geometry``):
  * "hexagon": region (dataset ID) r covers azimuths [60 r, 60 (r + 1)) degrees, measured
    counter-clockwise from +x; because the hexagon's vertices lie at multiples of 60 degrees, each region
    is exactly the equilateral triangle (0, V_r, V_{r+1});
  * "sector": the cell is the part of the hexagon with azimuth in [bearing - 60, bearing + 60] (the
    120-degree sector served by a panel at that bearing, the first sector of a three-sector site) and
    region r covers [bearing - 60 + 20 r, bearing - 40 + 20 r) degrees.
The cell is an intersection of half-planes n . p <= c (``cell_edges``): the six hexagon edges, plus the
two sector rays through the BS (c = 0); mobility reflects UEs off them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

SQRT3 = math.sqrt(3.0)


def region_index(pos, cfg):
    """Region index [...] int32 of positions [..., 2] [m] under ``cfg``'s geometry (``region_of`` for the
    hexagon, bit-identical to it)."""
    if cfg.geometry == "hexagon":
        return region_of(pos, cfg.n_regions)
    # azimuth relative to the bearing in [-180, 180): a point a rounding error outside either sector ray
    # falls into the nearest edge region, not across the back of the cell.
    rel = jnp.mod(jnp.degrees(jnp.arctan2(pos[..., 1], pos[..., 0])) - cfg.bearing_deg + 180.0, 360.0) - 180.0
    r = jnp.floor((rel - cfg.region_start_deg + cfg.bearing_deg) / cfg.region_width_deg).astype(jnp.int32)
    return jnp.clip(r, 0, cfg.n_regions - 1)


def region_of(pos, n_regions: int = 6):
    """Region index of a 2D position.

    Args:
      pos: [..., 2] positions [m].
    Returns:
      [...] int32 in [0, n_regions): floor(azimuth / (360 / n_regions)), azimuth in [0, 360) degrees.
      Boundaries are half-open: azimuth exactly 60 r belongs to region r. An azimuth that rounds to 360
      (a point just below the +x axis) wraps to region 0's neighbour n_regions - 1 by construction of
      the floor, and a rounding up to exactly n_regions is folded back to n_regions - 1.
    """
    az = jnp.mod(jnp.degrees(jnp.arctan2(pos[..., 1], pos[..., 0])), 360.0)
    r = jnp.floor(az / (360.0 / n_regions)).astype(jnp.int32)
    return jnp.clip(r, 0, n_regions - 1)


def inside_hexagon(pos, radius: float):
    """[...] bool: inside (or on) the flat-top hexagon of circumradius ``radius``."""
    x, y = jnp.abs(pos[..., 0]), jnp.abs(pos[..., 1])
    return (y <= 0.5 * SQRT3 * radius) & (SQRT3 * x + y <= SQRT3 * radius)


# Outward unit normals of the six edges of a flat-top hexagon; every edge is at distance (sqrt3/2) R.
HEX_NORMALS = tuple((math.cos(math.radians(30 + 60 * k)), math.sin(math.radians(30 + 60 * k))) for k in range(6))


def cell_edges(cfg) -> tuple[tuple[float, float, float], ...]:
    """Half-planes (n_x, n_y, c) whose intersection n . p <= c is the cell: the hexagon's six edges at the
    apothem, and for the sector the two rays through the BS at bearing -/+ 60 deg (outward normals)."""
    apothem = 0.5 * SQRT3 * cfg.radius_m
    edges = tuple((nx, ny, apothem) for nx, ny in HEX_NORMALS)
    if cfg.geometry == "sector":
        lo, hi = math.radians(cfg.bearing_deg - 60.0), math.radians(cfg.bearing_deg + 60.0)
        # outward normal of the ray at angle a: the ray's direction turned by -90 deg (lo) or +90 deg (hi)
        edges += ((math.sin(lo), -math.cos(lo), 0.0), (-math.sin(hi), math.cos(hi), 0.0))
    return edges


def sample_in_wedge(key, az0_deg, width_deg: float, radius: float, min_dist: float, n_tries: int = 16):
    """One uniform point of the wedge [az0, az0 + width] of the hexagon, at least ``min_dist`` from the BS.

    Uniform in the disc sector of radius R (r = R sqrt(u)) and rejected outside the hexagon or closer than
    ``min_dist``: the hexagon keeps >= 3/4 of any disc sector ((apothem / R)^2), so 16 tries all fail with
    probability < 1e-9.

    Args:
      key: typed PRNG key (consumed).
      az0_deg: [] start azimuth of the wedge [deg] (traced).
    Returns:
      [2] position [m].
    """
    uv = jax.random.uniform(key, (n_tries, 2))
    rad = radius * jnp.sqrt(uv[:, 0])
    az = jnp.radians(az0_deg + width_deg * uv[:, 1])
    pts = jnp.stack([rad * jnp.cos(az), rad * jnp.sin(az)], axis=-1)
    ok = inside_hexagon(pts, radius) & (rad >= min_dist)
    return pts[jnp.argmax(ok)]


def sample_region(key, region, cfg):
    """One uniform location of region ``region`` ([] int) under ``cfg``'s geometry, >= min_dist_m from the
    BS: the triangle sampler for the hexagon (bit-identical to before the sector existed), the wedge
    sampler for the sector."""
    if cfg.geometry == "hexagon":
        return sample_in_region(key, region, cfg.radius_m, cfg.min_dist_m)
    return sample_in_wedge(key, cfg.region_start_deg + cfg.region_width_deg * region, cfg.region_width_deg,
                           cfg.radius_m, cfg.min_dist_m)


def sample_in_region(key, region, radius: float, min_dist: float, n_tries: int = 8):
    """One uniform point of region ``region`` (a triangle), at least ``min_dist`` from the BS.

    Uniform in the triangle (0, V_r, V_{r+1}) by the folded-parallelogram method; points closer than
    ``min_dist`` are rejected by drawing ``n_tries`` candidates and keeping the first valid one (the
    rejected area is 0.9 % of the region for R = 115 m, so 8 tries fail with probability ~1e-16).

    Args:
      key: typed PRNG key (consumed).
      region: [] int region index.
    Returns:
      [2] position [m].
    """
    a0 = jnp.radians(60.0) * region
    v0 = radius * jnp.stack([jnp.cos(a0), jnp.sin(a0)])
    v1 = radius * jnp.stack([jnp.cos(a0 + jnp.pi / 3), jnp.sin(a0 + jnp.pi / 3)])
    uv = jax.random.uniform(key, (n_tries, 2))
    fold = jnp.sum(uv, axis=-1, keepdims=True) > 1.0
    uv = jnp.where(fold, 1.0 - uv, uv)
    pts = uv[:, :1] * v0 + uv[:, 1:] * v1
    ok = jnp.linalg.norm(pts, axis=-1) >= min_dist
    return pts[jnp.argmax(ok)]


def los_angles(pos, h_bs: float, h_ue: float):
    """Global LOS zenith/azimuth of departure from the BS towards a UE (TR 38.901 convention).

    Args:
      pos: [..., 2] UE position [m].
    Returns:
      (theta, phi) [...] radians: theta = 90 deg + atan((h_bs - h_ue) / d_2D) (> 90 deg: below the
      horizon), phi = atan2(y, x); and d_3D [...] [m].
    """
    d2 = jnp.linalg.norm(pos, axis=-1)
    theta = 0.5 * jnp.pi + jnp.arctan2(h_bs - h_ue, d2)
    phi = jnp.arctan2(pos[..., 1], pos[..., 0])
    d3 = jnp.sqrt(d2 ** 2 + (h_bs - h_ue) ** 2)
    return theta, phi, d3


def rotation(bearing_deg: float, downtilt_deg: float):
    """TR 38.901 eq. (7.1-1) orientation R = Rz(alpha) Ry(beta) (slant 0); positive beta tilts boresight down."""
    a, b = math.radians(bearing_deg), math.radians(downtilt_deg)
    rz = jnp.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ry = jnp.array([[math.cos(b), 0.0, math.sin(b)], [0.0, 1.0, 0.0], [-math.sin(b), 0.0, math.cos(b)]])
    return rz @ ry


def local_direction(theta, phi, rot):
    """Unit direction [..., 3] in the array frame, d' = R^T d, for global (theta, phi) [rad] (TR 38.901 7.1).

    d'_y = sin th' sin ph' and d'_z = cos th' are exactly the two phase rates of the steering vector.
    """
    d = jnp.stack([jnp.sin(theta) * jnp.cos(phi), jnp.sin(theta) * jnp.sin(phi), jnp.cos(theta)], axis=-1)
    return d @ rot  # row-vector form of R^T d


def to_local(theta, phi, rot):
    """Global (theta, phi) [rad] -> array-local (theta', phi') [rad] via d' = R^T d (TR 38.901 7.1)."""
    dl = local_direction(theta, phi, rot)
    theta_l = jnp.arccos(jnp.clip(dl[..., 2], -1.0, 1.0))
    phi_l = jnp.arctan2(dl[..., 1], dl[..., 0])
    return theta_l, phi_l

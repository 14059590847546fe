"""Readings of the paper as options: the 120-degree sector geometry, the AWGN + reported L1-RSRP
measurement, the localised Set B designs, pooled global training, model pools made of families, and the
cache identity of the committed entry under all of them."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.beam.channel import estimate_snr_db, measure
from ltjax.beam.config import (MEASUREMENTS, BeamConfig, ChannelParams, MobilityParams, localised_set_b_patterns,
                               reading_config, set_b_patterns)
from ltjax.beam.dataset import BeamData
from ltjax.beam.geometry import cell_edges, inside_hexagon, region_index, region_of, sample_region
from ltjax.beam.inference import flat_id, pad_models
from ltjax.beam.mobility import init_ue, trajectory
from ltjax.beam.model import identity
from ltjax.beam.pool import make_pool, paper_pool
from ltjax.beam.training import BeamMLP, TrainConfig, split_inputs

SECTOR = reading_config("sector")
AWGN = MEASUREMENTS["awgn"]


def _azimuth_deg(pos):
    return np.degrees(np.arctan2(pos[..., 1], pos[..., 0]))


def test_sector_regions_are_20_degree_wedges_of_the_sector():
    # bearing 30 deg: the sector spans [-30, 90] deg, region r = [-30 + 20 r, -10 + 20 r)
    for r in range(6):
        mid = math.radians(-20.0 + 20.0 * r)
        assert int(region_index(jnp.array([50 * math.cos(mid), 50 * math.sin(mid)]), SECTOR)) == r
    # a rounding error outside either ray stays in the edge region
    for az, r in ((-30.001, 0), (90.001, 5)):
        a = math.radians(az)
        assert int(region_index(jnp.array([50 * math.cos(a), 50 * math.sin(a)]), SECTOR)) == r
    # the hexagon reading is region_of, unchanged
    pts = jax.random.uniform(jax.random.key(0), (500, 2), minval=-100, maxval=100)
    np.testing.assert_array_equal(np.asarray(region_index(pts, BeamConfig())), np.asarray(region_of(pts)))


def test_sector_samples_stay_in_their_region_and_the_cell():
    n = 400
    keys = jax.random.split(jax.random.key(1), n)
    regions = jnp.arange(n) % 6
    pts = np.asarray(jax.jit(jax.vmap(lambda k, r: sample_region(k, r, SECTOR)))(keys, regions))
    np.testing.assert_array_equal(np.asarray(region_index(jnp.asarray(pts), SECTOR)), np.asarray(regions))
    assert np.all(np.asarray(inside_hexagon(jnp.asarray(pts), SECTOR.radius_m)))
    assert np.all(np.linalg.norm(pts, axis=-1) >= SECTOR.min_dist_m)
    az = _azimuth_deg(pts)
    assert az.min() >= -30.0 - 1e-4 and az.max() <= 90.0 + 1e-4


def test_sector_ues_start_uniformly_and_never_leave_the_sector():
    n = 4000
    keys = jax.random.split(jax.random.key(2), n)
    ue0 = jax.jit(jax.vmap(lambda k: init_ue(k, SECTOR)))(keys)
    # Uniform start: the share of UEs in each region equals its share of the sector's area (computed on a
    # fine grid), within 4 binomial standard deviations of n UEs.
    g = np.linspace(-SECTOR.radius_m, SECTOR.radius_m, 801)
    xx, yy = np.meshgrid(g, g)
    grid = np.stack([xx.ravel(), yy.ravel()], -1)
    az = _azimuth_deg(grid)
    inside = np.asarray(inside_hexagon(jnp.asarray(grid), SECTOR.radius_m)) & (az >= -30) & (az <= 90) & \
        (np.linalg.norm(grid, axis=-1) >= SECTOR.min_dist_m)
    area = np.bincount(np.asarray(region_index(jnp.asarray(grid[inside]), SECTOR)), minlength=6) / inside.sum()
    got = np.bincount(np.asarray(region_index(ue0.pos, SECTOR)), minlength=6) / n
    np.testing.assert_array_less(np.abs(got - area), 4 * np.sqrt(area * (1 - area) / n))
    # 60 km/h for 100 s: the billiard keeps every step inside all of the sector's half-planes.
    mp = MobilityParams(speed_mps=60 / 3.6)
    first = jax.tree_util.tree_map(lambda a: a[:50], ue0)
    _, pos = jax.jit(jax.vmap(lambda k, s: trajectory(k, s, SECTOR, mp, 5000)))(keys[:50], first)
    pos = np.asarray(pos)
    for nx, ny, c in cell_edges(SECTOR):
        assert (pos[..., 0] * nx + pos[..., 1] * ny - c).max() < 1e-3


def test_localised_set_b_designs_are_4x4_blocks_of_neighbouring_beams():
    for pattern in localised_set_b_patterns():
        assert len(set(pattern)) == 16
        h = {b // 8 for b in pattern}
        v = {b % 8 for b in pattern}
        assert len(h) == 4 and len(v) == 4 and v == {6, 7, 0, 1}
        # neighbouring: the four h indices are consecutive modulo 8
        assert any({(h0 + i) % 8 for i in range(4)} == h for h0 in range(8))
    assert reading_config("hexagon", "localised").set_b_first_id == 3
    assert reading_config("hexagon", "spread").set_b == set_b_patterns()


def test_identity_of_the_committed_entry_survives_the_new_options():
    tc = TrainConfig()
    ident = identity(BeamConfig(), ChannelParams(), tc, 0)
    assert ident == "b83873ab2ca67307"
    assert identity(reading_config("hexagon", "spread"), MEASUREMENTS["ideal"], tc, 0) == ident
    others = {identity(reading_config(g, d), MEASUREMENTS[m], tc, 0)
              for g in ("hexagon", "sector") for d in ("spread", "localised") for m in ("ideal", "awgn")}
    others.add(identity(BeamConfig(), ChannelParams(), TrainConfig(pooled=True), 0))
    assert len(others) == 9  # every reading (and the pooled global models) is its own entry


def test_awgn_measurement_reports_and_noise_bias():
    chp = AWGN
    sub_db = 10 * math.log10(chp.n_subcarriers)
    rsrp = jnp.linspace(-140.0, -20.0, 64)
    meas = np.asarray(jax.jit(lambda k: measure(k, rsrp, chp))(jax.random.key(3)))
    per_re = meas - sub_db
    np.testing.assert_allclose(per_re, np.round(per_re), atol=1e-3)           # 1 dB steps per RE
    assert per_re.min() >= -140.0 - 1e-3 and per_re.max() <= -44.0 + 1e-3    # the reporting range
    # High SNR: the report is the true value within the rounding (0.5 dB) and the noise (< 0.1 dB here).
    hi = np.asarray(estimate_snr_db(rsrp, chp)) > 40
    in_range = (np.asarray(rsrp) - sub_db < -44.5)
    np.testing.assert_array_less(np.abs(meas - np.asarray(rsrp))[hi & in_range], 0.6)
    # The measured power is |sqrt(P) + w|^2: its mean is P + N. At SNR 0 dB the mean linear power over n
    # draws is 2 P within 4 standard errors (|sqrt(P) + w|^2 has variance P N (2 + N/P) = 3 P^2 at SNR 0 dB).
    p0 = float(rsrp[0]) - float(estimate_snr_db(rsrp[0], chp))                 # the rsrp whose SNR is 0 dB
    n = 20_000
    draws = jax.vmap(lambda k: measure(k, jnp.full((1,), p0), chp.replace(quant_db=0.0, awgn=True)))(
        jax.random.split(jax.random.key(4), n))
    ratio = np.mean(10 ** ((np.asarray(draws)[:, 0] - p0) / 10))
    assert abs(ratio - 2.0) < 4 * math.sqrt(3.0 / n)


def test_measure_jit_equals_no_jit():
    rsrp = jnp.linspace(-120.0, -40.0, 64)
    k = jax.random.key(5)
    jitted = jax.jit(lambda kk: measure(kk, rsrp, AWGN))(k)
    with jax.disable_jit():
        eager = measure(k, rsrp, AWGN)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), atol=1e-4)


def test_pooled_split_pools_every_region_in_order():
    cfg, tc = BeamConfig(), TrainConfig(n_per_region=20, pooled=True)
    rng = np.random.default_rng(0)
    rsrp = jnp.asarray(rng.normal(-90, 10, (6, 20, 64)).astype(np.float32))
    data = BeamData(rsrp=rsrp, meas=rsrp, pos=jnp.zeros((6, 20, 2)))
    x_tr, y_tr, x_va, y_va = split_inputs(cfg, tc, data)
    assert x_tr.shape == (3, 6 * 18, 16) and x_va.shape == (3, 6 * 2, 16)
    ref = split_inputs(cfg, TrainConfig(n_per_region=20), data)  # regional: j = set_b * 6 + region
    for sb in range(3):
        np.testing.assert_array_equal(np.asarray(x_tr[sb]), np.concatenate([np.asarray(ref[0][sb * 6 + r])
                                                                             for r in range(6)]))
        np.testing.assert_array_equal(np.asarray(y_va[sb]), np.concatenate([np.asarray(ref[3][sb * 6 + r])
                                                                             for r in range(6)]))


def _family(cfg, n_d, seed, width=8):
    per = []
    for sb in range(cfg.n_set_b):
        for mid, depth in enumerate((3, 4, 5)):
            for d in range(n_d):
                p = BeamMLP(depth, width).init(jax.random.key(seed + len(per)), jnp.zeros((1, 16)))
                per.append((sb, mid, d, p))
    per.sort(key=lambda t: (t[0], t[1], t[2]))
    models = pad_models([(mid, p) for _, mid, _, p in per], (3, 4, 5), width, cfg)
    m = len(per)
    e = np.arange(m * 6, dtype=np.float32).reshape(m, 6) % 7
    return cfg, n_d, models, e, e / 10


def test_pool_of_families_looks_ids_up():
    spread, local = reading_config("hexagon", "spread"), reading_config("hexagon", "localised")
    pool = make_pool([_family(spread, 6, 0), _family(local, 6, 100), _family(spread, 1, 200)])
    assert pool.n_models == 54 + 54 + 9
    ds, sb, mid = (np.asarray(a) for a in (pool.model_dataset, pool.model_set_b, pool.model_mid))
    # the spread family keeps the paper's flat order; the localised one follows with Set B IDs 3-5
    for s, i, r in [(0, 0, 0), (2, 1, 5), (3, 2, 4), (5, 0, 1)]:
        m = flat_id(s, i, r)
        assert (sb[m], mid[m], ds[m]) == (s, i, r) and int(pool.by_ids[s, i, r]) == m
    assert np.all(ds[108:] == -1) and np.all(sb[108:] == np.repeat([0, 1, 2], 3))
    np.testing.assert_array_equal(np.asarray(pool.set_b_idx[:3]), spread.set_b_array())
    np.testing.assert_array_equal(np.asarray(pool.set_b_idx[3:]), local.set_b_array())
    assert np.all(np.asarray(pool.set_b_mask).sum(1) == 16)
    single = paper_pool(spread, _family(spread, 6, 0)[2], np.zeros((54, 6)))
    assert np.all(np.asarray(single.by_ids).ravel() == np.arange(54))


@pytest.mark.parametrize("geometry", ["hexagon", "sector"])
def test_best_beam_snr_is_stated(geometry):
    """The SNR of one L1-RSRP estimate of the best beam stays well above 0 dB at the cell edge in front of the
    panel, and the back lobe (hexagon only) is 30 dB lower (the element's front-back ratio)."""
    from ltjax.beam.channel import beam_rsrp_dbm
    cfg = reading_config(geometry)
    z, alpha = jnp.zeros((6, 2)), jnp.ones((6,), jnp.complex64)
    edge_front = jnp.array([cfg.radius_m * 0.85 * math.cos(math.radians(30)),
                            cfg.radius_m * 0.85 * math.sin(math.radians(30))])
    snr_front = float(jnp.max(estimate_snr_db(beam_rsrp_dbm(cfg, AWGN, edge_front, z, alpha), AWGN)))
    assert snr_front > 30.0
    if geometry == "hexagon":
        back = -edge_front
        snr_back = float(jnp.max(estimate_snr_db(beam_rsrp_dbm(cfg, AWGN, back, z, alpha), AWGN)))
        assert 20.0 < snr_front - snr_back < 45.0

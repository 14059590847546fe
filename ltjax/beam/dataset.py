"""Per-region beam-prediction datasets (paper Sec. IV-A): 6 regions x 10,000 locations + 5,000 for evaluation.

Each sample is a static location drawn uniformly in its region (>= 10 m from the BS; the regions of
``BeamConfig.geometry``) with i.i.d. path
draws; it stores the true RSRP of all 64 Set A beams and the measured RSRP (noise/quantisation of
``ChannelParams``). A model's input is the measured RSRP of its Set B, normalised by the config's fixed
affine map; its label is the argmax of the true Set A RSRP. The first 90 % of each region's training
samples are the training split and the last 10 % the validation split (samples are i.i.d., so this is a
random 9:1 split).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax.beam.channel import beam_rsrp_dbm, draw_static, measure
from ltjax.beam.config import BeamConfig, ChannelParams
from ltjax.beam.geometry import sample_region


@struct.dataclass
class BeamData:
    """One set of samples for every region.

    Attributes:
      rsrp: [R, N, B] true L1-RSRP [dBm].
      meas: [R, N, B] measured L1-RSRP [dBm].
      pos: [R, N, 2] locations [m].
    """

    rsrp: jax.Array
    meas: jax.Array
    pos: jax.Array

    @property
    def label(self):
        """[R, N] int32 best Set A beam."""
        return jnp.argmax(self.rsrp, axis=-1).astype(jnp.int32)


def sample_one(key, region, cfg: BeamConfig, chp: ChannelParams):
    """(true [B], measured [B], pos [2]) of one random location of ``region``."""
    kp, kc, km = jax.random.split(key, 3)
    pos = sample_region(kp, region, cfg)
    z, alpha = draw_static(kc, cfg)
    rsrp = beam_rsrp_dbm(cfg, chp, pos, z, alpha)
    return rsrp, measure(km, rsrp, chp), pos


def make_region_data(key, cfg: BeamConfig, chp: ChannelParams, n: int) -> BeamData:
    """``n`` samples per region; sample i of region r uses fold_in(fold_in(key, r), i)."""

    def region_data(r):
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(key, r), i))(jnp.arange(n))
        return jax.vmap(lambda k: sample_one(k, r, cfg, chp))(keys)

    rsrp, meas, pos = jax.vmap(region_data)(jnp.arange(cfg.n_regions))
    return BeamData(rsrp=rsrp, meas=meas, pos=pos)


def normalise(cfg: BeamConfig, meas_db):
    """DNN input from measured RSRP [dBm]: (RSRP - norm_offset_db) / norm_scale_db."""
    return (meas_db - cfg.norm_offset_db) / cfg.norm_scale_db

"""Non-stationary link scenarios: the distribution shifts online learning is for.

Letters: T periods.

A scenario's *kind* is static (``LinkConfig.dynamics``: it sets what is computed) and its
numbers are traced (:class:`DynamicsParams` inside ``LinkParams``), so a sweep over step
sizes, shadowing sigmas or switch periods reuses one compiled program, and the kind itself
is a sweep axis of the experiments. Everything changes at period boundaries: within an
80 ms period the average SNR and the profile are constant (the fast fading keeps evolving
slot by slot, ``ltjax.channels``).

Kinds:

- ``"stationary"``: nothing changes (the engine's behaviour without dynamics).
- ``"snr_steps"``: a square wave of the average SNR, the abrupt shift (e.g. a UE turning a
  corner, a blocker): periods [k P, (k + 1) P) with k odd have SNR + ``snr_step_db``,
  P = ``step_periods``.
- ``"shadowing"``: log-normal shadowing per UE, correlated in time (Gudmundson, Electron.
  Lett. 1991: R(dx) = sigma^2 exp(-|dx| / d_corr); for a UE moving at a constant speed,
  an AR(1) in periods): s_0 ~ N(0, sigma^2), s_{t+1} = rho s_t + sqrt(1 - rho^2) sigma z_t,
  rho = exp(-1 / ``shadow_corr_periods``), and the SNR of period t is SNR + s_t [dB].
- ``"profile_switch"``: from period ``switch_period`` on, the UE's channel is a fresh draw of
  another TDL profile (``LinkConfig.switch_model``, static: it sets the tap count) with its
  own delay spread and Doppler (``switch_channel``): a handover or a change of environment.
  A Doppler-only switch is the same letter with another Doppler. Before and after, the
  channel is continuous in time; the CSI report made before the switch is stale after it.

The SNR offset of the period in force is applied to ``LinkParams.snr_db`` at the period start
(:func:`params_in_force`); the CSI report at the period end is measured at that SNR, so the
report the next period uses may be out of date -- exactly the shift a predictor must follow.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp

from ltjax.channels import ChannelParams

DYNAMICS = ("stationary", "snr_steps", "shadowing", "profile_switch")


@flax.struct.dataclass
class DynamicsParams:
    """Traced numbers of a non-stationary scenario (only those of ``LinkConfig.dynamics`` are used).

    Attributes:
      snr_step_db: float32 [] SNR step of "snr_steps" [dB].
      step_periods: float32 [] half-period P of the square wave [periods].
      shadow_sigma_db: float32 [] standard deviation of the shadowing [dB].
      shadow_corr_periods: float32 [] correlation time of the shadowing [periods] (> 0).
      switch_period: int32 [] first period of the new profile ("profile_switch").
      switch_channel: ChannelParams (delay spread [s], Doppler [Hz]) after the switch.
    """

    snr_step_db: jax.Array = 0.0  # [] dB
    step_periods: jax.Array = 10.0  # [] periods
    shadow_sigma_db: jax.Array = 0.0  # [] dB
    shadow_corr_periods: jax.Array = 10.0  # [] periods
    switch_period: jax.Array = 0  # [] int32
    switch_channel: ChannelParams = ChannelParams()


def switched(cfg, dyn: DynamicsParams, period):
    """bool []: the period ``period`` runs on the channel after the switch ("profile_switch" only)."""
    if cfg.dynamics != "profile_switch":
        return jnp.zeros((), bool)
    return jnp.asarray(period) >= jnp.asarray(dyn.switch_period)


def snr_offset_db(cfg, dyn: DynamicsParams, shadow_db, period):
    """float32 [] SNR offset [dB] of period ``period`` (0 for "stationary" and "profile_switch")."""
    if cfg.dynamics == "snr_steps":
        half = jnp.floor(jnp.asarray(period, jnp.float32) / jnp.maximum(dyn.step_periods, 1.0))
        return jnp.where(jnp.mod(half, 2.0) == 1.0, jnp.asarray(dyn.snr_step_db, jnp.float32), 0.0)
    if cfg.dynamics == "shadowing":
        return jnp.asarray(shadow_db, jnp.float32)
    return jnp.zeros((), jnp.float32)


def params_in_force(state, params):
    """The LinkParams of the period ``state.period``: SNR after the dynamics' offset, channel after a switch.

    Stationary links get ``params`` itself (unchanged arithmetic).
    """
    cfg = params.cfg
    if cfg.dynamics == "stationary":
        return params
    dyn = params.dynamics
    params = params.replace(snr_db=jnp.asarray(params.snr_db, jnp.float32)
                            + snr_offset_db(cfg, dyn, state.shadow_db, state.period))
    if cfg.dynamics == "profile_switch":
        after = switched(cfg, dyn, state.period)
        params = params.replace(channel=jax.tree.map(
            lambda a, b: jnp.where(after, jnp.asarray(b, jnp.float32), jnp.asarray(a, jnp.float32)),
            params.channel, dyn.switch_channel))
    return params


def init_shadowing(key, params):
    """float32 [] s_0 ~ N(0, sigma^2) of "shadowing" (stationary start); 0 otherwise. The key is consumed."""
    if params.cfg.dynamics != "shadowing":
        return jnp.zeros((), jnp.float32)
    return (jax.random.normal(key, (), jnp.float32) * params.dynamics.shadow_sigma_db).astype(jnp.float32)


def advance_shadowing(key, shadow_db, params):
    """float32 [] s_{t+1} = rho s_t + sqrt(1 - rho^2) sigma z, rho = exp(-1 / corr) ("shadowing" only)."""
    if params.cfg.dynamics != "shadowing":
        return shadow_db
    dyn = params.dynamics
    rho = jnp.exp(-1.0 / jnp.maximum(jnp.asarray(dyn.shadow_corr_periods, jnp.float32), 1e-6))
    z = jax.random.normal(key, (), jnp.float32)
    return (rho * shadow_db + jnp.sqrt(1.0 - rho * rho) * dyn.shadow_sigma_db * z).astype(jnp.float32)


def check_dynamics(kind: str, snr_step_db: float = 0.0, step_periods: float = 10.0, shadow_sigma_db: float = 0.0,
                   shadow_corr_periods: float = 10.0, switch_period: int = 0) -> None:
    """Raises ValueError (one line) for an unknown kind or out-of-range numbers."""
    if kind not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {kind!r}")
    for name, v, lo, hi in (("snr_step_db", snr_step_db, -40.0, 40.0), ("step_periods", step_periods, 1.0, 1e6),
                            ("shadow_sigma_db", shadow_sigma_db, 0.0, 20.0),
                            ("shadow_corr_periods", shadow_corr_periods, 1e-3, 1e6),
                            ("switch_period", switch_period, 0, 10**7)):
        if not (math.isfinite(float(v)) and lo <= float(v) <= hi):
            raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {v!r}")


__all__ = ["DYNAMICS", "DynamicsParams", "advance_shadowing", "check_dynamics", "init_shadowing",
           "params_in_force", "snr_offset_db", "switched"]

"""Runs over periods (``lax.scan``) and over UEs (``vmap``, the one batching boundary).

Letters: U UEs, T periods.

A policy maps a UE's latest CSI report to the next period's ``PeriodInputs`` (per UE,
pure). ``follow_cqi`` is the plain "use the reported CQI" gNB; ``fixed_mcs`` pins the MCS
(BLER curves). Issue #4's OLLA / CQI-Tune policies keep their own state and call
``link_period`` directly in their own scan.

Keys: UE u uses ``k_ue = fold_in(key, u)``; its init uses ``split(k_ue)[0]`` and period t
uses ``fold_in(split(k_ue)[1], t)``. Results do not depend on how UEs are chunked.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from ltjax.link.config import CsiOut, LinkParams, PeriodInputs, PeriodOutputs
from ltjax.link.engine import init_link, link_period
from ltjax.phy.tables import CQI_TO_MCS

Policy = Callable[[CsiOut], PeriodInputs]


def follow_cqi(report: CsiOut) -> PeriodInputs:
    """gNB applies the reported CQI (MCS with the same modulation and rate)."""
    return PeriodInputs(mcs=jnp.asarray(CQI_TO_MCS)[report.cqi], cqi=report.cqi)


def fixed_mcs(mcs: int, n_rb: int = -1, n_dmrs: int = -1, rank: int = 0) -> Policy:
    """Policy with a fixed MCS (and optionally fixed RBs / DMRS / rank 1)."""
    def policy(report: CsiOut) -> PeriodInputs:
        return PeriodInputs(mcs=jnp.int32(mcs), cqi=report.cqi, n_rb=jnp.int32(n_rb),
                            n_dmrs=jnp.int32(n_dmrs), rank=jnp.int32(rank))
    return policy


def run_ue(key, params: LinkParams, n_periods: int, policy: Policy = follow_cqi) -> PeriodOutputs:
    """One UE over T periods; returns PeriodOutputs with a leading [T] axis."""
    k_init, k_run = jax.random.split(key)
    state = init_link(k_init, params)

    def body(state, t):
        state, out = link_period(jax.random.fold_in(k_run, t), state, policy(state.report), params)
        return state, out

    _, outs = jax.lax.scan(body, state, jnp.arange(n_periods, dtype=jnp.int32))
    return outs


def simulate(key, params: LinkParams, n_ue: int, n_periods: int, policy: Policy = follow_cqi,
             ue_offset: int = 0) -> PeriodOutputs:
    """U UEs x T periods, vmapped over UEs; PeriodOutputs with leading [U, T] axes.

    UE u (global index ue_offset + u) uses ``fold_in(key, ue_offset + u)``, so chunked runs
    equal one big run. Not jitted here: wrap it in ``jax.jit`` (static n_ue, n_periods,
    policy) at the entry point.
    """
    ues = jnp.arange(n_ue, dtype=jnp.int32) + ue_offset
    keys = jax.vmap(lambda u: jax.random.fold_in(key, u))(ues)
    return jax.vmap(lambda k: run_ue(k, params, n_periods, policy))(keys)

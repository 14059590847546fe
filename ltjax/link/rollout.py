"""One UE over T periods (``lax.scan`` of ``link_period``) under a stateless gNB policy.

Letters: T periods.

A policy maps a UE's latest CSI report to the next period's ``PeriodInputs`` (per UE,
pure). ``follow_cqi`` is the plain "use the reported CQI" gNB; ``fixed_mcs`` and
``fixed_inputs`` pin the MCS (BLER curves). Link-adaptation policies with state of their
own (OLLA, CQI-Tune, ``ltjax.linkadapt``) call ``link_period`` directly in their own scan.

Batching over UEs is not done here: ``run_ue`` is a per-UE kernel for
``ltjax.batching.map_ues``, e.g. ``map_ues(kernel, point_key, n_ues, params)`` with a
kernel that calls ``run_ue(ue_key, params, n_periods, policy)``.

Keys: for a UE key ``k_ue`` (``fold_in(point_key, u)`` under ``map_ues``) the init uses
``split(k_ue)[0]`` and period t uses ``fold_in(split(k_ue)[1], t)``.
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


def fixed_inputs(inputs: PeriodInputs) -> Policy:
    """Policy applying ``inputs`` (may be traced) every period; ``cqi`` is the reported one."""
    def policy(report: CsiOut) -> PeriodInputs:
        return inputs.replace(cqi=report.cqi)
    return policy


def fixed_mcs(mcs: int, n_rb: int = -1, n_dmrs: int = -1, rank: int = 0) -> Policy:
    """Policy with a fixed MCS (and optionally fixed RBs / DMRS / rank 1)."""
    return fixed_inputs(PeriodInputs(mcs=jnp.int32(mcs), cqi=jnp.int32(0), n_rb=jnp.int32(n_rb),
                                     n_dmrs=jnp.int32(n_dmrs), rank=jnp.int32(rank)))


def run_ue(key, params: LinkParams, n_periods: int, policy: Policy = follow_cqi, *,
           return_state: bool = False):
    """One UE over T periods (the key is consumed); PeriodOutputs with a leading [T] axis.

    ``n_periods`` and ``policy`` are static (a scan length and a Python function). With
    ``return_state`` it returns ``(LinkState, PeriodOutputs)``: the state after the T periods,
    i.e. at the start of period T of the same UE (to replay that period under other draws,
    ``ltjax.link.replay``).
    """
    k_init, k_run = jax.random.split(key)
    state = init_link(k_init, params)

    def body(state, t):
        state, out = link_period(jax.random.fold_in(k_run, t), state, policy(state.report), params)
        return state, out

    final, outs = jax.lax.scan(body, state, jnp.arange(n_periods, dtype=jnp.int32))
    return (final, outs) if return_state else outs

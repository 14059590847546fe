"""What Sionna SYS offers for the link-period benchmark, and the timing of the pieces that exist.

The ltjax job (``ltjax bench link-period``): one 80 ms CSI-RS period for U UEs, i.e. S = 160
slots of channel -> per-RB SINR (DMRS channel-estimation error, LMMSE receiver, PMI
precoding) -> effective SINR (MIESM) -> BLER -> ACK/NACK -> HARQ (processes,
retransmissions, chase combining) -> at the period end OLLA and the CSI-RS report
(RI/PMI search, CQI) and the 12 LightTune features.

Sionna 2.2 (``sionna-no-rt``) has no faithful peer of that job, for these reasons (read from
its API, see :data:`COVERAGE`): its PHY abstraction (``sionna.sys.PHYAbstraction``) treats
every call as a new transport block: it returns ACK/NACK but keeps no HARQ processes, no
retransmissions and no combining (HARQ-IR redundancy-version combining exists only at link
level, inside the LDPC decoder, on LLRs); it has EESM (``sionna.sys.EESM``) but no MIESM; it
has no channel-estimation-error abstraction (DMRS estimators are link-level, on resource
grids); and it has no CSI report (no CQI table, no Type I PMI/RI search). What does exist
and does the same job as ltjax's per-slot core is timed here, per slot, as Sionna's own
tutorials loop it:

* ``EESM()(sinr, mcs_index)``: per-RB SINR [1, R, U, 1] -> effective SINR [U];
* ``PHYAbstraction()(mcs_index, sinr_eff=..., num_allocated_re=...)``: BLER from Sionna's
  LDPC-simulated tables, TBLER, and a random ACK/NACK [U];
* ``OuterLoopLinkAdaptation(phy, num_ut=U)(num_allocated_re, harq_feedback, sinr_eff)``:
  offset update from the ACK/NACK and the next MCS (inner loop over all MCS) [U].

``with_channel=True`` puts the channel in front, in the same timed call: Sionna's TDL-C
(:mod:`ltjax.bench.peers.sionna_channel`, fresh draws) for the period and a per-RB SINR
from it. Sionna's own post-equalisation SINR (``LMMSEPostEqualizationSINR``) needs a full
OFDM resource grid and stream management, so the SINR here is the simple single-port
maximum-ratio-combining one, SINR_r = SNR * sum_rx |H_r[rx, 0]|^2, written in torch as a
user would; it is *not* ltjax's LMMSE/PMI SINR and costs less.

Semantics that differ from ltjax even where a piece exists: Sionna's OLLA moves its offset
and picks a new MCS every slot (per TB, Delta_up = 1 dB); ltjax fixes the MCS for a period
and applies the period's ACK/NACK counts at its end (docs/link_adaptation.md). Sionna's MCS
table is TS 38.214 Table 5.1.3.1-1 (``mcs_table_index=1``, PDSCH ``mcs_category=1``).

Letters: U UEs, S slots, R RBs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ltjax.bench.peers import has_module, set_torch_threads
from ltjax.bench.peers.sionna_channel import N_RB

SLOTS_PER_PERIOD = 160  # 80 ms at 30 kHz SCS
SNR_DB = 15.0  # the link-period bench's SNR
# REs of one slot's PDSCH on all 106 RBs: 12 subcarriers x (14 - 1 control - 1 DMRS) symbols,
# one layer. Only the TB size and code-block segmentation depend on it.
N_RE_PER_SLOT = N_RB * 12 * 12
MCS_TABLE_INDEX = 1  # TS 38.214 Table 5.1.3.1-1 (64QAM)
MCS_CATEGORY_PDSCH = 1  # Sionna: 0 = PUSCH, 1 = PDSCH

# ltjax stage -> (Sionna 2.2 counterpart or None, note). Read from Sionna's API and sources.
COVERAGE: dict[str, tuple[str | None, str]] = {
    "channel (TDL-C, 2x4, 106 RBs)": ("sionna.phy.channel.tr38901.TDL + cir_to_ofdm_channel",
                                      "redrawn on every call; no state across periods"),
    "DMRS channel-estimation error": (None, "no SYS abstraction; link-level estimators on resource grids only"),
    "per-RB LMMSE SINR with PMI precoding": ("sionna.phy.ofdm.LMMSEPostEqualizationSINR",
                                             "needs a ResourceGrid and StreamManagement; no Type I codebook"),
    "effective SINR": ("sionna.sys.EESM", "EESM only; ltjax's default is MIESM"),
    "BLER and ACK/NACK draw": ("sionna.sys.PHYAbstraction", "LDPC-simulated tables; every call is a new TB"),
    "HARQ processes, retransmissions, chase combining": (
        None, "PHYAbstraction keeps no HARQ state; RV combining exists only inside the link-level LDPC decoder"),
    "OLLA": ("sionna.sys.OuterLoopLinkAdaptation", "per slot (per TB); ltjax applies a period's counts at its end"),
    "CSI-RS report (RI, PMI, CQI)": (None, "no CQI table or PMI/RI search"),
    "LightTune features": (None, "ltjax-specific"),
}


def available() -> tuple[bool, str]:
    """(True, "sionna <version>") when Sionna (sionna-no-rt) and torch import, else (False, why)."""
    ok, why = has_module("torch")
    if not ok:
        return ok, why
    return has_module("sionna")


def faithful_peer() -> tuple[bool, str]:
    """Whether Sionna 2.2 can run the whole link period; (False, the missing pieces) here."""
    missing = [stage for stage, (peer, _) in COVERAGE.items() if peer is None and stage != "LightTune features"]
    return False, "no faithful Sionna peer of the link period; missing: " + "; ".join(missing)


def mrc_sinr(h, snr_db: float = SNR_DB):
    """Per-RB single-port MRC SINR from Sionna's frequency response: SNR * sum_rx |H[rx, port 0]|^2.

    Args: h complex [U, 1, Nr, 1, Nt, S, R] (Sionna's layout). Returns float32 [S, R, U].
    """
    gain = h[:, 0, :, 0, 0].abs().square().sum(dim=1)  # [U, S, R]
    return (10.0 ** (snr_db / 10.0)) * gain.permute(1, 2, 0).contiguous()


def make_sinr(n_ue: int, n_slots: int = SLOTS_PER_PERIOD, snr_db: float = SNR_DB, chunk: int = 100):
    """Given per-RB SINRs [S, R, U] (float32 torch), from one Sionna TDL-C draw (not timed)."""
    from ltjax.bench.peers.sionna_channel import make_sionna_tdl, sionna_freq_response

    h = sionna_freq_response(make_sionna_tdl(), n_ue, n_slots, chunk=chunk)
    return mrc_sinr(h, snr_db)


class SionnaSysPeriod:
    """Sionna's per-slot SYS loop for U UEs: EESM -> PHYAbstraction (BLER, ACK/NACK) -> OLLA.

    Built once (loading and interpolating the BLER tables takes seconds: ``setup_s``;
    ``phy_kwargs`` go to ``PHYAbstraction``, e.g. coarser interpolation grids for tests);
    :meth:`run` plays one period from a fresh OLLA state. With a TDL block given, each
    period first draws the period's channel and its MRC SINR inside the call.
    """

    def __init__(self, n_ue: int, bler_target: float = 0.1, tdl=None, chunk: int = 100, **phy_kwargs):
        import torch
        from sionna.sys import EESM, OuterLoopLinkAdaptation, PHYAbstraction

        t0 = time.perf_counter()
        self.phy = PHYAbstraction(**phy_kwargs)
        self.eesm = EESM()
        self.olla = OuterLoopLinkAdaptation(self.phy, num_ut=n_ue, bler_target=bler_target)
        self.setup_s = time.perf_counter() - t0
        self.n_ue, self.tdl, self.chunk = n_ue, tdl, chunk
        self.n_re = torch.full((n_ue,), N_RE_PER_SLOT, dtype=torch.int32)

    def run(self, sinr=None, n_slots: int = SLOTS_PER_PERIOD, snr_db: float = SNR_DB) -> dict[str, Any]:
        """One period: ``sinr`` [S, R, U] given, or drawn from the TDL block when built with one.

        Returns the period's ACK count, mean TBLER and final MCS per UE (torch tensors [U]).
        """
        import torch

        from ltjax.bench.peers.sionna_channel import sionna_freq_response

        with torch.inference_mode():
            if sinr is None:
                sinr = mrc_sinr(sionna_freq_response(self.tdl, self.n_ue, n_slots, chunk=self.chunk), snr_db)
            self.olla.reset()
            mcs = torch.full((self.n_ue,), 9, dtype=torch.int32)
            harq = torch.full((self.n_ue,), -1, dtype=torch.int32)
            n_ack = torch.zeros(self.n_ue, dtype=torch.int32)
            tbler_sum = torch.zeros(self.n_ue)
            for s in range(sinr.shape[0]):
                # EESM over the R per-RB SINRs of the slot: [1 symbol, R, U, 1 stream] -> [U]
                sinr_eff = self.eesm(sinr[s][None, :, :, None], mcs_index=mcs, mcs_table_index=MCS_TABLE_INDEX)
                _, harq, sinr_eff, tbler, _ = self.phy(mcs, sinr_eff=sinr_eff, num_allocated_re=self.n_re,
                                                       mcs_table_index=MCS_TABLE_INDEX,
                                                       mcs_category=MCS_CATEGORY_PDSCH)
                n_ack += (harq == 1).to(torch.int32)
                tbler_sum += tbler
                mcs = self.olla(self.n_re, harq, sinr_eff, mcs_table_index=MCS_TABLE_INDEX,
                                mcs_category=MCS_CATEGORY_PDSCH)
        return {"n_ack": n_ack, "mean_tbler": tbler_sum / sinr.shape[0], "mcs": mcs}


def ltjax_link_period_callable(n_ue: int, chunk: int = 1000):
    """The ltjax side (``ltjax bench link-period``'s kernel) as a blocking callable, or (None, why).

    One call = one full period for U UEs (channel .. HARQ, CSI report, features), states
    built outside. Returns ``(run, None)`` or ``(None, reason)`` when the link API cannot be
    used (it is imported lazily so that an API change elsewhere shows up as a reason here).
    """
    try:
        import jax
        import jax.numpy as jnp

        from ltjax.channels import ChannelConfig
        from ltjax.link import LinkConfig, follow_cqi, init_link, link_period, make_link_params
    except Exception as e:  # noqa: BLE001 - report, do not fail the peer timing
        return None, f"ltjax link API not importable: {type(e).__name__}: {e}"
    cfg = LinkConfig(channel=ChannelConfig(model="C"))
    params = make_link_params(cfg, snr_db=SNR_DB, delay_spread_s=200e-9, doppler_hz=50.0)
    keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(0), u))(jnp.arange(n_ue))
    states = jax.block_until_ready(jax.jit(jax.vmap(lambda k: init_link(k, params)))(keys))

    def one(k, s):
        return link_period(k, s, follow_cqi(s.report), params)

    @jax.jit
    def period(keys, states):
        n = keys.shape[0]
        c = min(chunk, n)
        blocks = jax.tree_util.tree_map(lambda x: x.reshape((n // c, c) + x.shape[1:]), (keys, states))
        out = jax.lax.map(lambda b: jax.vmap(one)(*b), blocks)
        return jax.tree_util.tree_map(lambda x: x.reshape((n,) + x.shape[2:]), out)

    return (lambda: jax.block_until_ready(period(keys, states))), None


def time_sionna_sys(n_ue: int = 1000, n_slots: int = SLOTS_PER_PERIOD, repeats: int = 3, threads: int = 2,
                    with_channel: bool = True, with_ltjax: bool = True, chunk: int = 100) -> dict[str, Any]:
    """UE-slots/s of Sionna's per-slot SYS loop (given SINRs), optionally with the channel in front,
    and of ltjax's full link period, interleaved (:func:`ltjax.bench.peers.timing.compare`).

    Entries: ``sionna_sys_given_sinr`` (EESM + PHYAbstraction + OLLA, S slots);
    ``sionna_channel_sinr_sys`` (TDL draw + MRC SINR + the same); ``ltjax_link_period`` (the
    whole period, which also does DMRS error, LMMSE/PMI SINR, MIESM, HARQ, CSI report).
    Rates are UE-slots/s (U * S per call). The report also carries :data:`COVERAGE`,
    :func:`faithful_peer`'s reason, Sionna's set-up time and the mean ACK rate / final MCS.
    """
    import torch

    from ltjax.bench.peers.sionna_channel import make_sionna_tdl
    from ltjax.bench.peers.timing import compare

    set_torch_threads(threads)
    t0 = time.perf_counter()
    sinr = make_sinr(n_ue, n_slots, chunk=chunk)
    sinr_s = time.perf_counter() - t0
    given = SionnaSysPeriod(n_ue)
    fns = {"sionna_sys_given_sinr": lambda: given.run(sinr)}
    if with_channel:
        full = SionnaSysPeriod(n_ue, tdl=make_sionna_tdl(seed=1), chunk=chunk)
        fns["sionna_channel_sinr_sys"] = lambda: full.run(n_slots=n_slots)
    ltjax_reason = None
    if with_ltjax:
        run, ltjax_reason = ltjax_link_period_callable(n_ue)
        if run is not None:
            fns["ltjax_link_period"] = run
    work = {k: float(n_ue * n_slots) for k in fns}
    if "ltjax_link_period" in work:
        work["ltjax_link_period"] = float(n_ue * SLOTS_PER_PERIOD)  # its period length is fixed
    report = compare(fns, repeats=repeats, work=work)
    out = given.run(sinr)
    report["setup"] = {
        "n_ue": n_ue, "n_slots": n_slots, "snr_db": SNR_DB, "n_re_per_slot": N_RE_PER_SLOT,
        "mcs_table": "TS 38.214 Table 5.1.3.1-1, PDSCH", "bler_target": 0.1,
        "sionna_phy_abstraction_setup_s": given.setup_s, "given_sinr_prep_s": sinr_s,
        "sinr": "single-port MRC per RB from Sionna TDL-C200, 50 Hz (not ltjax's LMMSE/PMI SINR)",
        "rate_unit": "UE-slots/s", "torch_threads": torch.get_num_threads(),
        "ack_rate": float(out["n_ack"].float().mean() / n_slots),
        "final_mcs_median": float(out["mcs"].float().median()),
        "ltjax_not_run": ltjax_reason,
    }
    report["faithful_peer"] = faithful_peer()
    report["coverage"] = {k: {"sionna": v[0], "note": v[1]} for k, v in COVERAGE.items()}
    return report


# Coarse interpolation grids: PHYAbstraction's default grids take ~10-20 s to build on 2 cores.
COARSE_TABLES = {"snr_db_interp_min_max_delta": (-5, 30.01, 0.5), "cbs_interp_min_max_delta": (24, 8448, 1000),
                 "bler_interp_delta": 0.05}


def quick_check(n_ue: int = 8, n_slots: int = 4) -> dict[str, Any]:
    """A few slots on a few UEs with coarse BLER grids, for tests: shapes and ranges of the outputs."""
    sinr = make_sinr(n_ue, n_slots, chunk=n_ue)
    out = SionnaSysPeriod(n_ue, **COARSE_TABLES).run(sinr)
    return {"sinr_shape": tuple(sinr.shape), "n_ack": np.asarray(out["n_ack"]), "mcs": np.asarray(out["mcs"]),
            "mean_tbler": np.asarray(out["mean_tbler"])}

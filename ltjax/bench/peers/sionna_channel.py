"""Sionna's TDL channel as a user would run it: the peer of ``ltjax bench channel``.

Job (the same as ltjax's): TDL-C, RMS delay spread 200 ns (TR 38.901 Table 7.7.2-3 scaled),
2 UE antennas x 4 gNB ports, maximum Doppler 50 Hz, the frequency response at the centre of
each of R = 106 RBs at 30 kHz SCS, for U UEs x S slots (one sample per 0.5 ms slot), as
complex64, so U * S UE-slots per call.

Sionna 2.2 (``sionna-no-rt``, PyTorch) pieces:

* ``sionna.phy.channel.tr38901.TDL(model="C", delay_spread, carrier_frequency, min_speed,
  max_speed, num_rx_ant=2, num_tx_ant=4, num_sinusoids, rx_corr_mat, tx_corr_mat)``: MIMO is
  supported for one transmitter and one receiver; spatial correlation is a Kronecker
  filter by the Cholesky factors of ``rx_corr_mat`` / ``tx_corr_mat`` (or one full
  ``spatial_corr_mat``). The TS 38.101-4 "low" level used here is no correlation (identity
  matrices), which Sionna skips entirely when both are None. The maximum Doppler is set
  through speed: f_D = v f_c / c, so v = f_D c / f_c.
  Called as ``tdl(batch_size=U, num_time_steps=S, sampling_frequency=1 / T_slot)`` it draws
  new random phases and angles on *every* call (Sionna keeps no channel state between
  calls), returning path gains a [U, 1, Nr, 1, Nt, L, S] and delays tau [U, 1, 1, L].
* ``sionna.phy.channel.cir_to_ofdm_channel(frequencies, a, tau)``: sum over paths of
  a_l exp(-j 2 pi f tau_l) at the given frequencies, here the RB centres
  f_r = (r - (R - 1)/2) * 12 * SCS (the same frequencies ltjax uses), giving
  [U, 1, Nr, 1, Nt, S, R].

Both sides use the same tap table (Sionna's spec 19.2 TDL-C equals TR 38.901 Table 7.7.2-3
as in :mod:`ltjax.channels.tdl`) and sum-of-sinusoids fading. Differences a reader should
know: Sionna draws a uniform phase per sinusoid and antenna pair (unit amplitudes), ltjax a
complex Gaussian amplitude per sinusoid (exactly Rayleigh taps for any K); Sionna's default
is 20 sinusoids, ltjax's 16, and the peer uses ltjax's K (``num_sinusoids``) so both do the
same arithmetic. Contract: Sionna redraws the channel on every call, so the ltjax callable
given beside it (:func:`ltjax_tdl_callable` with ``draw=True``) also draws every UE's
channel (``init_channel``) inside the timed call; ``draw=False`` is the ``ltjax bench
channel`` contract (channels drawn once, evaluated at new times).

Memory: Sionna materialises the phase argument [U, 1, Nr, 1, Nt, L, S, K] (float32) before
summing over K, about 2 GB for 1,000 UEs x 160 slots x 8 antenna pairs x 24 taps x 16
sinusoids, and several temporaries of that size. A user on a 24 GiB machine therefore calls
it in UE chunks (``chunk`` UEs per call) and writes each chunk into the output array.

Letters: U UEs, S slots, R RBs, L taps, K sinusoids, Nr x Nt antennas.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ltjax.bench.peers import has_module, set_torch_threads

SPEED_OF_LIGHT = 299_792_458.0  # m/s; Sionna's constant too
CARRIER_HZ = 3.5e9  # any carrier: only f_D = v f_c / c enters the TDL model
N_RB = 106
SCS_HZ = 30e3
SLOT_S = 0.5e-3  # 14 symbols at 30 kHz SCS
N_RX, N_TX = 2, 4
DELAY_SPREAD_S = 200e-9
DOPPLER_HZ = 50.0
N_SINUSOIDS = 16  # ltjax's K (ChannelConfig.n_sinusoids); Sionna's default is 20


def available() -> tuple[bool, str]:
    """(True, "sionna <version>") when Sionna (sionna-no-rt) and torch import, else (False, why)."""
    ok, why = has_module("torch")
    if not ok:
        return ok, why
    return has_module("sionna")


def rb_frequencies_hz(n_rb: int = N_RB, scs_hz: float = SCS_HZ) -> np.ndarray:
    """RB centre frequencies [R] relative to the allocation centre [Hz] (as ``ChannelConfig``)."""
    return (np.arange(n_rb) - (n_rb - 1) / 2.0) * 12.0 * scs_hz


def make_sionna_tdl(doppler_hz: float = DOPPLER_HZ, delay_spread_s: float = DELAY_SPREAD_S,
                    n_rx: int = N_RX, n_tx: int = N_TX, num_sinusoids: int = N_SINUSOIDS,
                    correlation: str = "low", seed: int | None = 0):
    """A Sionna ``TDL("C")`` on the CPU in single precision, set up for the job above.

    Args:
      doppler_hz: maximum Doppler f_D [Hz] (set as speed v = f_D c / f_c).
      delay_spread_s: RMS delay spread [s] scaling the normalised TDL-C delays.
      correlation: TS 38.101-4 level "low" (no correlation), "medium" or "high"; the latter two
        pass ltjax's UE and gNB correlation matrices as ``rx_corr_mat`` / ``tx_corr_mat``.
      seed: Sionna's global seed (``sionna.phy.config.seed``), None to leave it.
    Returns:
      the TDL block.
    """
    import torch
    from sionna.phy import config
    from sionna.phy.channel.tr38901 import TDL

    if seed is not None:
        config.seed = int(seed)
    rx_corr = tx_corr = None
    if correlation != "low":
        from ltjax.channels import CORRELATION_LEVELS, correlation_matrix

        alpha, beta = CORRELATION_LEVELS[correlation]
        rx_corr = torch.as_tensor(correlation_matrix(n_rx, beta), dtype=torch.complex64)
        tx_corr = torch.as_tensor(correlation_matrix(n_tx, alpha), dtype=torch.complex64)
    speed = doppler_hz * SPEED_OF_LIGHT / CARRIER_HZ
    return TDL(model="C", delay_spread=delay_spread_s, carrier_frequency=CARRIER_HZ,
               num_sinusoids=num_sinusoids, min_speed=speed, max_speed=speed,
               num_rx_ant=n_rx, num_tx_ant=n_tx, rx_corr_mat=rx_corr, tx_corr_mat=tx_corr,
               precision="single", device="cpu")


def sionna_freq_response(tdl, n_ue: int, n_slots: int, out=None, chunk: int = 100, n_rb: int = N_RB):
    """Fresh TDL draws and their frequency response at the RB centres, in UE chunks.

    Args:
      tdl: from :func:`make_sionna_tdl`.
      n_ue: U. n_slots: S (one time sample per slot, 0.5 ms apart).
      out: optional preallocated complex64 tensor [U, 1, Nr, 1, Nt, S, R] to write into.
      chunk: UEs per Sionna call (memory; see the module docstring).
    Returns:
      complex64 torch tensor [U, 1, Nr, 1, Nt, S, R] (Sionna's layout), E|H|^2 = 1.
    """
    import torch
    from sionna.phy.channel import cir_to_ofdm_channel

    freqs = torch.as_tensor(rb_frequencies_hz(n_rb), dtype=torch.float32)
    with torch.inference_mode():
        for u0 in range(0, n_ue, chunk):
            n = min(chunk, n_ue - u0)
            a, tau = tdl(batch_size=n, num_time_steps=n_slots, sampling_frequency=1.0 / SLOT_S)
            h = cir_to_ofdm_channel(freqs, a, tau, normalize=False)
            if out is None:  # the antenna counts are the TDL block's: take the layout from its output
                out = torch.empty((n_ue,) + tuple(h.shape[1:]), dtype=h.dtype)
            out[u0:u0 + n] = h
    return out


def ltjax_tdl_callable(n_ue: int, n_slots: int, draw: bool = True, seed: int = 0):
    """The ltjax side of the same job, as a zero-argument blocking callable, and its jitted kernel.

    ``draw=True``: every call draws all U channels (``init_channel``, a new key per call) and
    evaluates them at the S slot times, the contract Sionna's TDL has. ``draw=False``: the
    channels are drawn once outside and only evaluated per call (``ltjax bench channel``).
    Output [U, S, R, Nr, Nt] complex64 in both cases.

    Returns:
      ``(run, kernel, args)``: ``run()`` does one call and blocks; ``kernel(*args)`` is the
      jitted function it calls (for :func:`ltjax.bench.roofline.cost_of`).
    """
    import jax
    import jax.numpy as jnp

    from ltjax.channels import ChannelConfig, ChannelParams, channel_freq_response, init_channel

    cfg = ChannelConfig(model="C", n_rx=N_RX, n_tx=N_TX, n_rb=N_RB, scs_hz=SCS_HZ, n_sinusoids=N_SINUSOIDS,
                        correlation="low")
    params = ChannelParams(jnp.float32(DELAY_SPREAD_S), jnp.float32(DOPPLER_HZ))
    times = jnp.asarray(1.0 + SLOT_S * np.arange(n_slots), jnp.float32)

    def evaluate(states, times):
        per_slot = jax.vmap(lambda s, t: channel_freq_response(s, t, cfg, params), (None, 0))
        return jax.vmap(per_slot, (0, None))(states, times)

    def init(key):
        keys = jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(n_ue))
        return jax.vmap(lambda k: init_channel(k, cfg))(keys)

    counter = {"i": 0}
    if draw:
        kernel = jax.jit(lambda key, times: evaluate(init(key), times))

        def run():
            counter["i"] += 1
            return jax.block_until_ready(kernel(jax.random.key(seed + counter["i"]), times))

        return run, kernel, (jax.random.key(seed), times)
    states = jax.block_until_ready(jax.jit(init)(jax.random.key(seed)))
    kernel = jax.jit(evaluate)

    def run():
        return jax.block_until_ready(kernel(states, times))

    return run, kernel, (states, times)


def time_sionna_tdl(n_ue: int = 1000, n_slots: int = 160, repeats: int = 3, chunk: int = 100,
                    threads: int = 2, with_ltjax: bool = True) -> dict[str, Any]:
    """UE-slots/s of the Sionna TDL peer (and, by default, the ltjax side interleaved with it).

    Sionna runs eagerly on ``threads`` torch threads and writes into one preallocated output
    (the ltjax side also materialises its whole [U, S, R, Nr, Nt] output). With
    ``with_ltjax`` the calls alternate Sionna, ltjax (draw each call), ltjax (drawn once),
    through :func:`ltjax.bench.peers.timing.compare`.

    Returns:
      compare's report (``results[name]["samples_s"]``, ``rate_median`` / ``rate_min`` /
      ``rate_max`` in UE-slots/s, ``first_call_s``) plus ``setup`` (sizes, model settings,
      Sionna construction time ``sionna_setup_s``) and ``unit_power`` (mean |H|^2 of one
      Sionna call, expected 1).
    """
    import torch

    from ltjax.bench.peers.timing import compare

    set_torch_threads(threads)
    t0 = time.perf_counter()
    tdl = make_sionna_tdl()
    setup_s = time.perf_counter() - t0
    out = torch.empty((n_ue, 1, N_RX, 1, N_TX, n_slots, N_RB), dtype=torch.complex64)
    fns = {"sionna_tdl": lambda: sionna_freq_response(tdl, n_ue, n_slots, out=out, chunk=chunk)}
    if with_ltjax:
        fns["ltjax_draw_each_call"] = ltjax_tdl_callable(n_ue, n_slots, draw=True)[0]
        fns["ltjax_drawn_once"] = ltjax_tdl_callable(n_ue, n_slots, draw=False)[0]
    report = compare(fns, repeats=repeats, work=float(n_ue * n_slots))
    report["unit_power"] = float(out.abs().square().mean())
    report["setup"] = {
        "n_ue": n_ue, "n_slots": n_slots, "n_rb": N_RB, "scs_hz": SCS_HZ, "antennas": [N_RX, N_TX],
        "model": "TDL-C", "delay_spread_s": DELAY_SPREAD_S, "doppler_hz": DOPPLER_HZ,
        "num_sinusoids": N_SINUSOIDS, "correlation": "low (none)", "sionna_chunk_ues": chunk,
        "sionna_setup_s": setup_s, "rate_unit": "UE-slots/s", "torch_threads": torch.get_num_threads(),
        "output_gb": n_ue * n_slots * N_RB * N_RX * N_TX * 8 / 1e9,
        "contract": "Sionna draws new channels every call; ltjax_draw_each_call does too, "
                    "ltjax_drawn_once evaluates channels drawn once (the ltjax bench's contract)",
    }
    return report


def hand_flops(n_ue: int, n_slots: int, n_taps: int = 24, k: int = N_SINUSOIDS) -> dict[str, float]:
    """Real FLOPs and transcendentals of the ltjax TDL evaluation, counted by hand per call.

    Per UE-slot: the Doppler rotation (L K cos/sin, L K phase multiplies), the tap sum
    [L, Nr Nt, K] x [L, K] complex (8 real FLOPs per complex multiply-add), and the
    frequency transform [R, L] x [L, Nr Nt] complex; the [R, L] steering (cos/sin) is
    computed once per call. XLA's cost analysis counts a complex multiply-add as 2 FLOPs,
    so this count is the one to hold against the GEMM rate.
    """
    ant = N_RX * N_TX
    per = 8.0 * n_taps * ant * k + 8.0 * N_RB * n_taps * ant + 3.0 * n_taps * k + 2.0 * n_taps * ant
    return {"flops": per * n_ue * n_slots, "transcendentals": 2.0 * n_taps * k * n_ue * n_slots
            + 2.0 * N_RB * n_taps, "note": "real FLOPs; cos and sin counted as transcendentals"}

"""A user channel in the link engine: a Rician line-of-sight channel, beside TDL-A30.

    python examples/user_channel.py            # first-transmission BLER and throughput per channel

The link engine evaluates the UE's channel through two functions. Any object with
``init(key, cfg) -> state`` and ``freq_response(state, t_s, cfg, params) -> H [R, Nr, Nt]``
(``ltjax.channels.ChannelModel``), hashable, can replace the built-in TDL channel through
``LinkConfig(user_channel=...)``; everything else (CSI report, HARQ, the PHY abstraction,
link adaptation) is unchanged. Here: a Rician channel with K-factor ``k_db``, a fixed
line-of-sight (LOS) component with a random arrival angle at a uniform linear array at each end,
and a Rayleigh scattered part with two delayed paths whose phases rotate at the maximum
Doppler (one sinusoid per path and antenna pair).
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.batching import map_ues
from ltjax.link import LinkConfig, link_params_for_scenario, run_ue


@dataclasses.dataclass(frozen=True)
class RicianLos:
    """Rician channel: LOS with K-factor ``k_db`` [dB] plus two scattered paths at ``delays_ns``."""

    k_db: float = 6.0
    delays_ns: tuple[float, float] = (0.0, 150.0)

    def init(self, key, cfg):
        k_los, k_scat, k_ph, k_fd = jax.random.split(key, 4)
        n_rx, n_tx, n_path = cfg.n_rx, cfg.n_tx, len(self.delays_ns)
        aoa, aod = jax.random.uniform(k_los, (2,), minval=-jnp.pi / 2, maxval=jnp.pi / 2)
        a_rx = jnp.exp(1j * jnp.pi * jnp.arange(n_rx) * jnp.sin(aoa))  # half-wavelength ULA
        a_tx = jnp.exp(1j * jnp.pi * jnp.arange(n_tx) * jnp.sin(aod))
        scat = jax.random.normal(k_scat, (2, n_path, n_rx, n_tx))
        return {"los": jnp.outer(a_rx, jnp.conj(a_tx)).astype(jnp.complex64),  # [Nr, Nt], unit entries
                "scat": ((scat[0] + 1j * scat[1]) / jnp.sqrt(2.0 * n_path)).astype(jnp.complex64),  # [P, Nr, Nt]
                "phase": jax.random.uniform(k_ph, (n_path, n_rx, n_tx), maxval=2 * jnp.pi),
                "cos_doppler": jnp.cos(jax.random.uniform(k_fd, (n_path, n_rx, n_tx), maxval=2 * jnp.pi))}

    def freq_response(self, state, t_s, cfg, params):
        k = 10.0 ** (self.k_db / 10.0)
        f_rb = (jnp.arange(cfg.n_rb) - (cfg.n_rb - 1) / 2) * 12 * cfg.scs_hz  # [R] RB centres [Hz]
        tau = jnp.asarray(self.delays_ns) * 1e-9  # [P]
        rot = state["phase"] + 2 * jnp.pi * params.doppler_hz * state["cos_doppler"] * t_s  # [P, Nr, Nt]
        paths = state["scat"] * jnp.exp(1j * rot)  # [P, Nr, Nt]
        steer = jnp.exp(-2j * jnp.pi * f_rb[:, None] * tau[None, :])  # [R, P]
        h_scat = jnp.einsum("rp,pij->rij", steer, paths)  # [R, Nr, Nt]
        h = jnp.sqrt(k / (k + 1)) * state["los"][None] + jnp.sqrt(1 / (k + 1)) * h_scat  # E|h|^2 = 1
        return h.astype(jnp.complex64)


def ue_kernel(key, params, n_periods: int):
    """One UE following its reported CQI for ``n_periods`` CSI-RS periods: [T] first-tx BLER, Mbit/s."""
    out = run_ue(key, params, n_periods)  # ltjax.link.rollout: init_link, then link_period per period
    return {"bler": out.bler_first_tx, "tput": out.throughput_mbps}


def main(argv=None) -> dict[str, tuple[float, float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-ue", type=int, default=64)
    ap.add_argument("--n-periods", type=int, default=4)
    ap.add_argument("--snr-db", type=float, default=15.0)
    args = ap.parse_args(argv)
    results = {}
    for name, cfg in (("TDL-A30", LinkConfig()),
                      ("Rician K=6 dB (user channel)", LinkConfig(user_channel=RicianLos(), chest_freq="none"))):
        params = link_params_for_scenario("TDL-A30", args.snr_db, 10.0, cfg)
        out = map_ues(ue_kernel, jax.random.key(0), args.n_ue, params, static={"n_periods": args.n_periods})
        results[name] = (float(np.mean(out["bler"])), float(np.mean(out["tput"])))
        print(f"{name:30s} first-tx BLER {results[name][0]:.3f}, throughput {results[name][1]:.1f} Mbit/s")
    return results


if __name__ == "__main__":
    main()

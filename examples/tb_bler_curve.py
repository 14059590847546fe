"""Library use: BLER curves of a few MCS from Python with ``ltjax.phy.tb_bler``.

    python examples/tb_bler_curve.py            # prints the SNR of 10 % BLER per MCS

``tb_bler`` is a pure function of one transport block; ``jax.vmap`` batches it over SNRs
and ``jax.jit`` compiles the batch once.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.phy import tb_bler


def bler_curve(mcs: int, n_rb: int, snr_db: jnp.ndarray, esm: str = "miesm"):
    """TB error rate of MCS ``mcs`` on ``n_rb`` RBs at each flat SNR of ``snr_db`` [dB].

    Returns the ``TbBlerResult`` with a leading SNR axis (``bler``, ``tbs``, ``n_cb``, ...).
    """
    return jax.jit(jax.vmap(lambda s: tb_bler(s, mcs, n_rb, esm=esm)))(snr_db)


def snr_at(bler: np.ndarray, snr_db: np.ndarray, target: float = 0.1) -> float:
    """The SNR where a falling BLER curve crosses ``target`` (linear interpolation in log BLER)."""
    logb = np.log(np.clip(bler, 1e-12, 1.0))
    return float(np.interp(-np.log(target), -logb, snr_db))


def main(argv=None) -> dict[int, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mcs", type=int, nargs="+", default=[0, 9, 16, 22, 27])
    ap.add_argument("--n-rb", type=int, default=52)
    args = ap.parse_args(argv)
    snr_db = jnp.linspace(-10.0, 30.0, 401)
    out = {}
    for mcs in args.mcs:
        r = bler_curve(mcs, args.n_rb, snr_db)
        out[mcs] = snr_at(np.asarray(r.bler), np.asarray(snr_db))
        print(f"MCS {mcs:2d}: TBS {int(r.tbs[0]):6d} bits in {int(r.n_cb[0])} code block(s), "
              f"10 % BLER at {out[mcs]:5.2f} dB")
    return out


if __name__ == "__main__":
    main()

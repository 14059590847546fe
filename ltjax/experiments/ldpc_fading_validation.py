"""``ldpc_fading_validation``: the PHY abstraction's TBLER (MIESM, EESM) against decoding, same channels.

One grid point is one PDSCH transport block configuration (MCS ``mcs`` of MCS table 1 on
``n_prb`` PRBs, 13 PDSCH symbols with one DMRS symbol: 144 data REs per PRB, one layer, one
gNB port, ``n_rx`` UE antennas, MRC = LMMSE with ideal CSI) over one channel scenario
(``ltjax.channels.scenario``: AWGN or a TDL profile) at one maximum Doppler. ``n_tb``
channel realisations are drawn (one UE each, ``ltjax.channels.init_channel``) and reused at
every SNR, so the abstraction and the decoder see the same channels:

* Channel per RE. ``ltjax.channels`` gives one sample per RB (its centre); here the same
  taps (``channel_taps`` at each data symbol's time l T_sym, l = 1, 3..13, DMRS on symbol 2)
  are evaluated at every subcarrier, f_k = (k - (12 R - 1) / 2) SCS, with the phase
  convention of ``steering_phasors`` (exp(-j 2 pi f tau_l), TR 38.901 7.7.2); at the RB
  centre frequencies this is exactly ``channel_freq_response`` (a test checks it). REs are
  filled frequency first (TS 38.211 7.3.1.5): RE n = s (12 R) + k for data symbol s and
  subcarrier k.
* Link level (``ltjax.linklevel.simulate_tbs``): TS 38.212 coding, QAM, the per-RE channel,
  AWGN at the per-antenna SNR, MRC, exact LLRs, layered min-sum (alpha 0.75, 20 iterations);
  a TB is in error when any of its bits is wrong.
* Abstraction (``ltjax.phy``): effective SINR of the per-RE SINRs |h|^2 SNR (``re``: every
  data RE of the realisation) or of one SINR per RB at the RB centre at the slot start
  (``rb``: what the link engine computes), by MIESM or EESM, then ``code_block_bler`` with
  the TB's K' and symbols per code block, and TBLER = 1 - (1 - BLER_cb)^C.

The SNR points are where an ideal code (the normal approximation, MIESM, ``re``) would
have a mean TBLER over the drawn channels of 0.7, 0.3, 0.1, 0.03 and 0.01, each moved up
by ``snr_offset_db`` (about the NR LDPC decoder's distance from that bound), so the decoder
runs where its curve carries information; they do not depend on the BLER model under test.

The point stores, per SNR and TB, the decoded outcome and the effective SINRs (MIESM and
EESM at the published beta of ``ltjax.phy.tables.EESM_BETA``, per RE and per RB; EESM also
on a grid of betas), so any BLER model of ``ltjax.phy.bler`` can be judged afterwards:
``prediction_errors`` (``python -m ltjax.experiments.ldpc_fading_validation RESULT_DIR
OUT.csv``) gives, per point and pooled per channel and MCS (over Dopplers), the
effective-SINR prediction error Delta: the shift that maximises the binomial likelihood of
the decoded outcomes under TBLER(gamma_eff - Delta) (positive: the abstraction is
optimistic by Delta dB), with its 95 % likelihood-ratio interval (2 (l_max - l) <= 3.84),
and for EESM the beta of the same maximum likelihood at Delta = 0.

Metrics: ``tbs``, ``n_cb``, ``k_cb``, ``n_sym_cb``, ``qm``, ``rate_x1024``,
``beta_published``, ``n_tb_total``, ``n_errors_total``. Series: ``snr_db`` [S],
``n_errors`` [S], ``n_tb`` [S], ``error`` [S, B] (1: TB in error), ``eff_<variant>_db``
[S, B] for variants miesm_re, eesm_re, miesm_rb, eesm_rb, ``beta_grid`` [Nb] and
``eesm_re_grid_db`` / ``eesm_rb_grid_db`` [Nb, S, B].

Letters: B TBs (channel realisations), S SNR points, Nb betas, Nre data REs (144 R), R PRBs,
Nr UE antennas, L taps, Ns = 12 data symbols, K = 12 R subcarriers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.channels import (ChannelConfig, channel_freq_response, channel_taps, init_channel,
                            make_channel_params, max_doppler_hz, normalized_profile, scenario)
from ltjax.fec import DecoderConfig
from ltjax.linklevel import mcs_link_config, simulate_tbs
from ltjax.numerics import db_to_lin
from ltjax.params import field
from ltjax.phy.bler import BLER_MODELS, code_block_bler, normal_approximation_bler, transport_block_bler
from ltjax.phy.effective_sinr import eesm_db, miesm_db
from ltjax.phy.tables import EESM_BETA, N_MCS
from ltjax.plotting.ldpc_fading import plot_tbler
from ltjax.sweep.registry import register_experiment

TBLER_TARGETS = (0.7, 0.3, 0.1, 0.03, 0.01)  # where the SNR points go (ideal code, MIESM, re)
DATA_SYMBOLS = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # PDSCH symbols 1..13, DMRS on 2
VARIANTS = ("miesm_re", "eesm_re", "miesm_rb", "eesm_rb")
DELTA_GRID = np.round(np.arange(-4.0, 4.0 + 1e-9, 0.01), 2)  # dB
BETA_FACTORS = 2.0 ** np.arange(-2.0, 2.0 + 1e-9, 0.1)  # the EESM beta grid, times the published beta
LR_95 = 3.841458820694124  # chi-square(1) 95 % quantile
P_CLIP = 1e-6  # predicted probabilities are kept in [1e-6, 1 - 1e-6] in the likelihood


@struct.dataclass
class LdpcFadingParams:
    """Parameters of the experiment (units in each field's schema)."""

    channel: str = field("TDL-C200", 'channel scenario: AWGN, TDL-A30, TDL-B50, TDL-C200, TDL-<A|B|C><ns>')
    doppler_hz: float = field(10.0, 'maximum Doppler', unit='Hz', lo=0.0, hi=200.0)
    mcs: int = field(9, 'MCS of MCS table 1', lo=0, hi=N_MCS - 1)
    n_prb: int = field(8, 'allocated PRBs', lo=1, hi=106)
    n_rx: int = field(2, 'UE antennas (MRC)', lo=1, hi=4)
    n_tb: int = field(96, 'channel realisations (one TB each), decoded at every SNR point', lo=1, hi=100_000)
    batch: int = field(96, 'TBs per decoder call', lo=1, hi=4096)
    snr_offset_db: float = field(1.0, "SNR points: an ideal code's TBLER targets moved up by this", unit='dB',
                                 lo=-5.0, hi=10.0)


def _check(p):
    try:
        sc = scenario(p.channel)
    except ValueError as err:
        return "channel", str(err)
    if float(p.doppler_hz) > max_doppler_hz():
        return "doppler_hz", f"must be at most {max_doppler_hz():g} Hz, got {p.doppler_hz!r}"
    try:
        make_channel_params(ChannelConfig(model=sc.model, n_rx=1, n_tx=1, n_rb=1), sc.delay_spread_s, p.doppler_hz)
    except ValueError as err:
        return "channel", str(err)
    return None


def subcarrier_frequencies_hz(n_rb: int, scs_hz: float) -> np.ndarray:
    """Subcarrier frequencies [12 R] relative to the allocation centre [Hz], float64.

    f_k = (k - (12 R - 1) / 2) SCS; RB r's centre (``ChannelConfig.rb_frequencies_hz``) lies
    half a subcarrier between its subcarriers 5 and 6.
    """
    n_sc = 12 * n_rb
    return (np.arange(n_sc) - (n_sc - 1) / 2.0) * scs_hz


def channel_at_frequencies(state, t_s, freqs_hz: np.ndarray, cc: ChannelConfig, params):
    """H(t, f) = sum_l sqrt(P_l) H_l(t) exp(-j 2 pi f tau_l) at any frequencies (TDL, Nt = 1).

    The phase is computed as in ``ltjax.channels.steering_phasors`` (f tau_norm in float64,
    times the delay spread in float32), so at ``cc.rb_frequencies_hz()`` this is
    ``channel_freq_response``.

    Args:
      state: one UE's ChannelState.
      t_s: time [s] (may be traced).
      freqs_hz: float64 [F] frequencies relative to the allocation centre [Hz].
      cc: channel configuration (a TDL model, Nt = 1).
      params: ChannelParams (delay spread, Doppler).

    Returns:
      complex64 [F, Nr].
    """
    taps = channel_taps(state, t_s, cc, params)[..., 0]  # [L, Nr]
    delays_norm, _ = normalized_profile(cc.model)
    ang = (-2.0 * math.pi) * (jnp.asarray(np.outer(freqs_hz, delays_norm), jnp.float32)
                              * jnp.asarray(params.delay_spread_s, jnp.float32))  # [F, L]
    return jnp.einsum("fl,lr->fr", jax.lax.complex(jnp.cos(ang), jnp.sin(ang)), taps)


def channel_per_re(key, cc: ChannelConfig, params, scs_hz: float):
    """One realisation's channel at every data RE and at the RB centres.

    Args:
      key: typed PRNG key (consumed): the UE's channel draw.
      cc: channel configuration (Nt = 1).
      params: ChannelParams (delay spread, Doppler).
      scs_hz: subcarrier spacing [Hz].

    Returns:
      (h_re complex64 [Ns K, Nr] per data RE, frequency first; h_rb complex64 [R, Nr] at the
      RB centres at the slot start, ``channel_freq_response``).
    """
    state = init_channel(key, cc)
    h_rb = channel_freq_response(state, 0.0, cc, params)[..., 0]
    n_sc = 12 * cc.n_rb
    if cc.model == "AWGN":
        return jnp.broadcast_to(h_rb[:1], (len(DATA_SYMBOLS) * n_sc, cc.n_rx)), h_rb
    t_sym = 1e-3 * 15e3 / scs_hz / 14.0  # OFDM symbol duration [s] (normal cyclic prefix)
    f_sc = subcarrier_frequencies_hz(cc.n_rb, scs_hz)
    h = jax.vmap(lambda t: channel_at_frequencies(state, t, f_sc, cc, params))(
        jnp.asarray(DATA_SYMBOLS, jnp.float32) * t_sym)  # [Ns, K, Nr]
    return h.reshape(-1, cc.n_rx), h_rb


def _effective_sinrs(gain_re, gain_rb, snr_db, qm, betas):
    """gamma_eff [dB] at snr_db for per-RE gains [B, Nre] and per-RB gains [B, R].

    Returns (miesm_re [B], miesm_rb [B], eesm_re [Nb, B], eesm_rb [Nb, B]) for betas [Nb].
    """
    snr = db_to_lin(snr_db)
    re, rb = gain_re * snr, gain_rb * snr

    def eesm(sinr):
        return jax.vmap(lambda b: jax.vmap(lambda s: eesm_db(s, b))(sinr))(betas)

    return (jax.vmap(lambda s: miesm_db(s, qm))(re), jax.vmap(lambda s: miesm_db(s, qm))(rb), eesm(re), eesm(rb))


@register_experiment(
    name="ldpc_fading_validation",
    description="PHY abstraction TBLER (MIESM/EESM) vs LDPC decoding over the same TDL channel realisations",
    params=LdpcFadingParams,
    plots=(plot_tbler,),
    check=_check,
)
def ldpc_fading_validation(key, p: LdpcFadingParams):
    sc = scenario(p.channel)
    n_rx, n_tb, mcs = int(p.n_rx), int(p.n_tb), int(p.mcs)
    cfg = mcs_link_config(mcs, int(p.n_prb), decoder=DecoderConfig())
    coding = cfg.coding
    seg = coding.segmentation
    qm, rate = coding.qm, round(coding.rate * 1024)
    k_cb, n_cb, n_sym = seg.k_prime, seg.n_cb, coding.g_bits / (seg.n_cb * coding.qm)
    cc = ChannelConfig(model=sc.model, n_rx=n_rx, n_tx=1, n_rb=int(p.n_prb))
    params = make_channel_params(cc, sc.delay_spread_s, float(p.doppler_hz))
    beta_pub = float(EESM_BETA[mcs])
    betas = beta_pub * BETA_FACTORS
    k_channel, k_link = jax.random.split(key)

    @jax.jit
    def draw(keys):
        h_re, h_rb = jax.vmap(lambda k: channel_per_re(k, cc, params, cc.scs_hz))(keys)
        return h_re, jnp.sum(jnp.abs(h_re) ** 2, -1), jnp.sum(jnp.abs(h_rb) ** 2, -1)

    tb_keys = jax.vmap(lambda i: jax.random.fold_in(k_channel, i))(jnp.arange(n_tb, dtype=jnp.uint32))
    h_re, gain_re, gain_rb = draw(tb_keys)  # [B, Nre, Nr], [B, Nre], [B, R]
    if h_re.shape[1] != cfg.n_re:
        raise AssertionError(f"channel has {h_re.shape[1]} REs, the TB {cfg.n_re}")

    # Arrays enter the jitted functions as arguments, never as closed-over constants (XLA
    # would fold the whole computation on them at compile time).
    @jax.jit
    def mean_ideal_tbler(snr_db, gain):
        eff = jax.vmap(lambda g: miesm_db(g * db_to_lin(snr_db), qm))(gain)
        return jnp.mean(transport_block_bler(normal_approximation_bler(eff, qm, k_cb, n_sym), n_cb))

    snrs = []
    for target in TBLER_TARGETS:  # bisection: the mean TBLER falls with the SNR
        lo, hi = -15.0, 45.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if float(mean_ideal_tbler(jnp.float32(mid), gain_re)) > target else (lo, mid)
        snrs.append(round(0.5 * (lo + hi) + float(p.snr_offset_db), 3))

    @jax.jit
    def decode(keys, h, snr_db):
        w = jnp.ones((keys.shape[0], 1, 1), jnp.complex64)
        return simulate_tbs(keys, cfg, h, w, 10.0 ** (-snr_db / 10.0), per_tb_channel=True).error

    effective_sinrs = jax.jit(lambda g_re, g_rb, s, b: _effective_sinrs(g_re, g_rb, s, qm, b))
    batch = int(p.batch)
    errors, eff = [], []
    for s, snr in enumerate(snrs):
        ks = jax.random.fold_in(k_link, s)
        err = []
        for start in range(0, n_tb, batch):  # every chunk padded to the batch: one compile
            idx = np.minimum(np.arange(start, start + batch), n_tb - 1)
            keys = jax.vmap(lambda i: jax.random.fold_in(ks, i))(jnp.asarray(idx, jnp.uint32))
            h = h_re[idx][..., None]  # [B, Nre, Nr, Nt = 1]
            err.append(np.asarray(decode(keys, h, jnp.float32(snr)))[: min(batch, n_tb - start)])
        errors.append(np.concatenate(err))
        eff.append([np.asarray(x) for x in effective_sinrs(gain_re, gain_rb, jnp.float32(snr),
                                                           jnp.asarray(betas, jnp.float32))])
    errors = np.stack(errors).astype(np.int8)  # [S, B]
    i_pub = int(np.argmin(np.abs(BETA_FACTORS - 1.0)))
    miesm_re, miesm_rb, eesm_re, eesm_rb = (np.stack(x) for x in zip(*eff))  # [S, B] / [S, Nb, B]
    out = {"tbs": coding.tbs, "n_cb": n_cb, "k_cb": k_cb, "n_sym_cb": n_sym, "qm": qm, "rate_x1024": rate,
           "n_tb_total": int(errors.size), "n_errors_total": int(errors.sum()), "beta_published": beta_pub,
           "snr_db": np.asarray(snrs), "n_errors": errors.sum(axis=1), "n_tb": np.full(len(snrs), n_tb),
           "error": errors, "eff_miesm_re_db": miesm_re, "eff_eesm_re_db": eesm_re[:, i_pub],
           "eff_miesm_rb_db": miesm_rb, "eff_eesm_rb_db": eesm_rb[:, i_pub], "beta_grid": betas,
           "eesm_re_grid_db": np.moveaxis(eesm_re, 1, 0), "eesm_rb_grid_db": np.moveaxis(eesm_rb, 1, 0)}
    return out


def _ml_interval(grid: np.ndarray, ll: np.ndarray) -> tuple[float, float, float]:
    """(argmax, low, high) of a log-likelihood curve; the interval is 2 (max - ll) <= 3.84."""
    i = int(np.argmax(ll))
    inside = np.nonzero(2.0 * (ll[i] - ll) <= LR_95)[0]
    return float(grid[i]), float(grid[inside.min()]), float(grid[inside.max()])


def _loglik(p, err):
    p = jnp.clip(p, P_CLIP, 1.0 - P_CLIP)
    return jnp.sum(jnp.where(err > 0, jnp.log(p), jnp.log1p(-p)))


def point_likelihoods(row: dict, series: dict, bler_model: str = "ldpc") -> dict:
    """Log-likelihood curves of one grid point's decoded outcomes under the abstraction.

    Args:
      row: the point's data.csv row (qm, rate_x1024, k_cb, n_sym_cb, n_cb).
      series: the point's series without the ``pNNNNN/`` prefix.
      bler_model: the ``ltjax.phy.bler`` model judged.

    Returns:
      {"delta_<variant>": [D] over DELTA_GRID, "beta_re" / "beta_rb": [Nb] over the
      point's beta grid (Delta = 0)}.
    """
    qm, rate, k_cb = int(row["qm"]), int(row["rate_x1024"]), int(row["k_cb"])
    n_sym, n_cb = float(row["n_sym_cb"]), int(row["n_cb"])
    err = jnp.asarray(series["error"])

    @jax.jit
    def ll(eff_db):
        bler_cb = code_block_bler(eff_db, qm, rate, k_cb, n_sym, model=bler_model)
        return _loglik(transport_block_bler(bler_cb, n_cb), err)

    deltas = jnp.asarray(DELTA_GRID, jnp.float32)
    out = {}
    for v in VARIANTS:
        eff = jnp.asarray(series[f"eff_{v}_db"])
        out[f"delta_{v}"] = np.asarray(jax.vmap(lambda d: ll(eff - d))(deltas))
    for view in ("re", "rb"):
        out[f"beta_{view}"] = np.asarray(jax.vmap(ll)(jnp.asarray(series[f"eesm_{view}_grid_db"])))
    return out


def _fit_rows(curves: dict, beta_grid: np.ndarray) -> dict:
    out = {}
    for v in VARIANTS:
        d, lo, hi = _ml_interval(DELTA_GRID, curves[f"delta_{v}"])
        out.update({f"delta_{v}_db": d, f"delta_{v}_lo_db": lo, f"delta_{v}_hi_db": hi})
    for view in ("re", "rb"):
        b, lo, hi = _ml_interval(beta_grid, curves[f"beta_{view}"])
        out.update({f"beta_fit_{view}": b, f"beta_fit_{view}_lo": lo, f"beta_fit_{view}_hi": hi})
    return out


PREDICTION_COLUMNS = ("channel", "doppler_hz", "mcs", "n_tb", "n_errors") + tuple(
    f"delta_{v}_{x}" for v in VARIANTS for x in ("db", "lo_db", "hi_db")) + tuple(
    f"beta_fit_{view}{x}" for view in ("re", "rb") for x in ("", "_lo", "_hi")) + ("beta_published",)


def prediction_errors(result_dir, bler_model: str = "ldpc") -> list[dict]:
    """Effective-SINR prediction error per grid point and pooled per (channel, MCS) over Dopplers.

    Pooling adds the points' log-likelihood curves (independent channel draws); a pooled row
    has ``doppler_hz`` "all". Rows carry PREDICTION_COLUMNS.
    """
    from ltjax.plotting.common import read_csv, read_series

    if bler_model not in BLER_MODELS:
        raise ValueError(f"bler_model must be one of {BLER_MODELS}, got {bler_model!r}")
    rows, series = read_csv(result_dir), read_series(result_dir)
    per_point, pooled = [], {}
    for r in rows:
        pre = f"p{int(r['point']):05d}/"
        ser = {k[len(pre):]: v for k, v in series.items() if k.startswith(pre)}
        curves = point_likelihoods(r, ser, bler_model)
        base = {"channel": r["channel"], "mcs": int(r["mcs"]), "n_tb": int(r["n_tb_total"]),
                "n_errors": int(r["n_errors_total"]), "beta_published": r["beta_published"]}
        per_point.append({**base, "doppler_hz": r["doppler_hz"], **_fit_rows(curves, ser["beta_grid"])})
        key = (r["channel"], int(r["mcs"]))
        if key in pooled:
            acc = pooled[key]
            acc["n_tb"] += base["n_tb"]
            acc["n_errors"] += base["n_errors"]
            acc["curves"] = {k: acc["curves"][k] + curves[k] for k in curves}
        else:
            pooled[key] = {**base, "curves": curves, "beta_grid": ser["beta_grid"]}
    out = []
    for acc in pooled.values():
        curves, grid = acc.pop("curves"), acc.pop("beta_grid")
        out.append({**acc, "doppler_hz": "all", **_fit_rows(curves, grid)})
    return per_point + out


def main(argv: list[str] | None = None) -> int:
    """``python -m ltjax.experiments.ldpc_fading_validation RESULT_DIR OUT.csv [BLER_MODEL]``."""
    import sys

    from ltjax.io import atomic_write_text, format_csv

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m ltjax.experiments.ldpc_fading_validation RESULT_DIR OUT.csv [ldpc|margin]",
              file=sys.stderr)
        return 2
    model = args[2] if len(args) == 3 else "ldpc"
    rows = prediction_errors(args[0], model)
    head = (f"# effective-SINR prediction error of the PHY abstraction (BLER model '{model}') against LDPC\n"
            f"# decoding, per point and pooled over Dopplers; made by: python -m "
            f"ltjax.experiments.ldpc_fading_validation {' '.join(args)}\n")
    atomic_write_text(args[1], head + format_csv(rows, list(PREDICTION_COLUMNS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

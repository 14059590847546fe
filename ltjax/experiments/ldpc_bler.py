"""``ldpc_bler``: AWGN BLER of one NR LDPC code block per MCS and code-block size, decoded.

Each grid point is one code block of K' bits (information + CRC, one TB of A = K' - 16 or
K' - 24 bits, TS 38.212 7.2.1) at the modulation and code rate of MCS ``mcs`` of MCS table 1
(TS 38.214 Table 5.1.3.1-1): base graph by TS 38.212 7.2.2, segmentation, LDPC encoding,
rate matching to G = Qm ceil(K' / (R Qm)) bits (rv 0), QAM (TS 38.211 5.1), SISO AWGN at
Es/N0 = SNR, exact LLRs, layered min-sum (``ltjax.fec``, ``ltjax.linklevel``). Base graph 2
has no single code block above 3840 bits, so where 7.2.2 picks it for the rate (R <= 0.25,
MCS 0-3) a larger ``k_prime`` is capped at 3840 (``k_prime_used``).

The SNR grid is adaptive (``ltjax.linklevel.adaptive_bler_curve``): it starts
``start_gap_db`` above the 10 % point of the finite-length normal approximation of an ideal
code (which no decoder beats), steps of ``step_db`` (0: a third of that bound's distance
from 50 % to 1 % BLER, 0.05..0.25 dB), coarse while the BLER is >= 0.9, until the BLER is
below ``stop_below``; the two points around 10 % are bisected to one step. Every point
runs until ``min_errors`` block errors or ``max_blocks`` blocks (in batches of ``batch``);
its 95 % Wilson interval comes from those counts.

Metrics: ``snr10_db`` the 10 % BLER SNR (log-linear between the points around it) with
``snr10_lo_db`` / ``snr10_hi_db`` read off the Wilson bounds; ``probit_slope`` (d
Phi^{-1}(BLER) / d SNR, 1 % to 70 %) and ``db_per_decade`` at 10 %; the same 10 % point of
the normal approximation (``snr10_bound_db``, an ideal code) and of the PHY abstraction's
hand-chosen margin model (``snr10_margin_db``, ``ltjax.phy.bler`` model "margin"); the
calibration of the abstraction's model "ldpc" (``gap_db`` = snr10_db - snr10_bound_db,
``slope_ratio`` = decoder slope / bound slope). Series per point: the curve (snr_db,
n_blocks, n_errors, bler, ci_low, ci_high, mean_iter).

``python -m ltjax.experiments.ldpc_bler RESULT_DIR [RESULT_DIR ...] OUT.csv`` writes the
calibration table of ``ltjax.phy.bler`` (``ltjax/phy/data/ldpc_awgn.csv``) from result
directories.

Letters: P SNR points of a curve, B blocks per batch.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ltjax.fec import DecoderConfig
from ltjax.linklevel import adaptive_bler_curve, awgn_batch_fn, code_block_link_config
from ltjax.params import field
from ltjax.phy.bler import A10, code_block_bler, normal_approximation_arg, normal_approximation_bler
from ltjax.phy.tables import MCS_QM, MCS_RATE_X1024, N_MCS
from ltjax.plotting.ldpc_bler import plot_curves, plot_snr10
from ltjax.sweep.registry import register_experiment

BG2_MAX_K = 3840  # largest code block of base graph 2 (TS 38.212 5.2.2)
CSV_COLUMNS = ("qm", "rate_x1024", "mcs", "k_prime", "n_sym", "bg", "z", "snr10_db", "snr10_lo_db",
               "snr10_hi_db", "snr10_bound_db", "gap_db", "slope_ratio")


@struct.dataclass
class LdpcBlerParams:
    """Parameters of the experiment (units in each field's schema)."""

    mcs: int = field(9, 'MCS of MCS table 1 (TS 38.214 Table 5.1.3.1-1): modulation and code rate', lo=0,
                     hi=N_MCS - 1)
    k_prime: int = field(2000, "code-block size K' (information + CRC); capped at 3840 where base graph 2 "
                               'is chosen', unit='bit', lo=40, hi=8448)
    decoder: str = field("layered", 'layered normalised min-sum or flooding sum-product BP',
                         choices=("layered", "flooding"))
    alpha: float = field(0.75, 'min-sum normalisation (layered decoder)', lo=0.0, hi=1.0, lo_open=True)
    max_iter: int = field(20, 'decoder iterations at most (early stop at a zero syndrome)', lo=1, hi=200)
    max_log: bool = field(False, 'max-log LLRs instead of exact ones')
    min_errors: int = field(100, 'block errors that end an SNR point', lo=1, hi=1_000_000)
    max_blocks: int = field(2000, 'blocks that end an SNR point', lo=1, hi=10_000_000)
    batch: int = field(64, 'blocks per decoder call', lo=1, hi=65536)
    stop_below: float = field(0.01, 'the curve ends at the first point with a BLER below this', lo=0.0, hi=0.1,
                              lo_open=True)
    step_db: float = field(0.0, 'SNR step of the grid (0: from the bound\'s waterfall width)', unit='dB',
                           lo=0.0, hi=3.0)
    start_gap_db: float = field(0.5, 'first SNR point above the bound\'s 10 % point', unit='dB', lo=-5.0,
                                hi=20.0)


def link_config(p: LdpcBlerParams):
    """The point's single-code-block LinkConfig (K' capped at 3840 where base graph 2 is chosen)."""
    qm, rate = int(MCS_QM[p.mcs]), int(MCS_RATE_X1024[p.mcs]) / 1024.0
    dec = DecoderConfig(kind=p.decoder, max_iter=int(p.max_iter))
    try:
        return code_block_link_config(int(p.k_prime), rate, qm, decoder=dec, max_log=bool(p.max_log))
    except ValueError:  # more than one code block: base graph 2 above 3840 bits
        return code_block_link_config(min(int(p.k_prime), BG2_MAX_K), rate, qm, decoder=dec,
                                      max_log=bool(p.max_log))


def _snr_where(bler_of_snr, bler: float, lo: float = -20.0, hi: float = 45.0) -> float:
    """SNR [dB] where a BLER curve that falls with the SNR crosses ``bler`` (40 bisection steps)."""
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if float(bler_of_snr(mid)) > bler:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def bound_snr_at(bler: float, qm: int, k: int, n: float) -> float:
    """SNR [dB] where the normal approximation's BLER equals ``bler`` (float32 model)."""
    return _snr_where(lambda s: normal_approximation_bler(s, qm, k, n), bler)


def margin_snr10(qm: int, rate_x1024: int, k: int, n: float) -> float:
    """10 % SNR [dB] of the abstraction's hand-chosen margin model."""
    return _snr_where(lambda s: code_block_bler(s, qm, rate_x1024, k, n, model="margin"), 0.1)


def bound_probit_slope(snr_db: float, qm: int, k: int, n: float, h: float = 0.1) -> float:
    """d Phi^{-1}(BLER) / d SNR [1/dB] of the normal approximation at ``snr_db`` (= -da/dSNR)."""
    a = [float(normal_approximation_arg(jnp.float32(snr_db + d), qm, k, n)) for d in (-h, h)]
    return -(a[1] - a[0]) / (2 * h)


def _auto_step(qm: int, k: int, n: float) -> float:
    width = bound_snr_at(0.01, qm, k, n) - bound_snr_at(0.5, qm, k, n)
    return float(np.clip(round(width / 3 / 0.05) * 0.05, 0.05, 0.25))


@register_experiment(
    name="ldpc_bler",
    description="AWGN BLER of one NR LDPC code block per MCS and block size (decoded), and its 10 % point",
    params=LdpcBlerParams,
    plots=(plot_curves, plot_snr10),
    allow_nonfinite=("snr10_db", "snr10_lo_db", "snr10_hi_db", "probit_slope", "db_per_decade", "gap_db",
                     "slope_ratio"),
)
def ldpc_bler(key, p: LdpcBlerParams):
    cfg = link_config(p)
    c = cfg.coding
    seg = c.segmentation
    qm, rate_x1024 = c.qm, int(MCS_RATE_X1024[p.mcs])
    k, n = seg.k_prime, c.g_bits / c.qm
    snr10_bound = bound_snr_at(0.1, qm, k, n)
    step = max(float(p.step_db), 0.01) if p.step_db > 0 else _auto_step(qm, k, n)
    fn = jax.jit(awgn_batch_fn(cfg, alpha=float(p.alpha)))
    curve = adaptive_bler_curve(key, fn, round((snr10_bound + p.start_gap_db) / 0.05) * 0.05, step,
                                stop_below=float(p.stop_below), batch=int(p.batch),
                                min_errors=int(p.min_errors), max_blocks=int(p.max_blocks))
    snr10 = curve.snr_at_bler(0.1)
    lo, hi = curve.snr_at_bler_interval(0.1)
    slope = curve.probit_slope()
    # d log10 BLER / d SNR at 10 % from the probit slope: phi(z10) slope / (0.1 ln 10).
    per_decade = -0.1 * math.log(10) / (math.exp(-A10 * A10 / 2) / math.sqrt(2 * math.pi) * slope)
    bound_slope = bound_probit_slope(snr10_bound, qm, k, n)
    return {
        "k_prime_used": k, "qm": qm, "rate_x1024": rate_x1024, "bg": seg.bg, "z": seg.z,
        "g_bits": c.g_bits, "n_sym": n, "decoder_rows": c.decoder_rows,
        "snr10_db": snr10, "snr10_lo_db": lo, "snr10_hi_db": hi,
        "probit_slope": slope, "db_per_decade": per_decade,
        "snr10_bound_db": snr10_bound, "snr10_margin_db": margin_snr10(qm, rate_x1024, k, n),
        "gap_db": snr10 - snr10_bound, "slope_ratio": slope / bound_slope,
        "step_db": step, "n_points": len(curve.snr_db), "n_blocks": int(np.sum(curve.n_blocks)),
        "n_errors": int(np.sum(curve.n_errors)),
        "snr_db": curve.snr_db, "n_blocks_per_point": curve.n_blocks, "n_errors_per_point": curve.n_errors,
        "bler": curve.bler, "ci_low": curve.ci_low, "ci_high": curve.ci_high, "mean_iter": curve.mean_iter,
    }


def calibration_csv(result_dirs, command: str = "") -> str:
    """The calibration table of ``ltjax.phy.bler`` (CSV text) from ``ldpc_bler`` result directories.

    One row per grid point with a 10 % crossing, for the layered decoder only; a (Qm, rate,
    K') node measured twice keeps the first (in the order of ``result_dirs``).
    """
    import json

    from ltjax.plotting.common import read_csv

    result_dirs = [Path(result_dirs)] if isinstance(result_dirs, (str, Path)) else [Path(d) for d in result_dirs]
    rows, seen, sources = [], set(), []
    for result_dir in result_dirs:
        meta = json.loads((result_dir / "meta.json").read_text())
        sources.append(f"{result_dir.name} (git {meta.get('git_sha', '?')}, seed {meta.get('seed', '?')})")
        for r in read_csv(result_dir):
            node = (int(r["qm"]), int(r["rate_x1024"]), int(r["k_prime_used"]))
            if r["decoder"] != "layered" or not math.isfinite(r["snr10_db"]) or node in seen:
                continue
            seen.add(node)
            rows.append([int(r["qm"]), int(r["rate_x1024"]), int(r["mcs"]), int(r["k_prime_used"]), r["n_sym"],
                         int(r["bg"]), int(r["z"]), r["snr10_db"], r["snr10_lo_db"], r["snr10_hi_db"],
                         r["snr10_bound_db"], r["gap_db"], r["slope_ratio"]])
    rows.sort(key=lambda x: (x[0], x[1], x[3]))
    made_by = command or "python -m ltjax.experiments.ldpc_bler " + " ".join(map(str, result_dirs)) + " OUT.csv"
    head = [
        "# AWGN 10 % code-block BLER of ltjax's NR LDPC reference decoder (ltjax.fec: TS 38.212 coding and",
        "# rate matching, layered min-sum alpha 0.75, 20 iterations, exact LLRs, ideal CSI), per MCS of MCS",
        "# table 1 and code-block size K'; gap_db = decoder 10 % SNR - normal-approximation 10 % SNR,",
        "# slope_ratio = decoder probit slope / normal-approximation slope there (ltjax.phy.bler, model 'ldpc').",
        f"# made by: {made_by}",
        f"# from: {'; '.join(sources)}",
        ",".join(CSV_COLUMNS),
    ]
    body = [",".join(_fmt(v) for v in row) for row in rows]
    return "\n".join(head + body) + "\n"


def _fmt(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:.4f}"


def main(argv: list[str] | None = None) -> int:
    """``python -m ltjax.experiments.ldpc_bler RESULT_DIR [RESULT_DIR ...] OUT.csv``: writes the
    calibration table."""
    from ltjax.io import atomic_write_text

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m ltjax.experiments.ldpc_bler RESULT_DIR [RESULT_DIR ...] OUT.csv", file=sys.stderr)
        return 2
    cmd = "python -m ltjax.experiments.ldpc_bler " + " ".join(args)
    atomic_write_text(args[-1], calibration_csv(args[:-1], cmd))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The PHY abstraction's BLER models: the calibrated model ("ldpc") against the committed NR LDPC
reference table (ltjax/phy/data/ldpc_awgn.csv, made by the ldpc_bler experiment), and the
hand-chosen margin model ("margin") against the formula it had before the calibration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import ndtr

from ltjax.phy import bler, mi
from ltjax.phy.effective_sinr import SNR_DB_MAX, SNR_DB_MIN, interp_uniform

TOLERANCE_DB = 0.5  # the abstraction's 10 % point against the decoder's


def _snr10(bler_of_snr, n_points: int) -> np.ndarray:
    """10 % SNR [dB] of n_points curves at once (vectorised bisection; each curve falls with SNR)."""
    lo, hi = np.full(n_points, -20.0), np.full(n_points, 45.0)
    for _ in range(36):
        mid = 0.5 * (lo + hi)
        above = np.asarray(bler_of_snr(jnp.asarray(mid, jnp.float32))) > 0.1
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def _columns(rows, *names):
    return [np.array([r[n] for r in rows]) for n in names]


def test_calibrated_10pct_within_half_db_of_decoder_at_every_node():
    rows = bler.calibration_table().rows
    qm, rate, k, n, snr10 = _columns(rows, "qm", "rate_x1024", "k_prime", "n_sym", "snr10_db")
    f = jax.jit(lambda s: bler.code_block_bler(s, qm.astype(np.int32), rate, k, n, model="ldpc"))
    err = _snr10(f, len(rows)) - snr10
    assert np.max(np.abs(err)) <= TOLERANCE_DB, err
    # Coverage: three block sizes or more at every measured MCS; both ends of MCS table 1 and
    # every modulation measured, at most two MCS between measured ones (the next test bounds the
    # interpolation error over gaps twice as wide).
    mcs = np.array([r["mcs"] for r in rows]).astype(int)
    measured = sorted(set(mcs))
    assert all(len(set(k[mcs == m])) >= 3 for m in measured), measured
    assert measured[0] == 0 and measured[-1] == 28 and set(qm) == {2, 4, 6}
    assert max(np.diff(measured)) <= 3, measured


def test_calibrated_model_interpolates_to_a_left_out_mcs():
    # Between measured rates the table is interpolated: drop every other interior MCS node and
    # predict its 10 % point from its neighbours (same Qm and K'); this is what a TB between
    # the table's rates gets.
    tab = bler.calibration_table()
    rows = tab.rows
    by = {}
    for r in rows:
        by.setdefault((int(r["qm"]), int(r["k_prime"])), []).append(r)
    left_out = [nodes[i] for nodes in by.values() for i in range(1, len(nodes) - 1, 2)]
    kept = [r for r in rows if r not in left_out]
    reduced = bler.parse_calibration(_as_csv(kept))
    qm, rate, k, n, snr10 = _columns(left_out, "qm", "rate_x1024", "k_prime", "n_sym", "snr10_db")

    def f(s):
        gap, slope = _gap_from(reduced, qm.astype(np.int32), k, n)
        a = bler._bound_arg(jnp.clip(s - gap, SNR_DB_MIN, SNR_DB_MAX), qm.astype(np.int32), k, n)
        return ndtr(-(bler.A10 + slope * (a - bler.A10)))

    err = _snr10(jax.jit(f), len(left_out)) - snr10
    assert np.max(np.abs(err)) <= TOLERANCE_DB, sorted(zip(np.round(err, 2), mcs_of(left_out)))


def mcs_of(rows):
    return [(int(r["mcs"]), int(r["k_prime"])) for r in rows]


def _as_csv(rows) -> str:
    cols = ("qm", "rate_x1024", "mcs", "k_prime", "n_sym", "snr10_db", "gap_db", "slope_ratio")
    return "\n".join([",".join(cols)] + [",".join(repr(r[c]) for c in cols) for r in rows]) + "\n"


def _gap_from(table, qm, k, n):
    """bler.decoder_gap evaluated on another table (the function reads the packaged one)."""
    original = bler.calibration_table
    bler.calibration_table = lambda: table
    try:
        return bler.decoder_gap(qm, k, n)
    finally:
        bler.calibration_table = original


def test_calibration_table_needs_its_columns_and_every_qm():
    with pytest.raises(ValueError, match="columns"):
        bler.parse_calibration("qm,rate_x1024,k_prime\n2,120,100\n")
    with pytest.raises(ValueError, match="Qm = 6"):
        bler.parse_calibration("qm,rate_x1024,k_prime,gap_db,slope_ratio\n2,120,100,1.0,1.0\n4,378,100,1.0,1.0\n")


def _margin_bler_before_calibration(sinr_eff_db, qm, rate_x1024, k_cb, n_sym):
    """ltjax.phy.bler.code_block_bler as it was before the calibrated model was added."""
    rate = jnp.asarray(rate_x1024, jnp.float32) / 1024.0
    g_db = jnp.clip(sinr_eff_db - (1.5 + 3.5 * (1.0 - rate)), SNR_DB_MIN, SNR_DB_MAX)
    m = mi.mod_index(qm)
    c_tab, v_tab = jnp.asarray(mi.MI_BITS), jnp.asarray(mi.MI_VAR)
    if jnp.ndim(m) == 0:
        c, v = interp_uniform(g_db, c_tab[m]), interp_uniform(g_db, v_tab[m])
    else:
        c, v = bler._interp_rows(g_db, c_tab, m), bler._interp_rows(g_db, v_tab, m)
    n = jnp.maximum(jnp.asarray(n_sym, jnp.float32), 1.0)
    k = jnp.asarray(k_cb, jnp.float32)
    arg = (n * c - k + 0.5 * jnp.log2(n)) / jnp.sqrt(jnp.maximum(n * v, 1e-12))
    return ndtr(-arg).astype(jnp.float32)


def test_margin_model_is_the_formula_before_the_calibration():
    snr = jnp.linspace(-10.0, 30.0, 81)  # one scalar Qm (the table-row path)
    args = (snr, 4, 658, 3000, 1140.0)
    assert np.array_equal(np.asarray(bler.code_block_bler(*args, model="margin")),
                          np.asarray(_margin_bler_before_calibration(*args)))
    qms = jnp.array([2, 4, 6, 4], jnp.int32)  # batched Qm rows
    args = (jnp.array([3.0, 9.0, 18.0, 12.0]), qms, jnp.array([449, 490, 873, 616]),
            jnp.array([2000, 2000, 500, 8448]), jnp.array([2280.0, 1045.0, 98.0, 3510.0]))
    assert np.array_equal(np.asarray(bler.code_block_bler(*args, model="margin")),
                          np.asarray(_margin_bler_before_calibration(*args)))
    assert np.array_equal(np.asarray(bler.code_block_bler(*args)),  # the default is the calibrated model
                          np.asarray(bler.code_block_bler(*args, model="ldpc")))
    assert not np.array_equal(np.asarray(bler.code_block_bler(*args)), np.asarray(_margin_bler_before_calibration(*args)))


def test_calibrated_model_jit_equals_no_jit():
    args = (jnp.array([-4.0, 3.0, 12.0]), jnp.array([2, 4, 6], jnp.int32), jnp.array([120, 490, 772]),
            jnp.array([100.0, 2000.0, 8448.0]), jnp.array([430.0, 1045.0, 1823.0]))
    jitted = jax.jit(lambda *a: bler.code_block_bler(*a, model="ldpc"))(*args)
    with jax.disable_jit():
        eager = bler.code_block_bler(*args, model="ldpc")
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-5, atol=1e-7)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="BLER model"):
        bler.code_block_bler(0.0, 2, 120, 100, 430.0, model="ideal")

"""ltjax.phy.tb_bler: the one-call TB error rate equals the step-by-step PHY abstraction."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.numerics import db_to_lin
from ltjax.phy import code_block_bler, miesm_db, segment, tb_bler, tbs, transport_block_bler
from ltjax.phy.tables import MCS_QM, MCS_RATE_X1024
from ltjax.phy.tbs import n_re_per_prb


def _by_hand(sinr_db_rb_layer: np.ndarray, mcs: int, n_rb: int, layers: int, n_dmrs: int):
    """The plumbing tb_bler replaces: TBS (TS 38.214 5.1.3.2), segmentation, MIESM, BLER."""
    qm, rate = int(MCS_QM[mcs]), int(MCS_RATE_X1024[mcs])
    n_re = n_re_per_prb(13, n_dmrs)
    tb = tbs(n_rb, n_re, qm, rate, layers)
    g = min(156, n_re) * n_rb * qm * layers
    seg = segment(tb, rate, g)
    eff = miesm_db(db_to_lin(jnp.asarray(sinr_db_rb_layer, jnp.float32)), qm)
    cb = code_block_bler(eff, qm, rate, seg.k_cb, g / (seg.n_cb * qm))
    return float(transport_block_bler(cb, seg.n_cb)), tb, seg.n_cb, float(eff)


@pytest.mark.parametrize("mcs,n_rb,layers,n_dmrs", [(4, 52, 1, 2), (16, 24, 2, 1), (27, 106, 1, 3)])
def test_tb_bler_equals_the_abstraction_step_by_step(mcs, n_rb, layers, n_dmrs):
    rng = np.random.default_rng(mcs)
    f = jax.jit(lambda s: tb_bler(s, mcs, n_rb, layers, n_dmrs))
    # Operate on the waterfall: bisect for the flat SINR of 50 % TBLER, then 1 dB of spread over RBs.
    lo, hi = -10.0, 30.0
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(f(jnp.full((n_rb, layers), mid)).bler) > 0.5 else (lo, mid)
    sinr = (lo + 0.3 + rng.normal(0.0, 1.0, (n_rb, layers))).astype(np.float32)
    want_bler, want_tbs, want_ncb, want_eff = _by_hand(sinr, mcs, n_rb, layers, n_dmrs)
    got = f(jnp.asarray(sinr))
    assert int(got.tbs) == want_tbs and int(got.n_cb) == want_ncb
    np.testing.assert_allclose(float(got.sinr_eff_db), want_eff, rtol=0, atol=1e-4)
    np.testing.assert_allclose(float(got.bler), want_bler, rtol=1e-4, atol=1e-6)
    assert 0.0 < want_bler < 1.0  # the comparison is on the waterfall, not at 0 or 1


def test_flat_and_per_rb_agree_and_bler_falls_with_sinr():
    f = jax.jit(tb_bler, static_argnums=(2,))
    flat = f(jnp.float32(10.0), 16, 52)
    per_rb = f(jnp.full((52,), 10.0), 16, 52)
    np.testing.assert_allclose(float(per_rb.bler), float(flat.bler), rtol=1e-5, atol=1e-7)
    curve = jax.vmap(lambda s: tb_bler(s, 16, 52).bler)(jnp.linspace(0.0, 20.0, 41))
    assert np.all(np.diff(np.asarray(curve)) <= 1e-7) and curve[0] > 0.99 and curve[-1] < 1e-3


def test_jit_equals_no_jit_traced_mcs_and_eesm():
    sinr = jnp.linspace(5.0, 15.0, 24).reshape(12, 2)
    f = lambda s, m: tb_bler(s, m, 12, layers=2, esm="eesm")  # noqa: E731
    jitted = jax.jit(f)(sinr, jnp.int32(14))
    with jax.disable_jit():
        eager = f(sinr, 14)
    for a, b in zip(jitted, eager):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(sinr_db=jnp.zeros(51), mcs=3, n_rb=52), "sinr_db has shape (51,); allowed: () flat, (52,)"),
    (dict(sinr_db=jnp.zeros((52, 2)), mcs=3, n_rb=52), "(52, 1) per RB and layer"),
    (dict(sinr_db=0.0, mcs=29, n_rb=52), "mcs = 29 out of range"),
    (dict(sinr_db=0.0, mcs=jnp.zeros(3, jnp.int32), n_rb=52), "mcs must be a scalar"),
    (dict(sinr_db=0.0, mcs=3, n_rb=0), "n_rb = 0 out of range"),
    (dict(sinr_db=0.0, mcs=3, n_rb=52, layers=3), "layers = 3 out of range"),
    (dict(sinr_db=0.0, mcs=3, n_rb=52, esm="mmib"), "esm = 'mmib'; allowed: miesm, eesm"),
    (dict(sinr_db=0.0, mcs=3, n_rb=52, bler_model="awgn"), "bler_model = 'awgn'"),
])
def test_clear_messages_for_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError) as e:
        tb_bler(**kwargs)
    assert needle in str(e.value) and "\n" not in str(e.value)

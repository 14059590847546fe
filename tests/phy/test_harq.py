"""HARQ processes: retransmission of NACKed TBs, chase combining, drop after max_tx."""

import jax.numpy as jnp
import numpy as np

from ltjax.phy.harq import TbDesc, harq_feedback, harq_select, init_harq


def _tb(mcs):
    return TbDesc(mcs=jnp.int32(mcs), n_rb=jnp.int32(10), rb_start=jnp.int32(3), n_dmrs=jnp.int32(2),
                  layers=jnp.int32(1), precoder=jnp.zeros((4, 2), jnp.complex64))


def test_retransmit_combine_drop():
    st = init_harq(8, 106, 4)
    sinr = jnp.ones((106, 2), jnp.float32)
    # First transmission on process 5: a new TB.
    tb, retx, prior = harq_select(st, 5, _tb(7))
    assert not bool(retx) and int(tb.mcs) == 7 and float(jnp.sum(prior)) == 0.0
    st, dropped = harq_feedback(st, 5, tb, prior + sinr, jnp.bool_(False), max_tx=3)
    assert bool(st.pending[5]) and not bool(dropped) and int(st.n_tx[5]) == 1
    # Second: the pending TB comes back (not the new MCS) with its combined SINR.
    tb, retx, prior = harq_select(st, 5, _tb(20))
    assert bool(retx) and int(tb.mcs) == 7
    np.testing.assert_allclose(np.asarray(prior), 1.0)
    st, dropped = harq_feedback(st, 5, tb, prior + sinr, jnp.bool_(False), max_tx=3)
    tb, retx, prior = harq_select(st, 5, _tb(20))
    np.testing.assert_allclose(np.asarray(prior), 2.0)  # chase combining: SINR adds
    # Third NACK reaches max_tx = 3: the TB is dropped and the process is free.
    st, dropped = harq_feedback(st, 5, tb, prior + sinr, jnp.bool_(False), max_tx=3)
    assert bool(dropped) and not bool(st.pending[5])
    tb, retx, _ = harq_select(st, 5, _tb(20))
    assert not bool(retx) and int(tb.mcs) == 20
    # Other processes were never touched.
    assert not bool(jnp.any(st.pending))


def test_ack_frees_process():
    st = init_harq(8, 106, 4)
    tb, _, prior = harq_select(st, 0, _tb(3))
    st, _ = harq_feedback(st, 0, tb, prior, jnp.bool_(False), max_tx=4)
    tb, retx, prior = harq_select(st, 0, _tb(3))
    st, dropped = harq_feedback(st, 0, tb, prior, jnp.bool_(True), max_tx=4)
    assert not bool(st.pending[0]) and not bool(dropped) and int(st.n_tx[0]) == 0
    assert float(jnp.sum(st.acc_sinr)) == 0.0

"""e_RSRP, Top-K and the legacy baseline against NumPy oracles written from the paper's definitions."""

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.beam.config import BeamConfig
from ltjax.beam.dataset import BeamData
from ltjax.beam.inference import legacy_scores, set_b_masks
from ltjax.beam.metrics import e_rsrp, top_k
from ltjax.experiments.beam_train import legacy_baseline

CFG = BeamConfig()
K_MAX = 8


def _oracle_e(rsrp, beam):
    """Best beam's RSRP minus the chosen beam's, sample by sample."""
    return np.array([r.max() - r[b] for r, b in zip(rsrp.reshape(-1, rsrp.shape[-1]), beam.ravel())]
                    ).reshape(beam.shape)


def _oracle_top_k(scores, best, k_max):
    """Hit at K when the best beam's score is at least the K-th largest score (ties count as hits)."""
    flat, idx = scores.reshape(-1, scores.shape[-1]), best.ravel()
    out = np.zeros((len(idx), k_max), bool)
    for i, (s, b) in enumerate(zip(flat, idx)):
        desc = np.sort(s)[::-1]
        out[i] = [s[b] >= desc[k - 1] for k in range(1, k_max + 1)]
    return out.reshape(*best.shape, k_max)


def _samples(seed, shape=(3, 40, 64)):
    rng = np.random.default_rng(seed)
    rsrp = rng.normal(-90.0, 10.0, shape).astype(np.float32)
    scores = rng.normal(0.0, 1.0, shape).astype(np.float32)
    return rsrp, scores


def test_e_rsrp_matches_oracle_and_is_zero_at_the_best_beam():
    rsrp, scores = _samples(0)
    pred = scores.argmax(-1)
    got = np.asarray(e_rsrp(jnp.asarray(rsrp), jnp.asarray(pred)))
    np.testing.assert_array_equal(got, _oracle_e(rsrp, pred))  # a max and a subtraction: exact
    assert np.all(got >= 0) and np.any(got > 0)
    np.testing.assert_array_equal(np.asarray(e_rsrp(jnp.asarray(rsrp), jnp.asarray(rsrp.argmax(-1)))), 0.0)


def test_top_k_matches_oracle_including_ties_and_unmeasured_beams():
    rsrp, scores = _samples(1)
    best = rsrp.argmax(-1)
    # Ties: in a quarter of the samples another beam scores exactly as the best beam; a tie counts as a hit.
    for i in range(best.shape[0]):
        for j in range(0, best.shape[1], 4):
            scores[i, j, (best[i, j] - 1) % 64] = scores[i, j, best[i, j]]
    got = np.asarray(top_k(jnp.asarray(scores), jnp.asarray(best), K_MAX))
    want = _oracle_top_k(scores, best, K_MAX)
    np.testing.assert_array_equal(got, want)
    assert got.shape == (3, 40, K_MAX)
    assert np.all(np.diff(got.astype(int), axis=-1) >= 0)  # a hit at K stays a hit at K + 1
    assert 0 < got[..., 0].mean() < got[..., -1].mean() < 1  # not vacuous: misses and hits at both ends
    # Legacy scores: a best beam outside Set B (-inf score) is never a hit.
    in_b = set_b_masks(CFG)[0]
    leg = np.asarray(legacy_scores(jnp.asarray(rsrp), jnp.asarray(in_b)))
    got = np.asarray(top_k(jnp.asarray(leg), jnp.asarray(best), K_MAX))
    np.testing.assert_array_equal(got, _oracle_top_k(leg, best, K_MAX))
    assert not got[~in_b[best]].any()


def test_top1_is_argmax_equals_label_without_ties():
    rsrp, scores = _samples(2)
    best = rsrp.argmax(-1)
    np.testing.assert_array_equal(np.asarray(top_k(jnp.asarray(scores), jnp.asarray(best)))[..., 0],
                                  scores.argmax(-1) == best)


def test_legacy_baseline_equals_strongest_measured_set_b_beam():
    """``beam_train``'s baseline against the direct NumPy computation (pick the strongest measured Set B
    beam, compare with the true best beam)."""
    rsrp, _ = _samples(3, (CFG.n_regions, 50, CFG.n_beams))
    meas = rsrp + np.random.default_rng(4).normal(0.0, 3.0, rsrp.shape).astype(np.float32)
    ev = BeamData(rsrp=jnp.asarray(rsrp), meas=jnp.asarray(meas), pos=jnp.zeros((*rsrp.shape[:2], 2)))
    top1, e = legacy_baseline(CFG, ev)
    for sb, idx in enumerate(CFG.set_b_array()):
        pred = idx[np.argmax(meas[..., idx], -1)]
        np.testing.assert_array_equal(top1[sb], (pred == rsrp.argmax(-1)).mean(-1))
        np.testing.assert_allclose(e[sb], (rsrp.max(-1) - np.take_along_axis(rsrp, pred[..., None], -1)[..., 0]
                                           ).mean(-1), rtol=1e-6)
    assert 0 < top1.mean() < 1 and e.mean() > 0


def test_metrics_jit_equals_no_jit():
    rsrp, scores = _samples(5)
    best = jnp.asarray(rsrp.argmax(-1))
    f = lambda r, s, b: (e_rsrp(r, jnp.argmax(s, -1)), top_k(s, b, K_MAX))  # noqa: E731
    jitted = jax.jit(f)(jnp.asarray(rsrp), jnp.asarray(scores), best)
    with jax.disable_jit():
        eager = f(jnp.asarray(rsrp), jnp.asarray(scores), best)
    for a, b in zip(jitted, eager):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

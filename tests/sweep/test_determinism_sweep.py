"""Determinism (issue #6 section 6): same seed -> byte-identical data.csv on a
rerun, under a different grid-point chunk size and a different UE chunk size."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltjax.sweep import load_sweep, run_sweep

SWEEP = """experiment = "awgn_ber"
seed = {seed}
[params]
snr_db = [0.0, 3.0, 6.0]
n_symbols = 2000
n_ues = 5
"""


@pytest.fixture
def sweep(tmp_path) -> Path:
    f = tmp_path / "det.toml"
    f.write_text(SWEEP.format(seed=11))
    return f


def _csv(cfg, out, **kw) -> bytes:
    return (run_sweep(cfg, out=out, progress=False, **kw) / "data.csv").read_bytes()


def test_same_seed_same_bytes_across_reruns_and_chunkings(sweep, tmp_path):
    cfg = load_sweep(sweep)
    ref = _csv(cfg, tmp_path / "a")
    assert _csv(cfg, tmp_path / "b") == ref
    assert _csv(cfg, tmp_path / "c", chunk_points=2) == ref
    assert _csv(cfg, tmp_path / "d", chunk_points=3, ue_chunk=2) == ref
    assert _csv(cfg, tmp_path / "e", ue_chunk=1) == ref


def test_other_seed_other_draws(sweep, tmp_path):
    ref = _csv(load_sweep(sweep), tmp_path / "a")
    other = tmp_path / "det2.toml"
    other.write_text(SWEEP.format(seed=12))
    got = _csv(load_sweep(other), tmp_path / "b")
    assert got != ref
    # Same parameter columns, different Monte-Carlo BER column.
    assert [r.split(",")[:4] for r in got.decode().splitlines()] == \
        [r.split(",")[:4] for r in ref.decode().splitlines()]


def _kernel(key, scale, *, n):
    import jax

    return {"z": jax.random.normal(key, (n,)) * scale, "i": jax.random.randint(key, (), 0, 1000)}


def test_map_ues_uses_fold_in_point_key_ue_and_unpads():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ltjax.batching import map_ues

    point_key = jax.random.fold_in(jax.random.key(3), 7)
    out = map_ues(_kernel, point_key, 5, jnp.float32(2.0), static={"n": 4}, chunk_size=2, micro_batch=2)
    assert out["z"].shape == (5, 4) and out["i"].shape == (5,) and isinstance(out["z"], np.ndarray)
    for u in range(5):  # UE u's draws are exactly the one-UE kernel's on fold_in(point_key, u)
        ref = _kernel(jax.random.fold_in(point_key, u), jnp.float32(2.0), n=4)
        assert np.array_equal(out["i"][u], np.asarray(ref["i"]))
        np.testing.assert_allclose(out["z"][u], np.asarray(ref["z"]), rtol=1e-6)
    with pytest.raises(ValueError, match="n_ues"):
        map_ues(_kernel, point_key, 0, jnp.float32(1.0), static={"n": 4})


def test_jit_and_no_jit_give_the_same_csv(tmp_path):
    """The runner's result does not depend on compilation: a tiny sweep run eagerly
    (``jax.disable_jit``) writes the same data.csv bytes as the compiled run."""
    import jax

    f = tmp_path / "tiny.toml"
    f.write_text('experiment = "awgn_ber"\nseed = 4\n[params]\nsnr_db = [0.0, 5.0]\nn_symbols = 64\nn_ues = 3\n')
    cfg = load_sweep(f)
    ref = _csv(cfg, tmp_path / "jit")
    with jax.disable_jit():
        assert _csv(cfg, tmp_path / "eager") == ref

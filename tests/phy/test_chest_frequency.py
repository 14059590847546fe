"""DMRS frequency-interpolation error (``ltjax.phy.chest``): analytic terms against Monte Carlo.

Statistical tolerances come from the sample size: every error e = H_k - H_hat_k is a linear
combination of complex Gaussian taps (and Gaussian noise), so e ~ CN(0, s_k^2) and |e|^2 is
exponential with standard deviation s_k^2. The estimate m = mean over N independent draws
(UE x antenna pair) and the 12 subcarriers of |e|^2 has sd(m) <= mean_k s_k^2 / sqrt(N) =
err / sqrt(N) (the subcarriers are correlated; the mean of correlated terms has at most the
mean of their standard deviations). 4 sigma: a false alarm once in ~16,000 runs.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ltjax.channels import ChannelConfig, ChannelParams, channel_taps, init_channel, normalized_profile, tdl_profile
from ltjax.phy import chest

N_UE = 1500  # x 8 antenna pairs = 12,000 independent draws per profile
SCS = 30e3
PROFILES = {"TDL-A30": ("A", 30e-9), "TDL-B50": ("B", 50e-9), "TDL-C200": ("C", 200e-9)}


def _subcarrier_response(model, ds, n_sub, seed):
    """H [U * 8, n_sub] at consecutive subcarriers, from the engine's own tap draws."""
    cfg = ChannelConfig(model=model, n_rb=1, n_sinusoids=1)
    keys = jax.vmap(lambda u: jax.random.fold_in(jax.random.key(seed), u))(jnp.arange(N_UE))
    taps = np.asarray(jax.jit(jax.vmap(lambda k: channel_taps(init_channel(k, cfg), 0.0, cfg, ChannelParams())))(keys))
    taps = taps.reshape(N_UE, taps.shape[1], -1).transpose(0, 2, 1).reshape(-1, taps.shape[1])  # [U * 8, L]
    delays, _ = tdl_profile(model, ds)
    steer = np.exp(-2j * np.pi * np.outer(np.arange(n_sub) * SCS, delays))  # [n_sub, L]
    return taps @ steer.T  # [N, n_sub]


@pytest.mark.parametrize("name", list(PROFILES))
def test_rb_average_bias_matches_monte_carlo(name):
    model, ds = PROFILES[name]
    h = _subcarrier_response(model, ds, 12, seed=3)
    est = h[:, chest.PILOT_SUBCARRIERS].mean(axis=1, keepdims=True)  # the 6 pilots, held flat
    mc = float(np.mean(np.abs(h - est) ** 2))
    want = float(chest.rb_average_bias(normalized_profile(model), ds, SCS))
    n = h.shape[0]
    assert abs(mc - want) <= 4 * want / math.sqrt(n), (name, mc, want)


def test_floors_per_profile():
    """The documented floors (docs/phy_abstraction.md): -31.6 / -27.7 / -16.5 dB, and 0 when flat."""
    got = {n: 10 * math.log10(float(chest.rb_average_bias(normalized_profile(m), ds, SCS)))
           for n, (m, ds) in PROFILES.items()}
    assert got["TDL-A30"] == pytest.approx(-31.58, abs=0.02)
    assert got["TDL-B50"] == pytest.approx(-27.66, abs=0.02)
    assert got["TDL-C200"] == pytest.approx(-16.46, abs=0.02)
    assert float(chest.rb_average_bias(chest.FLAT_PROFILE, 0.0, SCS)) == 0.0
    # Longer delay spread -> larger bias (monotone over the supported range).
    b = [float(chest.rb_average_bias(normalized_profile("C"), ds, SCS)) for ds in (30e-9, 100e-9, 300e-9, 550e-9)]
    assert np.all(np.diff(b) > 0)


@pytest.mark.parametrize("snr_db, n_dmrs", [(10.0, 2), (25.0, 1)])
def test_wiener_error_matches_monte_carlo(snr_db, n_dmrs):
    """TDL-C200: the LMMSE interpolator (built here in float64 from r(df)) on noisy pilots of
    3 RBs; its empirical MSE on the centre RB against ``wiener_error`` (float32, Cholesky)."""
    model, ds = PROFILES["TDL-C200"]
    w = chest.WIENER_WINDOW_RB
    h = _subcarrier_response(model, ds, 12 * w, seed=5)  # [N, 36]
    nv = 10 ** (-snr_db / 10)
    s2 = nv / n_dmrs
    pilots = np.concatenate([chest.PILOT_SUBCARRIERS + 12 * b for b in range(w)])  # every other subcarrier
    targets = 12 * (w // 2) + np.arange(12)  # the centre RB
    pp, pt = np.subtract.outer(pilots, pilots), np.subtract.outer(pilots, targets)
    delays, powers = tdl_profile(model, ds)

    def r(lag):
        return np.sum(powers * np.exp(-2j * np.pi * np.multiply.outer(lag * SCS, delays)), -1)

    filt = np.linalg.solve(r(pp) + s2 * np.eye(len(pilots)), r(pt))  # [Np, 12]: (R + s2 I)^-1 c_k
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal((h.shape[0], len(pilots))) + 1j * rng.standard_normal((h.shape[0], len(pilots))))
    y = h[:, pilots] + noise * math.sqrt(s2 / 2)
    est = y @ filt.conj()  # H_hat_k = c_k^H (R + s2 I)^-1 y
    mc = float(np.mean(np.abs(h[:, targets] - est) ** 2))
    want = float(chest.wiener_error(normalized_profile(model), ds, s2, SCS))
    assert abs(mc - want) <= 4 * want / math.sqrt(h.shape[0]), (mc, want)
    # The Wiener filter never does worse than the RB average with the same pilots' noise.
    rb = float(chest.rb_average_bias(normalized_profile(model), ds, SCS)) + nv / (6 * n_dmrs)
    assert want < rb


def test_flat_channel_errors():
    """In a flat channel the bias vanishes and the Wiener error is sigma^2 / (Np + sigma^2)."""
    for nv, d in ((1.0, 1), (0.1, 2), (0.003, 4)):
        assert float(chest.flat_noise_error(nv, d, "rb_average")) == pytest.approx(nv / (6 * d), rel=1e-6)
        assert float(chest.flat_noise_error(nv, d, "none")) == pytest.approx(nv / (6 * d), rel=1e-6)
        want = float(chest.flat_noise_error(nv, d, "wiener"))
        assert want == pytest.approx((nv / d) / (18 + nv / d), rel=1e-6)
        assert float(chest.wiener_error(chest.FLAT_PROFILE, 0.0, nv / d, SCS)) == pytest.approx(want, rel=2e-3)


@pytest.mark.parametrize("n_dmrs", [1, 2, 3, 4])
def test_tdl_a30_moves_little_tdl_c200_gets_a_floor(n_dmrs):
    """The bias adds to the noise, so a curve moves by the SNR shift that restores the same
    noise-plus-error: Delta = -10 log10(1 - bias / N(SNR)) with N = noise (1 + 1/(6 d)) + ageing.
    TDL-A30 at 10 Hz: < 0.3 dB up to 20 dB. TDL-C200 at 50 Hz: from 40 dB on the noise-plus-error
    is within 0.2 dB of its noise-free floor bias + ageing, and the bias is 10x the noise there."""
    for snr_db in np.arange(-10.0, 20.01, 2.0):
        nv = 10 ** (-snr_db / 10)
        base = float(chest.chest_error_var(nv, n_dmrs, 10.0))  # noise averaging + ageing
        bias = float(chest.rb_average_bias(normalized_profile("A"), 30e-9, SCS))
        shift = -10 * math.log10(1 - bias / (nv + base))
        assert shift < 0.3, (snr_db, n_dmrs, shift)
    nv = 1e-4
    bias_c = float(chest.rb_average_bias(normalized_profile("C"), 200e-9, SCS))
    total = nv + float(chest.chest_error_var(nv, n_dmrs, 50.0)) + bias_c
    floor = float(chest.ageing_error(n_dmrs, 50.0)) + bias_c
    assert 10 * math.log10(total / floor) < 0.2 and bias_c > 10 * nv

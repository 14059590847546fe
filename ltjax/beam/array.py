"""UPA steering vector (paper eq. 3), DFT Kronecker codebook (eqs. 4-6) and TR 38.901 element pattern.

Conventions (array-local angles theta' zenith, phi' azimuth; boresight +x', panel in y'z'):
  * element (m, n), m = 0..M_h-1 horizontal (along y'), n = 0..M_v-1 vertical (along z');
  * half-wavelength spacing, kappa d = pi:
      a[m, n] = exp(j pi (m sin(theta') sin(phi') + n cos(theta')))      (eq. 3, unnormalised, |a|^2 = M);
  * flattened index i = m * M_v + n, the Kronecker order of x_h (x) y_v in eq. (6);
  * codebook w_{h,v} = x_h (x) y_v with x_h[m] = exp(j 2 pi m h / Q_h)/sqrt(M_h), y_v[n] likewise;
    beam index b = h * Q_v + v. Both use exp(+j ...), so w_{h,v}^H a peaks where
    sin(theta') sin(phi') = 2 h / Q_h and cos(theta') = 2 v / Q_v (mod 2).
Because steering vector and codebook are both Kronecker products, w_{h,v}^H a = A_h[h] A_v[v] with
A_h[h] = sum_m exp(j pi m (u - 2h/Q_h)) / sqrt(M_h) (u = sin theta' sin phi') and A_v[v] alike with
c = cos theta': 8 + 8 short sums per path instead of a 64 x 32 product (``separable_response``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ltjax.beam.config import BeamConfig


def steering_vector(theta_l, phi_l, m_h: int, m_v: int):
    """Eq. (3): [..., M] complex64 steering vector for local angles (radians), index m * M_v + n."""
    m = jnp.arange(m_h)[:, None]
    n = jnp.arange(m_v)[None, :]
    u = (jnp.sin(theta_l) * jnp.sin(phi_l))[..., None, None]
    c = jnp.cos(theta_l)[..., None, None]
    a = jnp.exp(1j * jnp.pi * (m * u + n * c))
    return a.reshape(*a.shape[:-2], m_h * m_v).astype(jnp.complex64)


def codebook(cfg: BeamConfig) -> np.ndarray:
    """Eqs. (4)-(6): [M, B] complex DFT Kronecker codebook, column b = h * Q_v + v (numpy, static)."""
    m = np.arange(cfg.m_h)
    n = np.arange(cfg.m_v)
    cols = []
    for h in range(cfg.q_h):
        x = np.exp(2j * np.pi * m * h / cfg.q_h) / np.sqrt(cfg.m_h)
        for v in range(cfg.q_v):
            y = np.exp(2j * np.pi * n * v / cfg.q_v) / np.sqrt(cfg.m_v)
            cols.append(np.kron(x, y))
    return np.stack(cols, axis=1).astype(np.complex64)


def beam_direction(cfg: BeamConfig, b: int) -> tuple[float, float]:
    """(u, c) = (sin theta' sin phi', cos theta') where beam b peaks, folded into [-1, 1)."""
    h, v = divmod(b, cfg.q_v)
    fold = lambda x: (x + 1.0) % 2.0 - 1.0  # noqa: E731
    return fold(2.0 * h / cfg.q_h), fold(2.0 * v / cfg.q_v)


def _unit_powers(x, n: int):
    """[..., n] complex64 exp(j pi k x) for k = 0..n-1 from ONE sin/cos pair by binary powering.

    e^k = e^(k - 2^floor(log2 k)) e^(2^floor(log2 k)): at most log2(n) rounded products per term, so the
    error is a few float32 ulps (instead of n sin/cos evaluations per path, the channel's main cost).
    """
    e1 = jax.lax.complex(jnp.cos(jnp.pi * x), jnp.sin(jnp.pi * x))
    pw = [jnp.ones_like(e1), e1]
    for k in range(2, n):
        top = 1 << (k.bit_length() - 1)
        pw.append(pw[top] * pw[k - top] if k != top else pw[top // 2] * pw[top // 2])
    return jnp.stack(pw[:n], axis=-1)


def separable_response_uc(u, c, cfg: BeamConfig):
    """Per-path factors (A_h [..., Q_h], A_v [..., Q_v]) complex64 from u = sin th' sin ph', c = cos th'.

    w_{h,v}^H a = A_h[h] A_v[v] with A_h[h] = sum_m exp(j pi m u) conj(x_h[m]) (and A_v alike). The
    element phases exp(j pi m u) come from one sin/cos pair per path (``_unit_powers``); the sum against
    the conjugate DFT columns is written as broadcast-multiply-sum, which XLA fuses (much faster on CPU
    than a batch of 8 x 8 complex matrix products).
    """
    e_h = _unit_powers(u, cfg.m_h)
    e_v = _unit_powers(c, cfg.m_v)
    f_h = np.exp(-2j * np.pi * np.outer(np.arange(cfg.m_h), np.arange(cfg.q_h)) / cfg.q_h) / np.sqrt(cfg.m_h)
    f_v = np.exp(-2j * np.pi * np.outer(np.arange(cfg.m_v), np.arange(cfg.q_v)) / cfg.q_v) / np.sqrt(cfg.m_v)
    a_h = jnp.sum(e_h[..., :, None] * jnp.asarray(f_h, jnp.complex64), axis=-2)
    a_v = jnp.sum(e_v[..., :, None] * jnp.asarray(f_v, jnp.complex64), axis=-2)
    return a_h, a_v


def separable_response(theta_l, phi_l, cfg: BeamConfig):
    """Per-path factors (A_h [..., Q_h], A_v [..., Q_v]) complex64 at local angles (radians); see
    ``separable_response_uc`` (u = sin theta' sin phi', c = cos theta')."""
    return separable_response_uc(jnp.sin(theta_l) * jnp.sin(phi_l), jnp.cos(theta_l), cfg)


def element_gain_db(theta_l, phi_l):
    """TR 38.901 Table 7.3-1 element power pattern [dBi] at local angles (radians).

    A_V = -min(12 ((theta' - 90)/65)^2, 30), A_H = -min(12 (phi'/65)^2, 30),
    A = -min(-(A_V + A_H), 30) + 8 dBi (3 dB beamwidth 65 deg, 30 dB front-back ratio).
    """
    th = jnp.degrees(theta_l)
    ph = jnp.degrees(phi_l)
    a_v = -jnp.minimum(12.0 * ((th - 90.0) / 65.0) ** 2, 30.0)
    a_h = -jnp.minimum(12.0 * (ph / 65.0) ** 2, 30.0)
    return -jnp.minimum(-(a_v + a_h), 30.0) + 8.0

"""Time-varying MIMO TDL channel: sum-of-sinusoids Rayleigh taps, Kronecker correlation.

Letters: R resource blocks (106), L taps (23/24), Nr UE antennas (2), Nt gNB ports (4),
K sinusoids per tap, r precoded layers (<= 2).

Model (per UE, one tap l, one antenna pair before correlation):

    g_l(t) = K^{-1/2} sum_k a_{l,k} exp(j 2 pi f_D cos(alpha_{l,k}) t),   a_{l,k} ~ CN(0, 1) iid,
    alpha_{l,k} = (2 pi k + theta_l) / K,  theta_l ~ U[0, 2 pi)            (drawn once per UE).

This is a sum of sinusoids with the Clarke/Jakes arrival angles stratified over the circle
with a random rotation, as in Zheng & Xiao (IEEE Commun. Lett. 2002) and Pop & Beaulieu
(IEEE Trans. Commun. 2001), except that each sinusoid has a complex Gaussian amplitude
instead of a unit amplitude with a random phase. Why: at any fixed t, g_l(t) is then
exactly CN(0, 1), so tap amplitudes are exactly Rayleigh for any K, and the expectation
over UEs of g_l^*(t) g_l(t + tau) is exactly J0(2 pi f_D tau) (the stratified angles are
marginally uniform on the circle). K only sets how close one UE's own time correlation is
to J0 (finite-K models are not ergodic).

MIMO (TS 38.101-4 Annex B.2.3.1, same as TS 36.101 B.2.3.2): Kronecker model
vec(H_l) = (R_gNB kron R_UE)^{1/2} vec(G_l), i.e. H_l = R_UE^{1/2} G_l (R_gNB^{1/2})^T, with
the 2-antenna UE matrix [[1, beta], [beta, 1]] and the 4-port gNB matrix with entries
alpha^{((i-j)/3)^2}; low: alpha = beta = 0, medium: alpha = 0.3, beta = 0.9,
high: alpha = beta = 0.9. The correlation is applied once to the amplitudes a at init
(it is linear and time-invariant), so a slot costs no extra matrix products. The spec's
"a" regularisation ((R + aI)/(1 + a), a = 1e-4 for 4x2 high) only repairs 4-digit
round-off of R_spat; we take exact square roots of each factor, so it is not needed.

Frequency response (TR 38.901 7.7.2): H(f) = sum_l sqrt(P_l) H_l(t) exp(-j 2 pi f tau_l),
tau_l = tau_l,norm * DS, evaluated at the centre frequency of every RB relative to the
centre of the allocation, f_r = (r - (R - 1)/2) * 12 * SCS. ``channel_freq_response`` gives
H [R, Nr, Nt]; ``precoded_channel`` gives G = H W [R, Nr, r] for a precoder W [Nt, r] with W
applied at the taps first (r layers, the link engine's per-slot form); both take the phases
exp(-j 2 pi f_r tau_l) from ``steering_phasors``. Resolution: one sample per
RB (360 kHz at 30 kHz SCS). This resolves the channel while the coherence bandwidth
~ 1 / (5 DS) is a few RBs: about 2.8 RBs at DS = 200 ns; ``max_delay_spread_s`` puts the
limit at B_c = one RB (555 ns at 30 kHz).

Time: H is evaluated at an absolute time t_s (seconds), so it is continuous across slots
and CSI-RS periods. Within a slot the engine holds H constant (block fading per slot);
that is the reason for ``max_doppler_hz``: f_D * T_slot <= 0.1 (200 Hz at 30 kHz SCS),
where the correlation across one slot is still >= J0(0.2 pi) = 0.90. Phases are float32:
2 pi f_D t loses about f_D t * 6e-8 cycles, i.e. < 2e-3 rad for f_D t < 5000 (100 s at
50 Hz); runs longer than that should restart t.
"""

from __future__ import annotations

import dataclasses
import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ltjax.channels.tdl import TDL_NAMES, canonical_tdl_name, normalized_profile

MODELS = (*TDL_NAMES, "AWGN")

# TS 38.101-4 Table B.2.3.1.2-1 (= TS 36.101 Table B.2.3.2-1): level -> (alpha gNB, beta UE).
CORRELATION_LEVELS: dict[str, tuple[float, float]] = {
    "low": (0.0, 0.0),
    "medium": (0.3, 0.9),
    "high": (0.9, 0.9),
}

SCS_ALLOWED_HZ = (15e3, 30e3, 60e3, 120e3)
AWGN_MATRICES = ("identity", "equal_gain")
MAX_RB = 275  # TS 38.101-1 Table 5.3.2-1: at most 275 RBs in any NR carrier
MAX_DOPPLER_SLOT_PRODUCT = 0.1  # f_D * T_slot limit of the block-fading-per-slot engine


def slot_duration_s(scs_hz: float) -> float:
    """TS 38.211 4.3.2: 14-symbol slot lasts 1 ms * 15 kHz / SCS (0.5 ms at 30 kHz)."""
    return 1e-3 * 15e3 / float(scs_hz)


def max_doppler_hz(scs_hz: float = 30e3) -> float:
    """Largest supported maximum Doppler [Hz]: f_D * T_slot <= 0.1 (200 Hz at 30 kHz)."""
    return MAX_DOPPLER_SLOT_PRODUCT / slot_duration_s(scs_hz)


def max_delay_spread_s(scs_hz: float = 30e3) -> float:
    """Largest supported RMS delay spread [s]: coherence bandwidth 1/(5 DS) >= one RB."""
    return 1.0 / (5.0 * 12.0 * float(scs_hz))


def correlation_matrix(n: int, c: float) -> np.ndarray:
    """TS 38.101-4 B.2.3.1.1 ULA correlation: entries c^{((i-j)/(n-1))^2}, float64 [n, n]."""
    if n == 1:
        return np.ones((1, 1))
    k = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) / (n - 1)
    with np.errstate(divide="ignore"):
        return np.where(k == 0, 1.0, np.power(float(c), k * k))


def _psd_sqrt(r: np.ndarray) -> np.ndarray:
    """Hermitian square root of a PSD matrix (eigen-decomposition, eigenvalues clipped at 0)."""
    w, v = np.linalg.eigh(r)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.conj().T


def awgn_matrix(cfg: "ChannelConfig") -> np.ndarray:
    """The flat, time-invariant channel matrix of the AWGN model, complex64 [Nr, Nt].

    "identity": I_{Nr x Nt} (ones on the diagonal): with 2 x 4 antennas a rank-1 Type I
    precoder (entries of magnitude 1/2) reaches the UE with |H w|^2 = 1/2, i.e. SNR - 3 dB
    after combining. "equal_gain": sqrt(max(Nr, Nt)) I_{Nr x Nt}, squared Frobenius norm Nr Nt
    = E ||H||_F^2 of a unit-gain TDL channel, so a fixed precoder with ||W||_F = 1 and an MRC
    receiver see the TDL channels' average array gain E ||H w||^2 = Nr (SNR + 3 dB at 2 x 4);
    with Nr = Nt = 1 both are the SISO channel H = 1.
    """
    eye = np.eye(cfg.n_rx, cfg.n_tx)
    if cfg.awgn_matrix == "equal_gain":
        eye = eye * math.sqrt(max(cfg.n_rx, cfg.n_tx))
    return eye.astype(np.complex64)


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
    """Static channel configuration (sets shapes; hashable, so usable as a jit static arg).

    Attributes:
      model: "A" | "B" | "C" (TR 38.901 TDL, also "TDL-A" etc.) | "AWGN". AWGN is a flat,
        unit-gain, time-invariant channel with H[r] = I_{Nr x Nt} (ones on the diagonal).
      n_rx: UE antennas Nr. n_tx: gNB ports Nt. n_rb: RBs R (1..275).
      scs_hz: subcarrier spacing [Hz] (15/30/60/120 kHz).
      n_sinusoids: K, sinusoids per tap and antenna pair.
      correlation: "low" | "medium" | "high" (TS 38.101-4 Annex B.2.3).
      awgn_matrix: the flat matrix of the AWGN model (``awgn_matrix``): "identity",
        H = I_{Nr x Nt}, or "equal_gain", H = sqrt(max(Nr, Nt)) I_{Nr x Nt}, whose squared
        Frobenius norm Nr Nt equals the mean of a unit-gain TDL channel's (so a precoder and
        receiver see the same average array gain as on the TDL channels). Ignored by TDL models.

    Raises:
      ValueError: one line naming the bad field and what is allowed.
    """

    model: str = "C"
    n_rx: int = 2
    n_tx: int = 4
    n_rb: int = 106
    scs_hz: float = 30e3
    n_sinusoids: int = 16
    correlation: str = "low"
    awgn_matrix: str = "identity"

    def __post_init__(self):
        model = str(self.model).strip()
        if model.upper() == "AWGN":
            model = "AWGN"
        else:
            try:
                model = canonical_tdl_name(model)
            except ValueError:
                raise ValueError(f"ChannelConfig.model must be one of A, B, C, AWGN (or TDL-A, TDL-B,"
                                 f" TDL-C), got {self.model!r}") from None
        object.__setattr__(self, "model", model)
        for name, lo, hi in (("n_rx", 1, 8), ("n_tx", 1, 32), ("n_rb", 1, MAX_RB),
                             ("n_sinusoids", 1, 1024)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"ChannelConfig.{name} must be an int in [{lo}, {hi}], got {v!r}")
        if float(self.scs_hz) not in SCS_ALLOWED_HZ:
            raise ValueError(f"ChannelConfig.scs_hz must be one of {SCS_ALLOWED_HZ}, got {self.scs_hz!r}")
        if self.correlation not in CORRELATION_LEVELS:
            raise ValueError(f"ChannelConfig.correlation must be one of {tuple(CORRELATION_LEVELS)},"
                             f" got {self.correlation!r}")
        if self.awgn_matrix not in AWGN_MATRICES:
            raise ValueError(f"ChannelConfig.awgn_matrix must be one of {AWGN_MATRICES}, got {self.awgn_matrix!r}")

    @property
    def n_taps(self) -> int:
        """L (1 for AWGN)."""
        return 1 if self.model == "AWGN" else len(normalized_profile(self.model)[0])

    def rb_frequencies_hz(self) -> np.ndarray:
        """RB centre frequencies [R] relative to the allocation centre [Hz]."""
        return (np.arange(self.n_rb) - (self.n_rb - 1) / 2.0) * 12.0 * self.scs_hz

    def correlation_sqrt(self) -> tuple[np.ndarray, np.ndarray]:
        """(R_UE^{1/2} [Nr, Nr], R_gNB^{1/2} [Nt, Nt]), float64."""
        alpha, beta = CORRELATION_LEVELS[self.correlation]
        return (_psd_sqrt(correlation_matrix(self.n_rx, beta)),
                _psd_sqrt(correlation_matrix(self.n_tx, alpha)))


@flax.struct.dataclass
class ChannelParams:
    """Traced channel parameters (a sweep may vmap over them).

    Attributes:
      delay_spread_s: RMS delay spread DS [s], scalar float32 (30e-9 for TDL-A30).
      doppler_hz: maximum Doppler f_D [Hz], scalar float32.
    """

    delay_spread_s: float = 30e-9  # [] seconds
    doppler_hz: float = 10.0  # [] Hz


@flax.struct.dataclass
class ChannelState:
    """One UE's random channel, drawn once by ``init_channel`` and never redrawn.

    Attributes:
      amplitudes: complex64 [L, Nr, Nt, K], correlated sinusoid amplitudes
        R_UE^{1/2} a_{l,:,:,k} (R_gNB^{1/2})^T with a ~ CN(0, 1) iid.
      cos_aoa: float32 [L, K], cos(alpha_{l,k}) of the stratified arrival angles.
    """

    amplitudes: jax.Array  # [L, Nr, Nt, K] complex64
    cos_aoa: jax.Array  # [L, K] float32


def check_channel_params(cfg: ChannelConfig, delay_spread_s: float, doppler_hz: float) -> None:
    """Raises ValueError (one line) unless 0 <= DS <= max_delay_spread_s and 0 <= f_D <= max_doppler_hz."""
    ds, fd = float(delay_spread_s), float(doppler_hz)
    ds_max, fd_max = max_delay_spread_s(cfg.scs_hz), max_doppler_hz(cfg.scs_hz)
    if not (math.isfinite(ds) and 0.0 <= ds <= ds_max):
        raise ValueError(f"delay_spread_s must be in [0, {ds_max:.4g}] s (coherence bandwidth >= 1 RB),"
                         f" got {delay_spread_s!r}")
    if not (math.isfinite(fd) and 0.0 <= fd <= fd_max):
        raise ValueError(f"doppler_hz must be in [0, {fd_max:.4g}] Hz (f_D * slot <= 0.1 for"
                         f" block fading per slot), got {doppler_hz!r}")


def make_channel_params(cfg: ChannelConfig, delay_spread_s: float = 30e-9,
                        doppler_hz: float = 10.0) -> ChannelParams:
    """Validated ``ChannelParams`` from concrete Python numbers (ValueError when out of range)."""
    check_channel_params(cfg, delay_spread_s, doppler_hz)
    return ChannelParams(delay_spread_s=jnp.float32(delay_spread_s), doppler_hz=jnp.float32(doppler_hz))


def validate_channel_config(model="C", delay_spread_s=30e-9, doppler_hz=10.0, n_rb=106,
                            scs_hz=30e3, correlation="low", n_rx=2, n_tx=4,
                            names: dict[str, str] | None = None):
    """Checks user-facing channel settings; returns ``(key, problem)`` or None.

    For an experiment's ``check(point)``: the key is the argument name, or ``names[arg]``
    when given (e.g. ``names={"delay_spread_s": "delay_spread_ns"}``), and the problem is
    one line saying what is allowed. Never raises for bad values.
    """
    names = names or {}
    fields = dict(model=model, n_rx=n_rx, n_tx=n_tx, n_rb=n_rb, scs_hz=scs_hz, correlation=correlation)
    try:
        cfg = ChannelConfig(**fields)
    except (ValueError, TypeError) as err:
        msg = str(err)
        bad = next((f for f in fields if f"ChannelConfig.{f}" in msg), "model")
        return names.get(bad, bad), msg.replace(f"ChannelConfig.{bad} ", "")
    try:
        check_channel_params(cfg, delay_spread_s, doppler_hz)
    except (ValueError, TypeError) as err:
        bad = "delay_spread_s" if str(err).startswith("delay_spread_s") else "doppler_hz"
        return names.get(bad, bad), str(err).replace(f"{bad} ", "", 1)
    return None


def init_channel(key: jax.Array, cfg: ChannelConfig) -> ChannelState:
    """Draws one UE's channel (amplitudes and arrival angles). The key is consumed.

    Args:
      key: typed PRNG key (e.g. ``fold_in(key, ue)``).
      cfg: static configuration.

    Returns:
      ChannelState with amplitudes [L, Nr, Nt, K] and cos_aoa [L, K]
      (L = K = 1 placeholders for AWGN).
    """
    n_taps = cfg.n_taps
    k = 1 if cfg.model == "AWGN" else cfg.n_sinusoids
    k_amp, k_ang = jax.random.split(key)
    re_im = jax.random.normal(k_amp, (2, n_taps, cfg.n_rx, cfg.n_tx, k), jnp.float32)
    a = jax.lax.complex(re_im[0], re_im[1]) * jnp.float32(math.sqrt(0.5))
    r_ue, r_gnb = cfg.correlation_sqrt()
    # H_l = R_UE^{1/2} G_l (R_gNB^{1/2})^T, applied to every sinusoid's amplitude.
    a = jnp.einsum("ij,ljmk,nm->link", jnp.asarray(r_ue, jnp.complex64), a,
                   jnp.asarray(r_gnb, jnp.complex64))
    theta = jax.random.uniform(k_ang, (n_taps, 1), jnp.float32, 0.0, 2.0 * math.pi)
    alpha = (2.0 * math.pi * jnp.arange(k, dtype=jnp.float32)[None, :] + theta) / k
    return ChannelState(amplitudes=a.astype(jnp.complex64), cos_aoa=jnp.cos(alpha))


def channel_taps(state: ChannelState, t_s, cfg: ChannelConfig, params: ChannelParams) -> jax.Array:
    """Power-weighted time-domain taps sqrt(P_l) H_l(t): complex64 [L, Nr, Nt] at time t_s [s].

    E|tap_{l,r,t}|^2 = P_l. For AWGN: [1, Nr, Nt], ``awgn_matrix(cfg)``.
    """
    if cfg.model == "AWGN":
        return jnp.asarray(awgn_matrix(cfg))[None]
    _, powers = normalized_profile(cfg.model)
    k = state.cos_aoa.shape[-1]
    phase = (2.0 * math.pi) * jnp.asarray(params.doppler_hz, jnp.float32) * state.cos_aoa \
        * jnp.asarray(t_s, jnp.float32)
    rot = jax.lax.complex(jnp.cos(phase), jnp.sin(phase))  # [L, K]
    scale = jnp.asarray(np.sqrt(powers / k), jnp.float32)  # sqrt(P_l / K) [L]
    taps = jnp.einsum("lrtk,lk->lrt", state.amplitudes, rot)
    return taps * scale[:, None, None].astype(jnp.complex64)


def resample_given(key: jax.Array, state: ChannelState, times_s: jax.Array, cfg: ChannelConfig,
                   params: ChannelParams, rtol: float = 1e-5) -> ChannelState:
    """A draw of the channel from its conditional distribution given its taps at ``times_s``.

    Tap l at time t is sqrt(P_l / K) sum_k a_{l,k} exp(j w_{l,k} t), w_{l,k} = 2 pi f_D
    cos(alpha_{l,k}): linear in the amplitudes along k, with the same row vector
    phi_l(t)[k] = exp(j w_{l,k} t) for every antenna pair, while the Kronecker correlation
    mixes the antenna pairs with the same matrices for every k. Given the arrival angles
    and the taps at the m times (Phi_l a = y, Phi_l [m, K]), the amplitudes, whose whitened
    prior is iid CN(0, 1) along k, are conditionally a + N_l (b - a), with b an independent
    draw of the same law (``init_channel(key)``'s amplitudes; its angles are not used) and
    N_l = I - V V^H the projector onto the null space of Phi_l (V: right singular vectors of
    Phi_l). N_l acts along k and the correlation along the antennas, so they commute and
    the correlation is kept. The taps at ``times_s`` are unchanged (to float32 round-off:
    singular values below ``rtol`` times the largest count as zero, so nearly repeated
    times do not amplify round-off); elsewhere the channel is a fresh draw consistent with
    them, as far from them as the K - m remaining degrees of freedom per tap allow.

    Args:
      key: typed key (consumed: the independent draw b).
      state: the UE's ChannelState.
      times_s: float32 [m] absolute times [s] whose taps are kept (m < K leaves freedom).
      cfg, params: the channel's configuration and its traced Doppler.
      rtol: relative singular-value cut-off.
    Returns:
      ChannelState with the same angles and the redrawn amplitudes [L, Nr, Nt, K].
      AWGN (no fading): ``state`` unchanged.
    """
    if cfg.model == "AWGN":
        return state
    b = init_channel(key, cfg).amplitudes  # [L, Nr, Nt, K], the prior's law (correlation included)
    w = (2.0 * math.pi) * jnp.asarray(params.doppler_hz, jnp.float32) * state.cos_aoa  # [L, K]
    ph = w[:, None, :] * jnp.asarray(times_s, jnp.float32)[None, :, None]  # [L, m, K]
    phi = jax.lax.complex(jnp.cos(ph), jnp.sin(ph))
    _, sv, vh = jnp.linalg.svd(phi, full_matrices=False)  # sv [L, r], vh [L, r, K], r = min(m, K)
    vh = vh * (sv > rtol * sv[:, :1])[..., None].astype(vh.dtype)  # drop numerically null directions
    p_row = jnp.einsum("lik,lij->lkj", jnp.conj(vh), vh)  # V V^H [L, K, K]: projector onto the row space
    d = b - state.amplitudes
    amp = state.amplitudes + d - jnp.einsum("lkj,lrtj->lrtk", p_row, d)
    return state.replace(amplitudes=amp.astype(jnp.complex64))


def steering_phasors(cfg: ChannelConfig, params: ChannelParams) -> tuple[jax.Array, jax.Array]:
    """Real and imaginary parts of the tap steering phasors exp(-j 2 pi f_r tau_l), float32 [R, L].

    tau_l = tau_l,norm * DS (TR 38.901 7.7.3 delay scaling), f_r the RB centre frequencies
    relative to the allocation centre (``ChannelConfig.rb_frequencies_hz``). The one place
    the frequency-domain phase is written: ``channel_freq_response`` and
    ``precoded_channel`` both use it, so they see the same channel. TDL models only.
    """
    delays_norm, _ = normalized_profile(cfg.model)
    # Phase of tap l at RB r in cycles: f_r * tau_l,norm * DS (f_r tau_norm is a float64 constant).
    cycles = jnp.asarray(np.outer(cfg.rb_frequencies_hz(), delays_norm), jnp.float32) \
        * jnp.asarray(params.delay_spread_s, jnp.float32)
    ang = (-2.0 * math.pi) * cycles
    return jnp.cos(ang), jnp.sin(ang)


def channel_freq_response(state: ChannelState, t_s, cfg: ChannelConfig,
                          params: ChannelParams) -> jax.Array:
    """MIMO frequency response at every RB centre, at absolute time t_s.

    Args:
      state: one UE's ChannelState.
      t_s: scalar time [s] (float32; continuous, not a slot index).
      cfg: static configuration.
      params: traced delay spread [s] and maximum Doppler [Hz].

    Returns:
      complex64 [R, Nr, Nt]: H_r = sum_l sqrt(P_l) H_l(t) exp(-j 2 pi f_r tau_l)
      (TR 38.901 7.7.2), E|H_{r,i,j}|^2 = 1. AWGN: ``awgn_matrix(cfg)`` on every RB.
    """
    if cfg.model == "AWGN":
        return jnp.broadcast_to(jnp.asarray(awgn_matrix(cfg)), (cfg.n_rb, cfg.n_rx, cfg.n_tx))
    taps = channel_taps(state, t_s, cfg, params)  # [L, Nr, Nt]
    cos, sin = steering_phasors(cfg, params)
    steer = jax.lax.complex(cos, sin)  # [R, L]
    return jnp.einsum("fl,lrt->frt", steer, taps)


def precoded_channel(state: ChannelState, t_s, precoder, cfg: ChannelConfig,
                     params: ChannelParams) -> tuple[jax.Array, jax.Array]:
    """Effective channel G_r = H_r(t_s) W at every RB, as (real, imaginary) float32 [R, Nr, r].

    The same quantity as ``channel_freq_response(...) @ precoder`` with the sums in another
    order (exact algebra; float32 rounding differs): the precoder is applied to the L
    time-domain taps first, G_r = sum_l steer_{r,l} (sqrt(P_l) H_l(t) W), so the frequency
    stage (the bulk of the flops) maps r precoded columns instead of Nt ports, as one real
    GEMM [2R, L] x [L, Nr 2r] (the complex product split into real and imaginary parts;
    XLA on CPU runs a real GEMM several times faster than a complex einsum of this shape).

    Args:
      state: one UE's ChannelState.
      t_s: scalar time [s].
      precoder: complex64 [Nt, r] W (zero columns allowed).
      cfg: static configuration.
      params: traced delay spread [s] and maximum Doppler [Hz].

    Returns:
      (Re G, Im G), each float32 [R, Nr, r]. AWGN: ``awgn_matrix(cfg)`` W on every RB.
    """
    if cfg.model == "AWGN":
        g = jnp.broadcast_to(jnp.asarray(awgn_matrix(cfg)) @ precoder,
                             (cfg.n_rb, cfg.n_rx, precoder.shape[-1]))
        return jnp.real(g), jnp.imag(g)
    taps = channel_taps(state, t_s, cfg, params)  # [L, Nr, Nt]
    tw = jnp.sum(taps[:, :, :, None] * precoder[None, None, :, :], axis=2)  # [L, Nr, r]
    cos, sin = steering_phasors(cfg, params)
    steer = jnp.concatenate([cos, sin], 0)  # [2R, L]: Re, Im of the phasors
    x = jnp.concatenate([jnp.real(tw), jnp.imag(tw)], -1)  # [L, Nr, 2r]
    y = jnp.einsum("ql,lrx->qrx", steer, x)  # [2R, Nr, 2r]
    n_rb, r = cfg.n_rb, precoder.shape[-1]
    return y[:n_rb, :, :r] - y[n_rb:, :, r:], y[:n_rb, :, r:] + y[n_rb:, :, :r]

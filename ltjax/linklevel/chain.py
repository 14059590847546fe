"""Link-level chain for one transport block over a given per-RE channel.

Transmitter: random TB bits -> DL-SCH coding (``ltjax.fec.dlsch``: CRC, segmentation, LDPC,
rate matching) -> QAM mapping (TS 38.211 5.1) -> layer mapping (7.3.1.3) -> precoding W.
Channel: y_n = H_n W_n x_n + noise, noise ~ CN(0, noise_var I) per RE n.
Receiver: LMMSE per RE with the (optionally erroneous) channel, unbiased symbols and
post-equalisation SINR -> exact or max-log demapping with noise variance 1 / SINR ->
de-rate-matching -> LDPC decoding -> CB / TB CRC. The block is in error when any decoded
TB bit differs from the sent one (the CRC result is reported beside it).

``simulate_tb`` takes the channel as input: H [Nre, Nr, Nt] per RE, or [Nr, Nt] flat,
e.g. ``ltjax.channels.channel_freq_response`` [R, Nr, Nt] repeated over the REs of each RB.
``simulate_tb_awgn`` is the SISO flat AWGN special case (H = W = 1), written without the
equaliser. DMRS-based channel estimation is not simulated: the receiver gets the true
channel plus i.i.d. CN(0, err_var) errors (``ltjax.linklevel.mimo``).

``simulate_tbs*`` take B keys and run the transmitter and channel vmapped per TB and the
decoder once for all B C code blocks (``tb_decode_batch``, the batch on the kernel's minor
axis: about 3x faster on CPU than vmapping a per-TB decoder). ``simulate_tb*`` are the
same for one key; they are pure and may be vmapped too. Keys are consumed.

Letters: A TB bits, G coded bits, Qm bits per symbol, v layers, Nre = G / (Qm v) resource
elements, Nr receive antennas, Nt transmit ports.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ltjax.fec.dlsch import DecoderConfig, TbCodingConfig, tb_decode_batch, tb_encode
from ltjax.linklevel.mimo import effective_channel, layer_map, lmmse_equalize
from ltjax.linklevel.modulation import demap, modulate
from ltjax.numerics import db_to_lin
from ltjax.phy.tables import MCS_QM, MCS_RATE_X1024, N_MCS
from ltjax.phy.tbs import n_re_per_prb, tbs


@dataclasses.dataclass(frozen=True)
class LinkConfig:
    """Static link-level configuration (hashable: a jit static argument).

    Attributes:
      coding: the coded transport block (sizes, Qm, layers, rv).
      decoder: decoder schedule, iterations and stopping.
      max_log: max-log demapping instead of exact log-sum-exp.
    """

    coding: TbCodingConfig
    decoder: DecoderConfig = DecoderConfig()
    max_log: bool = False

    @property
    def n_re(self) -> int:
        """Resource elements carrying the TB: G / (Qm v)."""
        c = self.coding
        return c.g_bits // (c.qm * c.n_layers)


class TbResult(NamedTuple):
    """Outcome of one simulated transport block.

    Attributes:
      error: bool [] some decoded TB bit differs from the sent one.
      crc_ok: bool [] TB CRC (and every CB CRC) passed.
      bit_errors: int32 [] wrong TB bits.
      n_iter: float32 [] mean decoder iterations over the code blocks.
      sinr_db: float32 [] mean post-equalisation SINR over REs and layers [dB].
    """

    error: jax.Array
    crc_ok: jax.Array
    bit_errors: jax.Array
    n_iter: jax.Array
    sinr_db: jax.Array


def transmit(key, cfg: LinkConfig):
    """Random TB bits a [A] (int8) and their coded bits f [G] (int8). The key is consumed."""
    a = jax.random.bernoulli(key, 0.5, (cfg.coding.tbs,)).astype(jnp.int8)
    return a, tb_encode(cfg.coding, a)


def awgn_llr(key, cfg: LinkConfig, f, snr_db):
    """LLRs [G] of coded bits f [G] sent as QAM over SISO flat AWGN at Es/N0 = snr_db [dB]."""
    d = modulate(f, cfg.coding.qm)
    nv = 1.0 / db_to_lin(jnp.asarray(snr_db, jnp.float32))
    n = jax.random.normal(key, d.shape, jnp.complex64) * jnp.sqrt(nv)
    return demap(d + n, nv, cfg.coding.qm, cfg.max_log)


def channel_llr(key, cfg: LinkConfig, f, h, w, noise_var, err_var=0.0):
    """LLRs [G] of coded bits f [G] over a per-RE MIMO channel with LMMSE reception.

    Args: as ``simulate_tb``. Returns (llr float32 [G], mean post-equalisation SINR [dB]).
    """
    c = cfg.coding
    n_re = cfg.n_re
    h = jnp.asarray(h, jnp.complex64)
    w = jnp.asarray(w, jnp.complex64)
    if h.ndim == 2:
        h = jnp.broadcast_to(h, (n_re, *h.shape))
    if h.shape[0] != n_re:
        raise ValueError(f"channel has {h.shape[0]} REs, the TB needs {n_re}")
    if w.shape[-1] != c.n_layers:
        raise ValueError(f"precoder has {w.shape[-1]} layers, the config has {c.n_layers}")
    k_noise, k_est = jax.random.split(key)
    x = layer_map(modulate(f, c.qm), c.n_layers)  # [Nre, v]
    g = effective_channel(h, w)  # [Nre, Nr, v]
    nv = jnp.asarray(noise_var, jnp.float32)
    n = jax.random.normal(k_noise, (n_re, h.shape[1]), jnp.complex64) * jnp.sqrt(nv)
    y = jnp.einsum("nrv,nv->nr", g, x) + n
    ev = jnp.asarray(err_var, jnp.float32)
    e = jax.random.normal(k_est, h.shape, jnp.complex64) * jnp.sqrt(ev)
    g_hat = effective_channel(h + e, w)
    w_pow = jnp.sum(jnp.abs(w) ** 2, axis=(-2, -1))  # ||W||_F^2 ([] or [Nre])
    x_hat, sinr = lmmse_equalize(y, g_hat, nv + ev * w_pow)
    llr = demap(x_hat.reshape(-1), 1.0 / jnp.maximum(sinr.reshape(-1), 1e-12), c.qm, cfg.max_log)
    return llr, 10.0 * jnp.log10(jnp.maximum(jnp.mean(sinr), 1e-30))


def _result(a, dec, sinr_db) -> TbResult:
    nerr = jnp.sum(dec.bits != a, axis=-1).astype(jnp.int32)
    return TbResult(error=nerr > 0, crc_ok=dec.tb_crc_ok, bit_errors=nerr,
                    n_iter=jnp.mean(dec.n_iter.astype(jnp.float32), axis=-1),
                    sinr_db=jnp.asarray(sinr_db, jnp.float32))


def simulate_tb_awgn(key, cfg: LinkConfig, snr_db, alpha=0.75, beta=0.0) -> TbResult:
    """One TB over SISO flat AWGN at Es/N0 = ``snr_db`` (unit-energy symbols).

    Args:
      key: typed PRNG key (consumed).
      cfg: static link configuration (``cfg.coding.n_layers`` must be 1).
      snr_db: SNR per symbol [dB] (may be traced).
      alpha, beta: min-sum normalisation / offset (may be traced).

    Returns:
      TbResult (scalars); ``simulate_tbs_awgn`` with one key.
    """
    res = simulate_tbs_awgn(key[None], cfg, snr_db, alpha, beta)
    return jax.tree.map(lambda x: x[0], res)


def simulate_tbs_awgn(keys, cfg: LinkConfig, snr_db, alpha=0.75, beta=0.0) -> TbResult:
    """``simulate_tb_awgn`` for keys [B] (one TB per key), decoding all code blocks at once.

    Returns TbResult with fields [B]; equal to vmapping ``simulate_tb_awgn`` over the keys.
    """
    _check_siso(cfg)
    ks = jax.vmap(jax.random.split)(keys)  # [B, 2]
    a, f = jax.vmap(lambda k: transmit(k, cfg))(ks[:, 0])
    llr = jax.vmap(lambda k, x: awgn_llr(k, cfg, x, snr_db))(ks[:, 1], f)
    dec = tb_decode_batch(cfg.coding, llr, cfg.decoder, alpha, beta)
    return _result(a, dec, jnp.broadcast_to(jnp.asarray(snr_db, jnp.float32), (keys.shape[0],)))


def _check_siso(cfg: LinkConfig) -> None:
    if cfg.coding.n_layers != 1:
        raise ValueError("the AWGN path is single-layer; use simulate_tb for v > 1")


def simulate_tb(key, cfg: LinkConfig, h, w, noise_var, err_var=0.0, alpha=0.75,
                beta=0.0) -> TbResult:
    """One TB over a given per-RE MIMO channel with LMMSE reception.

    Args:
      key: typed PRNG key (consumed).
      cfg: static link configuration; v = cfg.coding.n_layers layers.
      h: complex [Nre, Nr, Nt] channel per RE, or [Nr, Nt] (flat).
      w: complex [Nt, v] precoder, or [Nre, Nt, v] per RE; ||W||_F = 1 keeps the transmit
        power at 1 per RE.
      noise_var: noise power per receive antenna and RE (1 / SNR for a unit-gain channel).
      err_var: variance of the i.i.d. channel-estimation error per entry of H (0: perfect).
      alpha, beta: min-sum normalisation / offset (may be traced).

    Returns:
      TbResult (scalars); ``simulate_tbs`` with one key.
    """
    res = simulate_tbs(key[None], cfg, h, w, noise_var, err_var, alpha, beta)
    return jax.tree.map(lambda x: x[0], res)


def simulate_tbs(keys, cfg: LinkConfig, h, w, noise_var, err_var=0.0, alpha=0.75, beta=0.0,
                 per_tb_channel: bool = False) -> TbResult:
    """``simulate_tb`` for keys [B], decoding all code blocks at once.

    With ``per_tb_channel`` h and w carry a leading B axis (one channel per TB, e.g. B
    fading realisations); otherwise every TB sees the same h and w. Fields [B].
    """
    ks = jax.vmap(jax.random.split)(keys)
    a, f = jax.vmap(lambda k: transmit(k, cfg))(ks[:, 0])
    ax = 0 if per_tb_channel else None
    llr, sinr_db = jax.vmap(lambda k, x, hh, ww: channel_llr(k, cfg, x, hh, ww, noise_var, err_var),
                            (0, 0, ax, ax))(ks[:, 1], f, h, w)
    return _result(a, tb_decode_batch(cfg.coding, llr, cfg.decoder, alpha, beta), sinr_db)


def mcs_link_config(mcs: int, n_prb: int, n_layers: int = 1, n_symb_sh: int = 13,
                    n_dmrs_symbols: int = 1, rv: int = 0,
                    decoder: DecoderConfig = DecoderConfig(), max_log: bool = False) -> LinkConfig:
    """LinkConfig of one PDSCH transport block at MCS ``mcs`` of MCS table 1.

    TBS by TS 38.214 5.1.3.2 (``ltjax.phy.tbs.tbs``) with N'_RE from ``n_re_per_prb``;
    G = min(156, N'_RE) n_prb Qm v coded bits.
    """
    if not 0 <= mcs < N_MCS:
        raise ValueError(f"MCS must be in 0..{N_MCS - 1} (MCS table 1), got {mcs!r}")
    qm, rate = int(MCS_QM[mcs]), int(MCS_RATE_X1024[mcs])
    nre = n_re_per_prb(n_symb_sh, n_dmrs_symbols)
    a = tbs(n_prb, nre, qm, rate, n_layers)
    g = min(156, nre) * n_prb * qm * n_layers
    coding = TbCodingConfig(tbs=a, g_bits=g, qm=qm, n_layers=n_layers, rate=rate / 1024.0, rv=rv)
    return LinkConfig(coding=coding, decoder=decoder, max_log=max_log)


def mcs_n_prb_for_tbs(mcs: int, target_tbs: int, n_layers: int = 1, n_symb_sh: int = 13,
                      n_dmrs_symbols: int = 1, n_prb_max: int = 275) -> int:
    """Smallest PRB count whose TBS at ``mcs`` is >= target_tbs (n_prb_max if none)."""
    qm, rate = int(MCS_QM[mcs]), int(MCS_RATE_X1024[mcs])
    nre = n_re_per_prb(n_symb_sh, n_dmrs_symbols)
    for n in range(1, n_prb_max + 1):
        if tbs(n, nre, qm, rate, n_layers) >= target_tbs:
            return n
    return n_prb_max


def code_block_link_config(k_prime: int, rate: float, qm: int = 2, bg: int | None = None,
                           decoder: DecoderConfig = DecoderConfig(),
                           max_log: bool = False) -> LinkConfig:
    """LinkConfig of a single code block of K' bits (TB + its CRC) at code rate ~``rate``.

    A = K' - 24 (CRC24A) for K' > 3848, else K' - 16 (CRC16), so C = 1 whenever
    K' <= 8448 (BG1) or 3840 (BG2); G = Qm ceil(K' / (rate Qm)).
    """
    a = k_prime - 24 if k_prime - 24 > 3824 else k_prime - 16
    g = qm * math.ceil(k_prime / (rate * qm))
    coding = TbCodingConfig(tbs=a, g_bits=g, qm=qm, rate=rate, bg=bg)
    seg = coding.segmentation
    if seg.n_cb != 1 or seg.k_prime != k_prime:
        raise ValueError(f"K' = {k_prime} is not a single code block of BG{coding.base_graph}"
                         f" (got C = {seg.n_cb}, K' = {seg.k_prime})")
    return LinkConfig(coding=coding, decoder=decoder, max_log=max_log)

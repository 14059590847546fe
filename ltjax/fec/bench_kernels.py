"""Throughput kernels for the LDPC decoders (decoded information bits per second).

``ldpc_decoder_throughput`` encodes B random code words, makes BPSK-over-AWGN LLRs (outside
the timed region), jits the batched decoder, times the first call (compile + run) apart
from the steady-state calls (``block_until_ready``, median of ``repeats`` >= 3), and
reports K B / t: information bits (K = Kb Z, including any filler) per second. With
``early_stop=False`` every word runs ``max_iter`` iterations (the worst case, independent
of the SNR); with ``early_stop=True`` the batch stops when its last word has converged.

Benchmarks may jit; the library modules do not. Nothing here is registered with the CLI.

Letters: B code words per call, K information bits per code word, Z lifting size.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp

from ltjax.fec.decoders import decode_flooding_batch, decode_layered_batch
from ltjax.fec.ldpc import LdpcCode, encode


def bpsk_awgn_llr(key, code: LdpcCode, batch: int, es_n0_db: float):
    """(payload int8 [B, K], LLRs float32 [B, N] = 2 y / sigma^2) of B random code words sent as
    BPSK (bit 0 -> +1) over AWGN at Es/N0 = ``es_n0_db`` [dB], all N bits; the key is consumed."""
    k_bits, k_noise = jax.random.split(key)
    c = jax.random.bernoulli(k_bits, 0.5, (batch, code.k)).astype(jnp.int8)
    d = jax.jit(jax.vmap(lambda x: encode(code, x)))(c)
    sigma2 = 0.5 * 10.0 ** (-es_n0_db / 10.0)
    y = 1.0 - 2.0 * d.astype(jnp.float32) + jnp.sqrt(sigma2) * jax.random.normal(k_noise, d.shape)
    return c, 2.0 * y / sigma2


def ldpc_decoder_throughput(bg: int = 1, z: int = 384, batch: int = 64, kind: str = "layered",
                            max_iter: int = 10, early_stop: bool = False, es_n0_db: float = 0.0,
                            repeats: int = 5, seed: int = 0) -> dict:
    """Times one batched decoder call.

    Args:
      bg, z: the code (base graph, lifting size).
      batch: code words per call B.
      kind: "layered" (normalised min-sum, alpha 0.75) or "flooding" (sum-product).
      max_iter: iterations per word (all of them when ``early_stop`` is False).
      early_stop: stop at a zero syndrome (then the time depends on ``es_n0_db``).
      es_n0_db: BPSK Es/N0 of the LLRs [dB], all N bits sent (rate 1/3 BG1, 1/5 BG2).
      repeats: timed calls after the compile call (>= 3); the median is reported.
      seed: PRNG seed of the payload and noise.

    Returns:
      dict with the configuration, ``compile_s`` (first call minus the median run),
      ``run_s`` (median), ``runs_s`` (all), ``mean_iter``, ``block_errors``,
      ``info_mbit_s`` = B K / run_s / 1e6 and ``device``.
    """
    if repeats < 3:
        raise ValueError(f"repeats must be >= 3 (median of at least three runs), got {repeats}")
    code = LdpcCode(bg, z)
    c, llr = bpsk_awgn_llr(jax.random.key(seed), code, batch, es_n0_db)
    if kind == "layered":
        fn = jax.jit(lambda l: decode_layered_batch(code, l, max_iter=max_iter, early_stop=early_stop))
    elif kind == "flooding":
        fn = jax.jit(lambda l: decode_flooding_batch(code, l, max_iter=max_iter, early_stop=early_stop))
    else:
        raise ValueError(f"kind must be 'layered' or 'flooding', got {kind!r}")
    t0 = time.perf_counter()
    res = jax.block_until_ready(fn(llr))
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = jax.block_until_ready(fn(llr))
        runs.append(time.perf_counter() - t0)
    run_s = statistics.median(runs)
    return {
        "bg": bg, "z": z, "k": code.k, "n": code.n, "batch": batch, "kind": kind,
        "max_iter": max_iter, "early_stop": early_stop, "es_n0_db": es_n0_db,
        "compile_s": max(first - run_s, 0.0), "run_s": run_s, "runs_s": runs,
        "mean_iter": float(jnp.mean(res.n_iter)),
        "block_errors": int(jnp.sum(jnp.any(res.bits != c, axis=1))),
        "info_mbit_s": batch * code.k / run_s / 1e6,
        "device": jax.devices()[0].device_kind,
    }


def ldpc_benchmark(repeats: int = 5, batch: int = 64, max_iter: int = 10) -> list[dict]:
    """Layered min-sum throughput of a BG1 (Z = 384, K = 8448) and a BG2 (Z = 384, K = 3840)
    code, ``max_iter`` iterations per word without early stop."""
    return [ldpc_decoder_throughput(bg=bg, z=384, batch=batch, max_iter=max_iter, repeats=repeats)
            for bg in (1, 2)]

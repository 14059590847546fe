"""``ltjax bench ldpc``: decoded information Mbit/s of the NR LDPC decoders, ltjax against Sionna.

Job: B code words of one NR LDPC code (TS 38.212 5.3.2), every one of its N = 66 Z (BG1) or
50 Z (BG2) sent bits received as BPSK over AWGN at Es/N0 = 0 dB, decoded with a fixed
number of iterations and no early stop (Sionna's decoder has none), hard decisions out.
Codes: BG1, Z = 384 (K = 8448, N = 25344, rate 1/3) and BG2, Z = 384 (K = 3840, N = 19200,
rate 1/5), the largest code block of each base graph. Rate: B K / t, information bits per
second (the figure a link-level simulation is limited by).

ltjax: ``ltjax.fec.decode_layered_batch`` (normalised min-sum, alpha 0.75, one layer per
base-graph row) and ``decode_flooding_batch`` (sum-product), each jitted once here.
Peer: NVIDIA Sionna's ``LDPC5GDecoder`` (``sionna-no-rt`` 2.2, PyTorch CPU with 2 threads)
with its recommended flooding schedule, min-sum and its default boxplus-phi (sum-product)
check-node update, fed the LLRs of its own encoder's code words (same code, same SNR).
The implementations run alternating, median and spread of >= 3 calls each
(:func:`ltjax.bench.peers.timing.compare`); every one's block errors are reported so a fast
but wrong decoder shows. The same code runs on a GPU (JAX's default device; Sionna on
``cuda`` when PyTorch sees one).

Letters: B code words per call, K information bits, N sent bits, Z lifting size.
"""

from __future__ import annotations

import os

from ltjax.bench import register_bench

SEED = 0
ES_N0_DB = 0.0
CODES = ((1, 384), (2, 384))  # (base graph, Z)
# Sionna decodes B = 16 BG1 words in tens of seconds on 2 busy cores: the full size keeps the whole
# benchmark within ~15 min there.
SIZES = {"full": {"batch": 16, "max_iter": 10, "repeats": 3}, "quick": {"batch": 4, "max_iter": 5, "repeats": 3}}
TORCH_THREADS = 2


def _ltjax_callables(bg: int, z: int, batch: int, max_iter: int):
    """{name: zero-argument blocking call} of the ltjax decoders, and the errors of each result."""
    import jax
    import jax.numpy as jnp

    from ltjax.fec.bench_kernels import bpsk_awgn_llr
    from ltjax.fec.decoders import decode_flooding_batch, decode_layered_batch
    from ltjax.fec.ldpc import LdpcCode

    code = LdpcCode(bg, z)
    bits, llr = bpsk_awgn_llr(jax.random.key(SEED), code, batch, ES_N0_DB)
    decoders = {"ltjax layered min-sum": decode_layered_batch, "ltjax flooding sum-product": decode_flooding_batch}
    calls, errors = {}, {}
    for name, decoder in decoders.items():
        fn = jax.jit(lambda l, d=decoder: d(code, l, max_iter=max_iter, early_stop=False).bits)
        calls[name] = lambda fn=fn: jax.block_until_ready(fn(llr))
        errors[name] = lambda fn=fn: int(jnp.sum(jnp.any(fn(llr) != bits, axis=1)))
    return code, calls, errors


def _sionna_callables(k: int, n: int, batch: int, max_iter: int):
    """Sionna's LDPC5GDecoder on its own encoder's code words (flooding; min-sum and boxplus-phi)."""
    import torch
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device="cpu").manual_seed(SEED)
    enc = LDPC5GEncoder(k, n, device=device)
    u = torch.randint(0, 2, (batch, k), generator=gen, dtype=torch.int64).float().to(device)
    c = enc(u)
    sigma2 = 0.5 * 10.0 ** (-ES_N0_DB / 10.0)
    y = 1.0 - 2.0 * c + (sigma2 ** 0.5) * torch.randn(c.shape, generator=gen).to(device)
    logits = -2.0 * y / sigma2  # Sionna takes log p(1) / p(0)
    calls, errors = {}, {}
    for name, rule in (("Sionna flooding min-sum", "minsum"), ("Sionna flooding boxplus-phi", "boxplus-phi")):
        dec = LDPC5GDecoder(enc, cn_update=rule, cn_schedule="flooding", num_iter=max_iter, hard_out=True,
                            return_infobits=True, device=device)

        def call(dec=dec):
            with torch.no_grad():
                out = dec(logits)
            if device == "cuda":
                torch.cuda.synchronize()
            return out

        calls[name] = call
        errors[name] = lambda call=call: int(torch.any(call() != u, dim=1).sum())
    return calls, errors


@register_bench("ldpc", "NR LDPC decoding (BG1 K=8448, BG2 K=3840): decoded Mbit/s, ltjax vs Sionna LDPC5GDecoder")
def run(args):
    from ltjax.bench.common import check_out_dir
    from ltjax.bench.peers import has_module, set_torch_threads
    from ltjax.bench.peers.timing import compare, format_table
    from ltjax.io import atomic_write_json, environment

    quick = bool(getattr(args, "quick", False))
    size = SIZES["quick" if quick else "full"]
    batch, max_iter, repeats = size["batch"], size["max_iter"], size["repeats"]
    ok, status = has_module("sionna")
    if ok:
        ok, torch_status = has_module("torch")
        status = f"{status}, {torch_status}"
    load_start = list(os.getloadavg())
    cases = []
    for bg, z in CODES:
        code, calls, errors = _ltjax_callables(bg, z, batch, max_iter)
        if ok:
            set_torch_threads(TORCH_THREADS)
            s_calls, s_errors = _sionna_callables(code.k, code.n, batch, max_iter)
            calls, errors = {**calls, **s_calls}, {**errors, **s_errors}
        report = compare(calls, repeats=repeats, work=batch * code.k / 1e6)
        print(f"BG{bg} Z={z} (K={code.k}, N={code.n}), {batch} words, {max_iter} iterations: decoded Mbit/s")
        print(format_table(report, unit="Mbit/s"))
        cases.append({"bg": bg, "z": z, "k": code.k, "n": code.n, "batch": batch, "max_iter": max_iter,
                      "es_n0_db": ES_N0_DB, "unit": "decoded information Mbit/s", "timing": report,
                      "info_mbit_s": {name: r["rate_median"] for name, r in report["results"].items()},
                      "block_errors": {name: fn() for name, fn in errors.items()}})
    payload = {
        "benchmark": "ldpc", "quick": quick, "seed": SEED,
        "config": {"codes": [list(c) for c in CODES], **size, "es_n0_db": ES_N0_DB, "early_stop": False,
                   "torch_threads": TORCH_THREADS},
        "peer": {"name": "Sionna LDPC5GDecoder", "available": ok, "status": status,
                 "code_path": "sionna.phy.fec.ldpc.LDPC5GDecoder(LDPC5GEncoder(k, n), cn_update='minsum' | "
                              "'boxplus-phi', cn_schedule='flooding', num_iter, hard_out=True, return_infobits=True)"},
        "cases": cases,
        "load_average": {"start_1_5_15": load_start, "end_1_5_15": list(os.getloadavg())},
        "environment": environment(),
    }
    out = check_out_dir(getattr(args, "out_dir", None)) / "ldpc.json"
    atomic_write_json(out, payload)
    print(f"wrote {out}")
    return payload

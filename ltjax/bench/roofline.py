"""Roofline of a jitted kernel: XLA's own cost count against this machine's measured ceilings.

Four pieces:

* :func:`cost_of`: FLOPs, bytes accessed and transcendentals that XLA's HLO cost analysis
  assigns to the *compiled* executable (after fusion, so bytes are the traffic of the fused
  kernels, not of the unfused graph). Lowering and compile times are reported apart.
* :func:`measure_gemm_rate` and :func:`measure_bandwidth`: the two ceilings, measured under
  XLA on this machine: float32 GFLOP/s of a large square matmul, and GB/s of a streaming
  ``x * a + b`` over ~1 GB (bytes read plus bytes written), in place. Best of N after a warm-up call,
  ``block_until_ready`` on every call, compile time apart.
* :func:`roofline`: the fraction of each ceiling a kernel reached in a measured time, and
  which ceiling binds it.
* :func:`jaxpr_flops`: a FLOP count from the kernel's jaxpr that multiplies scan bodies by
  their length, for kernels whose work sits in a scan (XLA counts a loop body once).

Caveats of the cost count, worth knowing before trusting a fraction:

* Transcendentals (sin, cos, exp, log, ...) are counted apart and are *not* in ``flops``;
  on a CPU each costs tens of FLOP-equivalents, so a kernel dominated by them can be
  compute-bound at a low ``flop_fraction``.
* Complex arithmetic is counted per complex op: in jax 0.10 a complex [n, n] matmul is
  counted as 2 n^3 FLOPs, though it costs 8 n^3 real ones (``tests/bench`` checks this).
  Compare a complex kernel's count with a hand count before quoting a fraction;
  :func:`roofline` takes any FLOP count, so pass the hand count where it is the honest one.
* A ``while`` loop (``lax.scan``, ``fori_loop``) is counted once, not once per iteration
  (jax 0.10: a 10-step scan of a matmul reports one matmul's FLOPs).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

_KEYS = {"flops": "flops", "bytes accessed": "bytes_accessed", "transcendentals": "transcendentals"}


def _as_jitted(fn: Callable) -> Callable:
    return fn if hasattr(fn, "lower") else jax.jit(fn)


def cost_of(jitted_fn: Callable, *args, **kwargs) -> dict[str, float]:
    """XLA's cost analysis of ``jitted_fn(*args, **kwargs)`` compiled for the default device.

    Args:
      jitted_fn: a ``jax.jit``-wrapped function (a plain function is jitted here).
      *args, **kwargs: example arguments (arrays or ``jax.ShapeDtypeStruct``); only their
        shapes and dtypes matter.
    Returns:
      ``{"flops", "bytes_accessed", "transcendentals"}`` (floats, per call; 0.0 where XLA
      reports nothing), plus ``lower_s`` and ``compile_s`` [s]. In jax 0.10 the compiled
      executable returns one dict; older releases returned a list with one dict per HLO
      module, which are summed here.
    """
    fn = _as_jitted(jitted_fn)
    t0 = time.perf_counter()
    lowered = fn.lower(*args, **kwargs)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    analysis = compiled.cost_analysis()
    if analysis is None:
        analysis = []
    if isinstance(analysis, dict):
        analysis = [analysis]
    out = {v: 0.0 for v in _KEYS.values()}
    for part in analysis:
        for k, v in _KEYS.items():
            out[v] += float(part.get(k, 0.0) or 0.0)
    out.update(lower_s=t1 - t0, compile_s=t2 - t1)
    return out


def _best_of(fn: Callable, args: tuple, repeats: int) -> dict[str, Any]:
    """Compile + first call apart, then ``repeats`` blocked calls: best and all times [s]."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(int(repeats), 1)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    best = min(times)
    return {"best_s": best, "times_s": times, "compile_s": max(first - best, 0.0)}


def measure_gemm_rate(n: int = 2048, repeats: int = 5, dtype=jnp.float32) -> dict[str, Any]:
    """Float32 GEMM rate of this machine under XLA: C = A @ B with A, B [n, n].

    The work is counted as 2 n^3 FLOPs (one multiply and one add per term), the same
    convention as XLA's cost analysis (``xla_flops`` is reported beside it as a check).

    Returns:
      ``{"gflops": best rate [GFLOP/s], "gflops_median", "n", "flops_per_call", "xla_flops",
      "best_s", "times_s", "compile_s", "device"}``.
    """
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (n, n), dtype)
    b = jax.random.normal(kb, (n, n), dtype)
    mm = jax.jit(jnp.matmul)
    t = _best_of(mm, (a, b), repeats)
    flops = 2.0 * n ** 3
    times = sorted(t["times_s"])
    return {"gflops": flops / t["best_s"] / 1e9,
            "gflops_median": flops / times[len(times) // 2] / 1e9,
            "n": n, "flops_per_call": flops, "xla_flops": cost_of(mm, a, b)["flops"],
            **t, "device": str(jax.devices()[0])}


def measure_bandwidth(nbytes: float = 1e9, repeats: int = 5, dtype=jnp.float32,
                      fresh_output: bool = True) -> dict[str, Any]:
    """Streaming memory bandwidth under XLA: y = x * a + b over an array of ``nbytes``.

    ``a`` and ``b`` are traced scalars, so XLA can neither fold the op away nor skip it;
    every call reads x once and writes y once, so the traffic counted is 2 * nbytes
    (read + write). The array (~1 GB by default) is far larger than any cache.

    The ceiling (``gb_per_s``) is measured with x donated, so y is written in place into
    pages already mapped: the pure streaming rate. A kernel that returns a *new* large
    array each call also pays the operating system for first-touching fresh pages (the
    allocator hands big buffers back to the OS between calls); with ``fresh_output`` that
    rate is measured too (``gb_per_s_fresh_output``), without donation. On the reference
    machine the two differed by about 8x, so a kernel writing a large fresh output can sit
    far below the streaming ceiling for a reason no kernel change fixes.

    Returns:
      ``{"gb_per_s": best in-place rate [GB/s, 1e9 B/s], "gb_per_s_median", "bytes_per_call",
      "xla_bytes_accessed", "best_s", "times_s", "compile_s", "device"}`` and, with
      ``fresh_output``, ``gb_per_s_fresh_output`` and ``gb_per_s_fresh_output_median``.
    """
    itemsize = jnp.dtype(dtype).itemsize
    n = int(nbytes // itemsize)
    a = jnp.asarray(1.0, dtype)
    b = jnp.asarray(0.0, dtype)
    moved = 2.0 * n * itemsize
    out: dict[str, Any] = {"bytes_per_call": moved, "device": str(jax.devices()[0])}
    if fresh_output:
        x = jnp.ones((n,), dtype)
        axpb = jax.jit(lambda x, a, b: x * a + b)
        out["xla_bytes_accessed"] = cost_of(axpb, x, a, b)["bytes_accessed"]
        t = _best_of(axpb, (x, a, b), repeats)
        times = sorted(t["times_s"])
        out.update(gb_per_s_fresh_output=moved / t["best_s"] / 1e9,
                   gb_per_s_fresh_output_median=moved / times[len(times) // 2] / 1e9)
        del x
    inplace = jax.jit(lambda x, a, b: x * a + b, donate_argnums=(0,))
    if "xla_bytes_accessed" not in out:
        out["xla_bytes_accessed"] = cost_of(inplace, jax.ShapeDtypeStruct((n,), dtype), a, b)["bytes_accessed"]
    x = jnp.ones((n,), dtype)
    t0 = time.perf_counter()
    x = jax.block_until_ready(inplace(x, a, b))
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(int(repeats), 1)):
        t0 = time.perf_counter()
        x = jax.block_until_ready(inplace(x, a, b))  # the output is the next call's donated input
        times.append(time.perf_counter() - t0)
    del x
    best = min(times)
    out.update(gb_per_s=moved / best / 1e9, gb_per_s_median=moved / sorted(times)[len(times) // 2] / 1e9,
               best_s=best, times_s=times, compile_s=max(first - best, 0.0))
    return out


def roofline(cost: dict[str, float], seconds: float, gemm_rate: float, bandwidth: float) -> dict[str, Any]:
    """Where a kernel sits under this machine's roofline.

    Args:
      cost: :func:`cost_of`'s dict (``flops``, ``bytes_accessed`` per call).
      seconds: measured wall time of one call [s].
      gemm_rate: compute ceiling [GFLOP/s] (:func:`measure_gemm_rate` ``["gflops"]``).
      bandwidth: memory ceiling [GB/s] (:func:`measure_bandwidth` ``["gb_per_s"]``).
    Returns:
      ``flop_fraction``: achieved FLOP/s over the GEMM rate; ``byte_fraction``: achieved
      bytes/s over the bandwidth; ``bound``: ``"compute"`` when the FLOPs alone need more
      time at the GEMM rate than the bytes need at the bandwidth, else ``"memory"``;
      ``roofline_fraction``: the larger of the two fractions (1.0 = on the roofline);
      ``arithmetic_intensity`` [FLOP/B] and ``ridge_point`` [FLOP/B] (GEMM rate over bandwidth);
      ``achieved_gflops``, ``achieved_gb_per_s``; ``t_flops_s`` and ``t_bytes_s``, the
      times each ceiling alone allows [s].
    """
    if not seconds > 0:
        raise ValueError(f"roofline: seconds must be > 0, got {seconds!r}")
    flops, nbytes = float(cost["flops"]), float(cost["bytes_accessed"])
    t_flops = flops / (gemm_rate * 1e9)
    t_bytes = nbytes / (bandwidth * 1e9)
    flop_fraction = t_flops / seconds
    byte_fraction = t_bytes / seconds
    return {"flop_fraction": flop_fraction, "byte_fraction": byte_fraction,
            "bound": "compute" if t_flops >= t_bytes else "memory",
            "roofline_fraction": max(flop_fraction, byte_fraction),
            "arithmetic_intensity": flops / nbytes if nbytes else float("inf"),
            "ridge_point": gemm_rate / bandwidth,
            "achieved_gflops": flops / seconds / 1e9, "achieved_gb_per_s": nbytes / seconds / 1e9,
            "t_flops_s": t_flops, "t_bytes_s": t_bytes, "seconds": seconds}


# Primitives counted as transcendentals (one per output element), apart from FLOPs, as XLA does.
_TRANSCENDENTAL = frozenset({
    "exp", "exp2", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "logistic", "erf", "erfc",
    "erf_inv", "pow", "sqrt", "rsqrt", "cbrt", "atan2", "asin", "acos", "atan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "lgamma", "digamma"})
# Primitives counted as one FLOP per output element (per input element for reductions).
_ELEMENTWISE = frozenset({
    "add", "sub", "mul", "div", "rem", "max", "min", "neg", "abs", "sign", "square", "integer_pow",
    "select_n", "clamp", "floor", "ceil", "round", "nextafter", "conj", "real", "imag", "complex",
    "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "xor", "add_any"})
_REDUCTIONS = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin",
                         "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp", "reduce_and", "reduce_or"})


def _size(aval) -> float:
    n = 1.0
    for d in getattr(aval, "shape", ()):
        n *= d
    return n


def _sub_jaxprs(eqn):
    """The jaxprs an equation calls (pjit, custom_jvp/vjp, remat, shard_map, ...)."""
    for v in eqn.params.values():
        for j in (v if isinstance(v, (tuple, list)) else (v,)):
            inner = getattr(j, "jaxpr", j)
            if hasattr(inner, "eqns"):
                yield inner


def _count(jaxpr, mult: float, acc: dict) -> None:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "scan":
            _count(eqn.params["jaxpr"].jaxpr, mult * eqn.params["length"], acc)
        elif name == "while":
            acc["while_loops"] += 1  # trip count unknown at trace time: the body is counted once
            _count(eqn.params["body_jaxpr"].jaxpr, mult, acc)
            _count(eqn.params["cond_jaxpr"].jaxpr, mult, acc)
        elif name == "cond":
            branches = []
            for br in eqn.params["branches"]:
                sub = {"flops": 0.0, "transcendentals": 0.0, "while_loops": 0}
                _count(br.jaxpr, mult, sub)
                branches.append(sub)
            # One branch runs (a vmapped cond is traced as a select of all branches instead).
            worst = max(branches, key=lambda s: s["flops"] + s["transcendentals"])
            for k in ("flops", "transcendentals", "while_loops"):
                acc[k] += worst[k]
        elif name == "dot_general":
            lhs, rhs = (v.aval for v in eqn.invars)
            (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
            contract = 1.0
            for d in lc:
                contract *= lhs.shape[d]
            batch = 1.0
            for d in lb:
                batch *= lhs.shape[d]
            macs = _size(lhs) * _size(rhs) / (contract * batch)  # batch * M * N * K
            real = 4.0 if jnp.issubdtype(lhs.dtype, jnp.complexfloating) else 1.0
            acc["flops"] += mult * 2.0 * real * macs
        elif name in _TRANSCENDENTAL:
            acc["transcendentals"] += mult * sum(_size(v.aval) for v in eqn.outvars)
        elif name in _ELEMENTWISE:
            acc["flops"] += mult * sum(_size(v.aval) for v in eqn.outvars)
        elif name in _REDUCTIONS:
            acc["flops"] += mult * _size(eqn.invars[0].aval)
        else:
            for inner in _sub_jaxprs(eqn):
                _count(inner, mult, acc)


def jaxpr_flops(fn: Callable, *args, **kwargs) -> dict[str, float]:
    """FLOPs and transcendentals of ``fn(*args)`` counted from its jaxpr, loops included.

    XLA's cost analysis counts a ``lax.scan`` body once (see the module docstring); this count
    multiplies every scan body by its length, so it is the one to hold against the GEMM rate
    for a kernel built around a scan (the link period's slots, a training loop). Rules: a
    ``dot_general`` is 2 M N K real FLOPs (x4 for complex operands); element-wise arithmetic
    and comparisons one FLOP per output element; reductions one per input element; a ``cond``
    its costliest branch (a vmapped ``cond`` is traced as a select of all its branches, which are
    then all counted); a ``while`` loop's body once (``while_loops`` says how many there were).
    Data movement (gather, scatter, broadcast, reshape, convert) counts no FLOPs.

    Returns ``{"flops", "transcendentals", "while_loops"}`` per call, before any XLA fusion or
    simplification (an upper bound on the arithmetic XLA keeps).
    """
    closed = jax.make_jaxpr(fn)(*args, **kwargs)
    acc = {"flops": 0.0, "transcendentals": 0.0, "while_loops": 0}
    _count(closed.jaxpr, 1.0, acc)
    return acc

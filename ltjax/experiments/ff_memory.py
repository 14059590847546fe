"""``ff_memory``: Remark 3 of the LightTune paper, measured: the memory of one LightTune update
against one backpropagation update of the same network.

Remark 3 (Sec. III-D): backpropagation "requires storing all activations during the backward
pass, hence the required RAM scales with ... sum_l M_l for MLP", while LightTune "trains
each layer locally ... the peak memory footprint scales only with the size of the largest
layer (max_l M_l)".

Two updates of one UE's FF model (``sizes`` = [D, M_1, ..., M_L], the BLER model's
``default_spec()``: mean goodness, length normalisation, quadratic loss eq. 6, T = 9) on one
positive and one negative input [1, D] each (|S+| = |S-| = 1, Alg. 1), both ending in the
same per-layer optimiser step (``ltjax.lighttune.apply_grads``, ``variant``):

- ``ff``: LightTune's update, ``ltjax.lighttune.ff_update``: the closed-form local gradients
  of eq. 7 (``ltjax.ff.local_grads``), layer by layer, no autodiff;
- ``bp``: ``jax.grad`` of the same loss summed over the layers, sum_l L_l, through all
  layers (``ltjax.ff.backprop_grads``).

Each is compiled for ``n_ue`` UEs (1: the per-UE kernel itself; more: ``jax.vmap`` over UEs,
each with its own model and optimiser state), with the states donated or not (``donate``;
the scan over CSI-RS periods updates them in place), and XLA's buffer assignment is read
from ``jax.jit(f).lower(...).compile().memory_analysis()``: ``temp`` (the temporary
allocation, sized by XLA to the largest set of simultaneously live temporaries), ``argument``,
``output`` and ``alias`` (output bytes written into donated arguments). Their total,
``peak = argument + output - alias + temp``, is what the executable allocates. Nothing is run:
only shapes are lowered, so 10,000 UEs cost a compilation, not their memory.

Counted analytically (per sample, float32 words; a step has 2 samples, x+ and x-):

- the paper's count: ``act_sum`` = sum_{l>=1} M_l (backpropagation), ``act_max`` =
  max_l M_l (LightTune), ratio ``act_ratio``;
- the live set: backpropagation keeps the input and every layer's output for the backward
  pass, ``live_bp`` = M_0 + sum_l M_l; a local update needs one layer's input and output at a
  time, ``live_ff`` = max_l (M_{l-1} + M_l) (its gradient is an outer product of the two).
  For [13, 32, 32] that is 77 against 64 words, ratio 1.2, not the 2 of the paper's count:
  with two layers of equal width, the second layer's input is as large as its output.

``act_bytes_<m>`` / ``paper_bytes_<m>`` are the live and the paper's counts in bytes for the
step (2 samples x 4 B x count x n_ue); ``state_bytes`` the UEs' models and optimiser states.

What XLA does (sweeps/ff_memory.toml; numbers in docs/lighttune.md, "Remark 3, measured"):
with the states not donated, the local update's temporaries do not grow with depth (708 B per
UE for 2, 4 and 8 layers of 32; about 550 B per UE vmapped over 10,000 UEs, near the live-set
count of 512 B), backpropagation's grow by about 510-610 B per UE and 32-wide layer (about
twice the paper's 256 B per layer, 2 samples x 32 words x 4 B), so the vmapped ratio bp / ff,
2.2 / 4.1 / 8.2 for 2 / 4 / 8 layers, follows Remark 3's sum / max (2 / 4 / 8). With donated
states backpropagation needs 4.5-6.0 KB more per UE (one-step Adam), about one 32 x 32
weight matrix (4 KB): it reads W_{l+1} to carry the error down to layer l, so a weight it
updates in place must be kept as a copy; the local update never reads a weight after updating
it (0.26-0.65 KB more).
The totals are dominated by the states (model and Adam moments, the same for both), so the
peak ratios are 1.0-1.06 (not donated) and 1.1-1.7 (donated), not 2.

Metrics: per method m in (ff, bp): ``temp_bytes_<m>``, ``argument_bytes_<m>``,
``output_bytes_<m>``, ``alias_bytes_<m>``, ``peak_bytes_<m>``, ``temp_per_ue_<m>``,
``peak_per_ue_<m>`` (bytes / n_ue); ``temp_ratio`` and ``peak_ratio`` (bp / ff; ``temp_ratio`` is
inf where the local update needs no temporary at all); the analytic
counts above. The point key is not used (nothing is drawn).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ltjax import ff
from ltjax import lighttune as lt
from ltjax.errors import InputError
from ltjax.lighttune.model import default_spec
from ltjax.params import field
from ltjax.plotting.ff_memory import plot_ff_memory
from ltjax.sweep.registry import register_experiment

METHODS = ("ff", "bp")
SAMPLES = 2  # one positive and one negative input per update (|S+| = |S-| = 1)
WORD_BYTES = 4  # float32


def activation_counts(sizes) -> dict[str, float]:
    """Analytic per-sample activation counts (float32 words) of an MLP ``sizes`` = [M_0, M_1, ..., M_L].

    Returns ``act_sum`` (sum_{l>=1} M_l) and ``act_max`` (max_{l>=1} M_l), Remark 3's counts
    for backpropagation and LightTune, ``live_bp`` (M_0 + sum_l M_l: what the backward pass
    keeps) and ``live_ff`` (max_l (M_{l-1} + M_l): one layer's input and output), and the
    ratios ``act_ratio`` and ``live_ratio``.
    """
    m = [int(s) for s in sizes]
    out = {"act_sum": float(sum(m[1:])), "act_max": float(max(m[1:])), "live_bp": float(sum(m)),
           "live_ff": float(max(a + b for a, b in zip(m[:-1], m[1:])))}
    out["act_ratio"] = out["act_sum"] / out["act_max"]
    out["live_ratio"] = out["live_bp"] / out["live_ff"]
    return out


def update_fns(spec: lt.FFSpec, params: lt.LightTuneParams) -> dict:
    """The two per-UE updates ``(state, x_pos [1, D], x_neg [1, D]) -> state`` by method."""

    def ff_step(state, x_pos, x_neg):
        return lt.ff_update(state, x_pos, x_neg, spec, params)

    def bp_step(state, x_pos, x_neg):
        grads = ff.backprop_grads(state.params, x_pos, x_neg, spec.threshold, loss=spec.loss,
                                  normalize=spec.normalize, goodness=spec.goodness)
        return lt.apply_grads(state, grads, params)

    return {"ff": ff_step, "bp": bp_step}


def _shapes(sizes, params: lt.LightTuneParams, n_ue: int):
    """ShapeDtypeStructs of (UE states, x_pos, x_neg), with a leading [n_ue] when n_ue > 1."""
    state = jax.eval_shape(lambda: lt.init_ue_state(ff.init(jax.random.key(0), sizes), params))
    x = jax.ShapeDtypeStruct((1, int(sizes[0])), jnp.float32)
    args = (state, x, x)
    if n_ue > 1:
        args = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((n_ue,) + s.shape, s.dtype), args)
    return args


def compiled_memory(fn, args, n_ue: int, donate: bool) -> dict[str, int]:
    """XLA's memory analysis of ``fn`` (vmapped over UEs when n_ue > 1) compiled for ``args`` (shapes).

    Returns ``temp``, ``argument``, ``output``, ``alias`` and ``peak`` = argument + output -
    alias + temp, in bytes. Raises InputError where the backend gives no analysis.
    """
    f = jax.vmap(fn) if n_ue > 1 else fn
    stats = jax.jit(f, donate_argnums=(0,) if donate else ()).lower(*args).compile().memory_analysis()
    if stats is None:
        raise InputError(f"ff_memory: the {jax.default_backend()} backend gives no compiled memory analysis")
    out = {"temp": int(stats.temp_size_in_bytes), "argument": int(stats.argument_size_in_bytes),
           "output": int(stats.output_size_in_bytes), "alias": int(stats.alias_size_in_bytes)}
    out["peak"] = out["argument"] + out["output"] - out["alias"] + out["temp"]
    return out


def _check(p):
    if len(p.sizes) < 2:
        return "sizes", f"needs the input length and at least one layer width, got {list(p.sizes)}"
    return None


@struct.dataclass
class FfMemoryParams:
    """Parameters of the experiment (units in each field's schema)."""

    sizes: tuple[int, ...] = field((13, 32, 32), "layer sizes [D, M_1, ..., M_L] (D: features + the appended "
                                   "label; Table IV: [13, 32, 32])", lo=2, hi=4096)
    n_ue: int = field(1, "UEs updated by one compiled step: 1 = the per-UE kernel, more = vmapped over UEs",
                      lo=1, hi=10**6)
    variant: str = field("one_step", "optimiser of both updates (Adam eq. 8 / eq. 9, or SGD)", choices=lt.VARIANTS)
    donate: bool = field(True, "donate the UE states to the step (updated in place, as the period scan does)")


@register_experiment(
    name="ff_memory",
    description="LightTune Remark 3 measured: XLA memory of one FF (eq. 7) update vs one backprop update, "
                "per UE and vmapped, against the sum_l M_l / max_l M_l counts",
    params=FfMemoryParams,
    plots=(plot_ff_memory,),
    check=_check,
    allow_nonfinite=("temp_ratio",),  # inf where XLA needs no temporaries for the local update
)
def ff_memory(key, p):
    del key  # nothing is drawn: only shapes are compiled
    spec = default_spec()
    params = lt.LightTuneParams(variant=p.variant)
    args = _shapes(p.sizes, params, p.n_ue)
    n = int(p.n_ue)
    res = {}
    for m, fn in update_fns(spec, params).items():
        mem = compiled_memory(fn, args, n, bool(p.donate))
        for k, v in mem.items():
            res[f"{k}_bytes_{m}"] = v
        res[f"temp_per_ue_{m}"] = mem["temp"] / n
        res[f"peak_per_ue_{m}"] = mem["peak"] / n
    res["temp_ratio"] = res["temp_bytes_bp"] / res["temp_bytes_ff"] if res["temp_bytes_ff"] else float("inf")
    res["peak_ratio"] = res["peak_bytes_bp"] / res["peak_bytes_ff"]
    counts = activation_counts(p.sizes)
    res.update(counts)
    scale = SAMPLES * WORD_BYTES * n
    res["act_bytes_bp"], res["act_bytes_ff"] = counts["live_bp"] * scale, counts["live_ff"] * scale
    res["paper_bytes_bp"], res["paper_bytes_ff"] = counts["act_sum"] * scale, counts["act_max"] * scale
    res["state_bytes"] = sum(s.size * s.dtype.itemsize for s in jax.tree_util.tree_leaves(args[0]))
    return res

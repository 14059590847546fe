"""The LightTune step (Alg. 1 of Ali & Penna) written batched in PyTorch, as a PyTorch user would.

Same algorithm and semantics as ltjax's ``lighttune_step`` vmapped over UEs, with the BLER
model's settings (``ltjax.lighttune.model.default_spec``, see :class:`LtjaxSide`): per-UE
FF MLP [13, 32, 32] (12 features + the label appended as the value ``(P - 0.5) * 10``),
K = 11 candidate BLER classes, length normalisation of every layer's input, mean goodness, prediction
eq. (5) as the argmax over labels of the goodness summed over layers, trigger
``|P_hat - P+| + 1e-6 >= delta``, one positive and one negative sample, the closed-form
per-layer gradient of the quadratic FF loss (eq. 6/7, with the 1/M_l scale ltjax uses),
and Adam standard (eq. 8) or one-step reset (eq. 9). The other ltjax settings (Softplus
loss, per-neuron goodness, last-layer prediction, no normalisation, squared error, hard
negatives) are supported too; only the overlay label mode is not.

Two batched forms over U UEs, each UE with its own weights and Adam moments:

* :func:`step_bmm`: weights as ``[U, N_l, M_l]`` tensors and ``torch.bmm``;
* :func:`step_vmap`: the step for one UE, batched with ``torch.func.vmap``.

Both take the negative labels explicitly when given (``y_neg``), so
:func:`check_against_ltjax` can feed them the negatives ltjax drew from its keys and
compare updated weights; otherwise they draw y- uniformly over Y \\ {y+} with torch's RNG.

Letters: U UEs, K candidate labels, d = 12 features, D = 13 model inputs, N_l / M_l the
inputs / neurons of layer l.

State (a dict of tensors, leading [U]): ``w`` list of [U, N_l, M_l], ``b`` list of [U, M_l];
for the standard variant ``m_w``, ``v_w``, ``m_b``, ``v_b`` shaped like them and ``count``
[U] int32 (Adam time step); ``n_seen``, ``n_updates`` [U] int32.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ltjax.bench.peers import has_module, set_torch_threads

SIZES = (13, 32, 32)
TRIGGER_SLACK = 1e-6  # the same slack as ltjax.lighttune.step.TRIGGER_SLACK (float32 label values)
NORM_EPS = 1e-4  # the same as ltjax.ff.NORM_EPS (reference code: x / (||x|| + 1e-4))


def available() -> tuple[bool, str]:
    """(True, "torch <version>") when PyTorch can be imported, else (False, why)."""
    return has_module("torch")


@dataclasses.dataclass(frozen=True)
class TorchLT:
    """The LightTune settings the torch step needs: a plain copy of ltjax's ``FFSpec`` and
    ``LightTuneParams`` fields, defaulting to the BLER model's (:meth:`from_ltjax`)."""

    delta: float = 0.3
    threshold: float = 9.0
    lr: float = 0.03
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    labels: tuple = tuple(round(0.1 * k, 1) for k in range(11))
    error_metric: str = "abs"
    negative: str = "uniform"
    variant: str = "one_step"
    loss: str = "quadratic"
    goodness: str = "mean"
    normalize: bool = True
    predict_mode: str = "sum_layers"
    label_offset: float = 0.5
    label_scale: float = 10.0

    @classmethod
    def from_ltjax(cls, spec, params) -> "TorchLT":
        """From ltjax's model description and online hyper-parameters (append label mode only).

        ``spec`` (``FFSpec``: labels, label encoding, threshold, loss, goodness, normalisation,
        prediction rule) and ``params`` (``LightTuneParams``: delta, lr, Adam, variant, negative
        rule, error metric).
        """
        if spec.label_mode != "append":
            raise ValueError("torch_lighttune supports label_mode='append' only (the BLER model's)")
        out = {}
        for f in dataclasses.fields(cls):
            src = params if hasattr(params, f.name) else spec
            v = getattr(src, f.name)
            out[f.name] = tuple(float(a) for a in v) if f.name == "labels" else (
                float(v) if f.type == "float" else v)
        return cls(**out)


class LtjaxSide:
    """ltjax's LightTune step for U UEs with the BLER model's settings, as the peer sees it.

    ``spec`` (``default_spec()``, the fixed model description), ``params``
    (``LightTuneParams(variant=...)``, the online hyper-parameters), ``cfg`` (:class:`TorchLT`,
    the same settings for torch), ``init_states(model, U)``, ``step_ues(key, states, x, y)``
    (UE u uses ``fold_in(key, u)``, as ltjax's batching does) and ``predict_ues(model, x)``.
    """

    def __init__(self, variant: str = "one_step"):
        import jax
        import jax.numpy as jnp

        from ltjax.lighttune import step as lts
        from ltjax.lighttune.model import default_spec

        self.variant = variant
        self.spec, self.params = default_spec(), lts.LightTuneParams(variant=variant)
        self.cfg = TorchLT.from_ltjax(self.spec, self.params)
        self._one = lambda k, st, x, y: lts.lighttune_step(k, st, x, y, self.spec, self.params)
        self._pred = lambda m, x: lts.predict_class(m, x, self.spec)
        self._init = lambda model: lts.init_ue_state(model, self.params)
        self._jnp = jnp
        self._jax = jax

    def init_states(self, model, num_ues: int):
        """Every UE its own copy of ``model`` (materialised, leading [U]) and fresh optimiser state."""
        jax, jnp = self._jax, self._jnp
        st = self._init(model)
        return jax.tree_util.tree_map(lambda a: jnp.array(jnp.broadcast_to(a, (num_ues,) + jnp.shape(a))), st)

    def step_ues(self, key, states, x, y):
        """Alg. 1 for U UEs (vmapped); x [U, d], y [U]; returns (states, StepOutputs with [U])."""
        jax, jnp = self._jax, self._jnp
        keys = jax.vmap(lambda u: jax.random.fold_in(key, u))(jnp.arange(x.shape[0]))
        return jax.vmap(self._one)(keys, states, x, y)

    def predict_ues(self, model, x):
        """Eq. (5) with one shared model for U UEs: x [U, d] -> [U] int32."""
        return self._jax.vmap(lambda xi: self._pred(model, xi))(x)


def _torch():
    import torch

    return torch


def init_state(weights: list[dict], num_ues: int | None, variant: str, dtype=None) -> dict:
    """Per-UE torch state from FF weights ``[{"w": [N, M], "b": [M]}, ...]``.

    With ``num_ues`` the weights are copied to every UE (leading [U] added); with None they
    already carry the leading [U]. Adam moments start at zero, counters at zero.
    """
    torch = _torch()
    dtype = dtype or torch.float32

    def t(a):
        a = torch.as_tensor(np.array(a), dtype=dtype)
        if num_ues is not None:
            a = a.unsqueeze(0).expand((num_ues,) + tuple(a.shape))
        return a.contiguous().clone()

    st = {"w": [t(l["w"]) for l in weights], "b": [t(l["b"]) for l in weights]}
    n = st["w"][0].shape[0]
    if variant == "standard":
        for k in ("w", "b"):
            st["m_" + k] = [torch.zeros_like(a) for a in st[k]]
            st["v_" + k] = [torch.zeros_like(a) for a in st[k]]
        st["count"] = torch.zeros(n, dtype=torch.int32)
    st["n_seen"] = torch.zeros(n, dtype=torch.int32)
    st["n_updates"] = torch.zeros(n, dtype=torch.int32)
    return st


def state_from_ltjax(ue_states) -> dict:
    """Torch state from ltjax's batched :class:`UEState` (params and, if standard, Adam moments)."""
    torch = _torch()

    def t(a):
        return torch.from_numpy(np.array(a, copy=True))

    st = {"w": [t(l["w"]) for l in ue_states.params], "b": [t(l["b"]) for l in ue_states.params]}
    opt = ue_states.opt_state
    if len(opt) and hasattr(opt[0], "mu"):
        st["m_w"] = [t(s.mu["w"]) for s in opt]
        st["v_w"] = [t(s.nu["w"]) for s in opt]
        st["m_b"] = [t(s.mu["b"]) for s in opt]
        st["v_b"] = [t(s.nu["b"]) for s in opt]
        st["count"] = t(opt[0].count).to(torch.int32)
    st["n_seen"] = t(ue_states.n_seen).to(torch.int32)
    st["n_updates"] = t(ue_states.n_updates).to(torch.int32)
    return st


# ---- shared maths (batch-agnostic: works on [U, ...] for bmm and on one UE under vmap) --------


def _norm(h, normalize: bool):
    return h / (h.norm(dim=-1, keepdim=True) + NORM_EPS) if normalize else h


def _adam(p, g, m, v, count, cfg: TorchLT):
    """One Adam update of parameter ``p`` with gradient ``g``: eq. (8) (standard) or eq. (9) (one-step).

    ``count`` is the new Adam time step (standard only), broadcastable against ``p``.
    Returns (p', m', v'); m', v' are None for the one-step variant, which keeps no state.
    """
    torch = _torch()
    if cfg.variant == "standard":
        m = cfg.b1 * m + (1.0 - cfg.b1) * g
        v = cfg.b2 * v + (1.0 - cfg.b2) * g * g
        # The bias corrections in float32 whatever the dtype, cast after, as ltjax.optim does.
        c1 = (1.0 - torch.pow(cfg.b1, count.float())).to(p.dtype)
        c2 = (1.0 - torch.pow(cfg.b2, count.float())).to(p.dtype)
        return p - cfg.lr * (m / c1) / (torch.sqrt(v / c2) + cfg.eps), m, v
    # Eq. (9) literally, one Adam step from zero moments with t_A = 1, as ltjax.optim does.
    m1 = (1.0 - cfg.b1) * g
    v1 = (1.0 - cfg.b2) * g * g
    return p - cfg.lr * (m1 / (1.0 - cfg.b1)) / (torch.sqrt(v1 / (1.0 - cfg.b2)) + cfg.eps), None, None


def _dz(h, threshold, cfg: TorchLT):
    """Closed-form dL/dz of one layer for the pair (positive, negative) on axis -2: h [..., 2, M]."""
    torch = _torch()
    m = h.shape[-1]
    g = h * h
    if cfg.goodness == "mean":
        g = g.mean(dim=-1, keepdim=True)
    d = g - threshold  # [..., 2, 1] or [..., 2, M]
    sign = torch.tensor([[-1.0], [1.0]], dtype=h.dtype)  # -1 for the positive, +1 for the negative
    if cfg.loss == "quadratic":
        c = 2.0 * d + 4.0 * sign  # 2(g+ - T) - 4 and 2(g- - T) + 4
    else:
        c = sign * torch.sigmoid(sign * d)  # -sigmoid(-(g+ - T)) and sigmoid(g- - T)
    # dg/dz = 2 h (h = 0 wherever z <= 0); 1/M from the mean over neurons (|S+| = |S-| = 1).
    return c * 2.0 * h / m


def _label_inputs(cfg: TorchLT, dtype):
    torch = _torch()
    lab = torch.tensor(cfg.labels, dtype=dtype)
    return lab, (lab - cfg.label_offset) * cfg.label_scale


# ---- batched with torch.bmm -------------------------------------------------------------------


def predict_bmm(state: dict, x, cfg: TorchLT):
    """Eq. (5) for U UEs at once: x [U, d] -> class index [U] (int64), goodness [U, K]."""
    torch = _torch()
    num_ues, d = x.shape
    _, lab_in = _label_inputs(cfg, x.dtype)
    k = lab_in.shape[0]
    h = torch.cat([x[:, None, :].expand(num_ues, k, d), lab_in[None, :, None].expand(num_ues, k, 1)], dim=-1)
    score = torch.zeros(num_ues, k, dtype=x.dtype)
    for w, b in zip(state["w"], state["b"]):
        h = torch.relu(torch.bmm(_norm(h, cfg.normalize), w) + b[:, None, :])  # [U, K, M_l]
        if cfg.predict_mode == "sum_layers":
            score = score + (h * h).mean(dim=-1)
    if cfg.predict_mode == "last":
        score = (h * h).sum(dim=-1)
    return score.argmax(dim=-1), score


def draw_negatives(y_true, num_labels: int, generator=None):
    """Uniform over Y \\ {y+}: a draw from {0..K-2} shifted past y+. y_true [U] -> [U] int64."""
    torch = _torch()
    r = torch.randint(0, num_labels - 1, tuple(y_true.shape), generator=generator)
    return r + (r >= y_true).to(r.dtype)


def _negatives(y_true, y_hat, y_neg, cfg: TorchLT, generator):
    torch = _torch()
    if y_neg is None:
        y_neg = draw_negatives(y_true, len(cfg.labels), generator)
    y_neg = torch.as_tensor(y_neg).to(torch.int64)
    if cfg.negative == "hard":
        y_neg = torch.where(y_hat == y_true, y_neg, y_hat)
    return y_neg


def step_bmm(state: dict, x, y_true, cfg: TorchLT, y_neg=None, generator=None) -> tuple[dict, dict]:
    """One LightTune step (Alg. 1) for U UEs with ``torch.bmm``; returns (new state, outputs).

    Args:
      state: see the module docstring (leading [U]); not modified.
      x: [U, d] float32 features (standardised). y_true: [U] int class indices of y+.
      cfg: :class:`TorchLT`. y_neg: [U] negative class indices, or None to draw them.
      generator: torch.Generator for the negative draw.
    Returns:
      state with the update kept only where the trigger fired (``torch.where``, no branch),
      and ``{"y_hat", "error", "updated", "y_neg"}`` each [U].
    """
    torch = _torch()
    y_true = torch.as_tensor(y_true).to(torch.int64)
    lab, lab_in = _label_inputs(cfg, x.dtype)
    y_hat, _ = predict_bmm(state, x, cfg)  # line 2
    diff = lab[y_hat] - lab[y_true]
    error = diff.abs() if cfg.error_metric == "abs" else diff * diff
    updated = error + TRIGGER_SLACK >= cfg.delta  # line 3
    y_neg = _negatives(y_true, y_hat, y_neg, cfg, generator)

    # lines 4-5: the positive [x, y+] and the negative [x, y-], stacked as a pair [U, 2, D]
    pair = torch.cat([x[:, None, :].expand(-1, 2, -1),
                      torch.stack([lab_in[y_true], lab_in[y_neg]], dim=1)[:, :, None]], dim=-1)
    new = {k: (list(v) if isinstance(v, list) else v) for k, v in state.items()}
    mask = updated[:, None, None]
    if cfg.variant == "standard":
        count = state["count"] + 1
        cnt = count.to(x.dtype)
    for l, (w, b) in enumerate(zip(state["w"], state["b"])):  # line 6: per-layer closed-form gradient
        xn = _norm(pair, cfg.normalize)
        h = torch.relu(torch.bmm(xn, w) + b[:, None, :])  # [U, 2, M]
        dz = _dz(h, cfg.threshold, cfg)
        gw = torch.bmm(xn.transpose(1, 2), dz)  # [U, N, M], positive + negative
        gb = dz.sum(dim=1)  # [U, M]
        if cfg.variant == "standard":  # line 7
            w2, mw, vw = _adam(w, gw, state["m_w"][l], state["v_w"][l], cnt[:, None, None], cfg)
            b2, mb, vb = _adam(b, gb, state["m_b"][l], state["v_b"][l], cnt[:, None], cfg)
            new["m_w"][l] = torch.where(mask, mw, state["m_w"][l])
            new["v_w"][l] = torch.where(mask, vw, state["v_w"][l])
            new["m_b"][l] = torch.where(mask[:, 0], mb, state["m_b"][l])
            new["v_b"][l] = torch.where(mask[:, 0], vb, state["v_b"][l])
        else:
            w2, _, _ = _adam(w, gw, None, None, None, cfg)
            b2, _, _ = _adam(b, gb, None, None, None, cfg)
        new["w"][l] = torch.where(mask, w2, w)
        new["b"][l] = torch.where(mask[:, 0], b2, b)
        pair = h  # detached: the next layer sees this layer's (pre-update) output
    if cfg.variant == "standard":
        new["count"] = torch.where(updated, count, state["count"])
    new["n_seen"] = state["n_seen"] + 1
    new["n_updates"] = state["n_updates"] + updated.to(torch.int32)
    return new, {"y_hat": y_hat, "error": error, "updated": updated, "y_neg": y_neg}


# ---- one UE, batched with torch.func.vmap ---------------------------------------------------------


def _step_one(st: dict, x, y_true, y_neg, cfg: TorchLT):
    """Alg. 1 for ONE UE (no leading [U]); written for torch.func.vmap (no data-dependent branch)."""
    torch = _torch()
    lab, lab_in = _label_inputs(cfg, x.dtype)
    k = lab_in.shape[0]
    h = torch.cat([x[None, :].expand(k, -1), lab_in[:, None]], dim=-1)  # [K, D]
    score = torch.zeros(k, dtype=x.dtype)
    for w, b in zip(st["w"], st["b"]):
        h = torch.relu(_norm(h, cfg.normalize) @ w + b)
        if cfg.predict_mode == "sum_layers":
            score = score + (h * h).mean(dim=-1)
    if cfg.predict_mode == "last":
        score = (h * h).sum(dim=-1)
    y_hat = score.argmax()
    diff = lab[y_hat] - lab[y_true]
    error = diff.abs() if cfg.error_metric == "abs" else diff * diff
    updated = error + TRIGGER_SLACK >= cfg.delta
    if cfg.negative == "hard":
        y_neg = torch.where(y_hat == y_true, y_neg, y_hat)
    pair = torch.cat([x[None, :].expand(2, -1), torch.stack([lab_in[y_true], lab_in[y_neg]])[:, None]], dim=-1)
    new = {key: (list(v) if isinstance(v, list) else v) for key, v in st.items()}
    if cfg.variant == "standard":
        count = st["count"] + 1
        cnt = count.to(x.dtype)
    for l, (w, b) in enumerate(zip(st["w"], st["b"])):
        xn = _norm(pair, cfg.normalize)
        h = torch.relu(xn @ w + b)  # [2, M]
        dz = _dz(h, cfg.threshold, cfg)
        gw, gb = xn.T @ dz, dz.sum(dim=0)
        if cfg.variant == "standard":
            w2, mw, vw = _adam(w, gw, st["m_w"][l], st["v_w"][l], cnt, cfg)
            b2, mb, vb = _adam(b, gb, st["m_b"][l], st["v_b"][l], cnt, cfg)
            new["m_w"][l] = torch.where(updated, mw, st["m_w"][l])
            new["v_w"][l] = torch.where(updated, vw, st["v_w"][l])
            new["m_b"][l] = torch.where(updated, mb, st["m_b"][l])
            new["v_b"][l] = torch.where(updated, vb, st["v_b"][l])
        else:
            w2, _, _ = _adam(w, gw, None, None, None, cfg)
            b2, _, _ = _adam(b, gb, None, None, None, cfg)
        new["w"][l] = torch.where(updated, w2, w)
        new["b"][l] = torch.where(updated, b2, b)
        pair = h
    if cfg.variant == "standard":
        new["count"] = torch.where(updated, count, st["count"])
    new["n_seen"] = st["n_seen"] + 1
    new["n_updates"] = st["n_updates"] + updated.to(torch.int32)
    return new, {"y_hat": y_hat, "error": error, "updated": updated, "y_neg": y_neg}


def step_vmap(state: dict, x, y_true, cfg: TorchLT, y_neg=None, generator=None) -> tuple[dict, dict]:
    """The same step as :func:`step_bmm`, written for one UE and batched with ``torch.func.vmap``.

    The negatives are drawn before the vmap (torch.func.vmap forbids RNG calls inside
    unless told how to batch them), with the same rule as :func:`draw_negatives`.
    """
    torch = _torch()
    y_true = torch.as_tensor(y_true).to(torch.int64)
    if y_neg is None:
        y_neg = draw_negatives(y_true, len(cfg.labels), generator)
    y_neg = torch.as_tensor(y_neg).to(torch.int64)
    return torch.func.vmap(lambda s, xi, yi, ni: _step_one(s, xi, yi, ni, cfg))(state, x, y_true, y_neg)


STEPS = {"bmm": step_bmm, "vmap": step_vmap}


# ---- correctness against ltjax ----------------------------------------------------------------------


def _max_abs(a_list, b_list) -> float:
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(a_list, b_list))


def check_against_ltjax(num_ues: int = 64, variant: str = "one_step", impl: str = "bmm", steps: int = 3,
                        seed: int = 0, dtype: str = "float32") -> dict[str, Any]:
    """Runs ltjax's LightTune step and the torch step on the same inputs; returns the differences.

    Every UE gets its own weights (the initial model plus a per-UE perturbation, so a step that
    mixed UEs up would show), the BLER model's settings (see :func:`ltjax_side`) with ``variant``,
    fresh standardised-like features and uniformly random truths each step. ltjax draws its
    negatives from its keys; the torch step is given exactly those (``y_neg``).

    ``dtype="float64"`` runs both sides in double precision (ltjax under ``jax.enable_x64``).
    Why both: the Adam step g / (|g| + eps) (eq. 9, and eq. 8 at its first step) amplifies a
    float32 rounding difference in a gradient element that nearly cancels between the positive
    and the negative sample (|g| ~ 1e-7) by up to lr / eps; two correct float32 codes that sum
    in different orders then differ by ~1e-5 in a few weights. In float64 the same amplified
    difference stays below ~1e-9, which shows the semantics are identical.

    Returns:
      ``{"max_abs_diff": largest |w_torch - w_ltjax| over weights and biases after every step,
      "max_abs_diff_moments": the same over Adam moments (standard; else 0.0),
      "max_abs_update": the largest change of a weight in one ltjax step (the scale the
      difference is to be judged against),
      "y_hat_mismatches", "updated_mismatches": counts over all UE-steps,
      "n_updates": UE-steps that triggered (ltjax), "ue_steps", "variant", "impl"}``.
    """
    import jax

    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    with jax.enable_x64(dtype == "float64"):
        return _check(num_ues, variant, impl, steps, seed, dtype)


def _check(num_ues, variant, impl, steps, seed, dtype) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from ltjax import ff

    torch = _torch()
    side = LtjaxSide(variant)
    cfg = side.cfg
    model = ff.init(jax.random.key(seed), SIZES, dtype=jnp.dtype(dtype))
    states = side.init_states(model, num_ues)
    k_pert, k_run = jax.random.split(jax.random.key(seed + 1))
    pert = [{n: 0.05 * jax.random.normal(jax.random.fold_in(k_pert, 2 * i + j), (num_ues,) + a.shape, a.dtype)
             for j, (n, a) in enumerate(sorted(layer.items()))} for i, layer in enumerate(model)]
    states = states.replace(params=[{n: layer[n] + p[n] for n in layer} for layer, p in zip(model, pert)])
    states = jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), states)
    tstate = state_from_ltjax(states)
    step = jax.jit(lambda st, k, x, y: side.step_ues(k, st, x, y))
    torch_step = STEPS[impl]
    diff_w = diff_m = moved = 0.0
    n_yhat = n_upd_mis = n_upd = 0
    rng = np.random.default_rng(seed)
    for t in range(steps):
        before = [np.asarray(l["w"]) for l in states.params]
        x = rng.standard_normal((num_ues, SIZES[0] - 1)).astype(dtype)
        y = rng.integers(0, len(cfg.labels), num_ues).astype(np.int32)
        states, out = step(states, jax.random.fold_in(k_run, t), jnp.asarray(x), jnp.asarray(y))
        tstate, tout = torch_step(tstate, torch.from_numpy(x), torch.from_numpy(y), cfg,
                                  y_neg=torch.from_numpy(np.array(out.y_neg, copy=True)))
        n_yhat += int(np.sum(np.asarray(out.y_hat) != tout["y_hat"].numpy()))
        n_upd_mis += int(np.sum(np.asarray(out.updated) != tout["updated"].numpy()))
        n_upd += int(np.sum(np.asarray(out.updated)))
        moved = max(moved, _max_abs(before, [l["w"] for l in states.params]))
        diff_w = max(diff_w, _max_abs([l["w"] for l in states.params] + [l["b"] for l in states.params],
                                      tstate["w"] + tstate["b"]))
        if variant == "standard":
            opt = states.opt_state
            diff_m = max(diff_m, _max_abs([s.mu["w"] for s in opt] + [s.nu["w"] for s in opt]
                                          + [s.mu["b"] for s in opt] + [s.nu["b"] for s in opt],
                                          tstate["m_w"] + tstate["v_w"] + tstate["m_b"] + tstate["v_b"]))
            if not np.array_equal(np.asarray(opt[0].count), tstate["count"].numpy()):
                diff_m = float("inf")
    return {"max_abs_diff": diff_w, "max_abs_diff_moments": diff_m, "max_abs_update": moved,
            "y_hat_mismatches": n_yhat,
            "updated_mismatches": n_upd_mis, "n_updates": n_upd, "ue_steps": num_ues * steps,
            "variant": variant, "impl": impl, "num_ues": num_ues, "steps": steps, "dtype": dtype}


# ---- timing -------------------------------------------------------------------------------------------


def _bench_inputs(num_ues: int, variant: str, seed: int = 0):
    """The ltjax bench's set-up: one model copied to every UE; truths make half the UEs update
    (even UEs y+ = y_hat, error 0; odd UEs y+ = y_hat + 5 mod 11, error >= 0.5)."""
    import jax
    import jax.numpy as jnp

    from ltjax import ff

    side = LtjaxSide(variant)
    model = ff.init(jax.random.key(seed), SIZES)
    x = jax.random.normal(jax.random.key(seed + 1), (num_ues, SIZES[0] - 1))
    y_hat = jax.jit(side.predict_ues)(model, x)
    k = len(side.cfg.labels)
    y = jnp.where(jnp.arange(num_ues) % 2 == 0, y_hat, (y_hat + 5) % k).astype(jnp.int32)
    return side, model, x, y


def time_vs_ltjax(num_ues: int = 1000, variant: str = "one_step", repeats: int = 3, threads: int = 2,
                  impls: tuple[str, ...] = ("bmm", "vmap")) -> dict[str, Any]:
    """UE-steps/s of ltjax's jitted, vmapped, donated step and the torch step(s), interleaved.

    Every implementation threads its own per-UE state through its calls (as an online run
    does) on the same features and truths; see :func:`_bench_inputs`. Torch runs with
    ``threads`` intra-op threads; with ``impls=()`` ltjax runs alone and torch is not imported.
    Returns :func:`ltjax.bench.peers.timing.compare`'s report (rates in UE-steps/s) plus
    ``setup`` and the update fraction of each implementation's first call.
    """
    import jax

    from ltjax.bench.peers.timing import compare

    torch = _torch() if impls else None
    if impls:
        set_torch_threads(threads)
    side, model, x, y = _bench_inputs(num_ues, variant)
    cfg = side.cfg
    box = {"jax": side.init_states(model, num_ues)}
    # Donated, as in ``ltjax bench lighttune-step``: the step updates the states in place.
    step = jax.jit(lambda st, k, x, y: side.step_ues(k, st, x, y), donate_argnums=(0,))
    key = jax.random.key(42)
    first_out = {}

    def run_jax():
        box["jax"], out = jax.block_until_ready(step(box["jax"], key, x, y))
        first_out.setdefault("frac", float(np.mean(np.asarray(out.updated))))

    fns = {"ltjax": run_jax}
    if impls:
        xt, yt = torch.from_numpy(np.array(x, copy=True)), torch.from_numpy(np.array(y, copy=True))
        gen = torch.Generator().manual_seed(0)
    for impl in impls:
        box[impl] = init_state([{k: np.asarray(v) for k, v in l.items()} for l in model], num_ues, variant)

        def run(impl=impl):
            with torch.inference_mode():
                box[impl], out = STEPS[impl](box[impl], xt, yt, cfg, generator=gen)
            first_out.setdefault(impl, float(out["updated"].float().mean()))

        fns[f"torch_{impl}"] = run
    t0 = time.perf_counter()
    report = compare(fns, repeats=repeats, work=float(num_ues))
    report["wall_s"] = time.perf_counter() - t0
    report["setup"] = {"num_ues": num_ues, "variant": variant, "sizes": list(SIZES), "labels": len(cfg.labels),
                       "settings": "BLER model (mean goodness, length normalisation, (P-0.5)*10, quadratic, "
                                   "T=9, sum over layers), delta 0.3, lr 0.03",
                       "update_fraction_first_call": first_out, "rate_unit": "UE-steps/s",
                       "torch_threads": torch.get_num_threads() if torch is not None else None}
    return report

"""Plain-NumPy LightTune step for one UE: the per-UE-loop baseline of ``ltjax bench lighttune-step``.

A reference implementation, not part of the library: the same algorithm as
:func:`ltjax.lighttune.lighttune_step` (Alg. 1, eqs. 5-9) written the way a straightforward
implementation would be, a Python loop over UEs with NumPy per layer. The tests
(``tests/lighttune/test_lighttune_step.py``) check it against the JAX step, so the benchmark
compares like with like. Supports the append and overlay label modes, both losses, both
goodness reductions, both Adam variants, with or without normalisation.

State per UE: ``{"params": [{"w", "b"}, ...], "m": [...], "v": [...], "count": [int per layer],
"n_seen": int, "n_updates": int}`` (m, v, count only used by the standard variant).
"""

from __future__ import annotations

import numpy as np

from ltjax.ff.model import NORM_EPS
from ltjax.lighttune.step import TRIGGER_SLACK


def init_state_np(model_params, variant: str) -> dict:
    params = [{"w": np.array(l["w"]), "b": np.array(l["b"])} for l in model_params]
    st = {"params": params, "n_seen": 0, "n_updates": 0}
    if variant == "standard":
        st["m"] = [{k: np.zeros_like(v) for k, v in l.items()} for l in params]
        st["v"] = [{k: np.zeros_like(v) for k, v in l.items()} for l in params]
        st["count"] = [0 for _ in params]
    return st


def _label_input(x, k, labels, label_mode, offset=0.0, scale=1.0):
    if label_mode == "append":
        return np.concatenate([x, [(labels[k] - offset) * scale]]).astype(x.dtype)
    out = x.copy()
    out[: len(labels)] = 0.0
    out[k] = 1.0
    return out


def _norm(x, normalize):
    return x / (np.sqrt(np.sum(x * x, axis=-1, keepdims=True)) + NORM_EPS) if normalize else x


def step_np(state: dict, x: np.ndarray, y_true: int, r: int, spec, p) -> tuple[dict, dict]:
    """One LightTune step (mutates and returns ``state``).

    Args:
      x: [d] features; y_true: class index of y+; r: the uniform draw in [0, K-2]
        (the caller's RNG; the JAX step draws it from its key).
      spec: the model's :class:`ltjax.lighttune.FFSpec`.
      p: :class:`ltjax.lighttune.LightTuneParams`.
    """
    labels = np.asarray(spec.labels, x.dtype)
    num = len(labels)
    params = state["params"]
    # eq. (5): goodness of all K candidates at once, [K, D] through the layers
    h = np.stack([_label_input(x, k, labels, spec.label_mode, spec.label_offset, spec.label_scale)
                  for k in range(num)])
    score = np.zeros(num, x.dtype)
    for layer in params:
        h = np.maximum(_norm(h, spec.normalize) @ layer["w"] + layer["b"], 0.0)
        if spec.predict_mode == "sum_layers":
            score += np.mean(h * h, axis=1)
    if spec.predict_mode == "last":
        score = np.sum(h * h, axis=1)
    y_hat = int(np.argmax(score))
    diff = labels[y_hat] - labels[y_true]
    error = abs(diff) if p.error_metric == "abs" else diff * diff
    updated = bool(p.finetune and error + TRIGGER_SLACK >= p.delta)
    y_neg = r + (r >= y_true)
    if p.negative == "hard" and y_hat != y_true:
        y_neg = y_hat
    state["n_seen"] += 1
    if updated:
        xp = _label_input(x, y_true, labels, spec.label_mode, spec.label_offset, spec.label_scale)
        xn = _label_input(x, y_neg, labels, spec.label_mode, spec.label_offset, spec.label_scale)
        for li, layer in enumerate(params):
            xp, xn = _norm(xp, spec.normalize), _norm(xn, spec.normalize)
            hp = np.maximum(xp @ layer["w"] + layer["b"], 0.0)
            hn = np.maximum(xn @ layer["w"] + layer["b"], 0.0)
            m_l = hp.shape[0]
            gp, gn = hp * hp, hn * hn
            if spec.goodness == "mean":
                gp, gn = np.mean(gp), np.mean(gn)
            dp, dn = gp - spec.threshold, gn - spec.threshold
            if spec.loss == "quadratic":
                cp, cn = 2 * dp - 4, 2 * dn + 4
            else:
                cp, cn = -1 / (1 + np.exp(dp)), 1 / (1 + np.exp(-dn))
            zp, zn = cp * 2 * hp / m_l, cn * 2 * hn / m_l
            grads = {"w": np.outer(xp, zp) + np.outer(xn, zn), "b": zp + zn}
            if p.variant == "standard":
                state["count"][li] += 1
                t = state["count"][li]
                for k in ("w", "b"):
                    m = state["m"][li][k] = p.b1 * state["m"][li][k] + (1 - p.b1) * grads[k]
                    v = state["v"][li][k] = p.b2 * state["v"][li][k] + (1 - p.b2) * grads[k] ** 2
                    layer[k] = layer[k] - p.lr * (m / (1 - p.b1 ** t)) / (np.sqrt(v / (1 - p.b2 ** t)) + p.eps)
            else:
                for k in ("w", "b"):
                    layer[k] = layer[k] - p.lr * grads[k] / (np.abs(grads[k]) + p.eps)
            xp, xn = hp, hn  # detached: next layer sees this layer's (pre-update) outputs
        state["n_updates"] += 1
    return state, {"y_hat": y_hat, "error": float(error), "updated": updated, "y_neg": int(y_neg)}

"""The forward-forward MNIST reference in PyTorch: the peer of ``ltjax run sweeps/mnist_ff_loss.toml``.

Semantics of mpezeshki/pytorch_forward_forward (the code the LightTune paper cites for its
Table II), set to exactly what :mod:`ltjax.experiments.mnist_ff_loss` with
``goodness="mean"``, ``loss="softplus"`` and :mod:`ltjax.ff` compute:

* [784, 500, 500] ReLU layers (``nn.Linear``), each input length-normalised,
  x / (||x||_2 + 1e-4);
* the label one-hot overlaid on the first 10 pixels, its "on" value the maximum of the
  standardised training images (reference: ``x.max()``);
* goodness the per-sample mean of h^2; loss eq. (4) Softplus,
  mean softplus(-(g+ - T)) + mean softplus(g- - T), T = 2;
* per-layer ``torch.optim.Adam(lr=0.03)`` (betas 0.9, 0.999, eps 1e-8), full batch,
  layer after layer (layer l trains ``steps`` steps on layer l-1's detached outputs),
  gradients by autograd (``loss.backward()``), as the reference code does;
* inference: eq. (5) on the last layer's goodness, and the reference's sum over layers.

Two deliberate alignments with ltjax, so that both sides do the same job:

* Negatives are given, not drawn: the same y- as ltjax's experiment (uniform over
  Y \\ {y+}, drawn once). The reference code permutes the labels instead, which can pick
  y- = y+.
* The loss is eq. (4) as ltjax computes it: the mean over positives plus the mean over
  negatives. The reference code averages over the concatenation, half this value; Adam is
  invariant to that constant factor up to its epsilon, so the updates agree.

Both sides can start from the same initial weights (ltjax's ``ff.init`` draws the same
U(-1/sqrt(in), 1/sqrt(in)) as ``nn.Linear``; the torch layers are loaded from it), so
accuracy differences come from floating-point order alone.

Letters: B training images (positives = negatives = B), C = 10 classes, M_l widths, S steps.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ltjax.bench.peers import has_module, set_torch_threads

SIZES = (784, 500, 500)
NUM_CLASSES = 10
LR = 0.03
THRESHOLD = 2.0
NORM_EPS = 1e-4  # the reference code's x / (x.norm(2, 1, keepdim=True) + 1e-4)


def available() -> tuple[bool, str]:
    """(True, "torch <version>") when PyTorch can be imported, else (False, why)."""
    return has_module("torch")


def default_data_dir() -> Path:
    """$LTJAX_DATA_DIR if set, else ``shared/data/mnist`` beside the repository checkout."""
    env = os.environ.get("LTJAX_DATA_DIR", "")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist"


def load_data(n_train: int = 10_000, data_dir: str | os.PathLike | None = None, n_test: int | None = None):
    """Standardised MNIST as in the experiment: (x_tr [B, 784], y_tr [B], x_te [N, 784], y_te [N]).

    float32 / int64 NumPy; the first ``n_train`` official training images (or the 10k subset
    file), the official test set (its first ``n_test`` images if given). Read with
    :func:`ltjax.data.mnist.load_mnist`; nothing is copied.
    """
    from ltjax.data.mnist import load_mnist, standardize

    d = data_dir or default_data_dir()
    img_tr, y_tr = load_mnist("train", d, n=n_train)
    img_te, y_te = load_mnist("test", d, n=n_test)
    return standardize(img_tr), y_tr.astype(np.int64), standardize(img_te), y_te.astype(np.int64)


def ltjax_init_and_negatives(y_tr: np.ndarray, seed: int = 0):
    """The experiment's initial weights and negatives from ``key(seed)``: (weights, y_neg [B]).

    ``k_init, k_neg = split(key)``; weights ``ff.init(k_init, [784, 500, 500])``; y- uniform over
    Y \\ {y+} (a draw from 0..8 shifted past y+), as :func:`ltjax.experiments.mnist_ff_loss`.
    """
    import jax
    import jax.numpy as jnp

    from ltjax import ff

    k_init, k_neg = jax.random.split(jax.random.key(seed))
    y = jnp.asarray(y_tr, jnp.int32)
    r = jax.random.randint(k_neg, y.shape, 0, NUM_CLASSES - 1)
    y_neg = np.asarray(r + (r >= y))
    weights = [{k: np.asarray(v) for k, v in layer.items()} for layer in ff.init(k_init, SIZES)]
    return weights, y_neg.astype(np.int64)


# ---- the reference code, in PyTorch -------------------------------------------------------------


def overlay(x, y, on_value):
    """Reference ``overlay_y_on_x``: the first 10 pixels zeroed, pixel y set to ``on_value``. [B, 784]."""
    import torch

    x_ = x.clone()
    x_[:, :NUM_CLASSES] = 0.0
    x_[torch.arange(x.shape[0]), y] = on_value
    return x_


def make_layers(weights: list[dict] | None = None, sizes=SIZES, lr: float = LR, seed: int = 0):
    """``nn.Linear`` layers with one Adam each; loaded from ltjax weights ``[{"w": [in, out], "b"}]`` if given."""
    import torch

    torch.manual_seed(seed)
    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(n_in, n_out)
        if weights is not None:
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(weights[l]["w"]).T))
                lin.bias.copy_(torch.from_numpy(np.array(weights[l]["b"])))
        layers.append((lin, torch.optim.Adam(lin.parameters(), lr=lr)))
    return layers


def layer_forward(lin, x):
    """h = ReLU(x_n W^T + b) with x_n = x / (||x|| + 1e-4) (reference ``Layer.forward``)."""
    import torch

    xn = x / (x.norm(2, 1, keepdim=True) + NORM_EPS)
    return torch.relu(xn @ lin.weight.T + lin.bias[None, :])


def layer_loss(lin, x_pos, x_neg, threshold: float = THRESHOLD):
    """Eq. (4) on the per-sample mean goodness: mean softplus(-(g+ - T)) + mean softplus(g- - T)."""
    import torch.nn.functional as F

    g_pos = layer_forward(lin, x_pos).pow(2).mean(1)
    g_neg = layer_forward(lin, x_neg).pow(2).mean(1)
    return F.softplus(-(g_pos - threshold)).mean() + F.softplus(g_neg - threshold).mean()


def train_layer(lin, opt, x_pos, x_neg, steps: int, threshold: float = THRESHOLD, step_times: list | None = None):
    """``steps`` full-batch Adam steps of one layer (reference ``Layer.train``); returns the losses [S].

    With ``step_times`` every step's wall time [s] is appended to it (PyTorch on the CPU is
    synchronous, so a step is finished when ``opt.step()`` returns).
    """
    losses = np.empty(steps, np.float32)
    for s in range(steps):
        t0 = time.perf_counter()
        loss = layer_loss(lin, x_pos, x_neg, threshold)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step_times is not None:
            step_times.append(time.perf_counter() - t0)
        losses[s] = float(loss.detach())
    return losses


def train_layerwise(layers, x_pos, x_neg, steps: int, threshold: float = THRESHOLD):
    """Reference ``Net.train``: each layer in turn, on the previous layer's detached outputs.

    Returns ``{"losses": [[S] per layer], "step_times_s": [[S] per layer], "train_s": float}``.
    """
    import torch

    curves, times = [], []
    t0 = time.perf_counter()
    for lin, opt in layers:
        st: list[float] = []
        curves.append(train_layer(lin, opt, x_pos, x_neg, steps, threshold, st))
        times.append(st)
        with torch.no_grad():
            x_pos, x_neg = layer_forward(lin, x_pos), layer_forward(lin, x_neg)
    return {"losses": curves, "step_times_s": times, "train_s": time.perf_counter() - t0}


def scores(layers, x, on_value):
    """Goodness of every label: (last layer ||h_L||^2 [N, C], reference sum over layers of mean h_l^2 [N, C])."""
    import torch

    last, total = [], []
    with torch.no_grad():
        for label in range(NUM_CLASSES):
            h = overlay(x, torch.full((x.shape[0],), label, dtype=torch.int64), on_value)
            acc = torch.zeros(x.shape[0])
            for lin, _ in layers:
                h = layer_forward(lin, h)
                acc = acc + h.pow(2).mean(1)
            last.append(h.pow(2).sum(1))
            total.append(acc)
    return torch.stack(last, 1), torch.stack(total, 1)


def accuracies(layers, x, y, on_value) -> dict[str, float]:
    """Eq. (5) accuracy on ``x`` [N, 784] against ``y`` [N]: ``{"last": ..., "sum_layers": ...}``."""
    last, total = scores(layers, x, on_value)
    return {"last": float((last.argmax(1) == y).float().mean()),
            "sum_layers": float((total.argmax(1) == y).float().mean())}


# ---- side by side with ltjax ------------------------------------------------------------------------


def _ltjax_train_layer():
    """(jitted ``ff.train_layer``, the experiment's Adam, the threshold T as a float32 array)."""
    import jax
    import jax.numpy as jnp

    from ltjax import ff
    from ltjax.optim import adam_standard

    # ltjax leaves jit to its entry points (this is one); jit train_layer here unless it already is.
    train = ff.train_layer if hasattr(ff.train_layer, "lower") else jax.jit(
        ff.train_layer, static_argnames=("opt", "steps", "loss", "normalize", "goodness"))
    return train, adam_standard(LR, b1=0.9, b2=0.999, eps=1e-8), jnp.asarray(THRESHOLD, jnp.float32)


def _ltjax_layer_runner(layer: dict, x_pos, x_neg, steps: int):
    """ltjax's jitted ``ff.train_layer`` (a lax.scan of ``steps`` steps) compiled ahead; returns
    (zero-argument blocking callable, compile_s)."""
    import jax

    train, opt, thr = _ltjax_train_layer()
    t0 = time.perf_counter()
    compiled = train.lower(layer, x_pos, x_neg, thr, opt=opt, steps=steps, loss="softplus",
                           normalize=True, goodness="mean").compile()
    compile_s = time.perf_counter() - t0

    def run():
        return jax.block_until_ready(compiled(layer, x_pos, x_neg, thr))

    return run, compile_s


def time_steps_vs_ltjax(n_train: int = 10_000, steps: int = 5, repeats: int = 3, threads: int = 2,
                        seed: int = 0, data_dir=None, with_torch: bool = True) -> dict[str, Any]:
    """Seconds per full-batch training step of each layer, torch and ltjax interleaved.

    For layer 1 (784 -> 500) and layer 2 (500 -> 500) in turn: one call is ``steps`` Adam
    steps of that layer on the B = ``n_train`` positives and negatives (layer 2 on layer 1's
    outputs of the initial model), torch (eager autograd, ``threads`` threads) and ltjax
    (the jitted scan, compiled ahead; compile time reported apart) alternating. Both start
    every call from the same initial weights. ``rate`` = steps per second. With
    ``with_torch=False`` ltjax runs alone and torch is not imported.

    Returns ``{"layer1": compare report, "layer2": ..., "setup": {...}}`` with
    ``s_per_step`` medians and spreads per side; ``setup["layer_inputs"]`` holds ltjax's
    positive and negative inputs of each layer (for cost counts and floors).
    """
    import jax.numpy as jnp

    from ltjax import ff
    from ltjax.bench.peers.timing import compare

    torch = None
    if with_torch:
        import torch

        set_torch_threads(threads)
    x_tr, y_tr, _, _ = load_data(n_train, data_dir)
    weights, y_neg = ltjax_init_and_negatives(y_tr, seed)
    on_value = float(x_tr.max())
    if with_torch:
        xt = torch.from_numpy(x_tr)
        tp, tn = overlay(xt, torch.from_numpy(y_tr), on_value), overlay(xt, torch.from_numpy(y_neg), on_value)
    jp = ff.overlay_label(jnp.asarray(x_tr), jnp.asarray(y_tr, jnp.int32), NUM_CLASSES, on_value)
    jn = ff.overlay_label(jnp.asarray(x_tr), jnp.asarray(y_neg, jnp.int32), NUM_CLASSES, on_value)
    out: dict[str, Any] = {}
    inputs = []
    for l in range(len(SIZES) - 1):
        layer_j = {k: jnp.asarray(v) for k, v in weights[l].items()}
        inputs.append((layer_j, jp, jn))
        run_j, compile_s = _ltjax_layer_runner(layer_j, jp, jn, steps)
        fns = {}
        if with_torch:
            def run_t(l=l, tp=tp, tn=tn):
                lin, opt = make_layers(weights)[l]
                train_layer(lin, opt, tp, tn, steps)

            fns["torch"] = run_t
        fns["ltjax"] = run_j
        rep = compare(fns, repeats=repeats, work=float(steps))
        rep["ltjax_compile_s"] = compile_s
        rep["s_per_step"] = {k: {"median": v["median_s"] / steps, "min": v["min_s"] / steps,
                                 "max": v["max_s"] / steps} for k, v in rep["results"].items()}
        out[f"layer{l + 1}"] = rep
        # the next layer trains on this layer's outputs (of the initial weights, both sides the same)
        if with_torch:
            with torch.no_grad():
                lin = make_layers(weights)[l][0]
                tp, tn = layer_forward(lin, tp), layer_forward(lin, tn)
        jp, jn = ff.layer_forward(layer_j, jp, True), ff.layer_forward(layer_j, jn, True)
    out["setup"] = {"n_train": n_train, "steps_per_call": steps, "sizes": list(SIZES), "lr": LR,
                    "threshold": THRESHOLD, "loss": "softplus (eq. 4)", "goodness": "mean",
                    "torch_threads": torch.get_num_threads() if with_torch else None, "rate_unit": "steps/s",
                    "layer_inputs": inputs}
    return out


def ltjax_step_cost(layer: dict, x_pos, x_neg) -> dict[str, float]:
    """XLA's cost analysis of one compiled ltjax training step of ``layer`` (a scan of one step)."""
    from ltjax.bench.roofline import cost_of

    train, opt, thr = _ltjax_train_layer()
    return cost_of(train, layer, x_pos, x_neg, thr, opt=opt, steps=1, loss="softplus", normalize=True,
                   goodness="mean")


@functools.lru_cache(maxsize=None)
def _ltjax_accuracy_fn():
    """One jitted function for both prediction rules, built once so repeated calls reuse its compilations."""
    import jax
    import jax.numpy as jnp

    from ltjax import ff

    @jax.jit
    def acc(params, x, y, on_value):
        label_fn = functools.partial(ff.overlay_label, num_classes=NUM_CLASSES, on_value=on_value)
        return [jnp.mean(ff.predict(params, x, jnp.arange(NUM_CLASSES), label_fn, True, mode) == y)
                for mode in ("last", "sum_layers")]

    return acc


def _ltjax_accuracies(params, x, y, on_value) -> dict[str, float]:
    """ltjax's eq. (5) accuracy with the overlay label, as the experiment computes it, for the
    last layer and the sum over layers."""
    last, total = _ltjax_accuracy_fn()(params, x, y, on_value)
    return {"last": float(last), "sum_layers": float(total)}


def train_vs_ltjax(n_train: int = 10_000, steps_per_layer: int = 1000, seed: int = 0, threads: int = 2,
                   data_dir=None, sides: tuple[str, ...] = ("torch", "ltjax"),
                   n_test: int | None = None) -> dict[str, Any]:
    """Full layer-by-layer training on both sides from the same weights and negatives; accuracies.

    ltjax: :func:`ltjax.ff.train_layerwise` (what the experiment runs), compile excluded from
    ``train_s`` by compiling each layer ahead. Torch: :func:`train_layerwise`, every step
    timed. Reports per side ``train_s``, ``s_per_step`` (per layer, median / min / max for
    torch; the scan's total over steps for ltjax), test and train accuracy for eq. (5)
    (last layer) and the sum over layers (on the first ``n_test`` test images, all 10k by
    default), and the final loss of each layer.
    """
    import jax
    import jax.numpy as jnp

    from ltjax import ff

    torch = None
    if "torch" in sides:
        import torch

        set_torch_threads(threads)
    x_tr, y_tr, x_te, y_te = load_data(n_train, data_dir, n_test)
    weights, y_neg = ltjax_init_and_negatives(y_tr, seed)
    on_value = float(x_tr.max())
    res: dict[str, Any] = {"setup": {"n_train": n_train, "n_test": int(len(y_te)),
                                     "steps_per_layer": steps_per_layer, "seed": seed,
                                     "sizes": list(SIZES), "lr": LR, "threshold": THRESHOLD,
                                     "loss": "softplus (eq. 4)", "goodness": "mean", "normalize": True,
                                     "torch_threads": torch.get_num_threads() if torch else None,
                                     "same_init_and_negatives": True}}
    if "torch" in sides:
        xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
        layers = make_layers(weights)
        tr = train_layerwise(layers, overlay(xt, yt, on_value), overlay(xt, torch.from_numpy(y_neg), on_value),
                             steps_per_layer)
        xe, ye = torch.from_numpy(x_te), torch.from_numpy(y_te)
        res["torch"] = {
            "train_s": tr["train_s"],
            "s_per_step": [{"median": float(np.median(t)), "min": float(np.min(t)), "max": float(np.max(t))}
                           for t in tr["step_times_s"]],
            "final_loss": [float(c[-1]) for c in tr["losses"]]}
        for split, xs, ys in (("test", xe, ye), ("train", xt, yt)):
            acc = accuracies(layers, xs, ys, on_value)
            res["torch"][f"{split}_accuracy"] = acc["last"]
            res["torch"][f"{split}_accuracy_sum"] = acc["sum_layers"]
    if "ltjax" in sides:
        xp = ff.overlay_label(jnp.asarray(x_tr), jnp.asarray(y_tr, jnp.int32), NUM_CLASSES, on_value)
        xn = ff.overlay_label(jnp.asarray(x_tr), jnp.asarray(y_neg, jnp.int32), NUM_CLASSES, on_value)
        params, per_layer, curves, compile_total = [], [], [], 0.0
        t_all = 0.0
        for w in weights:
            layer = {k: jnp.asarray(v) for k, v in w.items()}
            run, compile_s = _ltjax_layer_runner(layer, xp, xn, steps_per_layer)
            compile_total += compile_s
            t0 = time.perf_counter()
            layer, losses = run()
            dt = time.perf_counter() - t0
            t_all += dt
            per_layer.append(dt / steps_per_layer)
            params.append(layer)
            curves.append(np.asarray(losses))
            xp, xn = ff.layer_forward(layer, xp, True), ff.layer_forward(layer, xn, True)
        jx_tr, jy_tr = jnp.asarray(x_tr), jnp.asarray(y_tr, jnp.int32)
        jx_te, jy_te = jnp.asarray(x_te), jnp.asarray(y_te, jnp.int32)
        ov = jnp.float32(on_value)
        res["ltjax"] = {
            "train_s": t_all, "compile_s": compile_total,
            "s_per_step": [{"median": s} for s in per_layer],
            "final_loss": [float(c[-1]) for c in curves],
            "note": "s_per_step is the scan's wall time over its steps (one jitted call per layer)"}
        for split, xs, ys in (("test", jx_te, jy_te), ("train", jx_tr, jy_tr)):
            acc = _ltjax_accuracies(params, xs, ys, ov)
            res["ltjax"][f"{split}_accuracy"] = acc["last"]
            res["ltjax"][f"{split}_accuracy_sum"] = acc["sum_layers"]
        jax.block_until_ready(params)
    return res

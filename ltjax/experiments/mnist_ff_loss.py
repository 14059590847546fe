"""``mnist_ff_loss``: Softplus (eq. 4) vs the proposed quadratic loss (eq. 6) on MNIST (Sec. V-A, Tables I-II).

Setting (Table I and the reference code mpezeshki/pytorch_forward_forward the
paper cites): FF ReLU MLP [784, 500, 500], Adam (0.9, 0.999, 1e-8), lr 0.03,
T = 2, 1000 full-batch steps per layer, layer after layer; the label is a
one-hot overlaid on the first 10 pixels, its "on" value being the maximum of
the standardised training images (reference code: ``x.max()``). Every layer's
input is length-normalised (reference code; ``normalize`` turns it off).

Negatives: one wrong label per training image, drawn once uniformly from
Y \\ {y+} (the paper's y- in Y \\ {y+}; the reference code permutes labels and
so may pick y- = y+). Inference: eq. (5), the output layer's goodness over
the 10 candidate labels; the reference code's sum-over-layers rule is
reported too (``*_accuracy_sum``).

Training data: the first ``n_train`` official training images; test: the
official 10k test set.

Metrics per point: test/train accuracy (eq. 5 and the sum over layers), and per layer l
``final_loss_l<l>`` and the loss curve ``loss_curve_l<l>``, for any number of layers.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from flax import struct

from ltjax import ff
from ltjax.data.mnist import load_mnist, standardize
from ltjax.optim import adam_standard
from ltjax.plotting.mnist_ff_loss import plot_mnist_ff_loss, write_readme
from ltjax.params import field
from ltjax.sweep.registry import register_experiment

NUM_CLASSES = 10


# Compiled once per process (the library never jits). The optimiser is a static argument of
# TRAIN_LAYER, hashed by identity: _adam returns one object per learning rate.
TRAIN_LAYER = jax.jit(ff.train_layer, static_argnames=("opt", "steps", "loss", "normalize", "goodness"))
FORWARD = jax.jit(ff.layer_forward, static_argnames=("normalize",))


@functools.partial(jax.jit, static_argnames=("normalize", "mode"))
def _accuracy(params, x, y, on_value, normalize: bool, mode: str):
    label_fn = functools.partial(ff.overlay_label, num_classes=NUM_CLASSES, on_value=on_value)
    pred = ff.predict(params, x, jnp.arange(NUM_CLASSES), label_fn, normalize, mode)
    return jnp.mean(pred == y)


def _check(p):
    if p.sizes[0] != 784:
        return "sizes", f"first entry must be 784 (28 x 28 pixels), got {p.sizes[0]}"
    if len(p.sizes) < 2:
        return "sizes", "needs at least one layer after the 784 inputs"
    return None


@struct.dataclass
class MnistFfLossParams:
    """Parameters of the experiment (units in each field's schema)."""

    replicate: int = field(0, 'replicate index (seeds init and negatives via the point key)', lo=0, hi=10**6)
    loss: str = field("quadratic", 'per-layer FF loss (eq. 4 softplus, eq. 6 quadratic)', choices=("softplus", "quadratic"))
    steps_per_layer: int = field(1000, 'full-batch Adam steps per layer', unit='steps', lo=1, hi=10**6)
    lr: float = field(0.03, 'Adam learning rate', lo=0.0, hi=10.0, lo_open=True)
    threshold: float = field(2.0, 'goodness threshold T', lo=0.0, hi=1e6)
    sizes: tuple[int, ...] = field((784, 500, 500), 'layer sizes [inputs, widths...]', kind="int_list", lo=1, hi=100_000)
    n_train: int = field(10_000, 'first n official training images used', lo=10, hi=60_000)
    goodness: str = field("neuron", 'loss on per-neuron goodness (eqs. 3/4/6) or per-sample mean (reference code)', choices=("neuron", "mean"))
    normalize: bool = field(True, "length-normalise every layer's input")
    data_dir: str = field("", 'MNIST IDX directory; empty = $LTJAX_DATA_DIR (ltjax run --data-dir)', kind="path", role="input_dir")


@register_experiment(
    name="mnist_ff_loss",
    description="MNIST forward-forward: Softplus vs proposed quadratic loss (LightTune Sec. V-A)",
    # replicate before loss: the grid runs (r0 softplus, r0 quadratic, r1 ...), so a cut-short
    # sweep still has both losses.
    params=MnistFfLossParams,
    plots=(plot_mnist_ff_loss, write_readme),
    check=_check,
)
def mnist_ff_loss(key, p):
    t0 = time.perf_counter()
    img_tr, y_tr = load_mnist("train", p.data_dir or None, n=p.n_train)
    img_te, y_te = load_mnist("test", p.data_dir or None)
    x_tr, x_te = jnp.asarray(standardize(img_tr)), jnp.asarray(standardize(img_te))
    y_tr, y_te = jnp.asarray(y_tr, jnp.int32), jnp.asarray(y_te, jnp.int32)
    on_value = jnp.max(x_tr)  # reference code: x_[range, y] = x.max()

    k_init, k_neg = jax.random.split(key)
    # Uniform over Y \ {y+}: shift a draw from {0..C-2} past y+.
    r = jax.random.randint(k_neg, y_tr.shape, 0, NUM_CLASSES - 1)
    y_neg = r + (r >= y_tr)
    x_pos = ff.overlay_label(x_tr, y_tr, NUM_CLASSES, on_value)
    x_neg = ff.overlay_label(x_tr, y_neg, NUM_CLASSES, on_value)

    params = ff.init(k_init, p.sizes)
    t_train = time.perf_counter()
    params, curves = ff.train_layerwise(params, x_pos, x_neg, p.threshold,
                                        opt=_adam(p.lr), steps=p.steps_per_layer,
                                        loss=p.loss, normalize=p.normalize,
                                        goodness=p.goodness, train_layer_fn=TRAIN_LAYER, forward_fn=FORWARD)
    jax.block_until_ready(params)
    train_s = time.perf_counter() - t_train

    out = {}
    for mode, suffix in (("last", ""), ("sum_layers", "_sum")):
        out[f"test_accuracy{suffix}"] = float(_accuracy(params, x_te, y_te, on_value, p.normalize, mode))
        out[f"train_accuracy{suffix}"] = float(_accuracy(params, x_tr, y_tr, on_value, p.normalize, mode))
    for l, c in enumerate(curves):
        c = np.asarray(c)
        out[f"final_loss_l{l + 1}"] = float(c[-1])
        out[f"loss_curve_l{l + 1}"] = c
    out["train_s"] = train_s
    out["wall_s"] = time.perf_counter() - t0
    return out


@functools.lru_cache(maxsize=None)
def _adam(lr: float):
    # One object per lr: train_layer is jitted with the optimiser as a static argument.
    return adam_standard(lr, b1=0.9, b2=0.999, eps=1e-8)

"""Forward-forward learning stack: model, per-layer losses, closed-form local gradients, training.

See ``docs/forward_forward.md``. Public API::

    params = ltjax.ff.init(key, [784, 500, 500])
    grads = ltjax.ff.local_grads(params, x_pos, x_neg, threshold=2.0, loss="quadratic", normalize=True)
"""

from ltjax.ff.losses import (GOODNESS, LOSSES, backprop_grads, dloss_dz, layer_grads, layer_loss, local_grads,
                             local_grads_and_losses, local_losses, quadratic_loss, softplus_loss)
from ltjax.ff.model import (NORM_EPS, append_label, forward, init, label_goodness, layer_forward,
                            layer_goodness, layer_preact, neuron_goodness, normalize_input,
                            overlay_label, predict)
from ltjax.ff.train import train_layer, train_layerwise

__all__ = [
    "GOODNESS", "LOSSES", "NORM_EPS", "append_label", "backprop_grads", "dloss_dz", "forward", "init",
    "label_goodness", "layer_forward", "layer_goodness", "layer_grads", "layer_loss", "layer_preact", "local_grads",
    "local_grads_and_losses", "local_losses", "neuron_goodness", "normalize_input", "overlay_label",
    "predict", "quadratic_loss", "softplus_loss", "train_layer", "train_layerwise",
]

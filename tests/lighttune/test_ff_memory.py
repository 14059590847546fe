"""Remark 3 measured (``ff_memory``): the analytic activation counts, the backprop reference
gradient, and XLA's memory analysis of the two compiled updates.

The ordering asserted here is what XLA's buffer assignment gives on this code (measured, see
docs/lighttune.md): backpropagation needs more temporaries than the local update, and its
temporaries grow with depth while the local update's do not. Magnitudes and ratios are not
asserted against the analytic counts: XLA's temporaries hold more than activations.
"""

import jax
import numpy as np
import pytest

from ltjax import ff
from ltjax import lighttune as lt
from ltjax.experiments.ff_memory import _shapes, activation_counts, compiled_memory, update_fns
from ltjax.lighttune.model import default_spec


def test_activation_counts():
    c = activation_counts([13, 32, 32])
    assert (c["act_sum"], c["act_max"], c["act_ratio"]) == (64, 32, 2.0)  # Remark 3: sum_l M_l vs max_l M_l
    assert (c["live_bp"], c["live_ff"]) == (77, 64)  # 13 + 32 + 32; layer 2's input + output
    c = activation_counts([13, 32, 32, 32, 32])
    assert (c["act_sum"], c["act_max"], c["live_bp"], c["live_ff"]) == (128, 32, 141, 64)
    c = activation_counts([784, 500, 500])  # Table I: the input dominates the local count too
    assert (c["live_bp"], c["live_ff"]) == (1784, 1284)


def test_backprop_grads_carry_the_upper_losses():
    """jax.grad of sum_l L_l through all layers: the last layer's gradient is the local one, a lower
    layer's is not (it also carries the losses above it)."""
    spec = default_spec()
    params = [dict(l, b=l["b"] + 0.3) for l in ff.init(jax.random.key(0), [13, 32, 32])]
    xp, xn = jax.random.normal(jax.random.key(1), (2, 1, 13))
    kw = dict(loss=spec.loss, normalize=spec.normalize, goodness=spec.goodness)
    bp = jax.jit(lambda p, a, b: ff.backprop_grads(p, a, b, spec.threshold, **kw))(params, xp, xn)
    loc = jax.jit(lambda p, a, b: ff.local_grads(p, a, b, spec.threshold, **kw))(params, xp, xn)
    for k in ("w", "b"):
        np.testing.assert_allclose(bp[-1][k], loc[-1][k], rtol=1e-5, atol=1e-6)
    assert not np.allclose(bp[0]["w"], loc[0]["w"], rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("n_ue", [1, 8])
@pytest.mark.parametrize("donate", [True, False])
def test_compiled_memory_of_the_two_updates(n_ue, donate):
    spec = default_spec()
    params = lt.LightTuneParams(variant="one_step")
    args = _shapes([13, 32, 32], params, n_ue)
    state_bytes = sum(s.size * s.dtype.itemsize for s in jax.tree_util.tree_leaves(args[0]))
    mem = {m: compiled_memory(fn, args, n_ue, donate) for m, fn in update_fns(spec, params).items()}
    for m in mem.values():
        assert m["temp"] > 0 and m["peak"] > 0
        assert m["argument"] == state_bytes + 2 * 4 * 13 * n_ue  # states + x+ and x- [1, 13] per UE
        assert m["output"] >= state_bytes
        assert m["alias"] == (state_bytes if donate else 0)  # donated states are updated in place
    assert mem["bp"]["temp"] > mem["ff"]["temp"]
    assert mem["bp"]["peak"] > mem["ff"]["peak"]


def test_local_temporaries_do_not_grow_with_depth():
    """Remark 3's scaling as XLA realises it (per UE, states not donated): two more 32-wide layers
    add temporaries to backpropagation and none to the local update."""
    spec = default_spec()
    params = lt.LightTuneParams(variant="one_step")
    temp = {}
    for sizes in ([13, 32, 32], [13, 32, 32, 32, 32]):
        args = _shapes(sizes, params, 1)
        temp[len(sizes)] = {m: compiled_memory(fn, args, 1, False)["temp"]
                            for m, fn in update_fns(spec, params).items()}
    assert temp[5]["ff"] == temp[3]["ff"]
    assert temp[5]["bp"] > temp[3]["bp"]


def test_bad_sizes_are_one_line_errors(tmp_path):
    from ltjax.errors import InputError
    from ltjax.sweep.config import parse_sweep
    from ltjax.sweep.runner import run_sweep

    for bad in ({"sizes": [13]}, {"sizes": [13, 0]}, {"n_ue": 0}, {"variant": "adagrad"}):
        with pytest.raises(InputError) as e:
            run_sweep(parse_sweep({"experiment": "ff_memory", "params": bad}, str(tmp_path / "m.toml")),
                      out=tmp_path / "m", progress=False)
        assert "\n" not in str(e.value)

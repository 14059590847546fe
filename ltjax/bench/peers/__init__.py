"""Peer implementations for side-by-side benchmarks: what a user would otherwise run.

ltjax's own benches compare against NumPy loops it wrote itself; a user actually chooses
between ltjax and NVIDIA Sionna (TDL channels, PHY abstraction, OLLA) or PyTorch (the
forward-forward reference code, per-UE models batched with ``bmm`` or ``torch.func.vmap``).
The modules here write those peers the way such a user would, matched in semantics to the
ltjax side, plus the measuring tools:

* :mod:`~ltjax.bench.peers.sionna_channel`: Sionna TDL-C + ``cir_to_ofdm_channel``;
* :mod:`~ltjax.bench.peers.sionna_sys`: Sionna SYS PHY abstraction + OLLA per slot;
* :mod:`~ltjax.bench.peers.torch_lighttune`: the LightTune step in PyTorch (bmm and vmap);
* :mod:`~ltjax.bench.peers.torch_mnist_ff`: the forward-forward MNIST reference in PyTorch;
* :mod:`~ltjax.bench.peers.timing`: interleaved A/B timing with median and spread.

torch and sionna are optional (the ``bench`` extra). Every module imports without them and
exposes ``available() -> (bool, reason)``; they are imported inside functions only.
"""

from __future__ import annotations

import importlib.util


def has_module(name: str) -> tuple[bool, str]:
    """(True, version) when ``name`` is importable, else (False, why); imports it only to read its version."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as e:  # ValueError: sys.modules[name] is None (import blocked)
        return False, f"{name} cannot be imported: {type(e).__name__}: {e}"
    if spec is None:
        return False, f"{name} is not installed (pip install 'ltjax[bench]')"
    try:
        mod = importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - a broken install must not break the import of ltjax
        return False, f"{name} failed to import: {type(e).__name__}: {e}"
    return True, f"{name} {getattr(mod, '__version__', '?')}"


def set_torch_threads(n: int = 2) -> int:
    """Sets PyTorch's intra-op threads (the reference machine has 2 cores); returns the count in force.

    Inter-op threads can only be set before torch runs its first parallel op, so a failure
    to set them is ignored (they do not matter for the single-stream code here).
    """
    import torch

    torch.set_num_threads(int(n))
    try:
        torch.set_num_interop_threads(int(n))
    except RuntimeError:
        pass
    return torch.get_num_threads()

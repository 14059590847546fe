"""ltjax: vectorized Monte-Carlo simulation of AI-native 5G/6G links in JAX.

``import ltjax`` loads no jax: plotting and reading results work without it. The main
pieces are reached from the top level and imported on first use (PEP 562)::

    import ltjax

    ltjax.tb_bler(8.0, mcs=16, n_rb=52)            # ltjax.phy.tb_bler: one TB's error rate
    ltjax.freq_response(key, cfg, params, 100, t)  # ltjax.channels.freq_response
    r = ltjax.load_results("runs/quickstart")      # ltjax.results.load: table, meta, series
    cfg = ltjax.load_sweep("sweeps/quickstart.toml", overrides=["seed=3"])
    ltjax.run_sweep(cfg, out="runs/qs_seed3")      # what ``ltjax run`` does
    ltjax.phy, ltjax.channels, ltjax.link, ...     # every subpackage

Layout (data flows left to right)::

    channels -> phy (abstraction, harq) -> csi / link adaptation -> lighttune
    beam -> lcm
    ff, optim: the forward-forward learning stack used by lighttune
    sweep, experiments, bench, cli, plotting, results: the user-facing layer
"""

import importlib

__version__ = "0.1.0"

SUBPACKAGES = ("batching", "beam", "channels", "csi", "fec", "ff", "io", "lcm", "lighttune", "link",
               "linkadapt", "linklevel", "numerics", "optim", "params", "phy", "plotting", "results", "sweep")
# name -> (module, attribute)
_NAMES = {
    "tb_bler": ("ltjax.phy.api", "tb_bler"),
    "freq_response": ("ltjax.channels.batch", "freq_response"),
    "map_ues": ("ltjax.batching", "map_ues"),
    "field": ("ltjax.params", "field"),
    "params_class": ("ltjax.params", "params_class"),
    "register_experiment": ("ltjax.sweep.registry", "register_experiment"),
    "load_sweep": ("ltjax.sweep.config", "load_sweep"),
    "parse_sweep": ("ltjax.sweep.config", "parse_sweep"),
    "run_sweep": ("ltjax.sweep.runner", "run_sweep"),
    "load_results": ("ltjax.results", "load"),
    "overlay": ("ltjax.plotting.overlay", "overlay"),
}

__all__ = ["__version__", *sorted(_NAMES), *SUBPACKAGES]


def __getattr__(name: str):
    if name in _NAMES:
        module, attr = _NAMES[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in SUBPACKAGES:
        value = importlib.import_module(f"ltjax.{name}")
    else:
        raise AttributeError(f"module 'ltjax' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

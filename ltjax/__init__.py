"""ltjax: vectorized Monte-Carlo simulation of AI-native 5G/6G links in JAX.

This top-level module deliberately imports nothing heavy (no jax), so that
plotting code (``ltjax.plotting``) can be imported without jax.

Layout (data flows left to right)::

    channels -> phy (abstraction, harq) -> csi / link adaptation -> lighttune
    beam -> lcm
    ff, optim: the forward-forward learning stack used by lighttune
    sweep, experiments, bench, cli, plotting: the user-facing layer
"""

__version__ = "0.1.0"

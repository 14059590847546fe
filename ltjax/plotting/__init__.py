"""Plots made from result files (data.csv, series.npz). Never imports jax."""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = [
    "beam", "bler_offline", "common", "cqi_throughput", "cqi_tune_map", "demo", "ff_memory", "lcm", "lcm_beyond", "ldpc_bler",
    "lighttune_bler_error", "lighttune_convergence", "link_bler_curves", "ml_baseline_offline", "mnist_ff_loss",
    "olla_offsets", "overlay"
]

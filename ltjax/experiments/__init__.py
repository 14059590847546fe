"""ltjax's registered experiments. Importing this package registers every one of them.

It is the ``ltjax`` entry of the ``ltjax.experiments`` entry-point group
(pyproject.toml), which is how the sweep runner finds experiments without importing them
itself. To add an experiment to ltjax: write ``ltjax/experiments/<name>.py`` (a
``flax.struct`` parameter class built with ``ltjax.params.field`` and a point function
decorated with ``ltjax.sweep.register_experiment``) and import it below. A user package
does the same in its own module and declares it in the same entry-point group, or passes
``ltjax run --import MODULE``.
"""

from ltjax.experiments import (  # noqa: F401  (imported for their registrations)
    beam_capacity,
    beam_train,
    bler_offline,
    cqi_throughput,
    cqi_tune_map,
    demo,
    ff_class_histogram,
    ff_memory,
    lcm_adaptation,
    lcm_beyond,
    ldpc_bler,
    ldpc_fading_validation,
    lighttune_bler_error,
    lighttune_convergence,
    link_bler_curves,
    ml_baseline_offline,
    mnist_ff_loss,
    olla_offsets,
)

__all__ = [
    "beam_capacity", "beam_train", "bler_offline", "cqi_throughput", "cqi_tune_map", "demo", "lcm_adaptation", "lcm_beyond",
    "ff_class_histogram", "ff_memory", "ldpc_bler", "ldpc_fading_validation", "lighttune_bler_error",
    "lighttune_convergence", "link_bler_curves", "ml_baseline_offline", "mnist_ff_loss", "olla_offsets",
]

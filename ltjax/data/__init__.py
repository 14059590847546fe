"""Data loaders and the files shipped with ltjax (numpy only; no jax import).

``mnist``: the MNIST IDX loader. ``shipped``: ``package:<path>`` names of the data files
installed inside this package (``models/``: the pretrained offline FF BLER model).
"""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = ["mnist", "shipped"]

"""Data loaders (numpy only; no jax import)."""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = ["mnist"]

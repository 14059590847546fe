"""Data loaders (numpy only; no jax import)."""

"""Plots made from result files (data.csv, series.npz). Never imports jax."""

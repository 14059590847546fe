"""Link adaptation as policies: table OLLA, offline ML baseline [16], CQI-Tune (Alg. 2).

Every scheme is a policy with ``init`` / ``next_cqi`` / ``update`` (``policy``): ``olla.OllaPolicy``,
``ml_baseline.MlPolicy``, ``cqi_tune.CqiTunePolicy``; ``scan.run_schemes`` runs a tuple of them
side by side with common random numbers. See docs/link_adaptation.md.
"""

# The modules of this package (import them by name; nothing is imported here eagerly).
__all__ = ["cqi_tune", "ml_baseline", "olla", "policy", "scan"]

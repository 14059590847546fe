"""Link adaptation: table OLLA, offline ML baseline [16], CQI-Tune (Alg. 2). See docs/link_adaptation.md."""

"""DVC stages of the benchmark: one module per stage, run as `python -m pipeline.<stage>`."""

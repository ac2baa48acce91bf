"""Tools that are not pipeline stages: profiles, the benchmark, the dvc.yaml dependency check."""

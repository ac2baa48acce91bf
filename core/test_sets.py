"""Seeded degraded test sets, shared by the stages that write them (noise, gauss, blur): a set's seed follows
from the stage's seed, the level and the set's name, so the same params give the same bytes and adding a level
or a set does not change the others."""
from __future__ import annotations

import numpy as np

from core.seeds import derived_seed


def make_test_sets(degradation, clean_sets: dict[str, np.ndarray], level: str, seed: int) -> dict[str, np.ndarray]:
    """Each clean set degraded at `level` by a degradation (degradations/base.py) with its own derived seed."""
    return {name: degradation.test_set(clean, level, derived_seed(seed, f"{level}/{name}"))
            for name, clean in clean_sets.items()}

"""Seeded degraded test sets, shared by the stages that write them (noise, gauss, blur): a set's seed follows
from the stage's seed, the level and the set's name, so the same params give the same bytes and adding a level
or a set does not change the others."""
from __future__ import annotations

import zlib

import numpy as np

from degradations.base import Degradation


def set_seed(seed: int, level: str, name: str) -> int:
    return seed * 1_000_003 + zlib.crc32(f"{level}/{name}".encode())


def make_test_sets(degradation: Degradation, clean_sets: dict[str, np.ndarray], level: str,
                   seed: int) -> dict[str, np.ndarray]:
    return {name: degradation.test_set(clean, level, set_seed(seed, level, name)) for name, clean in clean_sets.items()}

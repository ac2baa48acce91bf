"""One formula for every random stream derived from a setting's seed (a step's training batch, a test set, a
validation set): the same seed and part give the same stream, another part an independent one, and adding a part
changes none of the others."""
from __future__ import annotations

import zlib

import numpy as np
import torch


def derived_seed(seed: int, part: int | str) -> int:
    """The seed of stream `part` (a step number, or a name such as "low/test") of `seed`."""
    return seed * 1_000_003 + (part if isinstance(part, int) else zlib.crc32(part.encode()))


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)

"""Stage `noise`: seeded noisy test sets, one file per level in `noise.level` (data/noisy/<level>.npz).

Each file holds the noisy test and validation sequences and every motion subset. A set's seed is derived from
`noise.seed`, the level and the set's name, so the same params give the same bytes and adding a level does not
change the others.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from pipeline.config import InputError, load_params, stage_main
from pipeline.frames import load_shard, save_shard
from pipeline.noise_model import LEVELS, add_noise, level_names

OUT = Path("data/noisy")


def set_seed(seed: int, level: str, name: str) -> int:
    return seed * 1_000_003 + zlib.crc32(f"{level}/{name}".encode())


def noisy_copy(clean: np.ndarray, level: str, seed: int) -> np.ndarray:
    sigma_s, sigma_r = LEVELS[level]
    g = torch.Generator().manual_seed(seed)
    return add_noise(torch.from_numpy(clean), sigma_s, sigma_r, generator=g).numpy()


def make_noisy_sets(clean_sets: dict[str, np.ndarray], level: str, seed: int) -> dict[str, np.ndarray]:
    return {name: noisy_copy(clean, level, set_seed(seed, level, name)) for name, clean in clean_sets.items()}


@stage_main
def main() -> None:
    cfg = load_params()["noise"]
    try:
        levels = level_names(cfg["level"])
    except ValueError as e:
        raise InputError(f"{e}; set it with `dvc exp run -S noise.level=high`") from None
    clean = {"test": load_shard("data/scenes/test.npz")["frames"], "val": load_shard("data/scenes/val.npz")["frames"]}
    clean |= {k: v for k, v in load_shard("data/motion/subsets.npz").items() if k.startswith("fps_")}
    for level in levels:
        sigma_s, sigma_r = LEVELS[level]
        save_shard(OUT / f"{level}.npz", sigma_s=np.float32(sigma_s), sigma_r=np.float32(sigma_r),
                   **make_noisy_sets(clean, level, cfg["seed"]))
    for stale in OUT.glob("*.npz"):
        if stale.stem not in levels:
            stale.unlink()


if __name__ == "__main__":
    main()

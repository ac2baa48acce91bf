"""Training batches: random crops of the training sequences with noise drawn on the fly (paper Sec. 5).

A batch is a pure function of (seed, step): a resumed run sees the very batches an uninterrupted one saw, and
every DDP rank can build the whole batch and keep its own slice.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.config import InputError
from pipeline.frames import load_shard
from pipeline.noise_model import add_noise, noise_map, sample_training_levels


class TrainingSequences:
    """Every training sequence of data/scenes/train/*.npz, as (video frames, first frame) pairs."""

    def __init__(self, folder: str | Path, length: int):
        shards = sorted(Path(folder).glob("*.npz"))
        if not shards:
            raise InputError(f"no training shard in {folder}; run `dvc repro scenes`")
        self.length = length
        self.videos = [torch.from_numpy(load_shard(p)["frames"]) for p in shards]
        self.index = [(v, int(s)) for v, p in enumerate(shards) for s in load_shard(p)["starts"]]
        if not self.index:
            raise InputError(f"the training videos in {folder} hold no sequence of {length} frames")

    def batch(self, seed: int, step: int, size: int, crop: int, frames: int) -> dict[str, torch.Tensor]:
        """clean [B, T, crop, crop], noisy [B, T, crop, crop], noise map [B, 1, crop, crop]; T = `frames`
        frames centred on the reference (an image model gets the reference alone)."""
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        picks = torch.randint(len(self.index), (size,), generator=g)
        tau, half = self.length // 2, frames // 2
        clean = []
        for i in picks.tolist():
            v, s = self.index[i]
            seq = self.videos[v][s + tau - half:s + tau + half + 1]
            h, w = seq.shape[-2:]
            if h < crop or w < crop:
                raise InputError(f"training frames are {h}x{w}, smaller than train.crop={crop}; lower it")
            top = int(torch.randint(h - crop + 1, (1,), generator=g))
            left = int(torch.randint(w - crop + 1, (1,), generator=g))
            patch = seq[:, top:top + crop, left:left + crop]
            if torch.rand(1, generator=g) < 0.5:
                patch = patch.flip(-1)
            clean.append(patch)
        clean = torch.stack(clean)
        sigma_s, sigma_r = sample_training_levels(size, generator=g)
        sigma_s, sigma_r = sigma_s[:, None, None, None], sigma_r[:, None, None, None]
        noisy = add_noise(clean, sigma_s, sigma_r, generator=g)
        return {"clean": clean, "noisy": noisy,
                "noise_map": noise_map(noisy[:, half:half + 1], sigma_s, sigma_r)}


def reference(clean: torch.Tensor) -> torch.Tensor:
    t = clean.shape[1]
    return clean[:, t // 2:t // 2 + 1]


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)

"""Training batches: random crops of the training sequences, degraded on the fly (paper Sec. 5).

A batch is a pure function of (seed, step): a resumed run sees the very batches an uninterrupted one saw, and
every DDP rank can build the whole batch and keep its own slice.
"""
from __future__ import annotations

from pathlib import Path

import torch

from core.config import InputError
from core.frames import load_shard
from core.seeds import derived_seed


def shard_paths(folder: str | Path) -> list[Path]:
    """The training shards under a folder, sorted by path (video, then scene)."""
    return sorted(Path(folder).rglob("*.npz"))


class TrainingSequences:
    """Every training sequence of the shards under a folder (data/scenes/train/<video>/<scene>.npz, or one level
    of shards), as (frames, first frame) pairs, in the order of the shards' paths."""

    def __init__(self, folder: str | Path, length: int, crop: int = 1):
        shards = shard_paths(folder)
        if not shards:
            raise InputError(f"no training shard in {folder}; run `dvc repro scenes`")
        self.length = length
        self.videos, self.index = [], []
        for v, path in enumerate(shards):
            shard = load_shard(path)  # read once: frames and starts
            h, w = shard["frames"].shape[-2:]
            if min(h, w) < crop:
                raise InputError(f"training video {path.relative_to(folder).with_suffix('')} is {w}x{h} after "
                                 f"resizing to data.height, smaller than train.crop={crop}; remove it from "
                                 "scenes.videos or lower train.crop")
            self.videos.append(torch.from_numpy(shard["frames"]))
            self.index += [(v, int(s)) for s in shard["starts"]]
        if not self.index:
            raise InputError(f"the training videos in {folder} hold no sequence of {length} frames")

    def clean_batch(self, generator: torch.Generator, size: int, crop: int, frames: int) -> torch.Tensor:
        """[B, T, crop, crop] clean crops; T = `frames` frames centred on the reference (an image model gets
        the reference alone); random horizontal flips."""
        g = generator
        picks = torch.randint(len(self.index), (size,), generator=g)
        tau, half = self.length // 2, frames // 2
        clean = []
        for i in picks.tolist():
            v, s = self.index[i]
            seq = self.videos[v][s + tau - half:s + tau + half + 1]
            h, w = seq.shape[-2:]
            top = int(torch.randint(h - crop + 1, (1,), generator=g))
            left = int(torch.randint(w - crop + 1, (1,), generator=g))
            patch = seq[:, top:top + crop, left:left + crop]
            if torch.rand(1, generator=g) < 0.5:
                patch = patch.flip(-1)
            clean.append(patch)
        return torch.stack(clean)

    def batch(self, seed: int, step: int, size: int, crop: int, frames: int, degradation,
              part: int | None = None) -> dict:
        """{"clean", "input", "condition", "params"} of one step (the degradation: degradations/base.py), and
        "generator": the step's random stream (or its part `part`'s, an independent one: train.batch_parts),
        where an objective that needs more draws (a second noisy copy, a mask) continues."""
        stream = derived_seed(seed, step)
        g = torch.Generator().manual_seed(stream if part is None else derived_seed(stream, f"part {part}"))
        clean = self.clean_batch(g, size, crop, frames)
        return {"clean": clean, **degradation.training_pair(clean, g), "generator": g}

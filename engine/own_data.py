"""Self-supervised training on noisy frames alone, no clean frame anywhere: the `own_data` stage trains on the
noisy test frames of each level (study ssl's rows "trained on the test frames"), tools/denoise_video.py on a
user's own video. The frames go in as the training data of the `observed` degradation, which adds nothing; only
objectives that never read a clean target (Noise2Void, HQ-SSL) may train so.
"""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np

from core.config import InputError
from core.frames import save_shard
from core.registry import OBJECTIVES
from engine.train import train


def observed_params(params: dict, name: str, sigma: dict[str, float]) -> dict:
    """params whose entry `name` trains on frames that are already noisy, with noise parameters `sigma`."""
    entry = params["models"][name]
    objective = entry.get("objective", "supervised")
    if OBJECTIVES.get(objective).needs_clean:
        raise InputError(f"models.{name} trains with {objective}, which needs clean frames; train a model whose "
                         "objective is noise2void or hqssl on noisy frames alone")
    p = copy.deepcopy(params)
    p["models"][name] = {**entry, "degradation": "observed", "degradation_args": dict(sigma)}
    return p


def train_on_noisy(name: str, params: dict, frames: np.ndarray, starts: np.ndarray, out_dir: Path, lr: float,
                   sigma: dict[str, float]) -> Path:
    """Train model `name` on noisy grey linear frames [N, H, W] (sequences of 2*tau+1 frames from `starts`) with
    the `train` budget at peak rate `lr`; returns out_dir/model.pt."""
    p = observed_params(params, name, sigma)
    with tempfile.TemporaryDirectory() as tmp:
        save_shard(Path(tmp) / "frames.npz", frames=frames.astype(np.float32), starts=starts.astype(np.int64))
        train(name, p, Path(out_dir), Path(tmp) / "checkpoint.pt", lr, data_folder=Path(tmp))
    return Path(out_dir) / "model.pt"

"""Self-supervised training on noisy frames alone, no clean frame anywhere: the `own_data` stage trains on the
noisy test frames of each level (study ssl's rows "trained on the test frames"), tools/denoise_video.py on a
user's own video. The frames go in as the training data of the `observed` degradation, which adds nothing; only
objectives that never read a clean target (Noise2Void, HQ-SSL) may train so.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from core.config import InputError
from core.frames import save_shard
from core.registry import OBJECTIVES
from core.spec import Spec, Train, replace
from engine.run import Run
from engine.train import train


def observed_spec(spec: Spec, name: str, sigma: dict[str, float]) -> Spec:
    """The spec whose entry `name` trains on frames that are already noisy, with noise parameters `sigma`."""
    entry = spec.models[name]
    if OBJECTIVES.get(entry.objective).needs_clean:
        raise InputError(f"models.{name} trains with {entry.objective}, which needs clean frames; train a model "
                         "whose objective is noise2void or hqssl on noisy frames alone")
    observed = entry.model_copy(update={"degradation": "observed", "degradation_args": dict(sigma)})
    return spec.model_copy(update={"models": {**spec.models, name: observed}})


def whole_frame_training(train: Train, size: tuple[int, int]) -> Train:
    """`train` with crops of the frames' shorter side, and as many per step as keep its pixels (at least one): a
    network whose receptive field outgrows its crop learns the whole frame it will denoise, not a part of it."""
    side = min(size)
    return replace(train, crop=side, batch=max(1, round(train.batch * train.crop**2 / side**2)))


def train_on_noisy(name: str, spec: Spec, frames: np.ndarray, starts: np.ndarray, out_dir: Path, lr: float,
                   sigma: dict[str, float], whole_frames: bool = False) -> Path:
    """Train model `name` on noisy grey linear frames [N, H, W] (sequences of 2*tau+1 frames from `starts`) with
    the `train` budget at peak rate `lr` (whole_frames: on whole frames, `whole_frame_training`); returns
    out_dir/model.pt."""
    observed = observed_spec(spec, name, sigma)
    if whole_frames:
        observed = observed.model_copy(update={"train": whole_frame_training(spec.train, frames.shape[-2:])})
    with tempfile.TemporaryDirectory() as tmp:
        save_shard(Path(tmp) / "frames.npz", frames=frames.astype(np.float32), starts=starts.astype(np.int64))
        train(Run.of(observed, name, lr, data_folder=Path(tmp)), Path(out_dir), Path(tmp) / "checkpoint.pt")
    return Path(out_dir) / "model.pt"

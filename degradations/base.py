"""The degradation interface. A degradation knows its named test levels (each a dict of parameters), how to
degrade a clean batch for training (drawing the parameters itself), how to build a seeded test set of a level,
and what a non-blind restorer is told (the condition, e.g. a noise map). Stages, objectives and classical
methods see only this interface, so a new degradation (Gaussian noise, blur) adds one file."""
from __future__ import annotations


import numpy as np
import torch
from core.frames import reference
from core.paths import NOISY, SCENES_TEST, SCENES_TRAIN, SCENES_VAL


class Degradation:
    registered_name = "?"
    levels: dict[str, dict[str, float]] = {}  # test level -> its parameters
    draws = True  # apply() draws a new independent degradation each call (False: the frames are the observation)
    # Where its seeded test sets live (one <level>.npz each) and the clean frames they were made from.
    test_folder = NOISY
    clean_test = SCENES_TEST
    # Where training and validation sequences come from; `window`: the clean frames a training pair needs (None:
    # the model's own frames). Blur reads windows of sharp 240 fps frames instead of the 30 fps scenes.
    train_folder = SCENES_TRAIN
    val_set = SCENES_VAL
    window: int | None = None

    def level(self, name: str) -> dict[str, float]:
        if name not in self.levels:
            raise ValueError(f"{self.registered_name} has no level {name!r}; valid levels: {', '.join(self.levels)}")
        return dict(self.levels[name])

    def stored_level(self, shard: dict) -> dict[str, float]:
        """The parameters of the level a test set was made at, as the noise stage stored them beside it."""
        names = next(iter(self.levels.values()))
        return {k: float(shard[k]) for k in names}

    def training_pair(self, clean: torch.Tensor, generator: torch.Generator) -> dict:
        """clean [B, T, H, W] -> {"input": degraded [B, T, H, W], "condition": [B, 1, H, W] or None,
        "params": parameters drawn per sequence, each a [B, 1, 1, 1] tensor}."""
        params = self.sample_params(clean.shape[0], generator)
        degraded = self.apply(clean, params, generator)
        return {"input": degraded, "condition": self.condition(reference(degraded), params), "params": params}

    def test_set(self, clean: np.ndarray, level: str, seed: int) -> np.ndarray:
        """A seeded degraded copy of clean sequences [n, T, H, W] at a test level: same seed, same bytes."""
        g = torch.Generator().manual_seed(seed)
        return self.apply(torch.from_numpy(clean), self.level(level), g).numpy()

    # What a degradation defines.
    def sample_params(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def apply(self, clean: torch.Tensor, params: dict, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def condition(self, degraded_reference: torch.Tensor, params: dict) -> torch.Tensor | None:
        raise NotImplementedError

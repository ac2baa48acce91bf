"""Frames that are already degraded: a user's own noisy footage, or the noisy test frames a self-supervised model
may train on. Nothing is added (the "clean" frames of a batch *are* the noisy ones, so only objectives that never
read a clean target can train on them); the noise parameters, when known, give the non-blind condition under the
raw noise model (HQ-SSL's posterior needs them; Noise2Void does not).
"""
from __future__ import annotations

import torch

from core.registry import DEGRADATIONS
from degradations.base import Degradation
from degradations.raw_noise import noise_map


@DEGRADATIONS.register("observed")
class Observed(Degradation):
    draws = False  # there is no second independent draw of frames that are already noisy (Noise2Noise needs one)

    def __init__(self, sigma_s: float = 0.0, sigma_r: float = 0.0):
        if sigma_s < 0 or sigma_r < 0:
            raise ValueError(f"noise parameters must be >= 0; got sigma_s={sigma_s}, sigma_r={sigma_r}")
        self.levels = {"observed": {"sigma_s": float(sigma_s), "sigma_r": float(sigma_r)}}

    def sample_params(self, n, generator):
        return {k: torch.full((n, 1, 1, 1), v) for k, v in self.levels["observed"].items()}

    def apply(self, clean, params, generator):
        return clean.clone()

    def condition(self, degraded_reference, params):
        return noise_map(degraded_reference, params["sigma_s"], params["sigma_r"])

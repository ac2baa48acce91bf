"""The synthetic raw noise of the Xu 2019 study (paper Sec. 5; Mildenhall et al. 2018).

y = q + N(0, sigma_s * q + sigma_r^2) on linear intensities q. Test sets use two fixed levels; training draws
a level per sequence, log-uniformly, on the fly.
"""
from __future__ import annotations

import math

import torch

from core.registry import DEGRADATIONS
from degradations.base import Degradation

LEVELS: dict[str, tuple[float, float]] = {"low": (2.5e-3, 1e-2), "high": (6.4e-3, 2e-2)}
# Log-uniform ranges of the training draws (sigma_s, sigma_r).
TRAIN_SIGMA_S = (1e-4, 1e-2)
TRAIN_SIGMA_R = (1e-3, 10 ** -1.5)


def level_names(level: str) -> list[str]:
    """`noise.level` (low, high or both) to the list of test levels; unknown values raise ValueError."""
    if level == "both":
        return list(LEVELS)
    if level in LEVELS:
        return [level]
    raise ValueError(f"noise.level is {level!r}; valid values are low, high, both")


def add_noise(q: torch.Tensor, sigma_s, sigma_r, generator: torch.Generator | None = None) -> torch.Tensor:
    """Signal-dependent Gaussian noise; sigma_s and sigma_r are floats or tensors broadcastable to q."""
    variance = sigma_s * q.clamp(min=0) + sigma_r**2
    eps = torch.randn(q.shape, generator=generator, dtype=q.dtype, device=q.device)
    return q + variance.sqrt() * eps


def noise_map(y_ref: torch.Tensor, sigma_s, sigma_r) -> torch.Tensor:
    """Per-pixel noise std for non-blind models, from the *noisy* reference frame (as KPN does): no oracle."""
    return (sigma_r**2 + sigma_s * y_ref.clamp(min=0)).sqrt()


def sample_training_levels(n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n log-uniform draws of (sigma_s, sigma_r) from the training ranges."""
    u = torch.rand(2, n, generator=generator, dtype=torch.float64)
    lo = torch.tensor([math.log(TRAIN_SIGMA_S[0]), math.log(TRAIN_SIGMA_R[0])], dtype=torch.float64)
    hi = torch.tensor([math.log(TRAIN_SIGMA_S[1]), math.log(TRAIN_SIGMA_R[1])], dtype=torch.float64)
    draws = torch.exp(lo[:, None] + u * (hi - lo)[:, None]).float()
    return draws[0], draws[1]


@DEGRADATIONS.register("raw_noise")
class RawNoise(Degradation):
    levels = {name: {"sigma_s": s, "sigma_r": r} for name, (s, r) in LEVELS.items()}

    def sample_params(self, n, generator):
        sigma_s, sigma_r = sample_training_levels(n, generator=generator)
        return {"sigma_s": sigma_s[:, None, None, None], "sigma_r": sigma_r[:, None, None, None]}

    def apply(self, clean, params, generator):
        return add_noise(clean, params["sigma_s"], params["sigma_r"], generator=generator)

    def condition(self, degraded_reference, params):
        return noise_map(degraded_reference, params["sigma_s"], params["sigma_r"])

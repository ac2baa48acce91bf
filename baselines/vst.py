"""Variance stabilisation for the classical denoisers: a domain where the noise is white with unit std, so that
a Gaussian denoiser can be given sigma = 1 (times the tuned strength). `stabiliser(level)` picks it from the
level's parameters: raw noise (sigma_s, sigma_r) -> the generalised Anscombe transform (GAT) below; Gaussian
noise on sRGB images (sigma, study gauss) -> the sRGB image over sigma.

The test noise y = q + N(0, sigma_s*q + sigma_r^2) is a Poisson-Gaussian model with gain alpha = sigma_s and
read noise sigma_r. After z = y/alpha, f(z) = 2 sqrt(z + 3/8 + (sigma_r/alpha)^2) has noise of unit std, so a
Gaussian denoiser can be given sigma = 1. The inverse is the closed-form approximation of the exact unbiased
inverse (Makitalo and Foi, IEEE TIP 2013), which avoids the bias of the algebraic inverse at low counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.colour import linear_to_srgb, srgb_to_linear


def gat_forward(y: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    z, s = y / sigma_s, sigma_r / sigma_s
    return 2.0 * np.sqrt(np.maximum(z + 3.0 / 8.0 + s**2, 0.0))


def gat_inverse(d: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    s = sigma_r / sigma_s
    d = np.maximum(d, 0.8)  # the expansion diverges at 0; below 0.8 the estimate is zero counts anyway
    r = np.sqrt(1.5)
    z = 0.25 * d**2 + 0.25 * r / d - 11.0 / 8.0 / d**2 + 5.0 / 8.0 * r / d**3 - 1.0 / 8.0 - s**2
    return np.maximum(z, 0.0) * sigma_s


def gat_peak(sigma_s: float, sigma_r: float, headroom: float = 1.2) -> float:
    """An upper bound of f(y) for q in [0, 1] with noise: the scale that maps it to 8 bits."""
    return float(gat_forward(np.array(headroom), sigma_s, sigma_r))


@dataclass
class Stabiliser:
    forward: Callable[[np.ndarray], np.ndarray]   # linear frames -> unit-noise domain
    inverse: Callable[[np.ndarray], np.ndarray]   # back to linear frames
    peak: float                                   # an upper bound of the stabilised values (to scale to 8 bits)


def stabiliser(level: dict) -> Stabiliser:
    if set(level) == {"sigma_s", "sigma_r"}:
        s, r = level["sigma_s"], level["sigma_r"]
        return Stabiliser(lambda y: gat_forward(y, s, r), lambda d: gat_inverse(d, s, r), gat_peak(s, r))
    if set(level) == {"sigma"}:
        sigma = level["sigma"]
        return Stabiliser(lambda y: linear_to_srgb(y) / sigma, lambda d: srgb_to_linear(d * sigma), 1.2 / sigma)
    raise ValueError(f"no variance stabilisation for a level with parameters {sorted(level)}")

"""Variance stabilisation for the classical denoisers: the generalised Anscombe transform (GAT).

The test noise y = q + N(0, sigma_s*q + sigma_r^2) is a Poisson-Gaussian model with gain alpha = sigma_s and
read noise sigma_r. After z = y/alpha, f(z) = 2 sqrt(z + 3/8 + (sigma_r/alpha)^2) has noise of unit std, so a
Gaussian denoiser can be given sigma = 1. The inverse is the closed-form approximation of the exact unbiased
inverse (Makitalo and Foi, IEEE TIP 2013), which avoids the bias of the algebraic inverse at low counts.
"""
from __future__ import annotations

import numpy as np


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

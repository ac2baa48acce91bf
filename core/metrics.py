"""PSNR and SSIM with explicit arguments (after BasicSR's psnr_ssim), and the suite's convention:
metrics are computed on sRGB-gamma-corrected outputs clipped to [0, 1], in float64."""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from core.colour import linear_to_srgb


def _check(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def psnr(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """10 log10(range^2 / MSE); identical images give inf."""
    x, y = _check(x, y)
    mse = np.mean((x - y) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """SSIM of Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03 (grey images)."""
    x, y = _check(x, y)
    if x.ndim != 2:
        raise ValueError(f"ssim takes grey images [H, W]; got {x.shape}")
    return float(structural_similarity(x, y, data_range=data_range, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def to_display(linear: np.ndarray) -> np.ndarray:
    """Linear intensities -> sRGB in [0, 1], float64: what the metrics compare."""
    return np.clip(linear_to_srgb(np.asarray(linear, np.float64)), 0.0, 1.0)


def srgb_scores(pred_linear: np.ndarray, clean_linear: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of one frame under the suite's convention: a grey frame [H, W], or colour planes [3, H, W]
    (PSNR over every channel's pixels, SSIM the mean of the channels' as skimage's channel_axis averages them)."""
    a, b = to_display(pred_linear), to_display(clean_linear)
    if a.ndim == 3:
        return psnr(a, b), float(np.mean([ssim(x, y) for x, y in zip(a, b)]))
    return psnr(a, b), ssim(a, b)


def srgb_mse(pred_linear: np.ndarray, clean_linear: np.ndarray) -> float:
    return float(np.mean((to_display(pred_linear) - to_display(clean_linear)) ** 2))

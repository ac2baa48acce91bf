"""sRGB <-> linear intensities (IEC 61966-2-1). Noise is added in linear space; metrics and the L1 loss use sRGB."""
from __future__ import annotations

import numpy as np
import torch

_Array = np.ndarray | torch.Tensor


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def srgb_to_linear(s: _Array) -> _Array:
    """Inverse sRGB gamma of values in [0, 1]."""
    lib = _lib(s)
    return lib.where(s <= 0.04045, s / 12.92, ((lib.clip(s, 0.04045, None) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(q: _Array) -> _Array:
    """sRGB gamma of linear values; negative inputs (possible after noise) map through the linear toe."""
    lib = _lib(q)
    return lib.where(q <= 0.0031308, 12.92 * q, 1.055 * lib.clip(q, 0.0031308, None) ** (1 / 2.4) - 0.055)


def rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma weights applied to linear RGB ([..., 3] -> [...])."""
    return rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=rgb.dtype)


def uint8_to_grey_linear(frame: np.ndarray) -> np.ndarray:
    """An 8-bit sRGB frame (H, W, 3 RGB or H, W) to grey linear float32."""
    q = srgb_to_linear(frame.astype(np.float32) / 255.0)
    return (rgb_to_grey(q) if q.ndim == 3 else q).astype(np.float32)

"""sRGB <-> linear intensities (IEC 61966-2-1). Noise is added in linear space; metrics and the L1 loss use sRGB."""
from __future__ import annotations

import numba
import numpy as np
import torch

import core.numba_threads  # noqa: F401  (the threading layer, before any parallel call)

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


LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709 weights of linear R, G, B


def channels_as_sequences(colour: np.ndarray) -> np.ndarray:
    """Colour sequences [n, T, 3, H, W] -> grey sequences [3n, T, H, W], sequence by sequence R, G, B: how a grey
    method restores colour, one channel at a time (Xu et al. 2019, Appendix B)."""
    n, t, c, h, w = colour.shape
    return np.ascontiguousarray(colour.transpose(0, 2, 1, 3, 4).reshape(n * c, t, h, w))


def frames_as_colour(grey: np.ndarray) -> np.ndarray:
    """The restored grey frames [3n, H, W] of channels_as_sequences' sequences -> colour planes [n, 3, H, W]."""
    return grey.reshape(-1, 3, *grey.shape[1:])


# The 256 linear values of 8-bit sRGB codes, computed as a per-pixel conversion would (float32): a lookup is
# bit-identical to it and far cheaper than a power per pixel.
UINT8_TO_LINEAR = srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0).astype(np.float32)


def uint8_to_grey_linear(frame: np.ndarray) -> np.ndarray:
    """8-bit sRGB frames ([..., H, W, 3] RGB) to grey linear float32 [..., H, W]: one fused pass (a lookup
    and the luma weights per pixel), several times faster than a gather and a matrix product in numpy."""
    if frame.dtype != np.uint8 or frame.shape[-1] != 3:
        raise ValueError(f"frames must be 8-bit RGB [..., H, W, 3]; got {frame.dtype} {frame.shape}")
    flat = frame.reshape(-1, frame.shape[-3], frame.shape[-2], 3)
    out = np.empty(flat.shape[:3], np.float32)
    _grey_linear(flat, UINT8_TO_LINEAR, np.array(LUMA, np.float32), out)
    return out.reshape(frame.shape[:-1])


@numba.njit(cache=True, parallel=True)
def _grey_linear(frames, lut, luma, out):
    for i in range(frames.shape[0]):
        for y in numba.prange(frames.shape[1]):
            for x in range(frames.shape[2]):
                px = frames[i, y, x]
                out[i, y, x] = luma[0] * lut[px[0]] + luma[1] * lut[px[1]] + luma[2] * lut[px[2]]

"""The deformable sampler (paper eq. 3-7): bilinear sampling of images, trilinear sampling of frame stacks, at
per-pixel fractional positions, differentiable in the positions and the values.

Positions are in pixels: (x, y) or (x, y, t), x along the width. A position outside the frame is clamped to it
(the continuous coordinate, not the integer corners: grid_sample's "border" mode), so a sample never reads
zeros and its gradient vanishes only where the clamp holds.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=64)
def _scale(sizes: tuple[int, ...], width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[width, len(sizes)], made once per frame size and device: no copy from the host inside a forward pass,
    and laid out over a row's (x, coordinates), so that the product runs vectorised along the row."""
    scale = torch.tensor([2.0 / max(s - 1, 1) for s in sizes], dtype=dtype, device=device)
    return scale.expand(width, -1).contiguous()


def _normalise(coords: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    # align_corners=True: pixel 0 -> -1 and pixel size-1 -> +1.
    return coords * _scale(tuple(sizes), coords.shape[-2], coords.dtype, coords.device) - 1.0


def sample_bilinear(image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """image [B, C, H, W], coords [B, N, H', W', 2] as (x, y) -> samples [B, C, N, H', W']."""
    b, c, h, w = image.shape
    _, n, ho, wo, _ = coords.shape
    grid = _normalise(coords, [w, h]).reshape(b, n * ho, wo, 2)
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(b, c, n, ho, wo)


def sample_trilinear(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """volume [B, C, T, H, W], coords [B, N, H', W', 3] as (x, y, t) -> samples [B, C, N, H', W'].

    grid_sample on a 5-D input with mode="bilinear" interpolates trilinearly.
    """
    _, _, t, h, w = volume.shape
    grid = _normalise(coords, [w, h, t])
    return F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
